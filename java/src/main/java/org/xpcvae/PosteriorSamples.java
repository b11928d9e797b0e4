package org.xpcvae;

import java.util.List;
import java.util.Objects;

/**
 * The N posterior draws of one source, in physical units, draws in order 0..N-1 and parameters
 * in the bundle's order. Immutable: getters return copies.
 */
public final class PosteriorSamples {
    private final String sourceId;
    private final long sourceKey;
    private final long seed;
    private final List<Parameter> parameters;
    private final int n;
    private final int p;
    /** Row-major [n][p]. */
    private final double[] values;

    PosteriorSamples(String sourceId, long sourceKey, long seed, List<Parameter> parameters, double[] rowMajor) {
        this.sourceId = Objects.requireNonNull(sourceId);
        this.sourceKey = sourceKey;
        this.seed = seed;
        this.parameters = List.copyOf(parameters);
        this.p = parameters.size();
        if (rowMajor.length % p != 0) {
            throw new IllegalArgumentException("sample array length " + rowMajor.length + " is not a multiple of "
                    + p);
        }
        this.n = rowMajor.length / p;
        this.values = rowMajor;
    }

    /**
     * Samples from a [N][P] array (copied), e.g. for tests or samples computed elsewhere.
     *
     * @param sourceId   the source id
     * @param sourceKey  the key of the random stream they came from
     * @param seed       the seed
     * @param parameters the parameters, in the order of a draw's values
     * @param samples    the draws
     * @return the samples
     */
    public static PosteriorSamples of(String sourceId, long sourceKey, long seed, List<Parameter> parameters,
                                      double[][] samples) {
        int p = parameters.size();
        double[] flat = new double[samples.length * p];
        for (int j = 0; j < samples.length; j++) {
            if (samples[j].length != p) {
                throw new IllegalArgumentException("sample " + j + " has " + samples[j].length + " values, expected "
                        + p);
            }
            System.arraycopy(samples[j], 0, flat, j * p, p);
        }
        return new PosteriorSamples(sourceId, sourceKey, seed, parameters, flat);
    }

    /** The draws, row-major [N][P]: the array itself, not a copy (for the summary; never modified). */
    double[] rowMajorView() {
        return values;
    }

    /** The source id of the spectrum. */
    public String sourceId() {
        return sourceId;
    }

    /** The key of the random stream the draws came from ({@link CounterRng#sourceKey} of the source id, unless given). */
    public long sourceKey() {
        return sourceKey;
    }

    /** The seed the draws were made with. */
    public long seed() {
        return seed;
    }

    /** The parameters, in the order of a draw's values. */
    public List<Parameter> parameters() {
        return parameters;
    }

    /** N, the number of draws. */
    public int size() {
        return n;
    }

    /** P, the number of parameters. */
    public int parameterCount() {
        return p;
    }

    /** Parameter {@code param} of draw {@code draw}. */
    public double get(int draw, int param) {
        Objects.checkIndex(draw, n);
        Objects.checkIndex(param, p);
        return values[draw * p + param];
    }

    /** All draws as a new [N][P] array. */
    public double[][] samples() {
        double[][] out = new double[n][p];
        for (int j = 0; j < n; j++) {
            System.arraycopy(values, j * p, out[j], 0, p);
        }
        return out;
    }

    /** Draw {@code draw} (a copy, P values). */
    public double[] sample(int draw) {
        Objects.checkIndex(draw, n);
        double[] out = new double[p];
        System.arraycopy(values, draw * p, out, 0, p);
        return out;
    }

    /** All draws of parameter {@code param} (a copy, N values). */
    public double[] column(int param) {
        Objects.checkIndex(param, p);
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            out[j] = values[j * p + param];
        }
        return out;
    }

    /** All draws row-major as one array of N*P values (a copy; fast to hand to NumPy). */
    public double[] flatSamples() {
        return values.clone();
    }

    /** Median and percentiles per parameter. */
    public PosteriorSummary summary() {
        return PosteriorSummary.of(this);
    }

    @Override
    public String toString() {
        return "PosteriorSamples(" + sourceId + ", " + n + " draws)";
    }
}
