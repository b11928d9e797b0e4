package org.xpcvae.gaiaxp;

/**
 * The normalised Hermite functions psi_n(x) = (2^n n! sqrt(pi))^(-1/2) H_n(x) exp(-x^2/2) on which
 * Gaia's XP basis functions are built, evaluated with GaiaXPy's recurrence
 * ({@code gaiaxpy.spectrum.sampled_basis_functions._hermite_function}) in the same order of
 * operations: psi_0 = pi^(-1/4) exp(-x^2/2), psi_1 = psi_0 sqrt(2) x,
 * psi_n = sqrt(2/n) x psi_{n-1} - sqrt((n-1)/n) psi_{n-2}.
 */
final class HermiteFunctions {
    private HermiteFunctions() {
    }

    /** pi^(-1/4), GaiaXPy's {@code sqrt_4_pi}. */
    private static final double PI_POW_MINUS_QUARTER = Math.pow(Math.PI, -0.25);

    /** psi_0(x), ..., psi_{count-1}(x) into {@code out[0..count)}. */
    static void evaluate(double x, int count, double[] out) {
        if (count <= 0) {
            return;
        }
        double gauss = PI_POW_MINUS_QUARTER * Math.exp(-(x * x) / 2.0);
        out[0] = gauss;
        if (count == 1) {
            return;
        }
        out[1] = gauss * Math.sqrt(2.0) * x;
        for (int n = 2; n < count; n++) {
            double c1 = Math.sqrt(2.0 / n) * x;
            double c2 = -Math.sqrt((n - 1.0) / n);
            out[n] = c1 * out[n - 1] + c2 * out[n - 2];
        }
    }
}
