package org.xpcvae.gaiaxp;

import java.io.IOException;

/**
 * A spectra file cannot be read (further): its format or layout is not recognised, required
 * columns are missing, its spectra are on another wavelength grid, or it is corrupt or truncated.
 * The message names the file and the problem.
 */
public class SpectraFileException extends IOException {
    private static final long serialVersionUID = 1L;

    /** An exception with {@code message} (which names the file). */
    public SpectraFileException(String message) {
        super(message);
    }

    /** An exception with {@code message} (which names the file) caused by {@code cause}. */
    public SpectraFileException(String message, Throwable cause) {
        super(message, cause);
    }
}
