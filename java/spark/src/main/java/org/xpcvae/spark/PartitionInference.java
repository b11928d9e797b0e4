package org.xpcvae.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.xpcvae.BatchInference;
import org.xpcvae.PosteriorSampler;
import org.xpcvae.SpectraCsv;
import org.xpcvae.Spectrum;

import java.io.Serializable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The job's work on one partition of a Parquet input: rows {@code (source_id, flux, flux_error[,
 * read_error])} (source_id long or string, the arrays cast to array&lt;float&gt;; {@link InputSchema})
 * in, one summary row per input row out, in input order. Rows are turned into the library's input
 * rows ({@link SpectraCsv.Row}: a spectrum, or an error naming the source and the problem) and
 * taken in batches through the executor's shared {@link BatchInference} ({@link ExecutorModel}),
 * whose per-row logic is the CLI's: a bad row becomes an error row and never stops the others.
 *
 * <p>A source's draws are keyed by (seed, source id) by the library, so its row does not
 * depend on the partitioning, the batch, or the attempt.
 */
final class PartitionInference implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 2L;

    /** A test's hook, called before each input row of a partition is taken (never set in production). */
    interface RowHook extends Serializable {
        void beforeRow(TaskContext task, long rowInPartition);
    }

    private final TaskSettings settings;
    private final boolean stringIds;
    private final boolean hasReadError;
    private final RowHook hook;

    PartitionInference(TaskSettings settings, boolean stringIds, boolean hasReadError, RowHook hook) {
        this.settings = settings;
        this.stringIds = stringIds;
        this.hasReadError = hasReadError;
        this.hook = hook;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        // before any row: the bundle is found, verified and the driver's, or the task fails
        ExecutorModel model = settings.model();
        TaskContext task = TaskContext.get();
        int batchSize = settings.batchSize;
        return new Iterator<Row>() {
            private final ArrayDeque<Row> ready = new ArrayDeque<>();
            private long taken;

            @Override
            public boolean hasNext() {
                while (ready.isEmpty() && input.hasNext()) {
                    List<SpectraCsv.Row> batch = new ArrayList<>(batchSize);
                    List<Object> ids = new ArrayList<>(batchSize);
                    while (batch.size() < batchSize && input.hasNext()) {
                        if (hook != null) {
                            hook.beforeRow(task, taken);
                        }
                        Row r = input.next();
                        Object id = r.isNullAt(0) ? null : stringIds ? r.getString(0) : (Object) r.getLong(0);
                        ids.add(id);
                        batch.add(read(r, id, taken));
                        taken++;
                    }
                    ready.addAll(model.infer(settings.schema, batch, ids, settings.okRows, settings.errorRows));
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

    /**
     * One input row as the library's: its spectrum, or its error (a read error, a null id, array
     * or element); the spectrum's values are checked by the library.
     */
    private SpectraCsv.Row read(Row r, Object id, long index) {
        String idText = id == null ? "" : id.toString();
        if (hasReadError && !r.isNullAt(3)) {
            // the converter could not read this row: its message names the source and the problem
            return SpectraCsv.Row.error(index, index + 1, idText, r.getString(3));
        }
        if (id == null) {
            return SpectraCsv.Row.error(index, index + 1, idText, "source_id is null");
        }
        String[] problem = new String[1];
        float[] flux = floats(r, 1, "flux", idText, problem);
        float[] fluxError = problem[0] == null ? floats(r, 2, "flux_error", idText, problem) : null;
        if (problem[0] != null) {
            return SpectraCsv.Row.error(index, index + 1, idText, problem[0]);
        }
        return SpectraCsv.Row.ok(index, index + 1, new Spectrum(idText, flux, fluxError));
    }

    private static float[] floats(Row r, int column, String name, String id, String[] problem) {
        if (r.isNullAt(column)) {
            problem[0] = "source " + id + ": " + name + " is null";
            return null;
        }
        List<Object> values = r.getList(column);
        float[] a = new float[values.size()];
        for (int i = 0; i < a.length; i++) {
            Object v = values.get(i);
            if (v == null) {
                problem[0] = "source " + id + ": " + name + "[" + i + "] is null";
                return null;
            }
            a[i] = (Float) v;
        }
        return a;
    }

    /** What every task of a job needs: where the bundle is, the settings, the output schema, the counters. */
    static final class TaskSettings implements Serializable {
        private static final long serialVersionUID = 1L;
        final String bundleLocation;
        final String fingerprint;
        final int samples;
        final long seed;
        final int batchSize;
        final int intraOpThreads;
        final StructType schema;
        final LongAccumulator okRows;
        final LongAccumulator errorRows;

        TaskSettings(String bundleLocation, String fingerprint, BatchInference.Options options, StructType schema,
                     LongAccumulator okRows, LongAccumulator errorRows) {
            this.bundleLocation = bundleLocation;
            this.fingerprint = fingerprint;
            this.samples = options.samples();
            this.seed = options.seed();
            this.batchSize = options.batchSize();
            this.intraOpThreads = options.samplerOptions().intraOpThreads();
            this.schema = schema;
            this.okRows = okRows;
            this.errorRows = errorRows;
        }

        /**
         * The library's settings of a job: one worker thread per task (the tasks are the
         * parallelism), the job's draws, seed, batch size and intra-op threads.
         */
        static BatchInference.Options options(int samples, long seed, int batchSize, int intraOpThreads) {
            return BatchInference.Options.defaults().withSamples(samples).withSeed(seed).withBatchSize(batchSize)
                    .withThreads(1).withSamplerOptions(PosteriorSampler.Options.defaults()
                            .withIntraOpThreads(intraOpThreads));
        }

        /** This JVM's model: opened, verified and checked against the driver's on first use. */
        ExecutorModel model() {
            return ExecutorModel.get(bundleLocation, fingerprint, options(samples, seed, batchSize, intraOpThreads));
        }
    }
}
