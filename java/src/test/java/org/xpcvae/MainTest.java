package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class MainTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private String stderr = "";
    private String stdout = "";

    private int run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), args);
        stdout = out.toString(StandardCharsets.UTF_8);
        stderr = err.toString(StandardCharsets.UTF_8);
        return rc;
    }

    /** Four spectra; row 2 has a negative uncertainty. */
    private Path input(Path dir) throws IOException {
        List<Spectrum> spectra = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Spectrum s = TestSupport.spectrum("gaia-" + (1000 + i), i);
            if (i == 2) {
                float[] err = s.fluxError();
                err[17] = -1.0f;
                s = new Spectrum(s.sourceId(), s.flux(), err);
            }
            spectra.add(s);
        }
        Path f = dir.resolve("spectra.csv");
        SpectraCsv.write(f, spectra);
        return f;
    }

    @Test
    public void inferWritesOneRowPerInputRowAndFailsOnBadRow() throws IOException {
        Path in = input(tmp.newFolder("in").toPath());
        Path outDir = tmp.newFolder("out").toPath();
        Path out = outDir.resolve("summary.csv");
        Path samples = outDir.resolve("samples.csv");
        String bundle = TestSupport.bundleDir().toString();
        int rc = run("infer", "--bundle", bundle, "--input", in.toString(), "--out", out.toString(),
                "--samples", "300", "--seed", "7", "--samples-out", samples.toString(), "--batch", "3");
        assertEquals(stderr, Main.EXIT_SOURCES_FAILED, rc);
        assertTrue(stderr, stderr.contains("1 of 4 sources failed"));
        assertTrue(stderr, stderr.contains("ms/source"));
        assertEquals(Arrays.asList("samples.csv", "summary.csv"), TestSupport.listDir(outDir)); // no temporary files

        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(5, lines.size());
        List<String> header = Csv.split(lines.get(0));
        assertEquals(Arrays.asList("source_id", "status", "message", "n_samples", "teff_median"), header.subList(0, 5));
        assertEquals(4 + 5 * 7 + 4, header.size());
        assertEquals(GoodnessOfFit.COLUMNS, header.subList(4 + 5 * 7, header.size()));
        String[] ids = {"gaia-1000", "gaia-1001", "gaia-1002", "gaia-1003"};
        for (int i = 0; i < 4; i++) {
            List<String> row = Csv.split(lines.get(i + 1));
            assertEquals(header.size(), row.size());
            assertEquals(ids[i], row.get(0));
            if (i == 2) {
                assertEquals("error", row.get(1));
                assertEquals("source gaia-1002: flux_error[17] = -1.0 is not positive", row.get(2));
                assertTrue(row.subList(3, row.size()).stream().allMatch(String::isEmpty));
            } else {
                assertEquals("ok", row.get(1));
                assertEquals("300", row.get(3));
                List<String> gof = row.subList(4 + 5 * 7, row.size());
                if (TestSupport.bundle().hasForwardModel()) {
                    double chi2 = Double.parseDouble(gof.get(0));
                    assertTrue(gof.toString(), chi2 > 0);
                    assertEquals(chi2 > TestSupport.bundle().gofThreshold() ? "1" : "0", gof.get(1));
                    assertEquals(gof.get(1).equals("1"), !gof.get(2).isEmpty());
                } else {
                    assertEquals(Arrays.asList("", "", GoodnessOfFit.NO_FORWARD_MODEL), gof.subList(0, 3));
                }
            }
        }

        // the CLI's numbers are the API's, keyed by the source id
        try (PosteriorSampler sampler = new PosteriorSampler(TestSupport.bundle())) {
            List<SpectraCsv.Row> rows = SpectraCsv.readAll(in, ModelBundle.SPECTRUM_LENGTH);
            PosteriorSummary s3 = sampler.sample(rows.get(3).spectrum(), 300, 7L).summary();
            List<String> row = Csv.split(lines.get(4));
            for (int k = 0; k < 7; k++) {
                for (int q = 0; q < 5; q++) {
                    assertEquals(s3.get(k, q), Double.parseDouble(row.get(4 + 5 * k + q)), 0.0);
                }
            }
            List<String> sampleLines = Files.readAllLines(samples);
            assertEquals(1 + 3 * 300, sampleLines.size());
            PosteriorSamples d0 = sampler.sample(rows.get(0).spectrum(), 300, 7L);
            List<String> first = Csv.split(sampleLines.get(1));
            assertEquals("gaia-1000", first.get(0));
            assertEquals("0", first.get(1));
            for (int k = 0; k < 7; k++) {
                assertEquals(d0.get(0, k), Double.parseDouble(first.get(2 + k)), 0.0);
            }
            assertTrue(sampleLines.get(900).startsWith("gaia-1003,299,"));
        }

        // threads and batch size do not change the output
        Path out2 = outDir.resolve("summary2.csv");
        assertEquals(1, run("infer", "--bundle", bundle, "--input", in.toString(), "--out", out2.toString(),
                "--samples", "300", "--seed", "7", "--threads", "3", "--batch", "1"));
        assertEquals(lines, Files.readAllLines(out2, StandardCharsets.UTF_8));
    }

    @Test
    public void allGoodExitsZero() throws IOException {
        Path dir = tmp.newFolder("ok").toPath();
        Path in = dir.resolve("in.csv");
        SpectraCsv.write(in, Arrays.asList(TestSupport.spectrum("a", 0), TestSupport.spectrum("b", 1)));
        Path out = dir.resolve("s.csv");
        assertEquals(stderr, 0, run("infer", "--bundle", TestSupport.bundleDir().toString(), "--input", in.toString(),
                "--out", out.toString(), "--samples", "50"));
        assertFalse(stderr, stderr.contains("failed"));
        assertEquals(3, Files.readAllLines(out).size());
    }

    @Test
    public void fatalErrorsLeaveNoOutput() throws IOException {
        Path dir = tmp.newFolder("fatal").toPath();
        Path in = input(dir);
        Path out = dir.resolve("summary.csv");
        // unusable bundle
        Path badBundle = tmp.newFolder("badbundle").toPath();
        assertEquals(Main.EXIT_FATAL, run("infer", "--bundle", badBundle.toString(), "--input", in.toString(),
                "--out", out.toString()));
        assertTrue(stderr, stderr.contains("manifest.json is missing"));
        // input without the required columns
        Path badInput = dir.resolve("bad.csv");
        Files.write(badInput, Arrays.asList("source_id,flux_0", "a,1.0"), StandardCharsets.UTF_8);
        assertEquals(Main.EXIT_FATAL, run("infer", "--bundle", TestSupport.bundleDir().toString(), "--input",
                badInput.toString(), "--out", out.toString()));
        assertTrue(stderr, stderr.contains("header lacks columns flux_1"));
        // missing input file
        assertEquals(Main.EXIT_FATAL, run("infer", "--bundle", TestSupport.bundleDir().toString(), "--input",
                dir.resolve("nope.csv").toString(), "--out", out.toString()));
        assertTrue(stderr, stderr.contains("no such file"));
        assertEquals(Arrays.asList("bad.csv", "spectra.csv"), TestSupport.listDir(dir));
        // usage errors
        assertEquals(2, run("infer", "--bundle", "x"));
        assertTrue(stderr, stderr.contains("Missing required options"));
        assertEquals(2, run("infer", "--bundle", TestSupport.bundleDir().toString(), "--input", in.toString(),
                "--out", out.toString(), "--samples", "0"));
        assertEquals(Arrays.asList("bad.csv", "spectra.csv"), TestSupport.listDir(dir));
        // seeds are unsigned 64-bit integers: 2^64 - 1 is the largest, 2^64 and -1 are refused
        for (String seed : new String[]{"18446744073709551616", "-1", "1e3", ""}) {
            assertEquals(seed, Main.EXIT_FATAL, run("infer", "--bundle", TestSupport.bundleDir().toString(),
                    "--input", in.toString(), "--out", out.toString(), "--seed", seed));
            assertTrue(stderr, stderr.contains("xpcvae infer: error: seed " + seed + " is not an integer in "
                    + "0..18446744073709551615 (seeds are unsigned 64-bit integers)"));
        }
        assertEquals(Arrays.asList("bad.csv", "spectra.csv"), TestSupport.listDir(dir));
        assertEquals(0, run("--help"));
        assertTrue(stdout, stdout.contains("infer"));
    }
}
