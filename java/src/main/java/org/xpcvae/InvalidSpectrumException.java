package org.xpcvae;

/**
 * A spectrum that must not be passed to the graphs (wrong length, non-finite flux or
 * uncertainty, uncertainty &lt;= 0, mean flux &lt;= 0). The message starts with
 * {@code "source <id>: "} and names the offending element.
 */
public class InvalidSpectrumException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** Source id of the rejected spectrum (serialised with the exception). */
    private final String sourceId;

    /**
     * @param sourceId the source id of the rejected spectrum
     * @param problem  what is wrong, naming the offending element
     */
    public InvalidSpectrumException(String sourceId, String problem) {
        super("source " + sourceId + ": " + problem);
        this.sourceId = sourceId;
    }

    /** Source id of the rejected spectrum. */
    public String getSourceId() {
        return sourceId;
    }
}
