package org.xpcvae;

import java.util.Objects;

/**
 * One sampled XP spectrum: source id, flux and its 1-sigma uncertainty on the bundle's
 * wavelength grid (any flux unit, both in the same one). Immutable: the arrays are copied in the
 * constructor and by the getters.
 *
 * <p>The constructor accepts any values so that a bad input row can still be represented and
 * reported; {@link #validate(int)} is the check callers (and {@link PosteriorSampler}) apply
 * before the graphs run.
 */
public final class Spectrum {
    private final String sourceId;
    private final float[] flux;
    private final float[] fluxError;

    /**
     * A spectrum (the arrays are copied; nothing is validated yet: {@link #validate(int)}).
     *
     * @param sourceId  the source id
     * @param flux      the flux per wavelength
     * @param fluxError the 1-sigma uncertainty of each flux value
     */
    public Spectrum(String sourceId, float[] flux, float[] fluxError) {
        this.sourceId = Objects.requireNonNull(sourceId, "sourceId");
        this.flux = Objects.requireNonNull(flux, "flux").clone();
        this.fluxError = Objects.requireNonNull(fluxError, "fluxError").clone();
    }

    /** A spectrum from double values (rounded to float32, the graphs' precision). */
    public static Spectrum of(String sourceId, double[] flux, double[] fluxError) {
        return new Spectrum(sourceId, toFloat(flux), toFloat(fluxError));
    }

    private static float[] toFloat(double[] a) {
        float[] out = new float[Objects.requireNonNull(a).length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) a[i];
        }
        return out;
    }

    /** The source id. */
    public String sourceId() {
        return sourceId;
    }

    /** The flux (a copy). */
    public float[] flux() {
        return flux.clone();
    }

    /** The 1-sigma flux uncertainty (a copy). */
    public float[] fluxError() {
        return fluxError.clone();
    }

    /** The number of flux values. */
    public int length() {
        return flux.length;
    }

    /** Puts the flux into {@code dst} (no intermediate copy). */
    void putFlux(java.nio.FloatBuffer dst) {
        dst.put(flux);
    }

    /** Puts the flux uncertainty into {@code dst} (no intermediate copy). */
    void putFluxError(java.nio.FloatBuffer dst) {
        dst.put(fluxError);
    }

    /**
     * Checks that the spectrum may be passed to the graphs: {@code expectedLength} flux and
     * uncertainty values, all finite, uncertainties &gt; 0 and mean flux &gt; 0.
     *
     * @return this spectrum
     * @throws InvalidSpectrumException naming the source id and the first problem found
     */
    public Spectrum validate(int expectedLength) {
        if (flux.length != expectedLength) {
            throw new InvalidSpectrumException(sourceId, "flux has " + flux.length + " values, expected "
                    + expectedLength);
        }
        if (fluxError.length != expectedLength) {
            throw new InvalidSpectrumException(sourceId, "flux_error has " + fluxError.length
                    + " values, expected " + expectedLength);
        }
        double sum = 0.0;
        for (int i = 0; i < flux.length; i++) {
            if (!Float.isFinite(flux[i])) {
                throw new InvalidSpectrumException(sourceId, "flux[" + i + "] = " + flux[i] + " is not finite");
            }
            sum += flux[i];
        }
        for (int i = 0; i < fluxError.length; i++) {
            float e = fluxError[i];
            if (!Float.isFinite(e)) {
                throw new InvalidSpectrumException(sourceId, "flux_error[" + i + "] = " + e + " is not finite");
            }
            if (!(e > 0.0f)) {
                throw new InvalidSpectrumException(sourceId, "flux_error[" + i + "] = " + e + " is not positive");
            }
        }
        double mean = sum / flux.length;
        if (!(mean > 0.0)) {
            throw new InvalidSpectrumException(sourceId, "mean flux " + mean
                    + " is not positive" + (allZero() ? " (all-zero spectrum)" : ""));
        }
        return this;
    }

    private boolean allZero() {
        for (float f : flux) {
            if (f != 0.0f) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "Spectrum(" + sourceId + ", " + flux.length + " values)";
    }
}
