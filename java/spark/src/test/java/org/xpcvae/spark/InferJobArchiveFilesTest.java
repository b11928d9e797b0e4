package org.xpcvae.spark;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.ClassRule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.xpcvae.Main;
import org.xpcvae.ModelBundle;
import org.xpcvae.SummaryCsv;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.zip.GZIPOutputStream;

/**
 * The Spark job on Gaia archive XP files read by the library's readers inside the tasks, against
 * the Java CLI ({@link Main}) on the same files: the archive's CSV, ECSV and FITS layouts, XP
 * continuous and sampled, a gzipped bulk file, a source without BP.
 */
public class InferJobArchiveFilesTest {
    @ClassRule
    public static final TemporaryFolder TMP = new TemporaryFolder();

    private static final int SAMPLES = 50;
    private static final long SEED = 7L;
    /** The archive files of the input directory, as the job sees them (the gzipped bulk file by its archive name). */
    private static final String[] FILES = {"XP_CONTINUOUS_RAW_with_missing_BP.csv", "XP_CONTINUOUS_RAW.fits",
        "XP_SAMPLED_RAW_dr3int6.ecsv", "XP_SAMPLED_RAW_dr3int6.csv", "XpContinuousMeanSpectrum_000000-003111.csv.gz"};

    private static SparkSession spark;
    private static Path bundle;
    private static Path inputDir;
    /** The CLI's summary rows of every file of the input directory, sorted. */
    private static List<List<String>> cliRows;

    @BeforeClass
    public static void setUp() throws IOException {
        String dir = System.getProperty("xpcvae.bundle");
        assertNotNull("system property xpcvae.bundle (set by build.gradle)", dir);
        bundle = Paths.get(dir);
        Path archive = Paths.get(System.getProperty("xpcvae.gaiaArchiveData"));
        assertTrue("test data " + archive.toAbsolutePath(), Files.isDirectory(archive));
        spark = SparkSession.builder().master("local[2,2]").appName("xpcvae-spark-archive-test")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .getOrCreate();
        inputDir = TMP.newFolder("archive").toPath();
        for (String f : FILES) {
            if (f.endsWith(".csv.gz")) {
                // the archive's bulk files are gzipped ECSV named .csv.gz
                try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(inputDir.resolve(f)))) {
                    Files.copy(archive.resolve("XP_CONTINUOUS_RAW.ecsv"), out);
                }
            } else {
                Files.copy(archive.resolve(f), inputDir.resolve(f));
            }
        }
        List<String> header = SummaryCsv.header(ModelBundle.load(bundle).parameters());
        cliRows = new ArrayList<>();
        for (String f : FILES) {
            Path summary = TMP.getRoot().toPath().resolve("cli-" + f + ".csv");
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status = Main.run(new PrintStream(new ByteArrayOutputStream()), new PrintStream(err), "infer",
                    "--bundle", bundle.toString(), "--input", inputDir.resolve(f).toString(), "--out",
                    summary.toString(), "--samples", Integer.toString(SAMPLES), "--seed", Long.toString(SEED));
            assertTrue("CLI on " + f + ": " + err, status == 0 || status == Main.EXIT_SOURCES_FAILED);
            List<List<String>> rows = InferJobTest.readCsv(summary);
            assertEquals(header, rows.get(0));
            cliRows.addAll(rows.subList(1, rows.size()));
        }
        cliRows.sort(ROWS);
    }

    @AfterClass
    public static void tearDown() {
        if (spark != null) {
            spark.stop();
        }
    }

    private static final Comparator<List<String>> ROWS = (a, b) -> String.join("\u0001", a)
            .compareTo(String.join("\u0001", b));

    /** The output rows as summary CSV fields (null as empty, numbers as the library writes them), sorted. */
    private static List<List<String>> fields(String output) {
        List<List<String>> out = new ArrayList<>();
        for (Row r : spark.read().parquet(output).collectAsList()) {
            List<String> f = new ArrayList<>();
            for (int i = 0; i < r.size(); i++) {
                Object v = r.get(i);
                f.add(v == null ? "" : v instanceof Double ? Double.toString((Double) v) : v.toString());
            }
            out.add(f);
        }
        out.sort(ROWS);
        return out;
    }

    private static String output(String name) {
        return TMP.getRoot().toPath().resolve(name).toString();
    }

    @Test
    public void archiveFilesGiveTheClisRowsInAnyPartitioning() {
        // the CLI's rows hold ok rows and the error row of the source without BP
        assertTrue(cliRows.stream().anyMatch(r -> r.get(1).equals("ok")));
        assertTrue(cliRows.stream().anyMatch(r -> r.get(1).equals("error") && r.get(2).contains("BP")));
        for (int partitions : new int[]{0, 2}) {
            String out = output("archive-summary-" + partitions + ".parquet");
            // a directory of archive files: read as spectra files (format auto), one file per task by default
            InferJob.Result r = InferJob.run(spark, InferJob.Settings.of(bundle.toString(), inputDir.toString(), out)
                    .withSamples(SAMPLES).withSeed(SEED).withBatchSize(2).withPartitions(partitions));
            assertEquals(cliRows.size(), r.rows());
            assertEquals(cliRows.stream().filter(x -> x.get(1).equals("error")).count(), r.errorRows());
            assertEquals("source_id as the files' text", DataTypes.StringType,
                    spark.read().parquet(out).schema().apply("source_id").dataType());
            assertEquals(partitions + " partitions", cliRows, fields(out));
        }
    }

    @Test
    public void aGlobSelectsFilesAndTheCommandLineReadsThem() throws IOException {
        String out = output("glob-summary.parquet");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = InferJob.run(new PrintStream(new ByteArrayOutputStream()), new PrintStream(err),
                "--bundle", bundle.toString(), "--input", inputDir.resolve("XP_SAMPLED_RAW_dr3int6.*").toString(),
                "--output", out, "--samples", Integer.toString(SAMPLES), "--seed", Long.toString(SEED));
        assertEquals(err.toString(StandardCharsets.UTF_8), 0, status);
        List<List<String>> expected = new ArrayList<>();
        for (List<String> row : cliRows) {
            // the sampled files' sources (the CSV and the ECSV hold the same two)
            if (row.get(0).length() < 5) {
                expected.add(row);
            }
        }
        assertEquals(4, expected.size());
        assertEquals(expected, fields(out));
    }

    @Test
    public void anUnreadableFileFailsTheJobNamingItAndLeavesNoOutput() throws IOException {
        Path dir = TMP.newFolder("with-a-bad-file").toPath();
        Files.copy(inputDir.resolve("XP_SAMPLED_RAW_dr3int6.csv"), dir.resolve("XP_SAMPLED_RAW_dr3int6.csv"));
        Files.writeString(dir.resolve("notes.txt"), "not a table of spectra\n");
        String out = output("bad-file-summary.parquet");
        try {
            InferJob.run(spark, InferJob.Settings.of(bundle.toString(), dir.toString(), out).withSamples(SAMPLES));
            fail("a file that is not spectra must fail the job");
        } catch (Exception e) {
            String message = InferJob.rootMessage(e);
            assertTrue(message, message.contains("notes.txt"));
        }
        assertFalse("no output left", Files.exists(Paths.get(out)));
    }
}
