package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Bad inputs: randomised spectra CSV files give only the documented outcomes
 * ({@link CsvFormatException} for an unusable header, otherwise one {@link SpectraCsv.Row} per
 * non-blank line, each either a spectrum or an error naming the row/source); the CLI turns each
 * listed bad input into an error row and carries on, or refuses an unusable bundle or file with
 * exit status 2 and no output; an interrupted run leaves no output file.
 */
public class RobustnessTest {
    private static final int N = ModelBundle.SPECTRUM_LENGTH;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private String stderr = "";

    private int run(String... args) {
        TestSupport.CliRun r = TestSupport.runMain(args);
        stderr = r.stderr;
        return r.rc;
    }

    /** A data line of the spectra CSV as a list of fields. */
    private static List<String> fields(String id, float[] flux, float[] err) {
        List<String> f = new ArrayList<>(1 + 2 * N);
        f.add(id);
        for (float v : flux) {
            f.add(Float.toString(v));
        }
        for (float v : err) {
            f.add(Float.toString(v));
        }
        return f;
    }

    private static final String[] TOKENS = {"nan", "NaN", "-nan", "inf", "-inf", "Infinity", "", " ", "abc", "1e400",
        "-1e400", "-0", "0", "-1", "1e-45", "0x1p3", "1d", "\"1.5\"", "\"", "\u0000", "\u00e9", "1,5", "--1", "+",
        "1e", ".", "١٢"};

    private static byte[] randomBytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            byte v = (byte) r.nextInt(256);
            b[i] = v == '\n' || v == '\r' ? (byte) 'x' : v;
        }
        return b;
    }

    /** One randomly damaged (or intact) data line, without line terminator. */
    private static byte[] randomLine(SplittableRandom r, int row) {
        Spectrum s = TestSupport.spectrum("r" + row, row);
        List<String> f = fields(s.sourceId(), s.flux(), s.fluxError());
        switch (r.nextInt(10)) {
            case 0: // intact
                break;
            case 1: // a random token in a random field (may be the id)
                f.set(r.nextInt(f.size()), TOKENS[r.nextInt(TOKENS.length)]);
                break;
            case 2: // several random tokens
                for (int k = 0; k < 1 + r.nextInt(5); k++) {
                    f.set(r.nextInt(f.size()), TOKENS[r.nextInt(TOKENS.length)]);
                }
                break;
            case 3: // random numbers, any sign and magnitude
                for (int k = 0; k < 1 + r.nextInt(20); k++) {
                    f.set(1 + r.nextInt(f.size() - 1), Double.toString((r.nextDouble() - 0.5) * Math.pow(10, r.nextInt(80) - 40)));
                }
                break;
            case 4: // a field dropped or added
                if (r.nextBoolean()) {
                    f.remove(r.nextInt(f.size()));
                } else {
                    f.add(r.nextInt(f.size()), "1.0");
                }
                break;
            case 5: { // truncated at a random character
                String line = String.join(",", f);
                return line.substring(0, r.nextInt(line.length())).getBytes(StandardCharsets.UTF_8);
            }
            case 6: // random bytes
                return randomBytes(r, r.nextInt(200));
            case 7: { // random bytes spliced into a valid line
                byte[] line = String.join(",", f).getBytes(StandardCharsets.UTF_8);
                int at = r.nextInt(line.length);
                byte[] junk = randomBytes(r, 1 + r.nextInt(8));
                byte[] outBytes = new byte[line.length + junk.length];
                System.arraycopy(line, 0, outBytes, 0, at);
                System.arraycopy(junk, 0, outBytes, at, junk.length);
                System.arraycopy(line, at, outBytes, at + junk.length, line.length - at);
                return outBytes;
            }
            case 8: // all flux zero, or uncertainties zero/negative
                for (int i = 1; i <= N; i++) {
                    f.set(r.nextBoolean() ? i : i + N, r.nextBoolean() ? "0" : "-1e-18");
                }
                break;
            default: // blank or whitespace-only (not a row)
                return r.nextBoolean() ? new byte[0] : " \t ".getBytes(StandardCharsets.UTF_8);
        }
        return String.join(",", f).getBytes(StandardCharsets.UTF_8);
    }

    private static final String[] EOL = {"\n", "\r\n", "\r"};

    /** Writes header + lines with random terminators; returns the number of non-blank data lines. */
    private static int writeFile(Path file, byte[] header, List<byte[]> lines, SplittableRandom r) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(header);
        int rows = 0;
        for (byte[] line : lines) {
            b.write(EOL[r.nextInt(EOL.length)].getBytes(StandardCharsets.US_ASCII));
            b.write(line);
            if (!new String(line, StandardCharsets.UTF_8).trim().isEmpty()) {
                rows++;
            }
        }
        if (r.nextBoolean()) {
            b.write('\n');
        }
        Files.write(file, b.toByteArray());
        return rows;
    }

    @Test
    public void randomisedSpectraFilesGiveOnlyDocumentedOutcomes() throws IOException {
        SplittableRandom r = new SplittableRandom(8);
        byte[] goodHeader = SpectraCsv.header(N).getBytes(StandardCharsets.UTF_8);
        int files = 0;
        int rowsSeen = 0;
        int errorRows = 0;
        int headerErrors = 0;
        for (int t = 0; t < 250; t++) {
            boolean badHeader = r.nextInt(6) == 0;
            byte[] header = goodHeader;
            if (badHeader) {
                switch (r.nextInt(4)) {
                    case 0:
                        header = new byte[0];
                        break;
                    case 1:
                        header = Arrays.copyOf(goodHeader, r.nextInt(goodHeader.length));
                        break;
                    case 2:
                        header = randomBytes(r, r.nextInt(300));
                        break;
                    default:
                        header = (SpectraCsv.header(N) + ",flux_" + (N + r.nextInt(100))).getBytes(StandardCharsets.UTF_8);
                }
            }
            List<byte[]> lines = new ArrayList<>();
            for (int i = 0; i < r.nextInt(12); i++) {
                lines.add(randomLine(r, i));
            }
            Path f = tmp.getRoot().toPath().resolve("fuzz" + t + ".csv");
            int expectedRows = writeFile(f, header, lines, r);
            files++;
            List<SpectraCsv.Row> rows;
            try {
                rows = SpectraCsv.readAll(f, N);
            } catch (CsvFormatException e) {
                assertTrue("a valid header was refused: " + e.getMessage(), badHeader);
                assertTrue(e.getMessage(), e.getMessage().startsWith(f.toString()));
                headerErrors++;
                continue;
            }
            assertEquals("rows of " + f, expectedRows, rows.size());
            for (int i = 0; i < rows.size(); i++) {
                SpectraCsv.Row row = rows.get(i);
                assertEquals(i, row.rowIndex());
                rowsSeen++;
                if (row.ok()) {
                    assertNull(row.error());
                    try {
                        row.spectrum().validate(N);
                    } catch (InvalidSpectrumException e) {
                        assertTrue(e.getMessage(), e.getMessage().startsWith("source " + row.sourceId() + ": "));
                        errorRows++;
                    }
                } else {
                    errorRows++;
                    assertNotNull(row.error());
                    assertTrue(row.error(), row.error().startsWith("source ") || row.error().startsWith("row "));
                }
            }
        }
        assertTrue(files == 250 && rowsSeen > 500 && errorRows > 200 && headerErrors > 10);
    }

    @Test
    public void overlongLineIsAnErrorRowAndReadingGoesOn() throws IOException {
        Spectrum s = TestSupport.spectrum("ok", 1);
        Path f = tmp.newFile("long.csv").toPath();
        StringBuilder huge = new StringBuilder(SpectraCsv.MAX_LINE_BYTES + 10);
        while (huge.length() <= SpectraCsv.MAX_LINE_BYTES) {
            huge.append("1.0,");
        }
        String good = String.join(",", fields("ok", s.flux(), s.fluxError()));
        Files.write(f, Arrays.asList(SpectraCsv.header(N), good, huge.toString(), good), StandardCharsets.UTF_8);
        List<SpectraCsv.Row> rows = SpectraCsv.readAll(f, N);
        assertEquals(3, rows.size());
        assertTrue(rows.get(0).ok());
        assertFalse(rows.get(1).ok());
        assertTrue(rows.get(1).error(), rows.get(1).error().contains("longer than"));
        assertTrue(rows.get(2).ok());
    }

    /** Every bad input (docs/reliability.md) that concerns one row: an error row naming the source, the batch goes on. */
    @Test
    public void eachBadRowBecomesAnErrorRowNamingTheSourceAndTheProblem() throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add(SpectraCsv.header(N));
        List<String> ids = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        int v = 0;
        for (String[] c : new String[][]{
            {"good-0", null, null},
            {"nan-flux", "flux", "nan"},
            {"inf-flux", "flux", "inf"},
            {"inf-error", "err", "-inf"},
            {"zero-error", "err", "0"},
            {"negative-error", "err", "-2e-19"},
            {"all-zero", "allzero", null},
            {"too-few-fields", "drop", null},
            {"too-many-fields", "add", null},
            {"not-a-number", "flux", "1.2.3"},
            {"empty-field", "err", ""},
            {"good-1", null, null}}) {
            Spectrum s = TestSupport.spectrum(c[0], v++);
            List<String> f = fields(c[0], s.flux(), s.fluxError());
            String expect = null;
            if ("flux".equals(c[1])) {
                f.set(1 + 40, c[2]);
                expect = c[2].equals("1.2.3") ? "flux_40 = '1.2.3' is not a number" : "flux[40] = ";
            } else if ("err".equals(c[1])) {
                f.set(1 + N + 7, c[2]);
                expect = c[2].isEmpty() ? "flux_error_7 is empty" : "flux_error[7] = ";
            } else if ("allzero".equals(c[1])) {
                for (int i = 1; i <= N; i++) {
                    f.set(i, "0");
                }
                expect = "(all-zero spectrum)";
            } else if ("drop".equals(c[1])) {
                f.remove(f.size() - 1);
                expect = "has " + (2 * N) + " fields, the header has " + (2 * N + 1);
            } else if ("add".equals(c[1])) {
                f.add("1.0");
                expect = "has " + (2 * N + 2) + " fields, the header has " + (2 * N + 1);
            }
            lines.add(String.join(",", f));
            ids.add(c[0]);
            problems.add(expect);
        }
        Path dir = tmp.newFolder("bad").toPath();
        Path in = dir.resolve("in.csv");
        Files.write(in, lines, StandardCharsets.UTF_8);
        Path out = dir.resolve("summary.csv");
        int rc = run("infer", "--bundle", TestSupport.bundleDir().toString(), "--input", in.toString(), "--out",
                out.toString(), "--samples", "50", "--batch", "4", "--threads", "2");
        assertEquals(stderr, Main.EXIT_SOURCES_FAILED, rc);
        assertTrue(stderr, stderr.contains("10 of 12 sources failed"));
        List<String> rows = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(13, rows.size()); // exactly one row per input row
        for (int i = 0; i < ids.size(); i++) {
            List<String> row = Csv.split(rows.get(i + 1));
            assertEquals(ids.get(i), row.get(0));
            if (problems.get(i) == null) {
                assertEquals("ok", row.get(1));
            } else {
                assertEquals(rows.get(i + 1), "error", row.get(1));
                assertTrue(row.get(2), row.get(2).startsWith("source " + ids.get(i) + ": "));
                assertTrue(row.get(2) + " should name " + problems.get(i), row.get(2).contains(problems.get(i)));
            }
        }
        assertEquals(Arrays.asList("in.csv", "summary.csv"), TestSupport.listDir(dir));
    }

    @Test
    public void fuzzedFilesThroughTheCliKeepOneRowPerInputRow() throws IOException {
        SplittableRandom r = new SplittableRandom(88);
        for (int t = 0; t < 6; t++) {
            Path dir = tmp.newFolder("cli" + t).toPath();
            List<byte[]> lines = new ArrayList<>();
            for (int i = 0; i < 25; i++) {
                lines.add(randomLine(r, i));
            }
            Path in = dir.resolve("in.csv");
            int expected = writeFile(in, SpectraCsv.header(N).getBytes(StandardCharsets.UTF_8), lines, r);
            Path out = dir.resolve("s.csv");
            int rc = run("infer", "--bundle", TestSupport.bundleDir().toString(), "--input", in.toString(), "--out",
                    out.toString(), "--samples", "30", "--batch", String.valueOf(1 + r.nextInt(8)), "--threads", "3");
            assertTrue(stderr, rc == 0 || rc == Main.EXIT_SOURCES_FAILED);
            List<String> rows = Files.readAllLines(out, StandardCharsets.UTF_8);
            assertEquals(expected + 1, rows.size());
            long failed = rows.stream().skip(1).filter(l -> Csv.split(l).get(1).equals("error")).count();
            assertEquals(stderr, failed > 0, rc == Main.EXIT_SOURCES_FAILED);
            if (failed > 0) {
                assertTrue(stderr, stderr.contains(failed + " of " + expected + " sources failed"));
            }
        }
    }

    private Path goodInput(Path dir) throws IOException {
        Path in = dir.resolve("in.csv");
        SpectraCsv.write(in, Arrays.asList(TestSupport.spectrum("a", 0), TestSupport.spectrum("b", 1)));
        return in;
    }

    private void fatal(Path dir, String bundle, Path in, String expected) throws IOException {
        List<String> before = TestSupport.listDir(dir);
        Path out = dir.resolve("summary.csv");
        assertEquals(stderr, Main.EXIT_FATAL, run("infer", "--bundle", bundle, "--input", in.toString(), "--out",
                out.toString(), "--samples", "20"));
        assertTrue(stderr + " should contain " + expected, stderr.contains(expected));
        assertEquals(before, TestSupport.listDir(dir)); // no output, no temporary file
    }

    @Test
    public void unusableFilesAndBundlesAreRefusedWithoutOutput() throws IOException {
        Path dir = tmp.newFolder("fatal").toPath();
        String bundle = TestSupport.bundleDir().toString();
        Path in = goodInput(dir);
        // missing header, missing columns, a grid with more samples than the bundle's
        Path empty = dir.resolve("empty.csv");
        Files.write(empty, new byte[0]);
        fatal(dir, bundle, empty, "no header line");
        Path noCols = dir.resolve("nocols.csv");
        Files.write(noCols, Arrays.asList("source_id,flux_0,flux_error_0", "a,1,0.1"), StandardCharsets.UTF_8);
        fatal(dir, bundle, noCols, "header lacks columns flux_1");
        Path longer = dir.resolve("longer.csv");
        List<String> l = new ArrayList<>(Files.readAllLines(in));
        l.set(0, l.get(0) + ",flux_343,flux_error_343");
        for (int i = 1; i < l.size(); i++) {
            l.set(i, l.get(i) + ",1.0,0.1");
        }
        Files.write(longer, l, StandardCharsets.UTF_8);
        fatal(dir, bundle, longer, "344 samples per spectrum), the model's wavelength grid has 343");
        // compressed input: refused with what it is and what to do, naming the file
        Path gz = dir.resolve("in.csv.gz");
        ByteArrayOutputStream packed = new ByteArrayOutputStream();
        try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(packed)) {
            z.write(Files.readAllBytes(in));
        }
        Files.write(gz, packed.toByteArray());
        fatal(dir, bundle, gz, gz + ": is gzip-compressed (it starts with the bytes 1f 8b); decompress it first "
                + "(e.g. gunzip)");

        // bundles: another wavelength grid, another format version, checksum mismatch, corrupt graph
        Path shifted = TestSupport.copyBundle(tmp.newFolder("shifted").toPath());
        TestSupport.editManifest(shifted, m -> {
            JsonArray w = new JsonArray();
            for (int i = 0; i < N; i++) {
                w.add(330.0 + 2.0 * i);
            }
            m.add("wavelength_nm", w);
        });
        fatal(dir, shifted.toString(), in, "has another wavelength grid");
        Path version = TestSupport.copyBundle(tmp.newFolder("version").toPath());
        TestSupport.editManifest(version, m -> m.addProperty("format_version", 3));
        fatal(dir, version.toString(), in, "format_version 3 is not supported");
        Path sum = TestSupport.copyBundle(tmp.newFolder("sum").toPath());
        Path graph = sum.resolve("decoder_sample.onnx");
        byte[] bytes = Files.readAllBytes(graph);
        bytes[bytes.length / 2] ^= 1;
        Files.write(graph, bytes);
        fatal(dir, sum.toString(), in, "checksum mismatch for decoder_sample.onnx");
        Path corrupt = TestSupport.copyBundle(tmp.newFolder("corrupt").toPath());
        Path g2 = corrupt.resolve("r1_encoder.onnx");
        Files.write(g2, Arrays.copyOf(Files.readAllBytes(g2), 1000));
        String digest = ModelBundle.sha256Hex(g2);
        TestSupport.editManifest(corrupt, m -> m.getAsJsonObject("files").getAsJsonObject("r1_encoder").addProperty("sha256", digest));
        fatal(dir, corrupt.toString(), in, "ONNX Runtime cannot load r1_encoder.onnx");
    }

    /** A run killed half-way (SIGTERM) leaves neither the output nor a temporary file behind. */
    @Test
    public void interruptedRunLeavesNoOutput() throws Exception {
        Path dir = tmp.newFolder("interrupt").toPath();
        List<Spectrum> spectra = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            spectra.add(TestSupport.spectrum("s" + i, i));
        }
        Path in = dir.resolve("in.csv");
        SpectraCsv.write(in, spectra);
        Path out = dir.resolve("summary.csv");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "infer", "--bundle", TestSupport.bundleDir().toString(), "--input", in.toString(), "--out",
                out.toString(), "--samples", "20000", "--batch", "1")
                .directory(dir.toFile()) // a crash would leave its hs_err_pid*.log here
                .redirectErrorStream(true).redirectOutput(dir.resolve("log.txt").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (TestSupport.listDir(dir).stream().noneMatch(n -> n.endsWith(".partial"))) {
                assertTrue("the run never started writing: " + TestSupport.listDir(dir), System.nanoTime() < deadline);
                assertTrue("the run ended early: " + new String(Files.readAllBytes(dir.resolve("log.txt"))), p.isAlive());
                Thread.sleep(20);
            }
            Thread.sleep(300);
        } finally {
            p.destroy(); // SIGTERM
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        // 128 + SIGTERM: the JVM stopped, it did not crash under ONNX Runtime (NativeRuns)
        assertEquals(new String(Files.readAllBytes(dir.resolve("log.txt"))), 143, p.exitValue());
        assertEquals(Arrays.asList("in.csv", "log.txt"), TestSupport.listDir(dir));
    }


    @Test
    public void standardInputIsRead() throws IOException {
        Path dir = tmp.newFolder("stdin").toPath();
        Path in = goodInput(dir);
        java.io.InputStream saved = System.in;
        try {
            System.setIn(Files.newInputStream(in));
            Path out = dir.resolve("s.csv");
            assertEquals(stderr, 0, run("infer", "--bundle", TestSupport.bundleDir().toString(), "--input", "-",
                    "--out", out.toString(), "--samples", "20"));
            assertEquals(3, Files.readAllLines(out).size());
        } finally {
            System.setIn(saved);
        }
        assertTrue(new File(dir.toFile(), "s.csv").exists());
    }
}
