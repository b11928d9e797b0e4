package org.xpcvae.gaiaxp;

/**
 * An XP spectrum calibrated onto a wavelength grid by {@link XpCalibrator}: flux and its 1-sigma
 * error in W m^-2 nm^-1, in double precision (the readers round them to float32 for the
 * networks). Immutable: the arrays are copied.
 */
public final class CalibratedSpectrum {
    private final String sourceId;
    private final double[] flux;
    private final double[] fluxError;

    CalibratedSpectrum(String sourceId, double[] flux, double[] fluxError) {
        this.sourceId = sourceId;
        this.flux = flux.clone();
        this.fluxError = fluxError.clone();
    }

    /** The source's id. */
    public String sourceId() {
        return sourceId;
    }

    /** The flux at each wavelength of the calibrator's sampling (a copy). */
    public double[] flux() {
        return flux.clone();
    }

    /** The flux error at each wavelength of the calibrator's sampling (a copy). */
    public double[] fluxError() {
        return fluxError.clone();
    }
}
