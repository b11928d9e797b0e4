package org.xpcvae.spark;

import org.apache.spark.sql.SparkSession;
import org.xpcvae.BundleException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.concurrent.Callable;

/**
 * The job's command line ({@link InferJob#main}, {@code --help}): the options as
 * {@link InferJob.Settings}, then {@link InferJob#run(SparkSession, InferJob.Settings)}.
 */
@Command(name = "xpcvae-spark", mixinStandardHelpOptions = true, version = "xpcvae-spark 0.1.0",
        description = {"Posterior inference of every spectrum of a Parquet input or of Gaia archive XP files as a Spark "
                + "job; writes one summary row per input row as Parquet (docs/scale.md).",
                "A source's random numbers are selected by (seed, source_id)."})
final class JobCommand implements Callable<Integer> {
    @Option(names = "--bundle", required = true, paramLabel = "DIR",
            description = "model bundle on the driver: a directory, or NAME of --archives bundle.tar.gz#NAME "
                    + "(loaded and checked before the job)")
    String bundle;

    @Option(names = "--executor-bundle", paramLabel = "LOCATION",
            description = "where executors find the bundle: NAME of --archives bundle.tar.gz#NAME, or an absolute "
                    + "path every executor can read (default: the --bundle path)")
    String executorBundle;

    @Option(names = "--input", required = true, paramLabel = "PATH",
            description = "input spectra: Parquet (file or directory), or Gaia archive XP files (continuous or "
                    + "sampled, CSV/ECSV/FITS, .csv.gz bulk files) or project CSV files: a file, a directory or "
                    + "a glob")
    String input;

    @Option(names = "--input-format", defaultValue = "auto", paramLabel = "F",
            description = "auto (Parquet for a .parquet name or a directory with .parquet files or _SUCCESS, "
                    + "else spectra files), parquet, or files (default: ${DEFAULT-VALUE})")
    String inputFormat;

    @Option(names = "--output", required = true, paramLabel = "DIR",
            description = "output summary (Parquet directory; must not exist)")
    String output;

    @Option(names = "--samples", defaultValue = "1000", paramLabel = "N",
            description = "posterior draws per source (default: ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", converter = JobCommand.SeedConverter.class,
            description = "random seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--batch", defaultValue = "64", paramLabel = "B",
            description = "spectra per sampler call in a task (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--intra-op-threads", defaultValue = "1", paramLabel = "T",
            description = "ONNX Runtime threads per graph run (default: ${DEFAULT-VALUE})")
    int intraOpThreads;

    @Option(names = "--partitions", defaultValue = "0", paramLabel = "P",
            description = "repartition a Parquet input into P partitions (default: as read); spectra files: "
                    + "spread them over P partitions (default: one per file)")
    int partitions;

    @Option(names = "--master", paramLabel = "URL",
            description = "Spark master (default: spark-submit's, or -Dspark.master)")
    String master;

    @Option(names = "--show", defaultValue = "0", paramLabel = "N",
            description = "print the first N output rows as a table (default: none)")
    int show;

    PrintStream out;
    PrintStream err;

    @Override
    public Integer call() {
        InferJob.Settings settings;
        try {
            settings = InferJob.Settings.of(bundle, input, output).withExecutorBundle(executorBundle)
                    .withSamples(samples).withSeed(seed).withBatchSize(batch)
                    .withIntraOpThreads(intraOpThreads).withPartitions(partitions)
                    .withInputFormat(inputFormat);
        } catch (IllegalArgumentException e) {
            err.println("xpcvae-spark: error: " + e.getMessage());
            return InferJob.EXIT_FATAL;
        }
        SparkSession.Builder builder = SparkSession.builder().appName("xpcvae infer");
        if (master != null) {
            builder.master(master);
        }
        // a session this run did not start (a caller's, in the same JVM) is left running
        boolean own = SparkSession.getDefaultSession().isEmpty();
        SparkSession spark = builder.getOrCreate();
        try {
            InferJob.Result r = InferJob.run(spark, settings);
            err.println("xpcvae-spark: " + r);
            if (r.errorRows() > 0) {
                err.println("xpcvae-spark: " + r.errorRows() + " rows failed: status 'error', their message "
                        + "says why");
            }
            if (show > 0) {
                out.print(SummaryTable.of(spark, output, show));
                out.flush();
            }
            return 0;
        } catch (BundleException | IllegalArgumentException e) {
            err.println("xpcvae-spark: error: " + e.getMessage());
            return InferJob.EXIT_FATAL;
        } catch (Exception e) {
            // Spark's own exceptions (AnalysisException for a missing input, SparkException for a
            // failed job) carry the cause
            err.println("xpcvae-spark: error: the job failed: " + InferJob.rootMessage(e));
            return InferJob.EXIT_FATAL;
        } finally {
            if (own) {
                spark.stop();
            }
        }
    }

    /** Parses a seed as {@code xpcvae infer} does ({@link org.xpcvae.CounterRng#parseSeed}). */
    static final class SeedConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return org.xpcvae.CounterRng.parseSeed(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
