package org.xpcvae;

/**
 * Running the graphs failed (an ONNX Runtime error, an output of unexpected shape, or
 * non-finite network outputs for a source). The message names the graph and, where known,
 * the source.
 */
public class InferenceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message names the graph and, where known, the source */
    public InferenceException(String message) {
        super(message);
    }

    /**
     * @param message names the graph and, where known, the source
     * @param cause   the underlying error (usually ONNX Runtime's)
     */
    public InferenceException(String message, Throwable cause) {
        super(message, cause);
    }
}
