package org.xpcvae;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Per parameter: median and the 16, 84, 2.5 and 97.5 percentiles of the posterior draws, with
 * NumPy's default ({@code 'linear'}) percentile definition, reproduced operation for operation
 * so that the values are bitwise those of {@code numpy.percentile(x, q)}: sort, {@code h = (N-1) q},
 * {@code i = floor(h)}, {@code t = h - i}, {@code d = x[i+1] - x[i]}, then {@code x[i] + d t} for
 * {@code t < 0.5} and {@code x[i+1] - d (1 - t)} otherwise ({@code x[N-1]} when {@code h >= N-1}).
 * The median is the 50th percentile computed this way. Immutable.
 */
public final class PosteriorSummary {
    /** The quantiles reported, in CSV column order: median, p16, p84, p2.5, p97.5. */
    public static final double[] QUANTILES = {0.5, 0.16, 0.84, 0.025, 0.975};
    /** Column suffixes matching {@link #QUANTILES}. */
    public static final List<String> SUFFIXES = List.of("median", "p16", "p84", "p2.5", "p97.5");

    private final String sourceId;
    private final List<Parameter> parameters;
    private final int nSamples;
    /** [parameter][quantile] in the order of QUANTILES. */
    private final double[][] values;

    private PosteriorSummary(String sourceId, List<Parameter> parameters, int nSamples, double[][] values) {
        this.sourceId = sourceId;
        this.parameters = parameters;
        this.nSamples = nSamples;
        this.values = values;
    }

    /** Summary of the draws of one source. */
    public static PosteriorSummary of(PosteriorSamples samples) {
        Objects.requireNonNull(samples);
        if (samples.size() == 0) {
            throw new IllegalArgumentException("source " + samples.sourceId() + ": no samples to summarise");
        }
        int p = samples.parameterCount();
        int n = samples.size();
        // the order statistics the quantiles need (floor(h) and floor(h) + 1 of each)
        int[] wanted = orderStatistics(n);
        Selection selection = new Selection(n);
        double[] rows = samples.rowMajorView();
        double[] column = new double[n];
        double[][] values = new double[p][];
        for (int k = 0; k < p; k++) {
            for (int j = 0, i = k; j < n; j++, i += p) {
                column[j] = rows[i];
            }
            selection.selectInPlace(column, wanted);
            values[k] = new double[QUANTILES.length];
            for (int q = 0; q < QUANTILES.length; q++) {
                values[k][q] = percentileOfSorted(column, QUANTILES[q]);
            }
        }
        return new PosteriorSummary(samples.sourceId(), samples.parameters(), samples.size(), values);
    }

    /** Sorted, distinct indices of the order statistics that {@link #percentileOfSorted} reads for N values. */
    static int[] orderStatistics(int n) {
        int[] idx = new int[2 * QUANTILES.length];
        int m = 0;
        for (double q : QUANTILES) {
            double h = (n - 1) * q;
            if (h >= n - 1) {
                idx[m++] = n - 1;
            } else {
                int lo = (int) Math.floor(h);
                idx[m++] = lo;
                idx[m++] = lo + 1;
            }
        }
        return Arrays.stream(idx, 0, m).sorted().distinct().toArray();
    }

    /**
     * Sets {@code a[i]}, for every {@code i} in {@code wanted} (sorted, distinct), to the value a
     * full ascending sort of {@code a} would put there ({@link Arrays#sort(double[])} order); the
     * other elements are left in an unspecified order. See {@link Selection}.
     */
    static void selectInPlace(double[] a, int[] wanted) {
        new Selection(a.length).selectInPlace(a, wanted);
    }

    /**
     * Order statistics of arrays of N values at O(N) cost, with work arrays reused from one array
     * to the next (the parameters of a source). The values are counted into buckets of equal width
     * between their minimum and maximum (a monotone map, so a lower bucket only holds smaller or
     * equal values), and only the buckets holding a wanted rank are gathered and sorted, so the
     * selected values are exactly those of a full sort. Each value's bucket is computed once, and
     * there are N / 2 to N buckets (512 for N = 1000): in a prototype, 256 or 512 buckets made a
     * 1000-draw, 7-parameter summary about 1.6 times faster than 1024 (46 against 75 us), fewer or
     * more were slower; this class against the former selection (1024 buckets, work arrays per
     * parameter) in one JVM: about 20 us less per source (2-core machine, loaded by other jobs).
     * Arrays holding NaN are sorted in full. Not thread-safe.
     */
    static final class Selection {
        private final int buckets;
        /** Bucket of each value. */
        private final int[] bucketOf;
        /** Cumulative counts: bucket b holds the ranks start[b] .. start[b + 1] - 1. */
        private final int[] start;
        /** Where a wanted bucket's values go in {@link #gathered} (-1: not wanted), then the next free slot. */
        private final int[] slot;
        private final int[] next;
        private final double[] gathered;

        /** Work arrays for arrays of up to {@code n} values. */
        Selection(int n) {
            buckets = Math.max(1, Math.min(4096, Integer.highestOneBit(Math.max(1, n))));
            bucketOf = new int[n];
            start = new int[buckets + 1];
            slot = new int[buckets];
            next = new int[buckets];
            gathered = new double[n];
        }

        /** As {@link PosteriorSummary#selectInPlace(double[], int[])}, for {@code a} of at most the constructor's n values. */
        void selectInPlace(double[] a, int[] wanted) {
            int n = a.length;
            if (n < 64 || wanted.length == 0) {
                Arrays.sort(a);
                return;
            }
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            for (double v : a) {
                if (v != v) {
                    Arrays.sort(a);
                    return;
                }
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            double scale = buckets / (max - min);
            if (!(scale > 0.0 && scale < Double.POSITIVE_INFINITY)) {
                scale = 0.0; // all equal, or a range beyond double: one bucket
            }
            int last = buckets - 1;
            for (int i = 0; i < n; i++) {
                int b = (int) ((a[i] - min) * scale);
                bucketOf[i] = b < last ? b : last;
            }
            Arrays.fill(start, 0);
            for (int i = 0; i < n; i++) {
                start[bucketOf[i] + 1]++;
            }
            for (int b = 0; b < buckets; b++) {
                start[b + 1] += start[b];
            }
            // the buckets holding wanted ranks, in increasing order, and their places in gathered
            Arrays.fill(slot, -1);
            int[] target = new int[wanted.length];
            int used = 0;
            for (int w = 0; w < wanted.length; w++) {
                int b = bucketOfRank(wanted[w]);
                target[w] = b;
                if (slot[b] < 0) {
                    slot[b] = used;
                    used += start[b + 1] - start[b];
                }
            }
            System.arraycopy(slot, 0, next, 0, buckets);
            for (int i = 0; i < n; i++) {
                int b = bucketOf[i];
                int at = next[b];
                if (at >= 0) {
                    gathered[at] = a[i];
                    next[b] = at + 1;
                }
            }
            double[] result = new double[wanted.length];
            for (int w = 0; w < wanted.length; w++) {
                int b = target[w];
                if (w == 0 || b != target[w - 1]) {
                    Arrays.sort(gathered, slot[b], slot[b] + start[b + 1] - start[b]);
                }
                result[w] = gathered[slot[b] + wanted[w] - start[b]];
            }
            for (int w = 0; w < wanted.length; w++) {
                a[wanted[w]] = result[w];
            }
        }

        /** The bucket b with start[b] &lt;= rank &lt; start[b + 1]. */
        private int bucketOfRank(int rank) {
            int lo = 0;
            int hi = buckets - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (start[mid] <= rank) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            return lo;
        }
    }

    /**
     * NumPy's {@code 'linear'} quantile of {@code values} (not modified), {@code q} in [0, 1]:
     * {@code numpy.quantile(values, q)} = {@code numpy.percentile(values, 100 q)}.
     */
    public static double percentile(double[] values, double q) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return percentileOfSorted(sorted, q);
    }

    /** As {@link #percentile} for values already sorted ascending (NaN-free). */
    public static double percentileOfSorted(double[] sorted, double q) {
        int n = sorted.length;
        if (n == 0) {
            throw new IllegalArgumentException("percentile of an empty array");
        }
        if (!(q >= 0.0 && q <= 1.0)) {
            throw new IllegalArgumentException("quantile " + q + " is not in [0, 1]");
        }
        double h = (n - 1) * q;
        if (h >= n - 1) {
            return sorted[n - 1];
        }
        int lo = (int) Math.floor(h);
        double t = h - lo;
        double a = sorted[lo];
        double b = sorted[lo + 1];
        double d = b - a;
        return t >= 0.5 ? b - d * (1 - t) : a + d * t;
    }

    /** The source id of the spectrum. */
    public String sourceId() {
        return sourceId;
    }

    /** The parameters, in the order of {@code param} indices. */
    public List<Parameter> parameters() {
        return parameters;
    }

    /** Number of draws summarised. */
    public int sampleCount() {
        return nSamples;
    }

    /**
     * Quantile {@code quantileIndex} (index into {@link #QUANTILES}) of parameter {@code param}.
     */
    public double get(int param, int quantileIndex) {
        return values[param][quantileIndex];
    }

    /** The median of parameter {@code param}. */
    public double median(int param) {
        return values[param][0];
    }

    /** The 16th percentile of parameter {@code param}. */
    public double p16(int param) {
        return values[param][1];
    }

    /** The 84th percentile of parameter {@code param}. */
    public double p84(int param) {
        return values[param][2];
    }

    /** The 2.5th percentile of parameter {@code param}. */
    public double p2_5(int param) {
        return values[param][3];
    }

    /** The 97.5th percentile of parameter {@code param}. */
    public double p97_5(int param) {
        return values[param][4];
    }

    /** The five values of parameter {@code param} in the order of {@link #QUANTILES} (a copy). */
    public double[] values(int param) {
        return values[param].clone();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("PosteriorSummary(").append(sourceId);
        for (int k = 0; k < parameters.size(); k++) {
            sb.append(", ").append(parameters.get(k).name()).append('=').append(median(k))
                    .append(" [").append(p16(k)).append(", ").append(p84(k)).append(']');
        }
        return sb.append(')').toString();
    }
}
