package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * {@link GoodnessOfFit}: the forward_model graph of the test bundle, the chi^2 and column
 * rules of xpcvae.forward.gof, a bundle without the graph, corrupt or wrong graphs. (The numbers
 * against the Python engine are compared in tests/test_parity.py.)
 */
public class GoodnessOfFitTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static final int P = 7;
    private static final int N = ModelBundle.SPECTRUM_LENGTH;

    private static ModelBundle bundleWithForwardModel() {
        ModelBundle b = TestSupport.bundle();
        // every bundle the tests run on (export/default, the tiny test bundles) carries the graph
        assertTrue("the test bundle " + b.directory() + " has no forward_model graph", b.hasForwardModel());
        return b;
    }

    /** Random parameter vectors inside the box (a fraction with ff = 0, some at the box's faces). */
    private static double[][] randomParams(ModelBundle b, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[][] theta = new double[n][P];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < P; p++) {
                Parameter par = b.parameters().get(p);
                double u = r.nextDouble();
                if (r.nextInt(10) == 0) {
                    u = r.nextBoolean() ? 0.0 : 1.0;
                }
                theta[i][p] = par.low() + (par.high() - par.low()) * u;
            }
        }
        return theta;
    }

    private static PosteriorSummary summaryAt(ModelBundle b, String id, double[] theta) {
        double[][] draws = {theta.clone()};
        return PosteriorSamples.of(id, 0, 1, b.parameters(), draws).summary();
    }

    private static Spectrum spectrumOf(String id, double[] model, double relError) {
        float[] f = new float[model.length];
        float[] e = new float[model.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (3e-17 * model[i]);
            e[i] = (float) (relError * 3e-17 * model[i]);
        }
        return new Spectrum(id, f, e);
    }

    @Test
    public void forwardModelIsNormalisedFiniteAndFfZeroIgnoresTheAccretionRate() {
        ModelBundle b = bundleWithForwardModel();
        try (GoodnessOfFit g = new GoodnessOfFit(b)) {
            assertTrue(g.hasForwardModel());
            double[][] theta = randomParams(b, 300, 5);
            double[][] flux = g.modelSpectra(theta);
            assertEquals(theta.length, flux.length);
            for (double[] f : flux) {
                assertEquals(N, f.length);
                double sum = 0;
                for (double v : f) {
                    assertTrue(v > 0 && Double.isFinite(v));
                    sum += v;
                }
                assertEquals(1.0, sum / N, 1e-12);
            }
            // ff = 0: the photosphere, whatever log Mdot (exactly)
            double[] a = theta[0].clone();
            a[4] = 0.0;
            a[3] = -11.0;
            double[] c = a.clone();
            c[3] = -4.52;
            double[][] two = g.modelSpectra(new double[][]{a, c});
            assertTrue(Arrays.equals(two[0], two[1]));
            // ff > 0 and strong accretion do change it
            double[] d = c.clone();
            d[4] = 0.1;
            assertFalse(Arrays.equals(two[1], g.modelSpectra(new double[][]{d})[0]));
            // a row's model does not depend on the other rows of the call, bit for bit (runs of
            // MAX_BATCH rows padded to a multiple of ROW_GROUP)
            double[][] many = randomParams(b, GoodnessOfFit.MAX_BATCH + 9, 6);
            double[][] big = g.modelSpectra(many);
            for (int size : new int[]{1, 3, 16, 17, 40}) {
                for (int s0 = 0; s0 + size <= many.length; s0 += 3 * size + 1) {
                    double[][] part = g.modelSpectra(Arrays.copyOfRange(many, s0, s0 + size));
                    for (int i = 0; i < size; i++) {
                        assertTrue("row " + (s0 + i) + " in a call of " + size, Arrays.equals(big[s0 + i], part[i]));
                    }
                }
            }
            // outside the box: refused
            double[] out = theta[1].clone();
            out[6] = 10.5;
            try {
                g.modelSpectra(new double[][]{out});
                fail("a parameter outside the box was accepted");
            } catch (IllegalArgumentException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().contains("a0"));
            }
        }
    }

    @Test
    public void chiSquareOfTheModelItselfIsZeroAndOfAnotherSpectrumIsFlagged() {
        ModelBundle b = bundleWithForwardModel();
        try (GoodnessOfFit g = new GoodnessOfFit(b)) {
            double[] theta = {4500, 4.2, 0.0, -8.0, 0.05, 0.8, 1.0};
            double[] model = g.modelSpectra(new double[][]{theta})[0];
            PosteriorSummary q = summaryAt(b, "self", theta);
            GoodnessOfFit.Result self = g.evaluate(q, spectrumOf("self", model, 0.01));
            assertTrue(self.computed());
            assertTrue(self.toString(), self.chi2() < 1e-6); // float32 rounding of the spectrum only
            assertEquals(Arrays.asList(Double.toString(self.chi2()), "0", "", ""), self.columns());
            // a spectrum of another star: flagged, with the Python engine's reason text
            double[] other = g.modelSpectra(new double[][]{{6800, 4.0, 0.0, -8.0, 0.0, 1.0, 6.0}})[0];
            GoodnessOfFit.Result bad = g.evaluate(q, spectrumOf("other", other, 0.01));
            assertTrue(bad.chi2() > b.gofThreshold());
            assertTrue(bad.flagged());
            assertEquals("gof_chi2 " + GoodnessOfFit.formatG(bad.chi2(), 3) + " > 25: the model does not fit this spectrum",
                    bad.reason());
            assertEquals("1", bad.columns().get(1));
            // the same spectrum, scaled: the same chi^2 (only the shape is compared)
            Spectrum s = spectrumOf("other", other, 0.01);
            float[] f = s.flux();
            float[] e = s.fluxError();
            for (int i = 0; i < N; i++) {
                f[i] *= 1024f;
                e[i] *= 1024f;
            }
            assertEquals(bad.chi2(), g.evaluate(q, new Spectrum("x", f, e)).chi2(), 1e-12 * bad.chi2());
        }
    }

    @Test
    public void reducedChiSquareFollowsItsDefinition() {
        // observed = 2 x model + residuals r_i sigma_i: the least-squares scale absorbs the 2
        int w = 5;
        float[] flux = new float[w];
        float[] err = new float[w];
        double[] model = {1, 2, 3, 2, 1};
        for (int i = 0; i < w; i++) {
            flux[i] = (float) (2 * model[i]);
            err[i] = 0.5f;
        }
        assertEquals(0.0, GoodnessOfFit.reducedChi2(flux, err, model, 0.0, w - 1), 1e-15);
        // a model of another shape: the value of the formula written out
        double[] m2 = {1, 1, 1, 1, 1};
        double mean = (2 + 4 + 6 + 4 + 2) / 5.0;
        double[] o = new double[w];
        double[] v = new double[w];
        double num = 0;
        double den = 0;
        for (int i = 0; i < w; i++) {
            o[i] = flux[i] / mean;
            double s = err[i] / mean;
            v[i] = s * s + 0.01 * 0.01;
            num += o[i] / v[i];
            den += 1 / v[i];
        }
        double chi = 0;
        for (int i = 0; i < w; i++) {
            chi += (o[i] - num / den) * (o[i] - num / den) / v[i];
        }
        assertEquals(chi / 3, GoodnessOfFit.reducedChi2(flux, err, m2, 0.01, 3), 1e-12 * chi);
        // a model with a non-positive mean: not computed
        assertTrue(Double.isNaN(GoodnessOfFit.reducedChi2(flux, err, new double[]{0, 0, 0, 0, 0}, 0.01, 4)));
    }

    @Test
    public void formatGIsCsAndPythonsPercentG() {
        // expected strings: Python's f"{v:.3g}" and f"{v:g}"
        Object[][] cases = {
                {25.0, 6, "25"}, {25.5, 3, "25.5"}, {30.0, 3, "30"}, {123.456, 3, "123"}, {1234.5, 3, "1.23e+03"},
                {999.6, 3, "1e+03"}, {99.99, 3, "100"}, {0.000123456, 3, "0.000123"}, {1.23456e-5, 3, "1.23e-05"},
                {26.04999, 3, "26"}, {2.5e10, 3, "2.5e+10"}, {1e100, 3, "1e+100"}, {0.5, 6, "0.5"},
                {-3.14159, 3, "-3.14"}, {0.0, 3, "0"}, {125.0, 2, "1.2e+02"}, {135.0, 2, "1.4e+02"},
                {100000.0, 6, "100000"}, {1000000.0, 6, "1e+06"}, {Double.NaN, 3, "nan"},
                {Double.POSITIVE_INFINITY, 3, "inf"},
        };
        for (Object[] c : cases) {
            assertEquals("formatG(" + c[0] + ", " + c[1] + ")", c[2], GoodnessOfFit.formatG((double) c[0], (int) c[1]));
        }
    }

    @Test
    public void atBoundNamesMediansInTheOuterPercentOfTheBox() {
        ModelBundle b = TestSupport.bundle();
        double[] low = new double[P];
        double[] high = new double[P];
        List<String> names = new ArrayList<>();
        for (int p = 0; p < P; p++) {
            low[p] = b.parameters().get(p).low();
            high[p] = b.parameters().get(p).high();
            names.add(b.parameters().get(p).name());
        }
        double[] mid = new double[P];
        for (int p = 0; p < P; p++) {
            mid[p] = 0.5 * (low[p] + high[p]);
        }
        assertEquals("", GoodnessOfFit.atBound(mid, low, high, 0.01, names));
        mid[4] = 0.001;  // ff within 1 % of 0
        mid[6] = 9.95;   // A0 within 1 % of 10
        assertEquals("ff;a0", GoodnessOfFit.atBound(mid, low, high, 0.01, names));
        mid[4] = 0.0031; // beyond 1 % of the 0.3 wide box
        assertEquals("a0", GoodnessOfFit.atBound(mid, low, high, 0.01, names));
    }

    @Test
    public void sharedByThreadsGivesTheSingleThreadResultsBitForBit() throws Exception {
        ModelBundle b = bundleWithForwardModel();
        double[][] theta = randomParams(b, 400, 9);
        List<PosteriorSummary> qs = new ArrayList<>();
        List<Spectrum> spectra = new ArrayList<>();
        for (int i = 0; i < theta.length; i++) {
            qs.add(summaryAt(b, "s" + i, theta[i]));
            spectra.add(TestSupport.spectrum("s" + i, i));
        }
        try (GoodnessOfFit g = new GoodnessOfFit(b)) {
            double[] expected = new double[theta.length];
            for (int i = 0; i < theta.length; i++) {
                expected[i] = g.evaluate(qs.get(i), spectra.get(i)).chi2();
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<double[]>> futures = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    final int size = 17 + 10 * t; // each thread its own batch composition
                    futures.add(pool.submit(() -> {
                        double[] got = new double[theta.length];
                        for (int a = 0; a < theta.length; a += size) {
                            int e = Math.min(theta.length, a + size);
                            List<GoodnessOfFit.Result> r = g.evaluate(qs.subList(a, e), spectra.subList(a, e));
                            for (int k = 0; k < r.size(); k++) {
                                got[a + k] = r.get(k).chi2();
                            }
                        }
                        return got;
                    }));
                }
                for (Future<double[]> f : futures) {
                    double[] got = f.get();
                    for (int i = 0; i < theta.length; i++) {
                        assertEquals("source " + i, expected[i], got[i], 0.0);
                    }
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    // ---- bundles without the graph, corrupt or wrong graphs ----------------------------------


    private Path bundleWithout() throws IOException {
        Path dir = TestSupport.copyBundle(tmp.newFolder("without").toPath());
        TestSupport.editManifest(dir, m -> {
            m.getAsJsonObject("files").remove(ModelBundle.ROLE_FORWARD_MODEL);
            m.remove("forward_model");
        });
        Files.deleteIfExists(dir.resolve("forward_model.onnx"));
        return dir;
    }

    private static int runCli(ByteArrayOutputStream err, String... args) {
        return Main.run(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), args);
    }

    @Test
    public void bundleWithoutTheGraphWritesEmptyGofColumnsWithTheReason() throws IOException {
        Path dir = bundleWithout();
        ModelBundle b = ModelBundle.load(dir);
        assertFalse(b.hasForwardModel());
        try {
            b.file(ModelBundle.ROLE_FORWARD_MODEL);
            fail("file() of an absent optional role");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("has no forward_model graph"));
        }
        double[] theta = {4000, 4.0, 0.0, -8.0, 0.0, 0.7, 9.99};
        try (GoodnessOfFit g = new GoodnessOfFit(b)) {
            assertFalse(g.hasForwardModel());
            GoodnessOfFit.Result r = g.evaluate(summaryAt(b, "a", theta), TestSupport.spectrum("a", 0));
            assertFalse(r.computed());
            assertEquals(Arrays.asList("", "", GoodnessOfFit.NO_FORWARD_MODEL, "ff;a0"), r.columns());
            try {
                g.modelSpectra(new double[][]{theta});
                fail("modelSpectra without a forward model");
            } catch (IllegalStateException expected) {
                assertEquals(GoodnessOfFit.NO_FORWARD_MODEL, expected.getMessage());
            }
        }
        // the CLI: one note, ok rows with the reason, exit 0
        Path in = tmp.newFolder("in").toPath().resolve("in.csv");
        SpectraCsv.write(in, Arrays.asList(TestSupport.spectrum("a", 0), TestSupport.spectrum("b", 1)));
        Path out = in.resolveSibling("out.csv");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, runCli(err, "infer", "--bundle", dir.toString(), "--input", in.toString(), "--out",
                out.toString(), "--samples", "20"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("no forward_model graph"));
        List<String> lines = Files.readAllLines(out);
        assertEquals(3, lines.size());
        for (String line : lines.subList(1, 3)) {
            List<String> row = Csv.split(line);
            assertEquals("ok", row.get(1));
            assertEquals(Arrays.asList("", "", GoodnessOfFit.NO_FORWARD_MODEL), row.subList(39, 42));
        }
    }

    @Test
    public void corruptOrWrongGraphsAreClearErrors() throws IOException {
        bundleWithForwardModel();
        // a changed byte: checksum mismatch at load
        Path sum = TestSupport.copyBundle(tmp.newFolder("sum").toPath());
        Path graph = sum.resolve("forward_model.onnx");
        byte[] bytes = Files.readAllBytes(graph);
        bytes[bytes.length / 2] ^= 1;
        Files.write(graph, bytes);
        try {
            ModelBundle.load(sum);
            fail("a corrupted forward_model.onnx was accepted");
        } catch (BundleException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("checksum mismatch for forward_model.onnx"));
        }
        // missing file
        Path missing = TestSupport.copyBundle(tmp.newFolder("missing").toPath());
        Files.delete(missing.resolve("forward_model.onnx"));
        try {
            ModelBundle.load(missing);
            fail("a missing forward_model.onnx was accepted");
        } catch (BundleException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("forward_model.onnx (forward_model) is missing"));
        }
        // truncated, with a matching checksum: ONNX Runtime refuses it, and so does the CLI (exit 2)
        Path corrupt = TestSupport.copyBundle(tmp.newFolder("corrupt").toPath());
        Path g2 = corrupt.resolve("forward_model.onnx");
        Files.write(g2, Arrays.copyOf(Files.readAllBytes(g2), 1000));
        String digest = ModelBundle.sha256Hex(g2);
        TestSupport.editManifest(corrupt, m -> m.getAsJsonObject("files").getAsJsonObject("forward_model")
                .addProperty("sha256", digest));
        ModelBundle cb = ModelBundle.load(corrupt);
        try (GoodnessOfFit g = new GoodnessOfFit(cb)) {
            fail("a truncated forward_model.onnx was opened: " + g);
        } catch (BundleException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("ONNX Runtime cannot load forward_model.onnx"));
        }
        Path in = tmp.newFolder("in").toPath().resolve("in.csv");
        SpectraCsv.write(in, Arrays.asList(TestSupport.spectrum("a", 0)));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(Main.EXIT_FATAL, runCli(err, "infer", "--bundle", corrupt.toString(), "--input", in.toString(),
                "--out", in.resolveSibling("out.csv").toString(), "--samples", "20"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("ONNX Runtime cannot load forward_model.onnx"));
        assertFalse(Files.exists(in.resolveSibling("out.csv")));
        // another graph in its place (float inputs context and z): refused, naming what it has
        Path wrong = TestSupport.copyBundle(tmp.newFolder("wrong").toPath());
        Files.copy(wrong.resolve("decoder_sample.onnx"), wrong.resolve("forward_model.onnx"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        String d2 = ModelBundle.sha256Hex(wrong.resolve("forward_model.onnx"));
        TestSupport.editManifest(wrong, m -> m.getAsJsonObject("files").getAsJsonObject("forward_model").addProperty("sha256", d2));
        try (GoodnessOfFit g = new GoodnessOfFit(ModelBundle.load(wrong))) {
            fail("decoder_sample.onnx accepted as the forward model: " + g);
        } catch (BundleException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("has inputs")
                    && expected.getMessage().contains("expected [params]"));
        }
    }

    @Test
    public void gofSettingsComeFromTheManifest() throws IOException {
        ModelBundle b = TestSupport.bundle();
        // the defaults (absent) or the exported values are xpcvae.forward.gof's
        assertEquals(0.01, b.gofSystematic(), 0.0);
        assertEquals(25.0, b.gofThreshold(), 0.0);
        assertEquals(342, b.gofDof());
        assertEquals(0.01, b.boundFraction(), 0.0);
        Path dir = TestSupport.copyBundle(tmp.newFolder("settings").toPath());
        TestSupport.editManifest(dir, m -> {
            JsonObject gof = new JsonObject();
            gof.addProperty("systematic", 0.05);
            gof.addProperty("threshold", 1e-9);
            gof.addProperty("dof", 300);
            m.add("goodness_of_fit", gof);
        });
        ModelBundle s = ModelBundle.load(dir);
        assertEquals(0.05, s.gofSystematic(), 0.0);
        assertEquals(1e-9, s.gofThreshold(), 0.0);
        assertEquals(300, s.gofDof());
        assertEquals(0.01, s.boundFraction(), 0.0); // absent key: default
        if (s.hasForwardModel()) {
            try (GoodnessOfFit g = new GoodnessOfFit(s); GoodnessOfFit g0 = new GoodnessOfFit(b)) {
                double[] theta = {4500, 4.2, 0.0, -8.0, 0.05, 0.8, 1.0};
                GoodnessOfFit.Result r = g.evaluate(summaryAt(s, "a", theta), TestSupport.spectrum("a", 3));
                GoodnessOfFit.Result r0 = g0.evaluate(summaryAt(b, "a", theta), TestSupport.spectrum("a", 3));
                assertTrue(r.flagged());
                assertTrue(r.reason(), r.reason().endsWith(" > 1e-09: the model does not fit this spectrum"));
                assertNotEquals(r0.chi2(), r.chi2(), 0.0);
            }
        }
        for (String bad : new String[]{"{\"dof\": 0}", "{\"dof\": 1.5}", "{\"threshold\": -1}", "{\"systematic\": \"x\"}",
                "[1]"}) {
            Path d = TestSupport.copyBundle(tmp.newFolder().toPath());
            TestSupport.editManifest(d, m -> m.add("goodness_of_fit", JsonParser.parseString(bad)));
            try {
                ModelBundle.load(d);
                fail("goodness_of_fit " + bad + " was accepted");
            } catch (BundleException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().contains("goodness_of_fit"));
            }
        }
    }
}
