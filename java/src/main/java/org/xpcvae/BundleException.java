package org.xpcvae;

/**
 * A model bundle cannot be used: missing or malformed manifest, unsupported format version,
 * missing key or file, checksum mismatch, or an ONNX graph that ONNX Runtime cannot load or whose
 * inputs and outputs differ from docs/sampling.md. The message names the bundle and the problem.
 */
public class BundleException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message names the bundle and the problem */
    public BundleException(String message) {
        super(message);
    }

    /**
     * @param message names the bundle and the problem
     * @param cause   the underlying error (an I/O or ONNX Runtime error)
     */
    public BundleException(String message, Throwable cause) {
        super(message, cause);
    }
}
