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
}
