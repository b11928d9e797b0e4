package org.xpcvae.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.xpcvae.GoodnessOfFit;
import org.xpcvae.InferenceException;
import org.xpcvae.InvalidSpectrumException;
import org.xpcvae.Parameter;
import org.xpcvae.PosteriorSamples;
import org.xpcvae.PosteriorSummary;
import org.xpcvae.Spectrum;
import org.xpcvae.SummaryCsv;

import java.io.Serializable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The job's work on one partition: rows {@code (source_id, flux, flux_error[, read_error])}
 * (source_id long or string, the arrays cast to array&lt;float&gt;; {@link InputSchema}) in, one summary row per input row out, in input
 * order. Rows are taken in batches, sampled with the executor's shared {@link ExecutorModel} and
 * given their goodness of fit, as the CLI's batches are; a bad row becomes an error row naming
 * its source and the problem and never stops the others.
 *
 * <p>A source's draws are keyed by (seed, source id) by the library, so its row does not
 * depend on the partitioning, the batch, or the attempt.
 */
final class PartitionInference implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    /** A test's hook, called before each input row of a partition is taken (never set in production). */
    interface RowHook extends Serializable {
        void beforeRow(TaskContext task, long rowInPartition);
    }

    private final String bundleLocation;
    private final String fingerprint;
    private final int intraOpThreads;
    private final int samples;
    private final long seed;
    private final int batchSize;
    private final StructType outputSchema;
    private final boolean stringIds;
    private final boolean hasReadError;
    private final LongAccumulator okRows;
    private final LongAccumulator errorRows;
    private final RowHook hook;

    PartitionInference(String bundleLocation, String fingerprint, int intraOpThreads, int samples, long seed,
                       int batchSize, StructType outputSchema, boolean stringIds, boolean hasReadError,
                       LongAccumulator okRows,
                       LongAccumulator errorRows, RowHook hook) {
        this.bundleLocation = bundleLocation;
        this.fingerprint = fingerprint;
        this.intraOpThreads = intraOpThreads;
        this.samples = samples;
        this.seed = seed;
        this.batchSize = batchSize;
        this.outputSchema = outputSchema;
        this.stringIds = stringIds;
        this.hasReadError = hasReadError;
        this.okRows = okRows;
        this.errorRows = errorRows;
        this.hook = hook;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        // before any row: the bundle is found, verified and the driver's, or the task fails
        ExecutorModel model = ExecutorModel.get(bundleLocation, fingerprint, intraOpThreads);
        TaskContext task = TaskContext.get();
        return new Iterator<Row>() {
            private final ArrayDeque<Row> ready = new ArrayDeque<>();
            private long taken;

            @Override
            public boolean hasNext() {
                while (ready.isEmpty() && input.hasNext()) {
                    List<Row> batch = new ArrayList<>(batchSize);
                    while (batch.size() < batchSize && input.hasNext()) {
                        if (hook != null) {
                            hook.beforeRow(task, taken);
                        }
                        batch.add(input.next());
                        taken++;
                    }
                    ready.addAll(process(model, batch));
                }
                return !ready.isEmpty();
            }

            @Override
            public Row next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.poll();
            }
        };
    }

    /** An input row: its source_id value and text, and its spectrum or why it has none. */
    private static final class Item {
        final Object id;
        final String idText;
        Spectrum spectrum;
        String error;
        PosteriorSummary summary;
        GoodnessOfFit.Result fit;

        Item(Object id, String idText) {
            this.id = id;
            this.idText = idText;
        }
    }

    /** The summary rows of one batch of input rows, in order. */
    private List<Row> process(ExecutorModel model, List<Row> rows) {
        int length = model.bundle.spectrumLength();
        List<Item> items = new ArrayList<>(rows.size());
        List<Item> valid = new ArrayList<>();
        for (Row r : rows) {
            Item it = read(r);
            items.add(it);
            if (it.error == null) {
                try {
                    it.spectrum.validate(length);
                    valid.add(it);
                } catch (InvalidSpectrumException e) {
                    it.error = e.getMessage();
                }
            }
        }
        List<Spectrum> spectra = new ArrayList<>(valid.size());
        for (Item it : valid) {
            spectra.add(it.spectrum);
        }
        List<PosteriorSamples> results;
        try {
            // the library keys each spectrum's random numbers by its source id (docs/sampling.md)
            results = model.sampler.sample(spectra, samples, seed);
        } catch (RuntimeException e) {
            // isolate the failing sources (results do not depend on which spectra share a call)
            results = null;
        }
        List<Item> sampled = new ArrayList<>();
        for (int s = 0; s < valid.size(); s++) {
            Item it = valid.get(s);
            PosteriorSamples ps;
            if (results != null) {
                ps = results.get(s);
            } else {
                try {
                    ps = model.sampler.sample(it.spectrum, samples, seed);
                } catch (InferenceException | InvalidSpectrumException e) {
                    it.error = e.getMessage();
                    continue;
                } catch (RuntimeException e) {
                    it.error = "source " + it.idText + ": internal error: " + e;
                    continue;
                }
            }
            try {
                it.summary = ps.summary();
            } catch (RuntimeException e) {
                it.error = "source " + it.idText + ": cannot summarise the draws: " + e;
                continue;
            }
            sampled.add(it);
        }
        List<PosteriorSummary> summaries = new ArrayList<>(sampled.size());
        List<Spectrum> okSpectra = new ArrayList<>(sampled.size());
        for (Item it : sampled) {
            summaries.add(it.summary);
            okSpectra.add(it.spectrum);
        }
        List<GoodnessOfFit.Result> fits;
        try {
            fits = model.fit.evaluate(summaries, okSpectra);
        } catch (RuntimeException e) {
            // the goodness of fit never costs a source its posterior
            fits = new ArrayList<>();
            for (PosteriorSummary q : summaries) {
                fits.add(model.fit.unavailable(q));
            }
        }
        for (int k = 0; k < sampled.size(); k++) {
            sampled.get(k).fit = fits.get(k);
        }
        List<Parameter> parameters = model.bundle.parameters();
        List<Row> out = new ArrayList<>(items.size());
        for (Item it : items) {
            List<String> fields;
            if (it.error == null) {
                fields = SummaryCsv.okRow(parameters, it.summary, it.fit.columns());
                okRows.add(1);
            } else {
                fields = SummaryCsv.errorRow(parameters, it.idText == null ? "" : it.idText, it.error);
                errorRows.add(1);
            }
            out.add(SummarySchema.row(outputSchema, fields, it.id));
        }
        return out;
    }

    /** Reads one input row; a read error, a null id, array or element is the row's error. */
    private Item read(Row r) {
        Object id = r.isNullAt(0) ? null : stringIds ? r.getString(0) : (Object) r.getLong(0);
        Item it = new Item(id, id == null ? null : id.toString());
        if (hasReadError && !r.isNullAt(3)) {
            // the converter could not read this row: its message names the source and the problem
            it.error = r.getString(3);
            return it;
        }
        if (id == null) {
            it.error = "source_id is null";
            return it;
        }
        float[] flux = floats(r, 1, "flux", it);
        float[] fluxError = it.error == null ? floats(r, 2, "flux_error", it) : null;
        if (it.error == null) {
            it.spectrum = new Spectrum(it.idText, flux, fluxError);
        }
        return it;
    }

    private static float[] floats(Row r, int column, String name, Item it) {
        if (r.isNullAt(column)) {
            it.error = "source " + it.idText + ": " + name + " is null";
            return null;
        }
        List<Object> values = r.getList(column);
        float[] a = new float[values.size()];
        for (int i = 0; i < a.length; i++) {
            Object v = values.get(i);
            if (v == null) {
                it.error = "source " + it.idText + ": " + name + "[" + i + "] is null";
                return null;
            }
            a[i] = (Float) v;
        }
        return a;
    }
}
