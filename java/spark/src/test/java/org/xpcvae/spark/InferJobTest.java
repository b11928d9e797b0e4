package org.xpcvae.spark;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.ClassRule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.xpcvae.BundleException;
import org.xpcvae.Main;
import org.xpcvae.ModelBundle;
import org.xpcvae.SummaryCsv;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The Spark job on a local SparkSession ({@code local[2,2]}: two task threads, a failed task is
 * retried once), against the Java CLI ({@link Main}) on the same spectra.
 */
public class InferJobTest {
    @ClassRule
    public static final TemporaryFolder TMP = new TemporaryFolder();

    private static final int N = 2000;
    private static final int SAMPLES = 50;
    private static final long SEED = 42L;
    /** Rows of the main input that are invalid (and become error rows in both engines). */
    private static final Map<Integer, String> BAD = Map.of(
            17, "is not finite", 404, "is not positive", 1111, "is not positive", 1999, "mean flux");

    private static SparkSession spark;
    private static Path bundle;
    private static String input;
    /** The CLI's summary rows by source id. */
    private static Map<String, List<String>> cli;
    private static List<String> header;
    private static final AtomicLong TASKS = new AtomicLong();

    @BeforeClass
    public static void setUp() throws IOException {
        String dir = System.getProperty("xpcvae.bundle");
        assertNotNull("system property xpcvae.bundle (set by build.gradle)", dir);
        bundle = Paths.get(dir);
        spark = SparkSession.builder().master("local[2,2]").appName("xpcvae-spark-test")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .getOrCreate();
        spark.sparkContext().addSparkListener(new SparkListener() {
            @Override
            public void onTaskStart(SparkListenerTaskStart taskStart) {
                TASKS.incrementAndGet();
            }
        });
        header = SummaryCsv.header(ModelBundle.load(bundle).parameters());

        // the same spectra as a spectra CSV (for the CLI) and as Parquet (for the job); both key a
        // source's draws by its source id
        Path csv = TMP.getRoot().toPath().resolve("spectra.csv");
        List<Row> rows = new ArrayList<>();
        try (Writer w = Files.newBufferedWriter(csv, StandardCharsets.UTF_8)) {
            StringBuilder h = new StringBuilder("source_id");
            for (int i = 0; i < ModelBundle.SPECTRUM_LENGTH; i++) {
                h.append(",flux_").append(i);
            }
            for (int i = 0; i < ModelBundle.SPECTRUM_LENGTH; i++) {
                h.append(",flux_error_").append(i);
            }
            w.write(h.append('\n').toString());
            for (int id = 0; id < N; id++) {
                float[][] s = spectrum(id);
                StringBuilder line = new StringBuilder(Integer.toString(id));
                for (float[] a : s) {
                    for (float v : a) {
                        // the float's exact value: the CLI reads a double and rounds it to this float
                        line.append(',').append((double) v);
                    }
                }
                w.write(line.append('\n').toString());
                rows.add(RowFactory.create((long) id, boxed(s[0]), boxed(s[1])));
            }
        }
        StructType schema = new StructType(new StructField[]{
                DataTypes.createStructField("source_id", DataTypes.LongType, false),
                DataTypes.createStructField("flux", DataTypes.createArrayType(DataTypes.FloatType), true),
                DataTypes.createStructField("flux_error", DataTypes.createArrayType(DataTypes.FloatType), true)});
        input = TMP.getRoot().toPath().resolve("spectra.parquet").toString();
        spark.createDataFrame(rows, schema).coalesce(1).write().parquet(input);

        Path summary = TMP.getRoot().toPath().resolve("cli-summary.csv");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(new PrintStream(new ByteArrayOutputStream()), new PrintStream(err), "infer",
                "--bundle", bundle.toString(), "--input", csv.toString(), "--out", summary.toString(),
                "--samples", Integer.toString(SAMPLES), "--seed", Long.toString(SEED), "--threads", "2");
        assertEquals("CLI: " + err, Main.EXIT_SOURCES_FAILED, status);
        List<List<String>> cliRows = readCsv(summary);
        assertEquals(header, cliRows.get(0));
        cli = new HashMap<>();
        for (List<String> r : cliRows.subList(1, cliRows.size())) {
            cli.put(r.get(0), r);
        }
        assertEquals(N, cli.size());
    }

    /** Tasks started so far (listener events are delivered asynchronously: wait for them). */
    private static long tasksStarted() throws java.util.concurrent.TimeoutException {
        spark.sparkContext().listenerBus().waitUntilEmpty();
        return TASKS.get();
    }

    @AfterClass
    public static void tearDown() {
        if (spark != null) {
            spark.stop();
        }
    }

    /** A smooth, positive, XP-like spectrum (W m^-2 nm^-1) that differs with id; some ids are invalid. */
    static float[][] spectrum(int id) {
        int n = ModelBundle.SPECTRUM_LENGTH;
        float[] flux = new float[n];
        float[] err = new float[n];
        SplittableRandom r = new SplittableRandom(7919L * id + 1);
        double centre = 450.0 + 350.0 * r.nextDouble();
        double width = 150.0 + 300.0 * r.nextDouble();
        double line = r.nextDouble() < 0.3 ? 0.5 + r.nextDouble() : 0.0;
        double scale = Math.pow(10.0, -17.5 + r.nextDouble());
        double snr = 10.0 + 90.0 * r.nextDouble();
        for (int i = 0; i < n; i++) {
            double wl = 336.0 + 2.0 * i;
            double shape = 0.1 + Math.exp(-Math.pow((wl - centre) / width, 2))
                    + (Math.abs(wl - 656.0) < 6.0 ? line : 0.0);
            double f = scale * shape * (1.0 + 0.03 * (r.nextDouble() - 0.5));
            flux[i] = (float) f;
            err[i] = (float) (f / snr + 1e-3 * scale);
        }
        switch (id) {
            case 17:
                flux[100] = Float.NaN;
                break;
            case 404:
                err[0] = 0.0f;
                break;
            case 1111:
                err[342] = -err[342];
                break;
            case 1999:
                Arrays.fill(flux, 0.0f);
                break;
            default:
                break;
        }
        return new float[][]{flux, err};
    }

    private static Float[] boxed(float[] a) {
        Float[] b = new Float[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = a[i];
        }
        return b;
    }

    private static Double[] doubles(float[] a) {
        Double[] b = new Double[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = (double) a[i];
        }
        return b;
    }

    /** RFC 4180 fields (the summary CSV quotes fields with commas, quotes or line breaks). */
    static List<List<String>> readCsv(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder f = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    f.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    f.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                row.add(f.toString());
                f.setLength(0);
            } else if (c == '\n') {
                row.add(f.toString());
                f.setLength(0);
                rows.add(row);
                row = new ArrayList<>();
            } else if (c != '\r') {
                f.append(c);
            }
        }
        return rows;
    }

    private String newOutput(String name) {
        return TMP.getRoot().toPath().resolve(name).toString();
    }

    private static InferJob.Settings settings(String in, String out) {
        return InferJob.Settings.of(bundle.toString(), in, out).withSamples(SAMPLES).withSeed(SEED);
    }

    /** The output rows as summary CSV fields (null as empty, numbers as the library writes them), by id. */
    private static Map<String, List<String>> asCsvFields(List<Row> rows) {
        Map<String, List<String>> byId = new HashMap<>();
        for (Row r : rows) {
            List<String> fields = new ArrayList<>();
            for (int i = 0; i < r.size(); i++) {
                Object v = r.get(i);
                fields.add(v == null ? "" : v instanceof Double ? Double.toString((Double) v) : v.toString());
            }
            assertNull("duplicate row for " + fields.get(0), byId.put(fields.get(0), fields));
        }
        return byId;
    }

    private static List<Row> read(String output) {
        return spark.read().parquet(output).collectAsList();
    }

    private static long partFiles(String output) throws IOException {
        try (Stream<Path> s = Files.list(Paths.get(output))) {
            return s.filter(p -> p.getFileName().toString().startsWith("part-")).count();
        }
    }

    private void assertEqualsCli(List<Row> rows, String what) {
        assertEquals(what + ": one row per input row", N, rows.size());
        Map<String, List<String>> job = asCsvFields(rows);
        assertEquals(what, cli.keySet(), job.keySet());
        for (Map.Entry<String, List<String>> e : cli.entrySet()) {
            assertEquals(what + ": source " + e.getKey(), e.getValue(), job.get(e.getKey()));
        }
    }

    @Test
    public void sameOutputInAnyPartitioningEqualToTheCli() throws IOException {
        List<Row> first = null;
        for (int partitions : new int[]{1, 3, 7}) {
            String out = newOutput("summary-" + partitions + ".parquet");
            InferJob.Result r = InferJob.run(spark, settings(input, out).withPartitions(partitions).withBatchSize(50));
            assertEquals(N, r.rows());
            assertEquals(BAD.size(), r.errorRows());
            assertEquals("one part file per partition", partitions, partFiles(out));
            assertTrue(Files.exists(Paths.get(out, "_SUCCESS")));
            List<Row> rows = read(out);
            assertEqualsCli(rows, partitions + " partitions");
            List<Row> sorted = rows.stream().sorted((a, b) -> Long.compare(a.getLong(0), b.getLong(0)))
                    .collect(Collectors.toList());
            if (first == null) {
                first = sorted;
            } else {
                assertEquals(partitions + " partitions", first, sorted);
            }
        }
        for (Map.Entry<Integer, String> bad : BAD.entrySet()) {
            List<String> row = cli.get(bad.getKey().toString());
            assertEquals("error", row.get(1));
            assertTrue(row.get(2), row.get(2).startsWith("source " + bad.getKey() + ": ")
                    && row.get(2).contains(bad.getValue()));
        }
        // the output's schema: the summary CSV's columns, with units and descriptions
        StructType schema = spark.read().parquet(newOutput("summary-3.parquet")).schema();
        assertEquals(header, Arrays.asList(schema.fieldNames()));
        assertEquals(DataTypes.LongType, schema.apply("source_id").dataType());
        assertEquals(DataTypes.DoubleType, schema.apply("teff_p2.5").dataType());
        // int16, as the library's summary columns (SummaryColumns, the ECSV's type) say
        assertEquals(DataTypes.ShortType, schema.apply("ood_flag").dataType());
        assertEquals(DataTypes.IntegerType, schema.apply("n_samples").dataType());
        assertEquals("K", schema.apply("teff_median").metadata().getString(SummarySchema.UNIT));
        assertEquals("mag", schema.apply("a0_p84").metadata().getString(SummarySchema.UNIT));
        assertTrue(schema.apply("teff_p16").metadata().getString(SummarySchema.DESCRIPTION)
                .contains("16th percentile"));
        assertTrue(schema.apply("gof_chi2").metadata().getString(SummarySchema.DESCRIPTION).contains("chi^2"));
    }

    @Test
    public void aTaskThatFailsOnceIsRetriedWithoutMissingOrDuplicatedRows() {
        AtomicInteger thrown = FAILURES;
        thrown.set(0);
        String out = newOutput("summary-retried.parquet");
        // partition 1's first attempt dies after 300 of its ~667 rows (its batches up to then were
        // already handed to the writer); local[2,2] retries it once
        InferJob.Result r = InferJob.run(spark, settings(input, out).withPartitions(3).withRowHook((task, row) -> {
            if (task.partitionId() == 1 && task.attemptNumber() == 0 && row == 300) {
                FAILURES.incrementAndGet();
                throw new IllegalStateException("test: task attempt 0 of partition 1 fails");
            }
        }));
        assertEquals("the hook failed one attempt", 1, thrown.get());
        assertEquals("the accumulators count each row once", N, r.rows());
        assertEqualsCli(read(out), "retried task");
    }

    private static final AtomicInteger FAILURES = new AtomicInteger();
    private static final AtomicLong ROWS_TAKEN = new AtomicLong();

    @Test
    public void badRowsBecomeErrorRowsAndStringIdsAndDoublesWork() throws IOException {
        int n = ModelBundle.SPECTRUM_LENGTH;
        float[][] good = spectrum(7);
        float[][] other = spectrum(8);
        Double[] nan = doubles(good[0]);
        nan[5] = Double.NaN;
        Double[] withNull = doubles(good[0]);
        withNull[9] = null;
        Double[] negative = doubles(good[1]);
        negative[3] = -1e-20;
        Double[] zero = doubles(good[1]);
        zero[300] = 0.0;
        Double[] longer = Arrays.copyOf(doubles(good[1]), n + 1);
        longer[n] = 1e-18;
        Double[] inf = doubles(good[1]);
        inf[1] = Double.POSITIVE_INFINITY;
        List<Row> rows = Arrays.asList(
                RowFactory.create("7", doubles(good[0]), doubles(good[1])),         // = CLI's row 7
                RowFactory.create("Gaia DR3 8", doubles(other[0]), doubles(other[1])),
                RowFactory.create("nan", nan, doubles(good[1])),
                RowFactory.create("short", Arrays.copyOf(doubles(good[0]), n - 1), doubles(good[1])),
                RowFactory.create("long-error", doubles(good[0]), longer),
                RowFactory.create("zero-error", doubles(good[0]), zero),
                RowFactory.create("negative-error", doubles(good[0]), negative),
                RowFactory.create("inf-error", doubles(good[0]), inf),
                RowFactory.create("null-flux", null, doubles(good[1])),
                RowFactory.create("null-error", doubles(good[0]), null),
                RowFactory.create("null-element", withNull, doubles(good[1])),
                RowFactory.create(null, doubles(good[0]), doubles(good[1])),
                RowFactory.create("empty", new Double[0], new Double[0]),
                RowFactory.create("unread", null, null));
        StructType schema = new StructType(new StructField[]{
                DataTypes.createStructField("source_id", DataTypes.StringType, true),
                DataTypes.createStructField("flux", DataTypes.createArrayType(DataTypes.DoubleType), true),
                DataTypes.createStructField("flux_error", DataTypes.createArrayType(DataTypes.DoubleType), true),
                DataTypes.createStructField("extra", DataTypes.IntegerType, true),
                DataTypes.createStructField("read_error", DataTypes.StringType, true)});
        List<Row> withExtra = new ArrayList<>();
        for (Row r : rows) {
            // the converter's message for a row it could not read
            String readError = "unread".equals(r.get(0)) ? "source unread: no RP spectrum" : null;
            withExtra.add(RowFactory.create(r.get(0), r.get(1), r.get(2), 1, readError));
        }
        String in = newOutput("bad.parquet");
        spark.createDataFrame(withExtra, schema).repartition(2).write().parquet(in);
        String out = newOutput("bad-summary.parquet");

        // through the command line, which also prints the table
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        int status = InferJob.run(new PrintStream(stdout, true), new PrintStream(stderr, true),
                "--bundle", bundle.toString(), "--input", in, "--output", out, "--samples", Integer.toString(SAMPLES),
                "--batch", "4", "--show", "20");
        assertEquals(stderr.toString(), 0, status);
        assertTrue(stderr.toString(), stderr.toString().contains("14 rows (2 ok, 12 error)"));
        String table = stdout.toString();
        assertTrue(table, table.contains("Gaia DR3 8") && table.contains("teff [K]")
                && table.contains("source short: flux has 342 values, expected 343"));

        List<Row> result = read(out);
        assertEquals("one row per input row", rows.size(), result.size());
        assertEquals(DataTypes.StringType, spark.read().parquet(out).schema().apply("source_id").dataType());
        Map<String, String> messages = new HashMap<>();
        for (Row r : result) {
            String id = r.getString(0);
            String status1 = r.getString(1);
            if (id == null || !(id.equals("7") || id.equals("Gaia DR3 8"))) {
                assertEquals(id, "error", status1);
                assertTrue(r.isNullAt(3) && r.isNullAt(4) && r.isNullAt(r.fieldIndex("gof_chi2")));
            }
            messages.put(id, r.getString(2));
        }
        assertEquals("source nan: flux[5] = NaN is not finite", messages.get("nan"));
        assertEquals("source short: flux has 342 values, expected 343", messages.get("short"));
        assertEquals("source long-error: flux_error has 344 values, expected 343", messages.get("long-error"));
        assertEquals("source zero-error: flux_error[300] = 0.0 is not positive", messages.get("zero-error"));
        assertTrue(messages.get("negative-error"), messages.get("negative-error").endsWith("is not positive"));
        assertTrue(messages.get("inf-error"), messages.get("inf-error").endsWith("is not finite"));
        assertEquals("source null-flux: flux is null", messages.get("null-flux"));
        assertEquals("source null-error: flux_error is null", messages.get("null-error"));
        assertEquals("source null-element: flux[9] is null", messages.get("null-element"));
        assertEquals("source_id is null", messages.get(null));
        assertEquals("source empty: flux has 0 values, expected 343", messages.get("empty"));
        assertEquals("source unread: no RP spectrum", messages.get("unread"));
        assertNull(messages.get("Gaia DR3 8"));
        // string id "7" with the doubles of row 7: the same key and the same floats as the CLI's row 7
        Row seven = result.stream().filter(r -> "7".equals(r.getString(0))).findFirst().get();
        assertEquals(cli.get("7"), asCsvFields(List.of(seven)).get("7"));
    }

    @Test
    public void aCorruptBundleFailsTheJobBeforeAnyTask() throws Exception {
        Path corrupt = copyBundle("corrupt-bundle");
        Path graph = corrupt.resolve("decoder_sample.onnx");
        byte[] b = Files.readAllBytes(graph);
        b[b.length / 2] ^= 1;
        Files.write(graph, b);
        String out = newOutput("never.parquet");
        long tasks = tasksStarted();
        try {
            InferJob.run(spark, InferJob.Settings.of(corrupt.toString(), input, out).withSamples(SAMPLES));
            fail("a corrupt bundle was accepted");
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("checksum mismatch for decoder_sample.onnx"));
        }
        assertEquals("no task ran", tasks, tasksStarted());
        assertFalse(Files.exists(Paths.get(out)));
    }

    @Test
    public void aBundleWhoseGraphOnnxRuntimeRefusesIsReportedBeforeAMissingInput() throws Exception {
        // checksums that match (the manifest and its own checksum rewritten), but no ONNX graph:
        // the driver's manifest check passes; ONNX Runtime refuses the graph while Spark reads
        // the input, whose absence must not hide the bundle's problem
        Path refused = copyBundle("refused-bundle");
        Path graph = refused.resolve("decoder_sample.onnx");
        String before = ModelBundle.sha256Hex(graph);
        Files.write(graph, "not an ONNX graph".getBytes(StandardCharsets.UTF_8));
        Path manifest = refused.resolve(ModelBundle.MANIFEST);
        String text = new String(Files.readAllBytes(manifest), StandardCharsets.UTF_8);
        assertTrue(text.contains(before));
        Files.write(manifest, text.replace(before, ModelBundle.sha256Hex(graph)).getBytes(StandardCharsets.UTF_8));
        Files.write(refused.resolve(ModelBundle.CHECKSUM_FILE),
                (ModelBundle.sha256Hex(manifest) + "  " + ModelBundle.MANIFEST + "\n").getBytes(StandardCharsets.UTF_8));
        String out = newOutput("never-refused.parquet");
        String missing = newOutput("no-such-input.parquet");
        long tasks = tasksStarted();
        try {
            InferJob.run(spark, InferJob.Settings.of(refused.toString(), missing, out).withSamples(SAMPLES));
            fail("a bundle ONNX Runtime cannot load was accepted");
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("cannot load decoder_sample.onnx"));
            // the input's own error is kept, suppressed
            assertEquals(1, e.getSuppressed().length);
            assertTrue(e.getSuppressed()[0].toString(), e.getSuppressed()[0].getMessage().contains("no-such-input"));
        }
        assertEquals("no task ran", tasks, tasksStarted());
        assertFalse(Files.exists(Paths.get(out)));
    }

    @Test
    public void anExecutorBundleOtherThanTheDriversFailsBeforeAnyRow() throws IOException {
        // a valid bundle, but not the driver's: another manifest
        Path other = copyBundle("other-bundle");
        Path manifest = other.resolve(ModelBundle.MANIFEST);
        String text = Files.readString(manifest, StandardCharsets.UTF_8);
        Files.writeString(manifest, text.replaceFirst("\"description\": \"", "\"description\": \"another model: "),
                StandardCharsets.UTF_8);
        // its checksum file recomputed: a valid bundle of its own (format 2, docs/formats.md)
        Files.writeString(other.resolve(ModelBundle.CHECKSUM_FILE),
                ModelBundle.sha256Hex(manifest) + "  " + ModelBundle.MANIFEST + "\n", StandardCharsets.US_ASCII);
        ModelBundle.load(other);
        // and a corrupt one
        Path corrupt = copyBundle("corrupt-executor-bundle");
        Path graph = corrupt.resolve("r1_encoder.onnx");
        byte[] b = Files.readAllBytes(graph);
        b[100] ^= 1;
        Files.write(graph, b);
        String[][] cases = {{other.toString(), "is not the driver's bundle"},
                {corrupt.toString(), "checksum mismatch for r1_encoder.onnx"},
                {TMP.getRoot().toPath().resolve("missing").toString(), "no model bundle"}};
        for (String[] c : cases) {
            ROWS_TAKEN.set(0);
            String out = newOutput("never-" + Paths.get(c[0]).getFileName() + ".parquet");
            try {
                InferJob.run(spark, settings(input, out).withExecutorBundle(c[0]).withPartitions(2)
                        .withRowHook((task, row) -> ROWS_TAKEN.incrementAndGet()));
                fail("executor bundle " + c[0] + " was accepted");
            } catch (Exception e) {
                String m = InferJob.rootMessage(e);
                assertTrue(m, m.contains(c[1]));
            }
            assertEquals("no row was taken", 0, ROWS_TAKEN.get());
            assertFalse("no output is left", Files.exists(Paths.get(out)));
        }
    }

    @Test
    public void badInputSchemaOrExistingOutputFailBeforeAnyRow() throws Exception {
        String in = newOutput("wrong-schema.parquet");
        StructType schema = new StructType(new StructField[]{
                DataTypes.createStructField("source_id", DataTypes.DoubleType, true),
                DataTypes.createStructField("flux", DataTypes.StringType, true)});
        spark.createDataFrame(List.of(RowFactory.create(1.0, "x")), schema).write().parquet(in);
        ROWS_TAKEN.set(0);
        PartitionInference.RowHook count = (task, row) -> ROWS_TAKEN.incrementAndGet();
        try {
            InferJob.run(spark, settings(in, newOutput("never-schema.parquet")).withRowHook(count));
            fail("a wrong schema was accepted");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("source_id is double, expected long or string")
                    && e.getMessage().contains("flux is string, expected array<float> or array<double>")
                    && e.getMessage().contains("no column flux_error"));
        }
        String existing = newOutput("existing.parquet");
        Files.createDirectories(Paths.get(existing));
        try {
            InferJob.run(spark, settings(input, existing).withRowHook(count));
            fail("an existing output was accepted");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("exists"));
        }
        assertEquals("no row was taken", 0, ROWS_TAKEN.get());
        assertFalse(Files.exists(Paths.get(newOutput("never-schema.parquet"))));
        assertEquals(InferJob.EXIT_FATAL, InferJob.run(new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(new ByteArrayOutputStream()), "--bundle", bundle.toString(), "--input", input,
                "--output", existing, "--samples", "0"));
    }

    @Test
    public void aBundleShippedAsAnArchiveIsFoundByItsName() throws IOException {
        // spark-submit --archives bundle.zip#shipped: unpacked where SparkFiles.get("shipped") points
        // (the executors' working directory on a cluster); the bundle's files are in a sub-directory
        Path zip = TMP.getRoot().toPath().resolve("bundle.zip");
        try (java.util.zip.ZipOutputStream z = new java.util.zip.ZipOutputStream(Files.newOutputStream(zip));
             Stream<Path> files = Files.list(bundle)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f)) {
                    z.putNextEntry(new java.util.zip.ZipEntry("default/" + f.getFileName()));
                    Files.copy(f, z);
                    z.closeEntry();
                }
            }
        }
        spark.sparkContext().addArchive(zip.toUri() + "#shipped");
        String in = newOutput("twenty.parquet");
        spark.read().parquet(input).filter("source_id < 20").write().parquet(in);
        String out = newOutput("summary-shipped.parquet");
        InferJob.Result r = InferJob.run(spark, InferJob.Settings.of("shipped", in, out)
                .withExecutorBundle("shipped").withSamples(SAMPLES).withSeed(SEED));
        assertEquals(20, r.rows());
        Map<String, List<String>> job = asCsvFields(read(out));
        for (int id = 0; id < 20; id++) {
            assertEquals("source " + id, cli.get(Integer.toString(id)), job.get(Integer.toString(id)));
        }
    }

    private static Path copyBundle(String name) throws IOException {
        Path dst = TMP.getRoot().toPath().resolve(name);
        Files.createDirectories(dst);
        try (Stream<Path> files = Files.list(bundle)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f)) {
                    Files.copy(f, dst.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return dst;
    }

}
