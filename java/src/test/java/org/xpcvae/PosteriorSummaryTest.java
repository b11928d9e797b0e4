package org.xpcvae;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.List;

import org.junit.Test;

public class PosteriorSummaryTest {

    /*
     * Hand computation for x = 1..10 (N = 10), h = (N - 1) q = 9 q, i = floor(h), t = h - i,
     * value = x[i] + t (x[i+1] - x[i]) = (i + 1) + t:
     *   median q=0.5:   h = 4.5   -> i=4, t=0.5   -> 5 + 0.5   = 5.5
     *   q=0.16:         h = 1.44  -> i=1, t=0.44  -> 2 + 0.44  = 2.44
     *   q=0.84:         h = 7.56  -> i=7, t=0.56  -> 8 + 0.56  = 8.56
     *   q=0.025:        h = 0.225 -> i=0, t=0.225 -> 1 + 0.225 = 1.225
     *   q=0.975:        h = 8.775 -> i=8, t=0.775 -> 9 + 0.775 = 9.775
     * In double arithmetic 8.56 comes out as 8.559999999999999 (t >= 0.5 is computed as
     * x[i+1] - d (1 - t)), which is also what numpy.percentile(np.arange(1, 11), 84) prints.
     */
    @Test
    public void handComputedExample() {
        double[] x = {7, 3, 10, 1, 9, 2, 5, 8, 4, 6}; // unsorted on purpose
        assertEquals(5.5, PosteriorSummary.percentile(x, 0.5), 0.0);
        assertEquals(2.44, PosteriorSummary.percentile(x, 0.16), 0.0);
        assertEquals(8.56, PosteriorSummary.percentile(x, 0.84), 1e-14);
        assertEquals(8.559999999999999, PosteriorSummary.percentile(x, 0.84), 0.0);
        assertEquals(1.225, PosteriorSummary.percentile(x, 0.025), 0.0);
        assertEquals(9.775, PosteriorSummary.percentile(x, 0.975), 0.0);
        assertEquals(1.0, PosteriorSummary.percentile(x, 0.0), 0.0);
        assertEquals(10.0, PosteriorSummary.percentile(x, 1.0), 0.0);
        // the input is not modified
        assertArrayEquals(new double[]{7, 3, 10, 1, 9, 2, 5, 8, 4, 6}, x, 0.0);
    }

    /** A case where the two interpolation formulas differ in the last bit; NumPy's value. */
    @Test
    public void matchesNumpyInTheLastBit() {
        double[] x = {-1245.9109472530652, -732.2673547034516, -544.2589828573099, -316.30015636915454,
                411.6305363741328, 1042.5133694426777, -128.53466294403427};
        // np.quantile(x, 0.16) = -752.8130984054361 (a + d t would give -752.8130984054362)
        assertEquals(-752.8130984054361, PosteriorSummary.percentile(x, 0.16), 0.0);
    }

    @Test
    public void singleAndTwoValues() {
        assertEquals(3.0, PosteriorSummary.percentile(new double[]{3.0}, 0.84), 0.0);
        // N = 2: h = q, so the value is 1 + q
        assertEquals(1.16, PosteriorSummary.percentile(new double[]{2.0, 1.0}, 0.16), 1e-15);
        assertEquals(1.5, PosteriorSummary.percentile(new double[]{2.0, 1.0}, 0.5), 0.0);
    }

    @Test
    public void summaryOfSamplesPerParameter() {
        List<Parameter> params = TestSupport.bundle().parameters();
        int n = 10;
        double[][] s = new double[n][params.size()];
        for (int j = 0; j < n; j++) {
            for (int k = 0; k < params.size(); k++) {
                // parameter k: the values 1..10 times (k + 1), in reverse order: quantiles scale with (k + 1)
                s[j][k] = (n - j) * (k + 1.0);
            }
        }
        PosteriorSummary sum = PosteriorSamples.of("a", 0, 42, params, s).summary();
        assertEquals(n, sum.sampleCount());
        for (int k = 0; k < params.size(); k++) {
            assertEquals(5.5 * (k + 1), sum.median(k), 1e-12);
            assertEquals(2.44 * (k + 1), sum.p16(k), 1e-12);
            assertEquals(8.56 * (k + 1), sum.p84(k), 1e-12);
            assertEquals(1.225 * (k + 1), sum.p2_5(k), 1e-12);
            assertEquals(9.775 * (k + 1), sum.p97_5(k), 1e-12);
        }
    }

    /**
     * {@link PosteriorSummary#of} on many draws (the bucket selection, its work arrays reused from one
     * parameter to the next, parameters with different ranges, ties, infinities and NaN) gives each
     * parameter's {@link PosteriorSummary#percentile}, which sorts the column in full.
     */
    @Test
    public void summaryOfManyDrawsEqualsFullSortPercentiles() {
        List<Parameter> params = TestSupport.bundle().parameters();
        java.util.Random r = new java.util.Random(8);
        for (int t = 0; t < 40; t++) {
            int n = 64 + r.nextInt(t < 20 ? 2000 : 20000);
            double[][] s = new double[n][params.size()];
            for (int j = 0; j < n; j++) {
                for (int k = 0; k < params.size(); k++) {
                    double v = k % 3 == 0 ? r.nextGaussian() * Math.pow(10, k - 3) + k
                            : k % 3 == 1 ? r.nextInt(5) : 1.0 / (1.0 + Math.exp(-4 * r.nextGaussian()));
                    if (t % 4 == 3 && r.nextInt(100) == 0) {
                        v = new double[]{Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0}[k % 4];
                    }
                    s[j][k] = v;
                }
            }
            PosteriorSamples samples = PosteriorSamples.of("s" + t, t, 1L, params, s);
            PosteriorSummary sum = PosteriorSummary.of(samples);
            for (int k = 0; k < params.size(); k++) {
                double[] column = samples.column(k);
                for (int q = 0; q < PosteriorSummary.QUANTILES.length; q++) {
                    double expected = PosteriorSummary.percentile(column, PosteriorSummary.QUANTILES[q]);
                    assertEquals("n " + n + " parameter " + k + " quantile " + q, Double.doubleToRawLongBits(expected),
                            Double.doubleToRawLongBits(sum.get(k, q)));
                }
            }
        }
    }

    /** The quickselect of {@link PosteriorSummary#of} reads exactly the values a full sort puts there. */
    @Test
    public void selectionGivesTheSortedOrderStatistics() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        for (int t = 0; t < 3000; t++) {
            int n = 1 + r.nextInt(t < 2000 ? 60 : 5000);
            double[] a = new double[n];
            int distinct = 1 + r.nextInt(n + 1);
            for (int i = 0; i < n; i++) {
                a[i] = r.nextInt(4) == 0 ? r.nextInt(distinct) : r.nextDouble() * 1e3 - 500;
                if (r.nextInt(50) == 0) {
                    a[i] = new double[]{Double.NaN, -0.0, 0.0, Double.POSITIVE_INFINITY}[r.nextInt(4)];
                }
            }
            if (t % 3 == 0) {
                java.util.Arrays.sort(a); // sorted and reverse-sorted inputs
                if (t % 2 == 0) {
                    for (int i = 0; i < n / 2; i++) {
                        double x = a[i];
                        a[i] = a[n - 1 - i];
                        a[n - 1 - i] = x;
                    }
                }
            }
            double[] sorted = a.clone();
            java.util.Arrays.sort(sorted);
            double[] selected = a.clone();
            PosteriorSummary.selectInPlace(selected, PosteriorSummary.orderStatistics(n));
            for (double q : PosteriorSummary.QUANTILES) {
                assertEquals(Double.doubleToRawLongBits(PosteriorSummary.percentileOfSorted(sorted, q)),
                        Double.doubleToRawLongBits(PosteriorSummary.percentileOfSorted(selected, q)));
            }
        }
    }
}
