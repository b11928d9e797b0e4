package org.xpcvae;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.Test;

/**
 * One {@link PosteriorSampler} shared by 8 threads over 10 000 sources gives, bit for bit, the
 * draws of a single-threaded run with the same seeds, whatever batches the threads form.
 */
public class ConcurrencyTest {
    private static final int SOURCES = 10_000;
    private static final int DRAWS = 20;
    private static final int THREADS = 8;
    private static final long SEED = 20_240_607L;

    @Test
    public void eightThreadsOverTenThousandSourcesMatchOneThread() throws Exception {
        List<Spectrum> distinct = new ArrayList<>();
        for (int v = 0; v < 97; v++) {
            distinct.add(TestSupport.spectrum("c" + v, v));
        }
        try (PosteriorSampler sampler = new PosteriorSampler(TestSupport.bundle())) {
            // single thread, one source per call; 97 spectra, each under many explicit keys
            double[][] expected = new double[SOURCES][];
            for (int i = 0; i < SOURCES; i++) {
                expected[i] = sampler.sampleWithKey(distinct.get(i % distinct.size()), i, DRAWS, SEED).flatSamples();
            }
            // 8 threads, batches of 1..40 sources taken from a shared counter, in reverse order
            AtomicInteger next = new AtomicInteger();
            double[][] got = new double[SOURCES][];
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<Integer>> futures = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    final int worker = t;
                    futures.add(pool.submit(() -> {
                        SplittableRandom r = new SplittableRandom(worker);
                        int done = 0;
                        while (true) {
                            int size = 1 + r.nextInt(40);
                            int first = next.getAndAdd(size);
                            if (first >= SOURCES) {
                                return done;
                            }
                            int last = Math.min(SOURCES, first + size);
                            List<Spectrum> batch = new ArrayList<>();
                            long[] idx = new long[last - first];
                            for (int i = last - 1; i >= first; i--) {
                                batch.add(distinct.get(i % distinct.size()));
                                idx[last - 1 - i] = i;
                            }
                            List<PosteriorSamples> res = sampler.sampleWithKeys(batch, idx, DRAWS, SEED);
                            for (int k = 0; k < res.size(); k++) {
                                got[(int) idx[k]] = res.get(k).flatSamples();
                                done++;
                            }
                        }
                    }));
                }
                int total = 0;
                for (Future<Integer> f : futures) {
                    total += f.get();
                }
                assertEquals(SOURCES, total);
            } finally {
                pool.shutdownNow();
            }
            for (int i = 0; i < SOURCES; i++) {
                assertArrayEquals("source " + i, expected[i], got[i], 0.0);
            }
        }
    }

    /**
     * The per-spectrum graphs run on batches of up to 64 spectra: 1280 noisy spectra sampled in
     * batches of 64 (and of 7) give the draws of one-spectrum calls, bit for bit.
     */
    @Test
    public void batchedEncoderEqualsBatchOfOne() {
        SplittableRandom r = new SplittableRandom(77);
        List<Spectrum> spectra = new ArrayList<>();
        for (int i = 0; i < 1280; i++) {
            Spectrum base = TestSupport.spectrum("n" + i, i);
            float[] f = base.flux();
            float[] e = base.fluxError();
            double scale = Math.pow(10, r.nextDouble() * 6 - 3);
            for (int k = 0; k < f.length; k++) {
                f[k] = (float) (scale * (f[k] + e[k] * (r.nextDouble() * 4 - 2)));
                e[k] = (float) (scale * e[k] * (0.5 + r.nextDouble()));
            }
            spectra.add(new Spectrum("n" + i, f, e));
        }
        try (PosteriorSampler sampler = new PosteriorSampler(TestSupport.bundle())) {
            List<PosteriorSamples> batched = sampler.sample(spectra, 3, SEED);
            for (int i = 0; i < spectra.size(); i++) {
                assertArrayEquals("spectrum " + i, sampler.sample(spectra.get(i), 3, SEED).flatSamples(),
                        batched.get(i).flatSamples(), 0.0);
            }
            for (int c = 0; c + 7 <= 140; c += 7) {
                List<PosteriorSamples> b7 = sampler.sample(spectra.subList(c, c + 7), 3, SEED);
                for (int i = 0; i < 7; i++) {
                    assertArrayEquals(batched.get(c + i).flatSamples(), b7.get(i).flatSamples(), 0.0);
                }
            }
        }
    }
}
