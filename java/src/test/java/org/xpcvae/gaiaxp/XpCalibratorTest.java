package org.xpcvae.gaiaxp;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.Test;

/**
 * The Java port of GaiaXPy's calibrate against GaiaXPy itself (the committed reference), and the
 * pieces of the port.
 */
public class XpCalibratorTest {
    /** The agreement the port must reach with GaiaXPy, relative, in flux and flux error. */
    static final double TOLERANCE = 1e-9;

    @Test
    public void everyContinuousExampleAgreesWithGaiaXPy() throws IOException {
        XpCalibrator calibrator = XpCalibrator.onDefaultSampling();
        double worstFlux = 0;
        double worstError = 0;
        for (String name : ArchiveFiles.CONTINUOUS) {
            Map<String, double[][]> reference = ArchiveFiles.reference(name);
            List<String> seen = new ArrayList<>();
            try (XpContinuousReader r = SpectrumSources.openContinuous(ArchiveFiles.file(name))) {
                for (XpContinuousRecord rec = r.next(); rec != null; rec = r.next()) {
                    seen.add(rec.sourceId());
                    double[][] want = reference.get(rec.sourceId());
                    assertNotNull(name + ": GaiaXPy has no row for " + rec.sourceId(), want);
                    if (!rec.ok()) {
                        // GaiaXPy leaves the missing band's wavelengths NaN; the reader names the band
                        assertEquals(name + " " + rec.sourceId(), List.of(Band.BP), rec.missingBands());
                        assertTrue(Double.isNaN(want[0][0]) && Double.isNaN(want[1][0]));
                        assertFalse(Double.isNaN(want[0][342]));
                        continue;
                    }
                    CalibratedSpectrum got = calibrator.calibrate(rec);
                    double f = ArchiveFiles.maxRelative(got.flux(), want[0]);
                    double e = ArchiveFiles.maxRelative(got.fluxError(), want[1]);
                    assertTrue(name + " " + rec.sourceId() + ": flux differs by " + f, f <= TOLERANCE);
                    assertTrue(name + " " + rec.sourceId() + ": flux_error differs by " + e, e <= TOLERANCE);
                    worstFlux = Math.max(worstFlux, f);
                    worstError = Math.max(worstError, e);
                }
            }
            assertEquals(name, new ArrayList<>(reference.keySet()), seen);
        }
        System.out.println("GaiaXPy calibrate vs Java port, max relative difference: flux " + worstFlux
                + ", flux_error " + worstError);
    }

    @Test
    public void mergeWeightsAreGaiaXPysLinearRampOverTheOverlap() {
        double[] wl = {336, 634, 635, 637, 639, 641, 643, 644, 1020};
        double[] bp = XpCalibrator.mergeWeights(Band.BP, wl);
        double[] rp = XpCalibrator.mergeWeights(Band.RP, wl);
        assertArrayEquals(new double[]{1, 1, 1, 0.75, 0.5, 0.25, 0, 0, 0}, bp, 0);
        assertArrayEquals(new double[]{0, 0, 0, 0.25, 0.5, 0.75, 1, 1, 1}, rp, 0);
    }

    @Test
    public void defaultSamplingIsTheModelsGrid() {
        double[] w = XpCalibrator.onDefaultSampling().samplingNm();
        assertEquals(343, w.length);
        assertEquals(336.0, w[0], 0);
        assertEquals(1020.0, w[342], 0);
        assertEquals(55, XpCalibrator.onDefaultSampling().basisCount(Band.BP));
        assertEquals(55, XpCalibrator.onDefaultSampling().basisCount(Band.RP));
    }

    @Test
    public void calibratingOnASubsetOfTheGridGivesTheSameSamples() throws IOException {
        // each sample depends on its wavelength only: another sampling must not change it
        double[] some = {336, 400, 636, 640, 642, 700, 1020};
        XpCalibrator sub = XpCalibrator.onSampling(some);
        XpContinuousRecord rec;
        try (XpContinuousReader r = SpectrumSources.openContinuous(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_CSV))) {
            rec = r.next();
        }
        CalibratedSpectrum all = XpCalibrator.onDefaultSampling().calibrate(rec);
        CalibratedSpectrum part = sub.calibrate(rec);
        for (int k = 0; k < some.length; k++) {
            int i = (int) ((some[k] - 336) / 2);
            assertEquals(all.flux()[i], part.flux()[k], 1e-12 * Math.abs(all.flux()[i]));
            assertEquals(all.fluxError()[i], part.fluxError()[k], 1e-12 * all.fluxError()[i]);
        }
    }

    @Test
    public void samplingOutsideGaiaXPysRangeOrNotIncreasingIsRefused() {
        for (double[] bad : new double[][]{{329, 400}, {400, 1051}, {400, 400}, {500, 400}, {400, Double.NaN}, {}}) {
            try {
                XpCalibrator.onSampling(bad);
                fail("accepted " + java.util.Arrays.toString(bad));
            } catch (IllegalArgumentException e) {
                assertTrue(e.getMessage(), e.getMessage().contains("sampling"));
            }
        }
    }

    @Test
    public void aBandWithAnotherNumberOfCoefficientsThanTheModelIsRefusedNamingTheSource() {
        BandSolution bp = band(Band.BP, 54);
        BandSolution rp = band(Band.RP, 55);
        try {
            XpCalibrator.onDefaultSampling().calibrate(XpContinuousRecord.of("src-7", 0, 0, bp, rp));
            fail("calibrated 54 BP coefficients");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("src-7") && e.getMessage().contains("bp_n_parameters")
                    && e.getMessage().contains("55"));
        }
    }

    @Test
    public void fluxIsLinearInTheCoefficientsAndErrorInTheCoefficientErrors() {
        // independent of GaiaXPy: doubling the coefficients doubles the flux, doubling the formal
        // errors doubles the error, and the standard deviation cancels out of the error
        XpCalibrator c = XpCalibrator.onDefaultSampling();
        CalibratedSpectrum base = c.calibrate(XpContinuousRecord.of("a", 0, 0, band(Band.BP, 55), band(Band.RP, 55)));
        CalibratedSpectrum twice = c.calibrate(XpContinuousRecord.of("b", 0, 0, scaled(Band.BP, 2, 2, 1),
                scaled(Band.RP, 2, 2, 1)));
        CalibratedSpectrum sigma = c.calibrate(XpContinuousRecord.of("c", 0, 0, scaled(Band.BP, 1, 1, 3),
                scaled(Band.RP, 1, 1, 3)));
        for (int k = 0; k < 343; k++) {
            assertEquals(2 * base.flux()[k], twice.flux()[k], 1e-12 * Math.abs(base.flux()[k]));
            assertEquals(2 * base.fluxError()[k], twice.fluxError()[k], 1e-12 * base.fluxError()[k]);
            assertEquals(base.fluxError()[k], sigma.fluxError()[k], 1e-12 * base.fluxError()[k]);
            assertTrue(base.fluxError()[k] > 0);
        }
    }

    private static BandSolution band(Band band, int n) {
        return scaled(band, 1, 1, 1, n);
    }

    private static BandSolution scaled(Band band, double coefficientScale, double errorScale, double sigma) {
        return scaled(band, coefficientScale, errorScale, sigma, 55);
    }

    /** A smooth synthetic solution: decaying coefficients, errors 1 percent, weak correlations. */
    private static BandSolution scaled(Band band, double coefficientScale, double errorScale, double sigma, int n) {
        double[] c = new double[n];
        double[] e = new double[n];
        double[] r = new double[n * (n - 1) / 2];
        for (int i = 0; i < n; i++) {
            c[i] = coefficientScale * 1000.0 * Math.pow(0.8, i) * (i % 2 == 0 ? 1 : -1);
            e[i] = errorScale * (10.0 + i);
        }
        for (int k = 0; k < r.length; k++) {
            r[k] = 0.1 * Math.sin(k);
        }
        return BandSolution.of(band, n, c, e, r, sigma);
    }

    @Test
    public void notAKnotSplineReproducesCubicsAndInterpolates() {
        double[] x = {0, 1, 2.5, 3, 4.5, 6, 7};
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = cubic(x[i]);
        }
        NotAKnotSpline s = new NotAKnotSpline(x, y);
        // a not-a-knot spline through samples of a cubic is that cubic, also beyond the data
        for (double t = -1; t <= 8; t += 0.37) {
            assertEquals(cubic(t), s.value(t), 1e-9 * (1 + Math.abs(cubic(t))));
        }
        double[] wiggly = {1, -2, 0.5, 4, 3, -1, 0};
        NotAKnotSpline w = new NotAKnotSpline(x, wiggly);
        for (int i = 0; i < x.length; i++) {
            assertEquals(wiggly[i], w.value(x[i]), 1e-12);
        }
    }

    private static double cubic(double t) {
        return 2 - 3 * t + 0.5 * t * t - 0.25 * t * t * t;
    }

    @Test
    public void hermiteFunctionsMatchTheirClosedForms() {
        double[] psi = new double[4];
        for (double x = -5; x <= 5; x += 0.5) {
            HermiteFunctions.evaluate(x, 4, psi);
            double g = Math.pow(Math.PI, -0.25) * Math.exp(-x * x / 2);
            assertEquals(g, psi[0], 1e-15);
            assertEquals(g * Math.sqrt(2) * x, psi[1], 1e-15);
            assertEquals(g * (2 * x * x - 1) / Math.sqrt(2), psi[2], 1e-14);
            assertEquals(g * (2 * x * x * x - 3 * x) / Math.sqrt(3), psi[3], 1e-14);
        }
    }

    @Test
    public void bandSolutionRefusesMalformedValuesNamingTheColumn() {
        double[] c = new double[3];
        double[] e = {1, 1, 1};
        double[] r = {0.1, 0.2, 0.3};
        expect(() -> BandSolution.of(Band.RP, 3, new double[2], e, r, 1), "rp_coefficients has 2 values");
        expect(() -> BandSolution.of(Band.RP, 3, c, new double[]{1, Double.NaN, 1}, r, 1),
                "rp_coefficient_errors[1] = NaN is not finite");
        expect(() -> BandSolution.of(Band.RP, 3, c, new double[]{1, -1, 1}, r, 1), "rp_coefficient_errors[1] = -1.0 is negative");
        expect(() -> BandSolution.of(Band.RP, 3, c, e, new double[]{0.1, 0.2}, 1), "rp_coefficient_correlations has 2 values");
        expect(() -> BandSolution.of(Band.BP, 3, c, e, r, 0), "bp_standard_deviation = 0.0");
        expect(() -> BandSolution.of(Band.BP, 3, c, e, null, 1), "bp_coefficient_correlations is missing");
        // the lower triangle, row-major: (1,0), (2,0), (2,1)
        BandSolution s = BandSolution.of(Band.BP, 3, c, e, r, 1);
        assertEquals(0.1, s.correlation(1, 0), 0);
        assertEquals(0.2, s.correlation(0, 2), 0);
        assertEquals(0.3, s.correlation(2, 1), 0);
        assertEquals(1.0, s.correlation(2, 2), 0);
        // with the diagonal (GaiaXPy accepts both): (0,0), (1,0), (1,1), (2,0), (2,1), (2,2)
        BandSolution d = BandSolution.of(Band.BP, 3, c, e, new double[]{1, 0.1, 1, 0.2, 0.3, 1}, 1);
        assertEquals(0.3, d.correlation(1, 2), 0);
    }

    private static void expect(Runnable r, String message) {
        try {
            r.run();
            fail("accepted: expected " + message);
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(message));
        }
    }
}
