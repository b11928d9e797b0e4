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
        double[][] values = new double[p][];
        for (int k = 0; k < p; k++) {
            double[] column = samples.column(k);
            Arrays.sort(column);
            values[k] = new double[QUANTILES.length];
            for (int q = 0; q < QUANTILES.length; q++) {
                values[k][q] = percentileOfSorted(column, QUANTILES[q]);
            }
        }
        return new PosteriorSummary(samples.sourceId(), samples.parameters(), samples.size(), values);
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

    public String sourceId() {
        return sourceId;
    }

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

    public double median(int param) {
        return values[param][0];
    }

    public double p16(int param) {
        return values[param][1];
    }

    public double p84(int param) {
        return values[param][2];
    }

    public double p2_5(int param) {
        return values[param][3];
    }

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
