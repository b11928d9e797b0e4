package org.xpcvae.gaiaxp;

import org.xpcvae.ModelBundle;
import org.xpcvae.SpectraCsv;

import java.util.EnumMap;
import java.util.Map;

/**
 * Calibrates Gaia DR3 XP continuous spectra onto a wavelength grid: a Java port of GaiaXPy's
 * {@code calibrate(..., sampling=<grid>, truncation=False)} (GaiaXPy 2.1.5,
 * https://github.com/gaia-dpci/GaiaXPy, BSD 3-Clause licence, Copyright (c) DPAC, CU5, DPCI; its
 * configuration files are copied into this package's resources with the licence beside them).
 *
 * <p>For each band, the design matrix D (basis functions x samples) comes from the external
 * calibration instrument model ({@link InstrumentModel}: dispersion function to pseudo-wavelength,
 * Hermite functions through the inverse bases and the transformation matrix, divided by the
 * instrument response in photon units); all the band's basis functions are used (GaiaXPy's
 * default {@code truncation=False}). A band's flux is c D and its error sqrt(diag(D^T C D)) sigma,
 * with C the covariance GaiaXPy builds from the coefficient errors and correlations
 * ({@link BandSolution#scaledCovariance()}). BP and RP are merged with GaiaXPy's weights: BP alone
 * below {@value #RP_LOW_NM} nm, RP alone above {@value #BP_HIGH_NM} nm, linear in between; flux
 * f = w_BP f_BP + w_RP f_RP, error sqrt(w_BP^2 e_BP^2 + w_RP^2 e_RP^2). The calibration needs
 * both bands.
 *
 * <p>Given a sampling, GaiaXPy evaluates these matrices from the instrument model, which is what
 * the Python engine uses ({@code xpcvae.xpdata}); without one ({@code sampling=None}) it would
 * read precomputed matrices of another filter file instead, which differ by up to 0.3% in flux.
 * Measured against GaiaXPy's calibrate on the Gaia archive example files: docs/formats.md.
 *
 * <p>Immutable and thread-safe once built; building evaluates the design matrices (a few ms).
 */
public final class XpCalibrator {
    /** Lower end of GaiaXPy's RP range and start of the BP/RP overlap [nm] ({@code RP_WL.low}). */
    public static final double RP_LOW_NM = 635.0;
    /** Upper end of GaiaXPy's BP range and end of the BP/RP overlap [nm] ({@code BP_WL.high}). */
    public static final double BP_HIGH_NM = 643.0;
    /** Lowest wavelength GaiaXPy's calibrate accepts in a sampling [nm] ({@code validate_wl_sampling}). */
    public static final double MIN_SAMPLING_NM = 330.0;
    /** Highest wavelength GaiaXPy's calibrate accepts in a sampling [nm]. */
    public static final double MAX_SAMPLING_NM = 1050.0;

    private static volatile XpCalibrator defaultInstance;

    private final double[] sampling;
    private final Map<Band, double[]> weights = new EnumMap<>(Band.class);
    /** Per band: the design matrix transposed, samples x basis functions. */
    private final Map<Band, double[][]> designT = new EnumMap<>(Band.class);
    private final Map<Band, InstrumentModel> models = new EnumMap<>(Band.class);

    private XpCalibrator(double[] sampling) {
        this.sampling = sampling.clone();
        for (Band band : Band.values()) {
            InstrumentModel model = InstrumentModel.load(band);
            double[] w = mergeWeights(band, this.sampling);
            double[][] d = model.designMatrix(this.sampling, w);
            double[][] t = new double[this.sampling.length][model.basisCount()];
            for (int i = 0; i < d.length; i++) {
                for (int k = 0; k < d[i].length; k++) {
                    t[k][i] = d[i][k];
                }
            }
            models.put(band, model);
            weights.put(band, w);
            designT.put(band, t);
        }
    }

    /**
     * GaiaXPy's default sampling, 336, 338, ..., 1020 nm (343 points): the grid of the spectra CSV
     * and of the models ({@link SpectraCsv#wavelengthNm(int)}).
     */
    public static double[] defaultSamplingNm() {
        double[] w = new double[ModelBundle.SPECTRUM_LENGTH];
        for (int i = 0; i < w.length; i++) {
            w[i] = SpectraCsv.wavelengthNm(i);
        }
        return w;
    }

    /** The calibrator onto {@link #defaultSamplingNm()} (built once, shared). */
    public static XpCalibrator onDefaultSampling() {
        XpCalibrator c = defaultInstance;
        if (c == null) {
            synchronized (XpCalibrator.class) {
                c = defaultInstance;
                if (c == null) {
                    c = new XpCalibrator(defaultSamplingNm());
                    defaultInstance = c;
                }
            }
        }
        return c;
    }

    /**
     * A calibrator onto {@code samplingNm}: finite, strictly increasing, within
     * [{@value #MIN_SAMPLING_NM}, {@value #MAX_SAMPLING_NM}] nm (GaiaXPy's limits).
     *
     * @throws IllegalArgumentException naming the offending sample
     */
    public static XpCalibrator onSampling(double[] samplingNm) {
        if (samplingNm.length == 0) {
            throw new IllegalArgumentException("the sampling is empty");
        }
        for (int i = 0; i < samplingNm.length; i++) {
            double w = samplingNm[i];
            if (!Double.isFinite(w) || w < MIN_SAMPLING_NM || w > MAX_SAMPLING_NM) {
                throw new IllegalArgumentException("sampling[" + i + "] = " + w + " nm is outside GaiaXPy's range "
                        + MIN_SAMPLING_NM + "-" + MAX_SAMPLING_NM + " nm");
            }
            if (i > 0 && !(w > samplingNm[i - 1])) {
                throw new IllegalArgumentException("sampling[" + i + "] = " + w + " nm is not after sampling["
                        + (i - 1) + "] = " + samplingNm[i - 1] + " nm");
            }
        }
        return new XpCalibrator(samplingNm);
    }

    /**
     * GaiaXPy's weight of {@code band} at each wavelength ({@code calibrator.__create_merge}): BP 1
     * below {@value #RP_LOW_NM} nm, 0 above {@value #BP_HIGH_NM} nm, falling linearly in between;
     * RP its complement.
     */
    static double[] mergeWeights(Band band, double[] samplingNm) {
        double[] w = new double[samplingNm.length];
        for (int k = 0; k < w.length; k++) {
            double wl = samplingNm[k];
            double rp = wl < RP_LOW_NM ? 0.0 : wl > BP_HIGH_NM ? 1.0 : (wl - RP_LOW_NM) / (BP_HIGH_NM - RP_LOW_NM);
            double bp = wl < RP_LOW_NM ? 1.0 : wl > BP_HIGH_NM ? 0.0
                    : 1.0 - (wl - RP_LOW_NM) / (BP_HIGH_NM - RP_LOW_NM);
            w[k] = band == Band.BP ? bp : rp;
        }
        return w;
    }

    /** The wavelengths [nm] the spectra are calibrated onto (a copy). */
    public double[] samplingNm() {
        return sampling.clone();
    }

    /** Number of coefficients GaiaXPy's model of {@code band} has (55 for both DR3 models). */
    public int basisCount(Band band) {
        return models.get(band).basisCount();
    }

    /**
     * The calibrated spectrum of a source with both bands.
     *
     * @throws IllegalArgumentException if {@code record} is not {@link XpContinuousRecord#ok()} or a
     *                                  band has another number of coefficients than the model (the
     *                                  message names the source)
     */
    public CalibratedSpectrum calibrate(XpContinuousRecord record) {
        if (!record.ok()) {
            throw new IllegalArgumentException(record.error() != null ? record.error()
                    : "source " + record.sourceId() + ": cannot calibrate without " + record.missingBands());
        }
        int n = sampling.length;
        double[][] flux = new double[2][];
        double[][] error = new double[2][];
        for (Band band : Band.values()) {
            BandSolution s = record.band(band);
            InstrumentModel model = models.get(band);
            if (s.size() != model.basisCount()) {
                throw new IllegalArgumentException("source " + record.sourceId() + ": " + band.column("n_parameters")
                        + " = " + s.size() + ", GaiaXPy's " + band + " model " + model.model() + " has "
                        + model.basisCount() + " basis functions");
            }
            flux[band.ordinal()] = new double[n];
            error[band.ordinal()] = new double[n];
            sample(s, designT.get(band), weights.get(band), flux[band.ordinal()], error[band.ordinal()]);
        }
        double[] wb = weights.get(Band.BP);
        double[] wr = weights.get(Band.RP);
        double[] f = new double[n];
        double[] e = new double[n];
        for (int k = 0; k < n; k++) {
            int bp = Band.BP.ordinal();
            int rp = Band.RP.ordinal();
            f[k] = flux[bp][k] * wb[k] + flux[rp][k] * wr[k];
            double eb = error[bp][k];
            double er = error[rp][k];
            e[k] = Math.sqrt(eb * eb * (wb[k] * wb[k]) + er * er * (wr[k] * wr[k]));
        }
        return new CalibratedSpectrum(record.sourceId(), f, e);
    }

    /**
     * One band's flux c D and error sqrt(diag(D^T C D)) sigma at the samples where the band has
     * weight (elsewhere D's column is 0, and so are both).
     */
    private static void sample(BandSolution s, double[][] designT, double[] weights, double[] flux, double[] error) {
        int m = s.size();
        double[][] c = s.scaledCovariance();
        double sigma = s.standardDeviation();
        for (int k = 0; k < designT.length; k++) {
            if (!(weights[k] > 0)) {
                continue;
            }
            double[] d = designT[k];
            double f = 0.0;
            for (int i = 0; i < m; i++) {
                f += s.coefficient(i) * d[i];
            }
            // d^T C d using the symmetry of C: sum_i d_i (C_ii d_i + 2 sum_{j>i} C_ij d_j)
            double q = 0.0;
            for (int i = 0; i < m; i++) {
                double[] ci = c[i];
                double t = 0.0;
                for (int j = i + 1; j < m; j++) {
                    t += ci[j] * d[j];
                }
                q += d[i] * (ci[i] * d[i] + 2.0 * t);
            }
            flux[k] = f;
            error[k] = Math.sqrt(q) * sigma;
        }
    }
}
