package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.charset.StandardCharsets;
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

    /** Values printed by python/xpcvae/rng.py (seeds and keys as unsigned 64-bit integers). */
    @Test
    public void matchesPythonReference() {
        long k = CounterRng.streamKey(42, 7);
        assertEquals(2261245999561645614L, k);
        assertEquals(-3234035160980556949L, CounterRng.bits(k, 5));
        assertEquals(0.8246826026285187, CounterRng.uniform(k, 5), 0.0);
        assertEquals(0x1.8dfba31e4ce27p-1, CounterRng.uniform(k, 0), 0.0);
        // AS241's central branch (|u - 0.5| <= 0.425) is + - * / only: the same bits as NumPy
        assertEquals(0.8584235404667658, CounterRng.normal(k, 3), 0.0);
        assertEquals(0.9333587038131314, CounterRng.normal(k, 5), 0.0);

        assertEquals(0L, CounterRng.streamKey(0, 0));
        assertEquals(0.32732576421812587, CounterRng.uniform(0L, 5), 0.0);
        // u = 0.97...: a tail, through log (NumPy's and fdlibm's agree to about an ulp)
        assertEquals(1.89391687911645, CounterRng.normal(0L, 3), 4e-16 * 1.9);
        assertEquals(-0.44730961117032, CounterRng.normal(0L, 5), 0.0);

        // seed -1 is 2**64 - 1 in Python
        long km = CounterRng.streamKey(-1, 3);
        assertEquals(-340046280971457364L, km);
        assertEquals(4991308341308433940L, CounterRng.bits(km, 5));
        assertEquals(-0.9483562903808107, CounterRng.normal(km, 3), 0.0);

        long kb = CounterRng.streamKey(123456789L, (1L << 40) + 5);
        assertEquals(8747263932905633777L, kb);
        assertEquals(0.9223143457076418, CounterRng.uniform(kb, 5), 0.0);
        assertEquals(0.8363032321088066, CounterRng.normal(kb, 3), 0.0);
        assertEquals(1.4208123871552898, CounterRng.normal(kb, 5), 0.0);
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
            double z = CounterRng.normal(key, i);
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

    /** Standard normal quantiles at these doubles (mpmath, 40 digits); AS241 is good to about 1e-16 relative. */
    @Test
    public void inverseNormalCdfKnownValues() {
        double[][] cases = {
            {0.975, 1.95996398454005385560443064983},
            {0.025, -1.95996398454005421177958419423},
            {0.8413447460685429, 0.999999999999999905737686363601},  // Phi(1) rounded to a double
            {0.1, -1.28155156554460043533451708968},
            {0.9, 1.28155156554460059348744828852},
            {0.075, -1.43953147093845593494980102247},
            {0.925, 1.43953147093845622906332015725},
            {1e-10, -6.36134090240405619910039694879},
            {0x1.0p-53, -8.20953615160138685563076877867},
            {1.0 - 0x1.0p-53, 8.20953615160138685563076877867},
        };
        for (double[] c : cases) {
            assertEquals("u = " + c[0], c[1], CounterRng.inverseNormalCdf(c[0]), 1e-15 * Math.abs(c[1]));
        }
        assertEquals(0.0, CounterRng.inverseNormalCdf(0.5), 0.0);
    }

    /** Symmetric, monotone, and the bulk path gives the scalar path's bits. */
    @Test
    public void inverseNormalCdfSymmetricMonotoneAndBulkEqualsScalar() {
        long key = CounterRng.streamKey(5, 9);
        for (long c = 0; c < 200_000; c++) {
            double u = CounterRng.uniform(key, c);
            double z = CounterRng.inverseNormalCdf(u);
            // 1 - u is exact for multiples of 2^-53, and AS241 is odd in q = u - 0.5 by construction
            assertEquals("u = " + u, Double.doubleToRawLongBits(-z),
                    Double.doubleToRawLongBits(CounterRng.inverseNormalCdf(1.0 - u)));
        }
        // monotone on a fine ladder through both branch boundaries and the tails
        double prev = Double.NEGATIVE_INFINITY;
        for (long k = 1; k < (1L << 53); k += (k < 1L << 20 ? 1 : k >>> 12)) {
            double u = k * 0x1.0p-53;
            double z = CounterRng.inverseNormalCdf(u);
            assertTrue("u = " + u, z >= prev);
            prev = z;
        }
        // across the branch boundaries (|u - 0.5| = 0.425 and min(u, 1 - u) = exp(-25)) on the
        // uniforms' grid of multiples of 2^-53 (between arbitrary neighbouring doubles, 1e-16
        // apart in the result, AS241's own rounding can step back by an ulp)
        for (double edge : new double[]{0.075, 0.925, Math.exp(-25.0), -Math.expm1(-25.0)}) {
            long k0 = Math.round(edge * 0x1.0p53);
            double before = CounterRng.inverseNormalCdf((k0 - 50) * 0x1.0p-53);
            for (long k = k0 - 49; k <= k0 + 50; k++) {
                double z = CounterRng.inverseNormalCdf(k * 0x1.0p-53);
                assertTrue("monotone at " + k + " * 2^-53", z > before);
                assertEquals("continuous at " + k + " * 2^-53", before, z, 1e-5 * Math.abs(z));
                before = z;
            }
        }
        double[] scratch = new double[7 * 300];
        double[] out = new double[7 * 300];
        CounterRng.fillNormals(key, 11, 18, 300, 7, scratch, out);
        for (int r = 0; r < 300; r++) {
            for (int q = 0; q < 7; q++) {
                assertEquals(Double.doubleToRawLongBits(CounterRng.normal(key, 11 + 18L * r + q)),
                        Double.doubleToRawLongBits(out[r * 7 + q]));
            }
        }
    }

    /** FNV-1a 64 test vectors published with the algorithm (Fowler/Noll/Vo reference test suite). */
    @Test
    public void fnv1aPublishedVectors() {
        assertEquals(0xcbf29ce484222325L, CounterRng.fnv1a64(new byte[0]));
        assertEquals(0xaf63dc4c8601ec8cL, CounterRng.fnv1a64("a".getBytes(StandardCharsets.UTF_8)));
        assertEquals(0x85944171f73967e8L, CounterRng.fnv1a64("foobar".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    public void sourceKeys() {
        // canonical unsigned decimal integers that fit a long key as their value, leading zeros too
        assertEquals(0L, CounterRng.sourceKey("0"));
        assertEquals(7L, CounterRng.sourceKey("007"));
        assertEquals(7L, CounterRng.sourceKey("0000000000000000007")); // 19 digits
        assertEquals(5280437616401936512L, CounterRng.sourceKey("5280437616401936512"));
        assertEquals(Long.MAX_VALUE, CounterRng.sourceKey("9223372036854775807"));
        // everything else is hashed: 2^63, 20 digits, a sign, non-ASCII digits, text
        String[] hashed = {"9223372036854775808", "00000000000000000007", "-1", "+1", " 1", "\u0663", "",
                "a", "Gaia DR3 123", "\u00e9", "\ud83d\ude00"};
        for (String id : hashed) {
            assertEquals(id, CounterRng.fnv1a64(id.getBytes(StandardCharsets.UTF_8)), CounterRng.sourceKey(id));
        }
        assertEquals(0xf7cef8da42d0e432L, CounterRng.sourceKey("9223372036854775808"));
        assertEquals(0x0ac21707b7181e01L, CounterRng.sourceKey("\u00e9")); // UTF-8 C3 A9
        try {
            CounterRng.sourceKey("x\ud800");
            fail("a lone surrogate has no UTF-8 bytes");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("lone surrogate (U+D800)"));
        }
    }

    @Test
    public void seedsAreUnsigned64BitIntegers() {
        assertEquals(0L, CounterRng.parseSeed("0"));
        assertEquals(42L, CounterRng.parseSeed("042"));
        assertEquals(Long.MAX_VALUE, CounterRng.parseSeed("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, CounterRng.parseSeed("9223372036854775808"));
        assertEquals(-1L, CounterRng.parseSeed("18446744073709551615"));
        for (String bad : new String[]{"18446744073709551616", "-1", "+1", " 1", "1.0", "", "x"}) {
            try {
                CounterRng.parseSeed(bad);
                fail("accepted seed '" + bad + "'");
            } catch (IllegalArgumentException e) {
                assertEquals("seed " + bad + " is not an integer in 0..18446744073709551615 (seeds are unsigned "
                        + "64-bit integers)", e.getMessage());
            }
        }
    }

    @Test
    public void streamsOfDifferentSourcesDiffer() {
        assertTrue(CounterRng.streamKey(42, 0) != CounterRng.streamKey(42, 1));
        assertTrue(CounterRng.streamKey(42, 0) != CounterRng.streamKey(43, 0));
    }
}
