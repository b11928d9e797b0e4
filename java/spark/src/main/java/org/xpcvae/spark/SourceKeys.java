package org.xpcvae.spark;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The key of a source's random stream (the "source index" of {@link org.xpcvae.PosteriorSampler}):
 * keyed by the source id, not by the row's position, so that a source's draws do not depend on
 * how the input is split into files and partitions.
 */
final class SourceKeys {
    private SourceKeys() {
    }

    /**
     * The key of {@code sourceId}: the id itself when it is a Gaia-style integer (decimal digits
     * only, value below 2^63), else a 64-bit hash of its UTF-8 bytes (the first 8 bytes of its
     * SHA-256, big-endian).
     *
     * <p>Integer ids give exactly the key the library's source-id keying will use; the hash of
     * other ids is provisional until the library defines its own (this method is then replaced by
     * the library's, and only non-integer ids' draws can change).
     */
    static long key(String sourceId) {
        int n = sourceId.length();
        boolean digits = n > 0 && n <= 19;
        for (int i = 0; digits && i < n; i++) {
            char c = sourceId.charAt(i);
            digits = c >= '0' && c <= '9';
        }
        if (digits) {
            try {
                return Long.parseLong(sourceId);
            } catch (NumberFormatException tooLarge) {
                // 19 digits at or above 2^63: hashed like any other text
            }
        }
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(sourceId.getBytes(StandardCharsets.UTF_8));
            long k = 0;
            for (int i = 0; i < 8; i++) {
                k = (k << 8) | (h[i] & 0xffL);
            }
            return k;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
