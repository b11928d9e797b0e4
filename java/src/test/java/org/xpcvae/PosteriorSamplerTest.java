package org.xpcvae;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

public class PosteriorSamplerTest {
    private static final int N = 200;
    private static ModelBundle bundle;
    private static PosteriorSampler sampler;

    @BeforeClass
    public static void open() {
        bundle = TestSupport.bundle();
        sampler = new PosteriorSampler(bundle);
    }

    @AfterClass
    public static void close() {
        if (sampler != null) {
            sampler.close();
        }
    }

    private static void assertSameDraws(PosteriorSamples expected, PosteriorSamples actual) {
        assertEquals(expected.sourceId(), actual.sourceId());
        assertEquals(expected.size(), actual.size());
        assertArrayEquals(expected.flatSamples(), actual.flatSamples(), 0.0);
    }

    @Test
    public void samplesAreFiniteAndInsideThePriorBox() {
        for (int v = 0; v < 4; v++) {
            PosteriorSamples s = sampler.sample(TestSupport.spectrum("s" + v, v), N, 42L);
            assertEquals(N, s.size());
            assertEquals(7, s.parameterCount());
            double[][] x = s.samples();
            assertEquals(N, x.length);
            for (double[] row : x) {
                assertEquals(7, row.length);
                for (int k = 0; k < 7; k++) {
                    Parameter p = bundle.parameters().get(k);
                    assertTrue(p.name() + " = " + row[k], Double.isFinite(row[k]) && p.contains(row[k]));
                }
            }
            // not degenerate: every parameter varies across draws
            for (int k = 0; k < 7; k++) {
                double[] c = s.column(k);
                assertTrue(Arrays.stream(c).max().getAsDouble() > Arrays.stream(c).min().getAsDouble());
            }
        }
    }

    @Test
    public void sameSeedSameDrawsDifferentSeedOrSourceIdDifferentDraws() {
        Spectrum s = TestSupport.spectrum("a", 1);
        PosteriorSamples a = sampler.sample(s, N, 42L);
        PosteriorSamples b = sampler.sample(s, N, 42L);
        assertSameDraws(a, b);
        PosteriorSamples c = sampler.sample(s, N, 43L);
        PosteriorSamples d = sampler.sample(new Spectrum("b", s.flux(), s.fluxError()), N, 42L);
        assertFalse(Arrays.equals(a.flatSamples(), c.flatSamples()));
        assertFalse(Arrays.equals(a.flatSamples(), d.flatSamples()));
        // keyed by the source id: its key given explicitly gives the same draws
        assertEquals(CounterRng.sourceKey("a"), a.sourceKey());
        assertSameDraws(a, sampler.sampleWithKey(s, CounterRng.sourceKey("a"), N, 42L));
        // a Gaia source_id keys as its own value
        Spectrum gaia = new Spectrum("5280437616401936512", s.flux(), s.fluxError());
        assertEquals(5280437616401936512L, sampler.sample(gaia, 3, 42L).sourceKey());
    }

    /**
     * Two stars' draws come from unrelated streams: paired by draw number their parameters are
     * uncorrelated (with one stream for both, as a fixed key gives, the correlation is ~0.75).
     */
    @Test
    public void differentStarsDrawsAreUncorrelated() {
        int n = 2000;
        PosteriorSamples a = sampler.sample(TestSupport.spectrum("star-A", 1), n, 42L);
        PosteriorSamples b = sampler.sample(TestSupport.spectrum("star-B", 2), n, 42L);
        PosteriorSamples sameStream = sampler.sampleWithKey(TestSupport.spectrum("star-B", 2), a.sourceKey(), n, 42L);
        double worst = 0;
        double shared = 0;
        for (int k = 0; k < 7; k++) {
            worst = Math.max(worst, Math.abs(correlation(a.column(k), b.column(k))));
            shared = Math.max(shared, Math.abs(correlation(a.column(k), sameStream.column(k))));
        }
        assertTrue("|r| = " + worst, worst < 0.1); // 4.5 standard errors at N = 2000
        assertTrue("one stream for both should correlate: |r| = " + shared, shared > 0.3);
    }

    private static double correlation(double[] x, double[] y) {
        double mx = Arrays.stream(x).average().getAsDouble();
        double my = Arrays.stream(y).average().getAsDouble();
        double sxy = 0;
        double sxx = 0;
        double syy = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.sqrt(sxx * syy);
    }

    /** A spectrum's draws do not depend on which other spectra share its batch, nor on the batch sizes. */
    @Test
    public void drawsIndependentOfBatchComposition() {
        List<Spectrum> spectra = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            spectra.add(TestSupport.spectrum("b" + i, i));
        }
        List<PosteriorSamples> batch = sampler.sample(spectra, N, 5L);
        assertEquals(9, batch.size());
        for (int i = 0; i < 9; i++) {
            assertSameDraws(sampler.sample(spectra.get(i), N, 5L), batch.get(i));
        }
        // the same spectrum at another position of a different batch
        List<Spectrum> other = Arrays.asList(TestSupport.spectrum("x", 20), spectra.get(4), TestSupport.spectrum("y", 21));
        assertSameDraws(batch.get(4), sampler.sample(other, N, 5L).get(1));
        // decoder runs that split a source's draws (37 is rounded down to 32 rows per run)
        PosteriorSampler.Options small = PosteriorSampler.Options.defaults().withDrawBatchSize(37);
        try (PosteriorSampler s2 = new PosteriorSampler(bundle, small)) {
            List<PosteriorSamples> again = s2.sample(spectra, N, 5L);
            for (int i = 0; i < 9; i++) {
                assertSameDraws(batch.get(i), again.get(i));
            }
        }
    }

    /** Draw j depends on (seed, source key, j) only: the first draws of a longer run are the same. */
    @Test
    public void drawsArePrefixesOfLongerRuns() {
        Spectrum s = TestSupport.spectrum("p", 2);
        PosteriorSamples shortRun = sampler.sample(s, 10, 1L);
        PosteriorSamples longRun = sampler.sample(s, N, 1L);
        for (int j = 0; j < 10; j++) {
            assertArrayEquals(longRun.sample(j), shortRun.sample(j), 0.0);
        }
    }

    @Test
    public void eightThreadsSharingOneSamplerMatchOneThread() throws Exception {
        int tasks = 16;
        List<PosteriorSamples> expected = new ArrayList<>();
        for (int t = 0; t < tasks; t++) {
            expected.add(sampler.sample(TestSupport.spectrum("t" + t, t), N, 99L));
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<PosteriorSamples>> futures = new ArrayList<>();
            for (int round = 0; round < 3; round++) {
                for (int t = tasks - 1; t >= 0; t--) { // another order
                    final int tt = t;
                    futures.add(pool.submit((Callable<PosteriorSamples>) () ->
                            sampler.sample(TestSupport.spectrum("t" + tt, tt), N, 99L)));
                }
            }
            for (int f = 0; f < futures.size(); f++) {
                int t = tasks - 1 - (f % tasks);
                assertSameDraws(expected.get(t), futures.get(f).get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    public void invalidSpectrumIsRejectedBeforeSampling() {
        float[] err = TestSupport.spectrum("bad", 0).fluxError();
        err[17] = -1.0f;
        Spectrum bad = new Spectrum("bad-42", TestSupport.spectrum("bad", 0).flux(), err);
        try {
            sampler.sample(Arrays.asList(TestSupport.spectrum("good", 1), bad), N, 1L);
            fail("expected InvalidSpectrumException");
        } catch (InvalidSpectrumException e) {
            assertEquals("source bad-42: flux_error[17] = -1.0 is not positive", e.getMessage());
        }
        try {
            sampler.sampleWithKeys(Arrays.asList(TestSupport.spectrum("good", 1)), new long[]{0, 1}, N, 1L);
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException e) {
            assertEquals("1 spectra but 2 source keys", e.getMessage());
        }
        try {
            sampler.sample(new Spectrum("bad\ud800id", TestSupport.spectrum("x", 1).flux(),
                    TestSupport.spectrum("x", 1).fluxError()), N, 1L);
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("lone surrogate (U+D800)"));
        }
    }

    @Test
    public void closedSamplerRefusesWork() {
        PosteriorSampler s = new PosteriorSampler(bundle);
        PosteriorSamples before = s.sample(TestSupport.spectrum("c", 1), 10, 1L);
        s.close();
        s.close(); // idempotent
        try {
            s.sample(TestSupport.spectrum("c", 1), 10, 1L);
            fail("a closed sampler must not sample");
        } catch (IllegalStateException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("closed"));
        }
        assertSameDraws(before, sampler.sample(TestSupport.spectrum("c", 1), 10, 1L));
    }

    @Test
    public void resultsAreImmutable() {
        PosteriorSamples s = sampler.sample(TestSupport.spectrum("i", 1), 20, 3L);
        double before = s.get(0, 0);
        s.samples()[0][0] = -1;
        s.sample(0)[0] = -1;
        s.column(0)[0] = -1;
        s.flatSamples()[0] = -1;
        assertEquals(before, s.get(0, 0), 0.0);
        PosteriorSummary sum = s.summary();
        sum.values(0)[0] = -1;
        assertEquals(PosteriorSummary.percentile(s.column(0), 0.5), sum.median(0), 0.0);
    }

    private static float[] floats(OrtSession.Result r, String name) throws Exception {
        FloatBuffer fb = ((OnnxTensor) r.get(name).get()).getFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }

    /**
     * Independent re-implementation of docs/sampling.md for a few draws, straight from the text,
     * running each graph with batch 1: checks the counter layout and the transformations.
     */
    @Test
    public void matchesTheDocumentedAlgorithm() throws Exception {
        Spectrum s = TestSupport.spectrum("ref", 4);
        long seed = 1234L;
        int n = 50;
        PosteriorSamples got = sampler.sample(s, n, seed);

        int l = bundle.latentSize();
        int kk = bundle.mixtureComponents();
        int h = bundle.contextSize();
        int p = bundle.parameterCount();
        int d = 1 + l + p;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        float[] logits;
        float[] mean;
        float[] logStd;
        float[] ctx;
        try (OrtSession enc = env.createSession(bundle.r1EncoderPath().toString());
             OrtSession con = env.createSession(bundle.decoderContextPath().toString());
             OnnxTensor f = OnnxTensor.createTensor(env, new float[][]{s.flux()});
             OnnxTensor e = OnnxTensor.createTensor(env, new float[][]{s.fluxError()})) {
            Map<String, OnnxTensor> in = new HashMap<>();
            in.put("flux", f);
            in.put("flux_error", e);
            try (OrtSession.Result r = enc.run(in)) {
                logits = floats(r, "mix_logits");
                mean = floats(r, "mix_mean");
                logStd = floats(r, "mix_log_std");
            }
            try (OrtSession.Result r = con.run(in)) {
                ctx = floats(r, "context");
            }
        }
        long key = CounterRng.streamKey(seed, CounterRng.sourceKey("ref"));
        try (OrtSession dec = env.createSession(bundle.decoderSamplePath().toString())) {
            for (int j : new int[]{0, 1, 7, n - 1}) {
                long b = (long) j * d;
                double max = Double.NEGATIVE_INFINITY;
                for (float v : logits) {
                    max = Math.max(max, v);
                }
                double[] w = new double[kk];
                double sum = 0;
                for (int k = 0; k < kk; k++) {
                    w[k] = Math.exp(logits[k] - max);
                    sum += w[k];
                }
                double u = CounterRng.uniform(key, b);
                int comp = kk - 1;
                double cum = 0;
                for (int k = 0; k < kk; k++) {
                    cum += w[k] / sum;
                    if (u < cum) {
                        comp = k;
                        break;
                    }
                }
                float[] z = new float[l];
                for (int q = 0; q < l; q++) {
                    z[q] = (float) (mean[comp * l + q] + Math.exp(logStd[comp * l + q]) * CounterRng.normal(key, b + 1 + q));
                }
                try (OnnxTensor c = OnnxTensor.createTensor(env, FloatBuffer.wrap(ctx), new long[]{1, h});
                     OnnxTensor zt = OnnxTensor.createTensor(env, FloatBuffer.wrap(z), new long[]{1, l})) {
                    Map<String, OnnxTensor> in = new HashMap<>();
                    in.put("context", c);
                    in.put("z", zt);
                    try (OrtSession.Result r = dec.run(in)) {
                        float[] loc = floats(r, "loc");
                        float[] ls = floats(r, "log_scale");
                        for (int q = 0; q < p; q++) {
                            double wq = loc[q] + Math.exp(ls[q]) * CounterRng.normal(key, b + 1 + l + q);
                            double x = bundle.parameters().get(q).fromUnit(1 / (1 + Math.exp(-wq)));
                            Parameter par = bundle.parameters().get(q);
                            assertEquals("draw " + j + " " + par.name(), x, got.get(j, q),
                                    1e-5 * (par.high() - par.low()));
                        }
                    }
                }
            }
        }
    }
}
