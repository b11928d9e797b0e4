package org.xpcvae.spark;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.xpcvae.ModelBundle;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * The training run of the local launcher's class-data archive (AppCDS, JEP 310/350): a small job
 * on made-up spectra, through the job's command line, so that the JVM that runs it with
 * {@code -XX:ArchiveClassesAtExit} loads (and archives) the classes a real run loads: Spark's
 * session, Parquet reading and writing, code generation, the library's sampler and ONNX Runtime.
 * A later run started with {@code -XX:SharedArchiveFile} maps them parsed and verified instead of
 * loading and verifying some 17,000 classes again (java/spark/build.gradle, task classArchive).
 *
 * <pre>
 * xpcvae-spark-local org.xpcvae.spark.ClassArchiveTraining BUNDLE WORK_DIR
 * </pre>
 *
 * The spectra only need to be valid input (finite flux, positive uncertainties): what the run
 * computes is thrown away with WORK_DIR's contents.
 */
public final class ClassArchiveTraining {
    /** Spectra of the training run: two batches in each of two partitions. */
    static final int SPECTRA = 256;

    private ClassArchiveTraining() {
    }

    /**
     * Runs the training job.
     *
     * @param args the bundle directory and an empty or missing work directory
     */
    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: ClassArchiveTraining BUNDLE WORK_DIR");
            System.exit(InferJob.EXIT_FATAL);
        }
        Path work = Paths.get(args[1]).toAbsolutePath();
        String input = work.resolve("spectra.parquet").toString();
        String output = work.resolve("summary.parquet").toString();
        SparkSession spark = SparkSession.builder().appName("xpcvae class archive training").master("local[2]")
                .getOrCreate();
        int status;
        try {
            List<Row> rows = new ArrayList<>();
            for (int id = 0; id < SPECTRA; id++) {
                rows.add(RowFactory.create((long) id, flux(id, 1.0f), flux(id, 0.05f)));
            }
            StructType schema = new StructType(new StructField[]{
                    DataTypes.createStructField("source_id", DataTypes.LongType, false),
                    DataTypes.createStructField("flux", DataTypes.createArrayType(DataTypes.FloatType), true),
                    DataTypes.createStructField("flux_error", DataTypes.createArrayType(DataTypes.FloatType), true)});
            spark.createDataFrame(rows, schema).repartition(2).write().parquet(input);
            // the job as the launcher runs it: its command line, the session above (left running)
            status = InferJob.run(System.out, System.err, "--bundle", args[0], "--input", input, "--output", output,
                    "--samples", "100", "--show", "1");
        } finally {
            spark.stop();
        }
        deleteTree(work.resolve("spectra.parquet"));
        deleteTree(work.resolve("summary.parquet"));
        if (status != 0) {
            System.exit(status);
        }
    }

    /** A smooth positive spectrum scaled by {@code scale} (flux, or its uncertainty). */
    private static float[] flux(int id, float scale) {
        float[] f = new float[ModelBundle.SPECTRUM_LENGTH];
        for (int i = 0; i < f.length; i++) {
            double x = (i - f.length * (0.3 + 0.4 * (id % 17) / 17.0)) / (0.25 * f.length);
            f[i] = (float) (scale * 1e-17 * (0.2 + Math.exp(-x * x)));
        }
        return f;
    }

    private static void deleteTree(Path p) {
        if (!Files.exists(p)) {
            return;
        }
        try (java.util.stream.Stream<Path> s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(q -> q.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + p, e);
        }
    }
}
