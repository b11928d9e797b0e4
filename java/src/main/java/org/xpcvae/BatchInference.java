package org.xpcvae;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Batch posterior inference over the rows of a spectra CSV, as {@code xpcvae infer} runs it:
 * rows are read in work units of {@link Options#batchSize()}, sampled (on
 * {@link Options#threads()} worker threads sharing one {@link PosteriorSampler}), given the
 * goodness-of-fit columns ({@link GoodnessOfFit}, one forward-model run per work unit) and
 * written in input order, one summary row per input row: a bad row (unparseable, invalid
 * spectrum, failed inference) becomes an error row naming its source and the problem and never
 * stops the others.
 *
 * <p>A row's results do not depend on its position in the file, the other rows, the batch size or
 * the number of threads, bit for bit: its random numbers are keyed by its source id
 * ({@link CounterRng#sourceKey}), its goodness of fit is computed in padded row groups
 * ({@link GoodnessOfFit}).
 *
 * <p>Owns its sampler and forward model: open it with try-with-resources.
 * <pre>{@code
 * try (BatchInference inference = new BatchInference(bundle, BatchInference.Options.defaults());
 *      SpectrumReader in = SpectrumSources.open(spectraFile, bundle.spectrumLength());
 *      SummaryWriter out = SummaryWriter.create(summaryFile, bundle.parameters())) {
 *     BatchInference.Report report = inference.run(in, out, null);
 *     out.commit();
 * }
 * }</pre>
 *
 * <p>{@link #run} may be called several times, but not concurrently.
 */
public final class BatchInference implements AutoCloseable {

    /** Immutable settings of a batch run; start from {@link #defaults()}. */
    public static final class Options {
        /** Posterior draws per source by default. */
        public static final int DEFAULT_SAMPLES = 1000;
        /** Random seed by default. */
        public static final long DEFAULT_SEED = 42L;
        /** Spectra per work unit by default (large enough to amortise a graph run over many sources). */
        public static final int DEFAULT_BATCH_SIZE = 64;

        private final int samples;
        private final long seed;
        private final int batchSize;
        private final int threads;
        private final PosteriorSampler.Options sampler;

        private Options(int samples, long seed, int batchSize, int threads, PosteriorSampler.Options sampler) {
            if (samples < 1) {
                throw new IllegalArgumentException("samples per source must be >= 1, got " + samples);
            }
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1, got " + threads);
            }
            this.samples = samples;
            this.seed = seed;
            this.batchSize = batchSize;
            this.threads = threads;
            this.sampler = Objects.requireNonNull(sampler, "sampler");
        }

        /**
         * {@value #DEFAULT_SAMPLES} draws per source, seed {@value #DEFAULT_SEED}, work units of
         * {@value #DEFAULT_BATCH_SIZE} spectra, one thread, {@link PosteriorSampler.Options#defaults()}.
         *
         * @return the default settings
         */
        public static Options defaults() {
            return new Options(DEFAULT_SAMPLES, DEFAULT_SEED, DEFAULT_BATCH_SIZE, 1, PosteriorSampler.Options.defaults());
        }

        /**
         * @param n posterior draws per source (at least 1)
         * @return these settings with {@code n} draws per source
         */
        public Options withSamples(int n) {
            return new Options(n, seed, batchSize, threads, sampler);
        }

        /**
         * @param s the random seed, an unsigned 64-bit integer (any {@code long}: values from
         *          2<sup>63</sup> on are negative longs, as {@link CounterRng#parseSeed} returns them)
         * @return these settings with seed {@code s}
         */
        public Options withSeed(long s) {
            return new Options(samples, s, batchSize, threads, sampler);
        }

        /**
         * @param n spectra per work unit handed to a worker thread (at least 1)
         * @return these settings with work units of {@code n} spectra
         */
        public Options withBatchSize(int n) {
            return new Options(samples, seed, n, threads, sampler);
        }

        /**
         * @param n worker threads sampling work units in parallel (at least 1; 1 samples in the
         *          calling thread)
         * @return these settings with {@code n} worker threads
         */
        public Options withThreads(int n) {
            return new Options(samples, seed, batchSize, n, sampler);
        }

        /**
         * @param options settings of the sampler (and, for its intra-op threads, of the forward model)
         * @return these settings with the given sampler settings
         */
        public Options withSamplerOptions(PosteriorSampler.Options options) {
            return new Options(samples, seed, batchSize, threads, options);
        }

        /** @return posterior draws per source */
        public int samples() {
            return samples;
        }

        /** @return the random seed */
        public long seed() {
            return seed;
        }

        /** @return spectra per work unit */
        public int batchSize() {
            return batchSize;
        }

        /** @return worker threads */
        public int threads() {
            return threads;
        }

        /** @return the sampler's settings */
        public PosteriorSampler.Options samplerOptions() {
            return sampler;
        }

        @Override
        public String toString() {
            return "BatchInference.Options(samples=" + samples + ", seed=" + seed + ", batchSize=" + batchSize
                    + ", threads=" + threads + ", " + sampler + ")";
        }
    }

    /** A failed input row: its error row's source id and message. Immutable. */
    public static final class Failure {
        private final long rowIndex;
        private final String sourceId;
        private final String message;

        Failure(long rowIndex, String sourceId, String message) {
            this.rowIndex = rowIndex;
            this.sourceId = sourceId;
            this.message = message;
        }

        /** @return the 0-based data row number */
        public long rowIndex() {
            return rowIndex;
        }

        /** @return the row's source id, empty when it could not be read */
        public String sourceId() {
            return sourceId;
        }

        /** @return the error row's message (names the source and the problem) */
        public String message() {
            return message;
        }

        @Override
        public String toString() {
            return "row " + rowIndex + ": " + message;
        }
    }

    /** What a {@link #run} did: rows in, rows that failed. Immutable. */
    public static final class Report {
        /** At most this many failures are kept in {@link #failures()} (the count is always complete). */
        public static final int KEPT_FAILURES = 20;

        private final long sources;
        private final long failed;
        private final List<Failure> failures;

        Report(long sources, long failed, List<Failure> failures) {
            this.sources = sources;
            this.failed = failed;
            this.failures = Collections.unmodifiableList(new ArrayList<>(failures));
        }

        /** @return input rows read (= summary rows written) */
        public long sources() {
            return sources;
        }

        /** @return rows written as error rows */
        public long failed() {
            return failed;
        }

        /** @return the first {@value #KEPT_FAILURES} failures, in input order */
        public List<Failure> failures() {
            return failures;
        }

        @Override
        public String toString() {
            return "BatchInference.Report(" + failed + " of " + sources + " sources failed)";
        }
    }

    /**
     * The result of one input row ({@link #inferBatch}): its summary and goodness of fit, or its
     * error. Immutable.
     */
    public static final class Outcome {
        final SpectraCsv.Row row;
        final PosteriorSummary summary;
        final PosteriorSamples samples;
        final GoodnessOfFit.Result fit;
        final String error;

        private Outcome(SpectraCsv.Row row, PosteriorSummary summary, PosteriorSamples samples,
                        GoodnessOfFit.Result fit, String error) {
            this.row = row;
            this.summary = summary;
            this.samples = samples;
            this.fit = fit;
            this.error = error;
        }

        static Outcome failed(SpectraCsv.Row row, String error) {
            return new Outcome(row, null, null, null, error);
        }

        /** @return the input row */
        public SpectraCsv.Row row() {
            return row;
        }

        /** @return whether the row has status ok */
        public boolean ok() {
            return error == null;
        }

        /** @return the error row's message (names the source and the problem); null for an ok row */
        public String error() {
            return error;
        }

        /** @return the posterior summary of an ok row; null for an error row */
        public PosteriorSummary summary() {
            return summary;
        }

        /**
         * @return the goodness-of-fit values of an ok row ({@link GoodnessOfFit.Result#columns()}, as
         *         {@link SummaryWriter#writeOk} takes them); null for an error row
         */
        public List<String> fitColumns() {
            return fit == null ? null : fit.columns();
        }
    }

    /** A sampled source whose goodness of fit is still to be evaluated. */
    private static final class Sampled {
        final int slot;
        final Spectrum spectrum;
        final PosteriorSummary summary;
        final PosteriorSamples samples;

        Sampled(int slot, Spectrum spectrum, PosteriorSummary summary, PosteriorSamples samples) {
            this.slot = slot;
            this.spectrum = spectrum;
            this.summary = summary;
            this.samples = samples;
        }
    }

    private final ModelBundle bundle;
    private final Options options;
    private final PosteriorSampler sampler;
    private final GoodnessOfFit fit;

    /**
     * Opens the sampler and the forward model of {@code bundle}.
     *
     * @param bundle  the model bundle
     * @param options the settings
     * @throws BundleException if a graph cannot be loaded
     */
    public BatchInference(ModelBundle bundle, Options options) {
        this.bundle = Objects.requireNonNull(bundle, "bundle");
        this.options = Objects.requireNonNull(options, "options");
        this.sampler = new PosteriorSampler(bundle, options.samplerOptions());
        try {
            this.fit = new GoodnessOfFit(bundle, options.samplerOptions().intraOpThreads());
        } catch (RuntimeException e) {
            try {
                sampler.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** @return the model bundle */
    public ModelBundle bundle() {
        return bundle;
    }

    /** @return the settings */
    public Options options() {
        return options;
    }

    /**
     * @return whether the goodness-of-fit columns are computed (the bundle has a
     *         {@code forward_model} graph); without, gof_chi2 and ood_flag are left empty
     */
    public boolean hasForwardModel() {
        return fit.hasForwardModel();
    }

    /**
     * Reads every remaining row of {@code in} and writes one summary row per input row to
     * {@code summary} (and, for the ok rows, every draw to {@code samples}), in input order. Does
     * not commit the writers: the caller decides whether the output is kept.
     *
     * @param in      the spectra, read to the end (on the calling thread)
     * @param summary receives one row per input row (written on the calling thread): a {@link SummaryCsv},
     *                {@link SummaryEcsv} or any other {@link SummaryWriter}
     * @param samples receives every draw of every ok row; null to skip the draws
     * @return the numbers of rows read and failed, and the first failures
     * @throws IOException          if reading or writing fails
     * @throws InterruptedException if the calling thread is interrupted while waiting for a worker
     * @throws InferenceException   if a worker fails beyond a single source (an error no row
     *                              absorbs, such as running out of memory)
     */
    public Report run(SpectrumReader in, SummaryWriter summary, SamplesCsv samples)
            throws IOException, InterruptedException {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(summary, "summary");
        int threads = options.threads();
        int batch = options.batchSize();
        boolean keepSamples = samples != null;
        ExecutorService pool = threads == 1 ? null : Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "xpcvae-infer");
            t.setDaemon(true);
            return t;
        });
        try {
            Deque<Future<List<Outcome>>> pending = new ArrayDeque<>();
            Tally tally = new Tally();
            while (true) {
                List<SpectraCsv.Row> chunk = new ArrayList<>(batch);
                for (SpectraCsv.Row row = null; chunk.size() < batch && (row = in.next()) != null; ) {
                    chunk.add(row);
                }
                if (chunk.isEmpty()) {
                    break;
                }
                pending.add(pool == null ? CompletableFuture.completedFuture(process(chunk, keepSamples))
                        : pool.submit(() -> process(chunk, keepSamples)));
                // bounded read-ahead: memory stays flat however long the input
                while (pending.size() > 2 * threads) {
                    write(pending.poll(), summary, samples, tally);
                }
            }
            while (!pending.isEmpty()) {
                write(pending.poll(), summary, samples, tally);
            }
            return new Report(tally.sources, tally.failed, tally.kept);
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
    }

    /** Counts of the rows written so far (the writing thread's). */
    private static final class Tally {
        long sources;
        long failed;
        final List<Failure> kept = new ArrayList<>();
    }

    private static void write(Future<List<Outcome>> future, SummaryWriter summary, SamplesCsv samples, Tally tally)
            throws IOException, InterruptedException {
        List<Outcome> outcomes;
        try {
            outcomes = future.get();
        } catch (ExecutionException e) {
            throw new InferenceException("sampling failed: " + e.getCause(), e.getCause());
        }
        for (Outcome o : outcomes) {
            tally.sources++;
            if (o.error != null) {
                tally.failed++;
                if (tally.kept.size() < Report.KEPT_FAILURES) {
                    tally.kept.add(new Failure(o.row.rowIndex(), o.row.sourceId(), o.error));
                }
                summary.writeError(o.row.sourceId(), o.error);
            } else {
                summary.writeOk(o.summary, o.fit.columns());
                if (samples != null) {
                    samples.write(o.samples);
                }
            }
        }
    }

    /**
     * One work unit of {@link #run} on the calling thread, for callers that read and write rows
     * themselves (the Spark job): the outcomes of {@code rows}, in order, exactly as {@link #run}
     * writes them (bad rows become error outcomes; the draws are not kept). Thread-safe: several
     * threads may call it at once on one instance (the sampler and the forward model are).
     *
     * @param rows the rows of one work unit ({@link Options#batchSize()} is the CLI's size)
     * @return one outcome per row, in order
     */
    public List<Outcome> inferBatch(List<SpectraCsv.Row> rows) {
        return process(Objects.requireNonNull(rows, "rows"), false);
    }

    /**
     * Samples the posterior of the rows of one work unit, then evaluates the goodness of fit of
     * its ok rows (one forward-model run for the unit); bad rows become error outcomes.
     */
    private List<Outcome> process(List<SpectraCsv.Row> rows, boolean keepSamples) {
        int length = bundle.spectrumLength();
        Outcome[] outcomes = new Outcome[rows.size()];
        List<Integer> slots = new ArrayList<>();
        List<Spectrum> spectra = new ArrayList<>();
        List<Long> keyList = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            SpectraCsv.Row row = rows.get(i);
            if (!row.ok()) {
                outcomes[i] = Outcome.failed(row, row.error());
                continue;
            }
            try {
                Spectrum spectrum = row.spectrum().validate(length);
                // the row's random stream is keyed by its source id, never by its position
                long key = CounterRng.sourceKey(spectrum.sourceId());
                spectra.add(spectrum);
                keyList.add(key);
                slots.add(i);
            } catch (InvalidSpectrumException e) {
                outcomes[i] = Outcome.failed(row, e.getMessage());
            } catch (IllegalArgumentException e) {
                outcomes[i] = Outcome.failed(row, "source " + row.sourceId() + ": " + e.getMessage());
            }
        }
        long[] keys = new long[keyList.size()];
        for (int s = 0; s < keys.length; s++) {
            keys[s] = keyList.get(s);
        }
        List<PosteriorSamples> results;
        try {
            results = sampler.sampleWithKeys(spectra, keys, options.samples(), options.seed());
        } catch (RuntimeException e) {
            // isolate the failing sources (results do not depend on which spectra share a call)
            results = null;
        }
        List<Sampled> sampled = new ArrayList<>();
        for (int s = 0; s < slots.size(); s++) {
            int i = slots.get(s);
            PosteriorSamples ps;
            if (results != null) {
                ps = results.get(s);
            } else {
                try {
                    ps = sampler.sampleWithKey(spectra.get(s), keys[s], options.samples(), options.seed());
                } catch (InferenceException | InvalidSpectrumException e) {
                    outcomes[i] = Outcome.failed(rows.get(i), e.getMessage());
                    continue;
                } catch (RuntimeException e) {
                    // never let one source stop the batch: an error row naming it
                    outcomes[i] = Outcome.failed(rows.get(i), "source " + spectra.get(s).sourceId()
                            + ": internal error: " + e);
                    continue;
                }
            }
            PosteriorSummary q;
            try {
                q = ps.summary();
            } catch (RuntimeException e) {
                outcomes[i] = Outcome.failed(rows.get(i), "source " + ps.sourceId()
                        + ": cannot summarise the draws: " + e);
                continue;
            }
            sampled.add(new Sampled(i, spectra.get(s), q, keepSamples ? ps : null));
        }
        List<PosteriorSummary> summaries = new ArrayList<>();
        List<Spectrum> okSpectra = new ArrayList<>();
        for (Sampled s : sampled) {
            summaries.add(s.summary);
            okSpectra.add(s.spectrum);
        }
        List<GoodnessOfFit.Result> fits;
        try {
            fits = fit.evaluate(summaries, okSpectra);
        } catch (RuntimeException e) {
            // the goodness of fit never costs a source its posterior
            fits = new ArrayList<>();
            for (PosteriorSummary q : summaries) {
                fits.add(fit.unavailable(q));
            }
        }
        for (int k = 0; k < sampled.size(); k++) {
            Sampled s = sampled.get(k);
            outcomes[s.slot] = new Outcome(rows.get(s.slot), s.summary, s.samples, fits.get(k), null);
        }
        return List.of(outcomes);
    }

    /**
     * Closes the forward model and the sampler (idempotent); do not call while {@link #run} runs.
     *
     * @throws InferenceException if ONNX Runtime fails to close a session (both are closed regardless)
     */
    @Override
    public void close() {
        try {
            fit.close();
        } finally {
            sampler.close();
        }
    }

    @Override
    public String toString() {
        return "BatchInference(" + bundle + ", " + options + ")";
    }
}
