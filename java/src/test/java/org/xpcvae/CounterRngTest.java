package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.SplittableRandom;

import org.junit.Test;

public class CounterRngTest {

    /** bits(key, n) is the n-th nextLong() of java.util.SplittableRandom(key): an independent reference. */
    @Test
    public void bitsEqualSplittableRandomOutputs() {
        long[] keys = {0L, 1L, -1L, 42L, Long.MIN_VALUE, 0x123456789ABCDEFL, CounterRng.streamKey(42, 7)};
        for (long key : keys) {
            SplittableRandom reference = new SplittableRandom(key);
            for (long n = 0; n < 2000; n++) {
                assertEquals("key " + key + ", counter " + n, reference.nextLong(), CounterRng.bits(key, n));
            }
        }
    }

    /** Values printed by python/xpcvae/rng.py (seeds and indices as unsigned 64-bit integers). */
    @Test
    public void matchesPythonReference() {
        long k = CounterRng.streamKey(42, 7);
        assertEquals(2261245999561645614L, k);
        assertEquals(-3234035160980556949L, CounterRng.bits(k, 5));
        assertEquals(0.8246826026285187, CounterRng.uniform(k, 5), 0.0);
        assertEquals(0x1.8dfba31e4ce27p-1, CounterRng.uniform(k, 0), 0.0);
        // normal uses log/cos: NumPy's and StrictMath's agree to about an ulp
        assertEquals(0.11844896226923382, CounterRng.normal(k, 3), 1e-15);

        assertEquals(0L, CounterRng.streamKey(0, 0));
        assertEquals(0.32732576421812587, CounterRng.uniform(0L, 5), 0.0);
        assertEquals(0.19082411246493028, CounterRng.normal(0L, 3), 1e-15);

        // seed -1 is 2**64 - 1 in Python
        long km = CounterRng.streamKey(-1, 3);
        assertEquals(-340046280971457364L, km);
        assertEquals(4991308341308433940L, CounterRng.bits(km, 5));
        assertEquals(1.3874654116967722, CounterRng.normal(km, 3), 1e-15);

        long kb = CounterRng.streamKey(123456789L, (1L << 40) + 5);
        assertEquals(8747263932905633777L, kb);
        assertEquals(0.9223143457076418, CounterRng.uniform(kb, 5), 0.0);
        assertEquals(-0.6657636220723325, CounterRng.normal(kb, 3), 1e-15);
    }

    @Test
    public void mix64IsTheSplitMixFinaliser() {
        // first output of SplittableRandom(s) is mix64(s + GOLDEN)
        for (long s = -5; s < 5; s++) {
            assertEquals(new SplittableRandom(s).nextLong(), CounterRng.mix64(s + CounterRng.GOLDEN));
        }
        assertEquals(0L, CounterRng.mix64(0L));
    }

    @Test
    public void uniformIsInOpenUnitIntervalWithMeanOneHalf() {
        long key = CounterRng.streamKey(7, 3);
        double sum = 0.0;
        int n = 1_000_000;
        for (int i = 0; i < n; i++) {
            double u = CounterRng.uniform(key, i);
            assertTrue("u = " + u, u > 0.0 && u < 1.0);
            sum += u;
        }
        // sd of the mean is sqrt(1/12/n) = 2.9e-4; allow 5 sd
        assertEquals(0.5, sum / n, 5 * Math.sqrt(1.0 / 12 / n));
        // the extreme values of the formula: the smallest is 2^-53 > 0, the largest 1 - 2^-53 < 1
        // ((2^52 - 1) + 0.5 is exactly representable, so it cannot round up to 1.0)
        assertEquals(0x1.0p-53, (0 + 0.5) * 0x1.0p-52, 0.0);
        double largest = ((double) ((-1L) >>> 12) + 0.5) * 0x1.0p-52;
        assertEquals(1.0 - 0x1.0p-53, largest, 0.0);
        assertTrue(largest < 1.0);
    }

    @Test
    public void normalHasZeroMeanAndUnitVariance() {
        long key = CounterRng.streamKey(2024, 11);
        int n = 100_000;
        double sum = 0.0;
        double sumSq = 0.0;
        double sum4 = 0.0;
        for (int i = 0; i < n; i++) {
            double z = CounterRng.normal(key, 2L * i);
            sum += z;
            sumSq += z * z;
            sum4 += z * z * z * z;
        }
        double mean = sum / n;
        double var = sumSq / n - mean * mean;
        // 5 standard errors: mean sd 1/sqrt(n); variance sd sqrt(2/n); 4th moment 3 with sd sqrt(96/n)
        assertEquals(0.0, mean, 5 / Math.sqrt(n));
        assertEquals(1.0, var, 5 * Math.sqrt(2.0 / n));
        assertEquals(3.0, sum4 / n, 5 * Math.sqrt(96.0 / n));
    }

    @Test
    public void streamsOfDifferentSourcesDiffer() {
        assertTrue(CounterRng.streamKey(42, 0) != CounterRng.streamKey(42, 1));
        assertTrue(CounterRng.streamKey(42, 0) != CounterRng.streamKey(43, 0));
    }
}
