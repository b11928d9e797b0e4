package org.xpcvae.gaiaxp;

import java.util.Arrays;

/**
 * The cubic spline through tabulated points with not-a-knot end conditions: what GaiaXPy
 * evaluates as {@code scipy.interpolate.splev(x, splrep(xs, ys, s=0))} for the dispersion
 * function and the instrument response. With {@code s=0} FITPACK interpolates with knots at the
 * data points except the second and the second-to-last, which is the not-a-knot interpolant; it is
 * unique, so this piecewise-cubic form (second derivatives from a tridiagonal system) gives the
 * same function up to rounding. Outside the data the end pieces are extended, as {@code splev}'s
 * default {@code ext=0} does. Immutable.
 */
final class NotAKnotSpline {
    private final double[] x;
    private final double[] y;
    /** Second derivatives at the points. */
    private final double[] m;

    /**
     * @param xs strictly increasing abscissae (at least 4)
     * @param ys ordinates, as many as {@code xs}
     */
    NotAKnotSpline(double[] xs, double[] ys) {
        int n = xs.length;
        if (ys.length != n) {
            throw new IllegalArgumentException("spline: " + n + " abscissae and " + ys.length + " ordinates");
        }
        if (n < 4) {
            throw new IllegalArgumentException("spline: a not-a-knot cubic needs at least 4 points, got " + n);
        }
        for (int i = 0; i < n; i++) {
            if (!Double.isFinite(xs[i]) || !Double.isFinite(ys[i]) || (i > 0 && !(xs[i] > xs[i - 1]))) {
                throw new IllegalArgumentException("spline: point " + i + " (" + xs[i] + ", " + ys[i]
                        + ") is not finite or not after the previous one");
            }
        }
        x = xs.clone();
        y = ys.clone();
        m = secondDerivatives(x, y);
    }

    /**
     * Solves for the second derivatives: continuity of the first derivative at the interior points
     * and of the third derivative at the second and second-to-last points (not-a-knot). The two
     * not-a-knot rows are eliminated into the first and last continuity rows, leaving a
     * tridiagonal system in M_1..M_{n-2} (diagonally dominant for the tabulations used here).
     */
    private static double[] secondDerivatives(double[] x, double[] y) {
        int n = x.length;
        double[] h = new double[n - 1];
        double[] slope = new double[n - 1];
        for (int i = 0; i < n - 1; i++) {
            h[i] = x[i + 1] - x[i];
            slope[i] = (y[i + 1] - y[i]) / h[i];
        }
        int k = n - 2; // unknowns M_1 .. M_{n-2}
        double[] sub = new double[k];
        double[] diag = new double[k];
        double[] sup = new double[k];
        double[] rhs = new double[k];
        for (int r = 0; r < k; r++) {
            int i = r + 1;
            sub[r] = h[i - 1];
            diag[r] = 2.0 * (h[i - 1] + h[i]);
            sup[r] = h[i];
            rhs[r] = 6.0 * (slope[i] - slope[i - 1]);
        }
        // M_0 = ((h0 + h1) M_1 - h0 M_2) / h1, substituted into the row of M_1
        double h0 = h[0];
        double h1 = h[1];
        diag[0] += h0 * (h0 + h1) / h1;
        sup[0] -= h0 * h0 / h1;
        // M_{n-1} = ((a + b) M_{n-2} - b M_{n-3}) / a with a = h_{n-3}, b = h_{n-2}
        double a = h[n - 3];
        double b = h[n - 2];
        diag[k - 1] += b * (a + b) / a;
        sub[k - 1] -= b * b / a;
        // Thomas algorithm
        for (int r = 1; r < k; r++) {
            double w = sub[r] / diag[r - 1];
            diag[r] -= w * sup[r - 1];
            rhs[r] -= w * rhs[r - 1];
        }
        double[] m = new double[n];
        m[k] = rhs[k - 1] / diag[k - 1];
        for (int r = k - 2; r >= 0; r--) {
            m[r + 1] = (rhs[r] - sup[r] * m[r + 2]) / diag[r];
        }
        m[0] = ((h0 + h1) * m[1] - h0 * m[2]) / h1;
        m[n - 1] = ((a + b) * m[n - 2] - b * m[n - 3]) / a;
        return m;
    }

    /** The spline's value at {@code t} (the end pieces extended beyond the data). */
    double value(double t) {
        int n = x.length;
        int i = Arrays.binarySearch(x, t);
        if (i < 0) {
            i = -i - 2; // the interval [x_i, x_{i+1}] holding t
        }
        i = Math.max(0, Math.min(n - 2, i));
        double h = x[i + 1] - x[i];
        double left = x[i + 1] - t;
        double right = t - x[i];
        return (m[i] * left * left * left + m[i + 1] * right * right * right) / (6.0 * h)
                + (y[i] / h - m[i] * h / 6.0) * left
                + (y[i + 1] / h - m[i + 1] * h / 6.0) * right;
    }
}
