/*
 * The algorithms and constants below are those of fdlibm 5.3 (e_log.c, s_cos.c, k_cos.c,
 * k_sin.c, e_rem_pio2.c), translated to Java:
 *
 * ====================================================
 * Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
 *
 * Developed at SunSoft, a Sun Microsystems, Inc. business.
 * Permission to use, copy, modify, and distribute this
 * software is freely granted, provided that this notice
 * is preserved.
 * ====================================================
 */
package org.xpcvae;

/**
 * {@link StrictMath#log} and {@link StrictMath#cos} in pure Java, returning the values
 * {@code StrictMath} returns, bit for bit ({@code StrictMath} defines its results as those of
 * fdlibm, whose algorithms these are; NaN payloads aside). On JDK 11-17 both are native calls;
 * compiled inline, these take about 30 % less time for the random numbers' arguments (log of
 * a uniform in (0, 1): 6.8 against 9.9 ns; cos of 2 pi u: 13 against 18.5 ns on the benchmark
 * machine), and the normal deviates are most of the cost of a posterior draw.
 *
 * <p>{@link #cos} handles |x| &lt;= 2^19 pi/2 itself and hands larger arguments to
 * {@code StrictMath.cos}. Equality with {@code StrictMath} is tested on millions of arguments in
 * {@code FdlibmTest}. Since {@code splitmix64-counter-v2} (one uniform per normal deviate, through
 * AS241) {@link CounterRng} uses only {@link #log}, for the tails; {@link #cos} served the
 * Box-Muller deviates of v1 and has no caller now.
 */
final class Fdlibm {
    private Fdlibm() {
    }

    private static int hi(double x) {
        return (int) (Double.doubleToRawLongBits(x) >>> 32);
    }

    private static int lo(double x) {
        return (int) Double.doubleToRawLongBits(x);
    }

    private static double withHi(double x, int high) {
        return Double.longBitsToDouble(((long) high << 32) | (Double.doubleToRawLongBits(x) & 0xFFFFFFFFL));
    }

    // ---- log (e_log.c) --------------------------------------------------------------------

    private static final double LN2_HI = 6.93147180369123816490e-01; /* 3fe62e42 fee00000 */
    private static final double LN2_LO = 1.90821492927058770002e-10; /* 3dea39ef 35793c76 */
    private static final double TWO54 = 1.80143985094819840000e+16; /* 43500000 00000000 */
    private static final double LG1 = 6.666666666666735130e-01; /* 3FE55555 55555593 */
    private static final double LG2 = 3.999999999940941908e-01; /* 3FD99999 9997FA04 */
    private static final double LG3 = 2.857142874366239149e-01; /* 3FD24924 94229359 */
    private static final double LG4 = 2.222219843214978396e-01; /* 3FCC71C5 1D8E78AF */
    private static final double LG5 = 1.818357216161805012e-01; /* 3FC74664 96CB03DE */
    private static final double LG6 = 1.531383769920937332e-01; /* 3FC39A09 D078C69F */
    private static final double LG7 = 1.479819860511658591e-01; /* 3FC2F112 DF3E5244 */

    /** The natural logarithm, identical to {@link StrictMath#log(double)}. */
    static double log(double x) {
        int hx = hi(x);
        int lx = lo(x);
        int k = 0;
        if (hx < 0x00100000) { // x < 2^-1022
            if (((hx & 0x7fffffff) | lx) == 0) {
                return Double.NEGATIVE_INFINITY; // log(+-0) = -inf
            }
            if (hx < 0) {
                return (x - x) / 0.0; // log(-#) = NaN
            }
            k -= 54;
            x *= TWO54; // subnormal: scale up
            hx = hi(x);
        }
        if (hx >= 0x7ff00000) {
            return x + x;
        }
        k += (hx >> 20) - 1023;
        hx &= 0x000fffff;
        int i = (hx + 0x95f64) & 0x100000;
        x = withHi(x, hx | (i ^ 0x3ff00000)); // normalise x or x/2
        k += i >> 20;
        double f = x - 1.0;
        double dk;
        if ((0x000fffff & (2 + hx)) < 3) { // |f| < 2^-20
            if (f == 0.0) {
                if (k == 0) {
                    return 0.0;
                }
                dk = k;
                return dk * LN2_HI + dk * LN2_LO;
            }
            double r = f * f * (0.5 - 0.33333333333333333 * f);
            if (k == 0) {
                return f - r;
            }
            dk = k;
            return dk * LN2_HI - ((r - dk * LN2_LO) - f);
        }
        double s = f / (2.0 + f);
        dk = k;
        double z = s * s;
        i = hx - 0x6147a;
        double w = z * z;
        int j = 0x6b851 - hx;
        double t1 = w * (LG2 + w * (LG4 + w * LG6));
        double t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
        i |= j;
        double r = t2 + t1;
        if (i > 0) {
            double hfsq = 0.5 * f * f;
            if (k == 0) {
                return f - (hfsq - s * (hfsq + r));
            }
            return dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);
        }
        if (k == 0) {
            return f - s * (f - r);
        }
        return dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f);
    }

    // ---- cos (s_cos.c, k_cos.c, k_sin.c, e_rem_pio2.c without the large-argument path) -----

    private static final double C1 = 4.16666666666666019037e-02; /* 0x3FA55555, 0x5555554C */
    private static final double C2 = -1.38888888888741095749e-03; /* 0xBF56C16C, 0x16C15177 */
    private static final double C3 = 2.48015872894767294178e-05; /* 0x3EFA01A0, 0x19CB1590 */
    private static final double C4 = -2.75573143513906633035e-07; /* 0xBE927E4F, 0x809C52AD */
    private static final double C5 = 2.08757232129817482790e-09; /* 0x3E21EE9E, 0xBDB4B1C4 */
    private static final double C6 = -1.13596475577881948265e-11; /* 0xBDA8FAE9, 0xBE8838D4 */

    private static final double S1 = -1.66666666666666324348e-01; /* 0xBFC55555, 0x55555549 */
    private static final double S2 = 8.33333333332248946124e-03; /* 0x3F811111, 0x1110F8A6 */
    private static final double S3 = -1.98412698298579493134e-04; /* 0xBF2A01A0, 0x19C161D5 */
    private static final double S4 = 2.75573137070700676789e-06; /* 0x3EC71DE3, 0x57B1FE7D */
    private static final double S5 = -2.50507602534068634195e-08; /* 0xBE5AE5E6, 0x8A2B9CEB */
    private static final double S6 = 1.58969099521155010221e-10; /* 0x3DE5D93A, 0x5ACFD57C */

    private static final double INVPIO2 = 6.36619772367581382433e-01; /* 0x3FE45F30, 0x6DC9C883 */
    private static final double PIO2_1 = 1.57079632673412561417e+00; /* 0x3FF921FB, 0x54400000 */
    private static final double PIO2_1T = 6.07710050650619224932e-11; /* 0x3DD0B461, 0x1A626331 */
    private static final double PIO2_2 = 6.07710050630396597660e-11; /* 0x3DD0B461, 0x1A600000 */
    private static final double PIO2_2T = 2.02226624879595063154e-21; /* 0x3BA3198A, 0x2E037073 */
    private static final double PIO2_3 = 2.02226624871116645580e-21; /* 0x3BA3198A, 0x2E000000 */
    private static final double PIO2_3T = 8.47842766036889956997e-32; /* 0x397B839A, 0x252049C1 */

    /** High words of n pi/2 for n = 1..32 (quick check for cancellation in the reduction). */
    private static final int[] NPIO2_HW = {
        0x3FF921FB, 0x400921FB, 0x4012D97C, 0x401921FB, 0x401F6A7A, 0x4022D97C,
        0x4025FDBB, 0x402921FB, 0x402C463A, 0x402F6A7A, 0x4031475C, 0x4032D97C,
        0x40346B9C, 0x4035FDBB, 0x40378FDB, 0x403921FB, 0x403AB41B, 0x403C463A,
        0x403DD85A, 0x403F6A7A, 0x40407E4C, 0x4041475C, 0x4042106C, 0x4042D97C,
        0x4043A28C, 0x40446B9C, 0x404534AC, 0x4045FDBB, 0x4046C6CB, 0x40478FDB,
        0x404858EB, 0x404921FB,
    };

    private static double kernelCos(double x, double y) {
        int ix = hi(x) & 0x7fffffff;
        if (ix < 0x3e400000) { // |x| < 2^-27
            if (((int) x) == 0) {
                return 1.0;
            }
        }
        double z = x * x;
        double r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
        if (ix < 0x3FD33333) { // |x| < 0.3
            return 1.0 - (0.5 * z - (z * r - x * y));
        }
        double qx;
        if (ix > 0x3fe90000) { // |x| > 0.78125
            qx = 0.28125;
        } else {
            qx = Double.longBitsToDouble((long) (ix - 0x00200000) << 32); // |x|/4
        }
        double hz = 0.5 * z - qx;
        double a = 1.0 - qx;
        return a - (hz - (z * r - x * y));
    }

    private static double kernelSin(double x, double y) { // iy = 1
        int ix = hi(x) & 0x7fffffff;
        if (ix < 0x3e400000) { // |x| < 2^-27
            if ((int) x == 0) {
                return x;
            }
        }
        double z = x * x;
        double v = z * x;
        double r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
        return x - ((z * (0.5 * y - v * r) - y) - v * S1);
    }

    /** The cosine, identical to {@link StrictMath#cos(double)}. */
    static double cos(double x) {
        int hx = hi(x);
        int ix = hx & 0x7fffffff;
        if (ix <= 0x3fe921fb) { // |x| <= pi/4
            return kernelCos(x, 0.0);
        }
        if (ix >= 0x7ff00000) { // inf or NaN
            return x - x;
        }
        if (ix > 0x413921fb) { // |x| > 2^19 pi/2: the large-argument reduction
            return StrictMath.cos(x);
        }
        // __ieee754_rem_pio2 for |x| <= 2^19 pi/2: x - n pi/2 = y0 + y1
        int n;
        double y0;
        double y1;
        if (ix < 0x4002d97c) { // |x| < 3pi/4: n = +-1
            if (hx > 0) {
                double z = x - PIO2_1;
                if (ix != 0x3ff921fb) {
                    y0 = z - PIO2_1T;
                    y1 = (z - y0) - PIO2_1T;
                } else { // near pi/2
                    z -= PIO2_2;
                    y0 = z - PIO2_2T;
                    y1 = (z - y0) - PIO2_2T;
                }
                n = 1;
            } else {
                double z = x + PIO2_1;
                if (ix != 0x3ff921fb) {
                    y0 = z + PIO2_1T;
                    y1 = (z - y0) + PIO2_1T;
                } else {
                    z += PIO2_2;
                    y0 = z + PIO2_2T;
                    y1 = (z - y0) + PIO2_2T;
                }
                n = -1;
            }
        } else {
            double t = Math.abs(x);
            n = (int) (t * INVPIO2 + 0.5);
            double fn = n;
            double r = t - fn * PIO2_1;
            double w = fn * PIO2_1T; // first round, good to 85 bits
            if (n < 32 && ix != NPIO2_HW[n - 1]) {
                y0 = r - w;
            } else {
                int j = ix >> 20;
                y0 = r - w;
                int i = j - ((hi(y0) >> 20) & 0x7ff);
                if (i > 16) { // second iteration, good to 118 bits
                    t = r;
                    w = fn * PIO2_2;
                    r = t - w;
                    w = fn * PIO2_2T - ((t - r) - w);
                    y0 = r - w;
                    i = j - ((hi(y0) >> 20) & 0x7ff);
                    if (i > 49) { // third iteration, 151 bits
                        t = r;
                        w = fn * PIO2_3;
                        r = t - w;
                        w = fn * PIO2_3T - ((t - r) - w);
                        y0 = r - w;
                    }
                }
            }
            y1 = (r - y0) - w;
            if (hx < 0) {
                y0 = -y0;
                y1 = -y1;
                n = -n;
            }
        }
        switch (n & 3) {
            case 0:
                return kernelCos(y0, y1);
            case 1:
                return -kernelSin(y0, y1);
            case 2:
                return -kernelCos(y0, y1);
            default:
                return kernelSin(y0, y1);
        }
    }
}
