package org.xpcvae;

import static org.junit.Assert.assertEquals;

import java.util.SplittableRandom;

import org.junit.Test;

/** {@link Fdlibm} returns exactly what {@link StrictMath} returns. */
public class FdlibmTest {
    private static void same(String what, double x, double expected, double actual) {
        if (Double.isNaN(expected)) {
            assertEquals(what + "(" + x + ")", true, Double.isNaN(actual));
        } else {
            assertEquals(what + "(" + x + ")", Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(actual));
        }
    }

    @Test
    public void logEqualsStrictMathOnTheRandomNumbersArguments() {
        long key = CounterRng.streamKey(2024, 17);
        for (long c = 0; c < 3_000_000; c++) {
            double u = CounterRng.uniform(key, c);
            same("log", u, StrictMath.log(u), Fdlibm.log(u));
        }
    }

    @Test
    public void logEqualsStrictMathEverywhere() {
        SplittableRandom r = new SplittableRandom(11);
        for (int i = 0; i < 3_000_000; i++) {
            double x;
            switch (i % 5) {
                case 0: x = Double.longBitsToDouble(r.nextLong()); break; // any double, incl. subnormals, NaN, inf
                case 1: x = (r.nextDouble() - 0.5) * 2e6; break;
                case 2: x = (r.nextDouble() - 0.5) * 20; break;
                case 3: x = r.nextDouble() * 1e-300; break;
                default: x = Math.scalb(1.0 + r.nextDouble(), r.nextInt(-60, 60)); break;
            }
            same("log", x, StrictMath.log(x), Fdlibm.log(x));
        }
        double[] special = {0.0, -0.0, 1.0, -1.0, Double.MIN_VALUE, Double.MIN_NORMAL, Double.MAX_VALUE,
            Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Math.PI / 4, Math.PI / 2, 3 * Math.PI / 4,
            Math.PI, 2 * Math.PI, 0x1.921fb54442d18p0, 0x1.921fb54442d18p19, 0x1.921fb54442d18p20, 1e-9, 0.3, 0.78125,
            Math.nextUp(1.0), Math.nextDown(1.0), Math.E};
        for (double x : special) {
            for (double y : new double[]{x, -x, Math.nextUp(x), Math.nextDown(x)}) {
                same("log", y, StrictMath.log(y), Fdlibm.log(y));
            }
        }
    }

    /** expInPlace on {@code xs} against StrictMath.exp of each element. */
    private static void expSame(double[] xs) {
        double[] a = xs.clone();
        Fdlibm.expInPlace(a, a.length);
        for (int i = 0; i < xs.length; i++) {
            same("exp", xs[i], StrictMath.exp(xs[i]), a[i]);
        }
    }

    @Test
    public void expInPlaceEqualsStrictMathEverywhere() {
        SplittableRandom r = new SplittableRandom(12);
        java.util.Random g = new java.util.Random(12);
        double[] xs = new double[4096];
        for (int block = 0; block < 1000; block++) {
            for (int i = 0; i < xs.length; i++) {
                switch (i % 6) {
                    case 0: xs[i] = Double.longBitsToDouble(r.nextLong()); break; // any double
                    case 1: xs[i] = (r.nextDouble() - 0.5) * 1500; break; // past both thresholds
                    case 2: xs[i] = (r.nextDouble() - 0.5) * 4; break; // e_exp.c's k = 0 and +-1 ranges
                    case 3: xs[i] = (double) (float) (g.nextGaussian() * 3); break; // float32 decoder outputs
                    case 4: xs[i] = Math.scalb(r.nextDouble() - 0.5, r.nextInt(-1080, 12)); break; // all scales
                    default: xs[i] = g.nextGaussian() * 20; break;
                }
            }
            expSame(xs);
        }
        // around every high word where e_exp.c or expInPlace changes path, both signs, any low word
        int[] edges = {0x3e300000, 0x3fd62e42, 0x3FF0A2B2, 0x40862000, 0x40862E42, 0x7ff00000};
        for (int edge : edges) {
            for (int hw = edge - 2; hw <= edge + 2; hw++) {
                for (int i = 0; i < xs.length; i++) {
                    long low = i < 4 ? new long[]{0L, 1L, 0xFFFFFFFEL, 0xFFFFFFFFL}[i] : r.nextLong() & 0xFFFFFFFFL;
                    long sign = (i & 1) == 0 ? 0L : 0x8000000000000000L;
                    xs[i] = Double.longBitsToDouble(sign | ((long) hw << 32) | low);
                }
                expSame(xs);
            }
        }
        expSame(new double[]{0.0, -0.0, 1.0, -1.0, Double.MIN_VALUE, -Double.MIN_VALUE, Double.MIN_NORMAL,
            Double.MAX_VALUE, -Double.MAX_VALUE, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
            0.5 * Math.log(2), 1.5 * Math.log(2), Math.log(2), -Math.log(2), 708.0, -708.0, Math.nextDown(708.0),
            Math.nextUp(-708.0), 709.782712893384, -745.1332191019411, 0x1.0p-28, -0x1.0p-28});
    }
}
