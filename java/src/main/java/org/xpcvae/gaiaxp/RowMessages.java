package org.xpcvae.gaiaxp;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The error-row messages the archive readers share with the Python reader
 * ({@code xpcvae.xpdata}), worded the same so that both engines report a bad source alike.
 */
final class RowMessages {
    private RowMessages() {
    }

    /** A source lacking one or both bands: the model needs the whole grid. */
    static String missingBands(String sourceId, List<Band> missing, double[] grid) {
        List<String> names = new ArrayList<>();
        for (Band b : missing) {
            names.add(b.name());
        }
        return "source " + sourceId + ": XP continuous spectrum has no " + String.join(" and no ", names)
                + " coefficients (" + String.join(" and ", names) + " missing); the model needs the whole "
                + g(grid[0]) + "-" + g(grid[grid.length - 1]) + " nm range";
    }

    /**
     * Null if every sample of {@code flux} and {@code error} is finite, else how many are not and
     * where, with a hint at the band that is likely missing.
     */
    static String nonFinite(String sourceId, double[] flux, double[] error, double[] grid) {
        int bad = 0;
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < grid.length; k++) {
            if (!(Double.isFinite(flux[k]) && Double.isFinite(error[k]))) {
                bad++;
                lo = Math.min(lo, grid[k]);
                hi = Math.max(hi, grid[k]);
            }
        }
        if (bad == 0) {
            return null;
        }
        String band = hi < 700 ? " (BP missing?)" : lo > 600 ? " (RP missing?)" : "";
        return "source " + sourceId + ": " + bad + " samples between " + g(lo) + " and " + g(hi)
                + " nm are not finite" + band;
    }

    /** Null if every calibrated flux error is positive, else where the first one is not. */
    static String nonPositiveError(String sourceId, double[] error, double[] grid) {
        for (int k = 0; k < error.length; k++) {
            if (!(error[k] > 0)) {
                return "source " + sourceId + ": calibrated flux_error at " + g(grid[k]) + " nm is " + g(error[k])
                        + ", not positive";
            }
        }
        return null;
    }

    /** {@code v} as Python's {@code format(v, "g")}: 6 significant digits, no trailing zeros. */
    static String g(double v) {
        if (Double.isNaN(v)) {
            return "nan";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "inf" : "-inf";
        }
        if (v == 0) {
            return (1 / v < 0) ? "-0" : "0";
        }
        BigDecimal d = new BigDecimal(v).round(new MathContext(6));
        int exponent = d.precision() - d.scale() - 1;
        if (exponent < -4 || exponent >= 6) {
            BigDecimal mantissa = d.movePointLeft(exponent).stripTrailingZeros();
            return mantissa.toPlainString() + "e" + (exponent < 0 ? "-" : "+")
                    + String.format(Locale.ROOT, "%02d", Math.abs(exponent));
        }
        return d.stripTrailingZeros().toPlainString();
    }
}
