package org.xpcvae.spark;

import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.xpcvae.BatchInference;
import org.xpcvae.BundleException;
import org.xpcvae.ModelBundle;
import org.xpcvae.Parameter;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Posterior inference as an Apache Spark job: the spectra of a Parquet input, or Gaia archive XP
 * files read by the library's readers (docs/scale.md), in, one summary row per input row out, as
 * Parquet with the summary CSV's columns ({@link SummarySchema}), values identical to those {@code xpcvae infer} (org.xpcvae.Main)
 * writes for the same spectra and seed.
 *
 * <ul>
 *   <li>The driver loads the bundle first (checksums, then the graphs, opened in ONNX Runtime
 *       while Spark plans the job): an unusable bundle fails the job before any row. Each
 *       executor JVM then opens the bundle once, checks its checksums and that it is the
 *       driver's bundle (same manifest) before its first row, and shares one
 *       {@link org.xpcvae.PosteriorSampler} among its tasks ({@link ExecutorModel}).</li>
 *   <li>A source's draws are keyed by (seed, source_id), not by its position: the output does
 *       not depend on the partitioning, and a retried task writes the same rows.</li>
 *   <li>The output is written by Spark's file committer: complete (with {@code _SUCCESS}) when
 *       the job succeeds; when it fails, the committer discards the tasks' files and the job
 *       removes the output directory it had created, so no partial output is left.</li>
 *   <li>Bad rows (a null id or array, wrong length, non-finite values, uncertainties &lt;= 0)
 *       become error rows with their message: the output has exactly one row per input row.</li>
 * </ul>
 *
 * <pre>
 * spark-submit --class org.xpcvae.spark.InferJob --archives bundle.tar.gz#bundle xpcvae-spark.jar \
 *     --bundle export/default --executor-bundle bundle --input spectra.parquet --output summary.parquet
 * </pre>
 */
public final class InferJob {
    /** Exit status of a failed job or a usage error. */
    public static final int EXIT_FATAL = 2;

    private InferJob() {
    }

    /** Immutable settings of one run; start from {@link #of}. */
    public static final class Settings {
        private final String bundle;
        private final String executorBundle;
        private final String input;
        private final String output;
        private final int samples;
        private final long seed;
        private final int batchSize;
        private final int intraOpThreads;
        private final int partitions;
        private final PartitionInference.RowHook hook;
        private final SpectraFiles.Format inputFormat;

        private Settings(String bundle, String executorBundle, String input, String output, int samples, long seed,
                         int batchSize, int intraOpThreads, int partitions, PartitionInference.RowHook hook,
                         SpectraFiles.Format inputFormat) {
            this.bundle = Objects.requireNonNull(bundle, "bundle");
            this.executorBundle = executorBundle;
            this.input = Objects.requireNonNull(input, "input");
            this.output = Objects.requireNonNull(output, "output");
            if (samples < 1) {
                throw new IllegalArgumentException("samples per source must be >= 1, got " + samples);
            }
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
            }
            if (intraOpThreads < 1) {
                throw new IllegalArgumentException("intra-op threads must be >= 1, got " + intraOpThreads);
            }
            if (partitions < 0) {
                throw new IllegalArgumentException("partitions must be >= 0, got " + partitions);
            }
            this.samples = samples;
            this.seed = seed;
            this.batchSize = batchSize;
            this.intraOpThreads = intraOpThreads;
            this.partitions = partitions;
            this.hook = hook;
            this.inputFormat = Objects.requireNonNull(inputFormat, "inputFormat");
        }

        /**
         * Settings with the CLI's defaults: 1000 draws per source, seed 42, batches of 64 spectra,
         * one ONNX Runtime intra-op thread, the input's own partitioning, executors reading the
         * bundle from the driver's path.
         *
         * @param bundle the model bundle directory as the driver sees it, or the name it was shipped
         *               under ({@code --archives bundle.tar.gz#NAME})
         * @param input  the input Parquet (file or directory; any Hadoop file system URI)
         * @param output the output Parquet directory, which must not exist
         * @return the settings
         */
        public static Settings of(String bundle, String input, String output) {
            return new Settings(bundle, null, input, output, 1000, 42L, 64, 1, 0, null, SpectraFiles.Format.AUTO);
        }

        /**
         * @param location where executors find the bundle: an absolute path every executor can
         *                 read, or the name it was shipped under ({@code --archives
         *                 bundle.tar.gz#NAME}); null: the driver's path, made absolute
         * @return these settings with the executors' bundle location
         */
        public Settings withExecutorBundle(String location) {
            return new Settings(bundle, location, input, output, samples, seed, batchSize, intraOpThreads,
                    partitions, hook, inputFormat);
        }

        /** @param n posterior draws per source (at least 1) @return these settings with {@code n} draws */
        public Settings withSamples(int n) {
            return new Settings(bundle, executorBundle, input, output, n, seed, batchSize, intraOpThreads,
                    partitions, hook, inputFormat);
        }

        /** @param s the random seed @return these settings with seed {@code s} */
        public Settings withSeed(long s) {
            return new Settings(bundle, executorBundle, input, output, samples, s, batchSize, intraOpThreads,
                    partitions, hook, inputFormat);
        }

        /** @param n spectra per sampler call in a task (at least 1) @return these settings with batches of {@code n} */
        public Settings withBatchSize(int n) {
            return new Settings(bundle, executorBundle, input, output, samples, seed, n, intraOpThreads,
                    partitions, hook, inputFormat);
        }

        /** @param n ONNX Runtime threads per graph run (at least 1) @return these settings with {@code n} threads */
        public Settings withIntraOpThreads(int n) {
            return new Settings(bundle, executorBundle, input, output, samples, seed, batchSize, n, partitions,
                    hook, inputFormat);
        }

        /**
         * @param n partitions to spread the input over (a round-robin repartition; 0 keeps the
         *          input's partitioning, set by {@code spark.sql.files.maxPartitionBytes})
         * @return these settings with {@code n} partitions
         */
        public Settings withPartitions(int n) {
            return new Settings(bundle, executorBundle, input, output, samples, seed, batchSize, intraOpThreads, n,
                    hook, inputFormat);
        }

        /**
         * @param format how to read the input: {@code auto} (Parquet when the path looks like it:
         *               a {@code .parquet} name, or a directory with {@code .parquet} files or
         *               {@code _SUCCESS}; else spectra files), {@code parquet}, or {@code files}
         *               (Gaia archive XP products or project CSV files: a file, a directory or a glob)
         * @return these settings with the given input format
         * @throws IllegalArgumentException for another format
         */
        public Settings withInputFormat(String format) {
            return new Settings(bundle, executorBundle, input, output, samples, seed, batchSize, intraOpThreads,
                    partitions, hook, SpectraFiles.Format.parse(format));
        }

        Settings withRowHook(PartitionInference.RowHook h) {
            return new Settings(bundle, executorBundle, input, output, samples, seed, batchSize, intraOpThreads,
                    partitions, h, inputFormat);
        }

        /** @return the tests' row hook, null in production */
        PartitionInference.RowHook hook() {
            return hook;
        }

        /** @return the bundle directory as the driver sees it */
        public String bundle() {
            return bundle;
        }

        /** @return where executors find the bundle, null for the driver's path */
        public String executorBundle() {
            return executorBundle;
        }

        /** @return the input Parquet */
        public String input() {
            return input;
        }

        /** @return the output Parquet directory */
        public String output() {
            return output;
        }

        /** @return posterior draws per source */
        public int samples() {
            return samples;
        }

        /** @return the random seed */
        public long seed() {
            return seed;
        }

        /** @return spectra per sampler call */
        public int batchSize() {
            return batchSize;
        }

        /** @return ONNX Runtime intra-op threads */
        public int intraOpThreads() {
            return intraOpThreads;
        }

        /** @return partitions of the input (0: as read; one per file for spectra files) */
        public int partitions() {
            return partitions;
        }

        /** @return how the input is read: auto, parquet or files */
        public String inputFormat() {
            return inputFormat.name().toLowerCase(Locale.ROOT);
        }
    }

    /** What a successful run wrote. Immutable. */
    public static final class Result {
        private final String output;
        private final long okRows;
        private final long errorRows;
        private final double seconds;
        private final List<Parameter> parameters;

        Result(String output, long okRows, long errorRows, double seconds, List<Parameter> parameters) {
            this.output = output;
            this.okRows = okRows;
            this.errorRows = errorRows;
            this.seconds = seconds;
            this.parameters = parameters;
        }

        /** @return the output directory */
        public String output() {
            return output;
        }

        /** @return rows written (= input rows) */
        public long rows() {
            return okRows + errorRows;
        }

        /** @return rows with status ok */
        public long okRows() {
            return okRows;
        }

        /** @return rows with status error */
        public long errorRows() {
            return errorRows;
        }

        /** @return wall-clock seconds of the run (bundle check, job, commit) */
        public double seconds() {
            return seconds;
        }

        /** @return the bundle's parameters (the output's parameter columns) */
        public List<Parameter> parameters() {
            return parameters;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%d rows (%d ok, %d error) in %.2f s -> %s", rows(), okRows, errorRows,
                    seconds, output);
        }
    }

    /**
     * Runs the job on {@code spark}: checks the bundle and the input on the driver, then samples
     * every row and writes the output.
     *
     * @return the counts of rows written
     * @throws BundleException          if the bundle is unusable, or an executor's is not the
     *                                  driver's (the job fails before that executor's first row)
     * @throws IllegalArgumentException if the input's schema is not the job's, or the output exists
     * @throws RuntimeException         on a failed job, Spark's {@code SparkException} (a checked
     *                                  exception that Scala code throws undeclared; catch
     *                                  {@code Exception}), naming the failed task's cause; no
     *                                  output is left
     */
    public static Result run(SparkSession spark, Settings settings) {
        long t0 = System.nanoTime();
        // a relative --bundle may name an archive shipped with the job (the driver of a cluster-mode
        // job finds it where Spark unpacked it), else a directory below the working directory
        Path driverBundle = ExecutorModel.resolve(settings.bundle(), "the driver");
        String location = settings.executorBundle() != null ? settings.executorBundle() : driverBundle.toString();
        // local mode with the driver's bundle: the tasks run in this JVM and use the model opened here
        boolean keep = spark.sparkContext().isLocal() && settings.executorBundle() == null;
        // manifest and checksums first: its messages name a missing or corrupt bundle's problem best
        ModelBundle bundle = ModelBundle.load(driverBundle);
        String fingerprint = ExecutorModel.fingerprint(driverBundle);
        BatchInference.Options options = PartitionInference.TaskSettings.options(settings.samples(), settings.seed(),
                settings.batchSize(), settings.intraOpThreads());
        // the graphs opened in ONNX Runtime while Spark reads the input's schema and plans the job;
        // awaited before the job starts, so an unusable bundle still fails it before any row
        ExecutorModel.Opening opening = ExecutorModel.checkInBackground(driverBundle, options, keep);
        Dataset<Row> summary;
        FileSystem fs;
        org.apache.hadoop.fs.Path out = new org.apache.hadoop.fs.Path(settings.output());
        LongAccumulator ok = spark.sparkContext().longAccumulator("xpcvae ok rows");
        LongAccumulator failed = spark.sparkContext().longAccumulator("xpcvae error rows");
        try {
            fs = out.getFileSystem(spark.sparkContext().hadoopConfiguration());
            summary = SummaryPlan.of(spark, settings, bundle, location, fingerprint, options, fs, out, ok, failed);
        } catch (IOException e) {
            throw reported(opening, new UncheckedIOException("cannot check the output " + out, e));
        } catch (RuntimeException e) {
            throw reported(opening, e);
        } catch (Exception e) {
            // Spark's AnalysisException for a missing input: checked, but thrown undeclared
            RuntimeException unusable = opening.failure();
            if (unusable != null) {
                unusable.addSuppressed(e);
                throw unusable;
            }
            throw e;
        }
        opening.await();
        try {
            summary.write().mode(SaveMode.ErrorIfExists).parquet(settings.output());
        } catch (Exception e) {
            // a failed job (SparkException, which javac does not see as thrown here) or any other error
            removeIncomplete(fs, out, e);
            throw e;
        }
        return new Result(settings.output(), ok.value(), failed.value(), (System.nanoTime() - t0) / 1e9,
                bundle.parameters());
    }

    /** {@code failure}, or the bundle's, if it proved unusable meanwhile (reported first). */
    private static RuntimeException reported(ExecutorModel.Opening opening, RuntimeException failure) {
        RuntimeException unusable = opening.failure();
        if (unusable == null) {
            return failure;
        }
        unusable.addSuppressed(failure);
        return unusable;
    }

    /**
     * After a failed job: the committer has discarded the tasks' files, but the output directory
     * it created (empty, or holding its staging directory) would still look like an output.
     */
    private static void removeIncomplete(FileSystem fs, org.apache.hadoop.fs.Path out, Exception failure) {
        try {
            if (fs.exists(out) && !fs.exists(new org.apache.hadoop.fs.Path(out, "_SUCCESS"))) {
                fs.delete(out, true);
            }
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }

    /** The innermost cause's message (a task's failure reaches the driver wrapped several times). */
    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t == e ? String.valueOf(e.getMessage()) : t + " (" + e.getClass().getSimpleName() + ")";
    }

    /**
     * Runs the command line with the given streams (no System.exit).
     *
     * @return the exit status: 0 when the output was written (error rows included), 2 otherwise
     */
    public static int run(PrintStream out, PrintStream err, String... args) {
        JobCommand cli = new JobCommand();
        cli.out = out;
        cli.err = err;
        CommandLine cl = new CommandLine(cli);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    /**
     * Entry point of {@code spark-submit --class org.xpcvae.spark.InferJob}.
     *
     * @param args the command line (--help lists it)
     */
    public static void main(String[] args) {
        int status = run(System.out, System.err, args);
        if (status != 0) {
            System.exit(status);
        }
    }
}
