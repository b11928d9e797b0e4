package org.xpcvae.gaiaxp;

/**
 * The continuous representation of one band of one source, as the Gaia archive's XP continuous
 * product holds it: the basis-function coefficients of the least-squares solution, their formal
 * errors, the correlations between them and the solution's standard deviation. Immutable; the
 * factory checks the sizes and values, so that every instance can be calibrated.
 */
public final class BandSolution {
    private final Band band;
    private final double[] coefficients;
    private final double[] coefficientErrors;
    /** Full symmetric correlation matrix, n x n. */
    private final double[][] correlation;
    private final double standardDeviation;

    private BandSolution(Band band, double[] coefficients, double[] coefficientErrors, double[][] correlation,
                         double standardDeviation) {
        this.band = band;
        this.coefficients = coefficients;
        this.coefficientErrors = coefficientErrors;
        this.correlation = correlation;
        this.standardDeviation = standardDeviation;
    }

    /**
     * A band's solution from the archive's columns.
     *
     * @param nParameters       {@code <band>_n_parameters}: the number of coefficients
     * @param coefficients      {@code <band>_coefficients}, {@code nParameters} values
     * @param coefficientErrors {@code <band>_coefficient_errors}, {@code nParameters} values, not negative
     * @param correlations      {@code <band>_coefficient_correlations}: the lower triangle of the
     *                          correlation matrix in row-major order, n(n-1)/2 values without the
     *                          diagonal (the archive's layout) or n(n+1)/2 with it (as GaiaXPy
     *                          accepts both: {@code array_to_symmetric_matrix})
     * @param standardDeviation {@code <band>_standard_deviation}, finite and positive
     * @throws IllegalArgumentException naming the column and the problem
     */
    public static BandSolution of(Band band, int nParameters, double[] coefficients, double[] coefficientErrors,
                                  double[] correlations, double standardDeviation) {
        int n = nParameters;
        if (n < 1) {
            throw new IllegalArgumentException(band.column("n_parameters") + " = " + n + " is not positive");
        }
        checkLength(band, "coefficients", coefficients, n);
        checkLength(band, "coefficient_errors", coefficientErrors, n);
        checkFinite(band, "coefficients", coefficients);
        checkFinite(band, "coefficient_errors", coefficientErrors);
        for (int i = 0; i < n; i++) {
            if (coefficientErrors[i] < 0) {
                throw new IllegalArgumentException(band.column("coefficient_errors") + "[" + i + "] = "
                        + coefficientErrors[i] + " is negative");
            }
        }
        if (correlations == null) {
            throw new IllegalArgumentException(band.column("coefficient_correlations") + " is missing");
        }
        checkFinite(band, "coefficient_correlations", correlations);
        int without = n * (n - 1) / 2;
        int with = n * (n + 1) / 2;
        boolean diagonal;
        if (correlations.length == without) {
            diagonal = false;
        } else if (correlations.length == with) {
            diagonal = true;
        } else {
            throw new IllegalArgumentException(band.column("coefficient_correlations") + " has "
                    + correlations.length + " values, expected " + without + " (the lower triangle of a " + n + " x "
                    + n + " matrix, " + band.column("n_parameters") + " = " + n + ")");
        }
        if (!Double.isFinite(standardDeviation) || !(standardDeviation > 0)) {
            throw new IllegalArgumentException(band.column("standard_deviation") + " = " + standardDeviation
                    + " is not finite and positive");
        }
        double[][] corr = new double[n][n];
        int k = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < (diagonal ? i + 1 : i); j++) {
                corr[i][j] = correlations[k];
                corr[j][i] = correlations[k];
                k++;
            }
            if (!diagonal) {
                corr[i][i] = 1.0;
            }
        }
        return new BandSolution(band, coefficients.clone(), coefficientErrors.clone(), corr, standardDeviation);
    }

    private static void checkLength(Band band, String column, double[] values, int n) {
        if (values == null) {
            throw new IllegalArgumentException(band.column(column) + " is missing");
        }
        if (values.length != n) {
            throw new IllegalArgumentException(band.column(column) + " has " + values.length + " values, "
                    + band.column("n_parameters") + " is " + n);
        }
    }

    private static void checkFinite(Band band, String column, double[] values) {
        for (int i = 0; i < values.length; i++) {
            if (!Double.isFinite(values[i])) {
                throw new IllegalArgumentException(band.column(column) + "[" + i + "] = " + values[i]
                        + " is not finite");
            }
        }
    }

    /** The band. */
    public Band band() {
        return band;
    }

    /** Number of coefficients. */
    public int size() {
        return coefficients.length;
    }

    /** The coefficients (a copy). */
    public double[] coefficients() {
        return coefficients.clone();
    }

    /** The coefficients' formal errors (a copy). */
    public double[] coefficientErrors() {
        return coefficientErrors.clone();
    }

    /** The correlation between coefficients i and j (1 on the diagonal unless the file gave it). */
    public double correlation(int i, int j) {
        return correlation[i][j];
    }

    /** The standard deviation of the least-squares solution. */
    public double standardDeviation() {
        return standardDeviation;
    }

    /** Coefficient {@code i} (no copy, for the calibration's inner loops). */
    double coefficient(int i) {
        return coefficients[i];
    }

    /**
     * The coefficients' covariance scaled as GaiaXPy scales it
     * ({@code gaiaxpy.spectrum.utils._correlation_to_covariance_dr3int5}):
     * diag(e/sigma) R diag(e/sigma), with e the formal errors and sigma the standard deviation; the
     * sampled flux error is then sqrt(diag(D^T C D)) sigma.
     */
    double[][] scaledCovariance() {
        int n = coefficients.length;
        double[] s = new double[n];
        for (int i = 0; i < n; i++) {
            s[i] = coefficientErrors[i] / standardDeviation;
        }
        double[][] c = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                c[i][j] = s[i] * correlation[i][j] * s[j];
            }
        }
        return c;
    }
}
