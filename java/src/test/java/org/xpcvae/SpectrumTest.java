package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.function.Consumer;

import org.junit.Test;

public class SpectrumTest {
    private static final int N = ModelBundle.SPECTRUM_LENGTH;

    private static void assertRejected(String expectedPart, Consumer<float[][]> corrupt) {
        Spectrum good = TestSupport.spectrum("src-77", 1);
        float[][] fe = {good.flux(), good.fluxError()};
        corrupt.accept(fe);
        Spectrum bad = new Spectrum("src-77", fe[0], fe[1]);
        try {
            bad.validate(N);
            fail("expected InvalidSpectrumException containing '" + expectedPart + "'");
        } catch (InvalidSpectrumException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("source src-77: "));
            assertTrue(e.getMessage(), e.getMessage().contains(expectedPart));
            assertEquals("src-77", e.getSourceId());
        }
    }

    @Test
    public void validSpectrumPasses() {
        Spectrum s = TestSupport.spectrum("ok", 3);
        assertTrue(s == s.validate(N));
    }

    @Test
    public void wrongLength() {
        assertRejected("flux has 342 values, expected 343",
                fe -> fe[0] = java.util.Arrays.copyOf(fe[0], N - 1));
        assertRejected("flux_error has 344 values, expected 343",
                fe -> fe[1] = java.util.Arrays.copyOf(fe[1], N + 1));
    }

    @Test
    public void nonFiniteFlux() {
        assertRejected("flux[5] = NaN is not finite", fe -> fe[0][5] = Float.NaN);
        assertRejected("flux[0] = Infinity is not finite", fe -> fe[0][0] = Float.POSITIVE_INFINITY);
        assertRejected("flux[342] = -Infinity is not finite", fe -> fe[0][342] = Float.NEGATIVE_INFINITY);
    }

    @Test
    public void nonFiniteError() {
        assertRejected("flux_error[9] = NaN is not finite", fe -> fe[1][9] = Float.NaN);
        assertRejected("flux_error[10] = Infinity is not finite", fe -> fe[1][10] = Float.POSITIVE_INFINITY);
    }

    @Test
    public void nonPositiveError() {
        assertRejected("flux_error[17] = -1.0 is not positive", fe -> fe[1][17] = -1.0f);
        assertRejected("flux_error[3] = 0.0 is not positive", fe -> fe[1][3] = 0.0f);
    }

    @Test
    public void nonPositiveMeanFlux() {
        assertRejected("all-zero spectrum", fe -> java.util.Arrays.fill(fe[0], 0.0f));
        assertRejected("is not positive", fe -> {
            for (int i = 0; i < N; i++) {
                fe[0][i] = -Math.abs(fe[0][i]);
            }
        });
    }

    @Test
    public void arraysAreCopied() {
        float[] flux = TestSupport.spectrum("x", 0).flux();
        float[] err = TestSupport.spectrum("x", 0).fluxError();
        Spectrum s = new Spectrum("x", flux, err);
        flux[0] = Float.NaN;
        s.flux()[1] = Float.NaN;
        s.validate(N);
    }
}
