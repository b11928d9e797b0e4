package org.xpcvae;

import com.google.gson.JsonElement;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.xpcvae.ModelBundle.CHECKSUM_FILE;
import static org.xpcvae.ModelBundle.FORMAT;
import static org.xpcvae.ModelBundle.MANIFEST;

/**
 * The SHA-256 checks of a bundle: the manifest against {@code manifest.json.sha256} before anything
 * parses it, and each graph file against the manifest's checksum. Errors are
 * {@link BundleException}s naming the bundle and the file.
 */
final class BundleChecksums {
    private static final Pattern CHECKSUM_LINE =
            Pattern.compile("([0-9a-fA-F]{64}) [ *]manifest\\.json\n?");

    private BundleChecksums() {
    }

    static byte[] readManifestBytes(String where, Path directory) {
        try {
            return Files.readAllBytes(directory.resolve(MANIFEST));
        } catch (NoSuchFileException e) {
            throw new BundleException(where + ": " + MANIFEST + " is missing");
        } catch (IOException e) {
            throw new BundleException(where + ": cannot read " + MANIFEST + ": " + OutputException.reason(e), e);
        }
    }

    /**
     * The bytes of the manifest, checked against {@link ModelBundle#CHECKSUM_FILE} before anything parses
     * them. Without the checksum file, a manifest that reads as format 1 (which has none) gets
     * {@link ModelBundle#format1Message}; nothing else is taken from an unverified manifest.
     */
    static byte[] verifiedManifestBytes(Path directory) {
        String where = "bundle " + directory;
        byte[] manifest = readManifestBytes(where, directory);
        byte[] line;
        try {
            line = Files.readAllBytes(directory.resolve(CHECKSUM_FILE));
        } catch (NoSuchFileException e) {
            if (isFormat1(manifest)) {
                throw new BundleException(ModelBundle.format1Message(directory));
            }
            throw new BundleException(where + ": " + CHECKSUM_FILE + " is missing: the manifest cannot be verified"
                    + " (copy the bundle again from where it came from, or re-export it)");
        } catch (IOException e) {
            throw new BundleException(where + ": cannot read " + CHECKSUM_FILE + ": " + e, e);
        }
        Matcher match = CHECKSUM_LINE.matcher(new String(line, StandardCharsets.ISO_8859_1));
        if (!match.matches()) {
            throw new BundleException(where + ": " + CHECKSUM_FILE + " is not a sha256sum line for " + MANIFEST
                    + " ('<64 hex digits>  " + MANIFEST + "')");
        }
        String expected = match.group(1).toLowerCase(Locale.ROOT);
        String actual = hex(newSha256().digest(manifest));
        if (!actual.equals(expected)) {
            throw new BundleException(where + ": checksum mismatch for " + MANIFEST + " (" + CHECKSUM_FILE + " "
                    + expected + ", file " + actual + "): the manifest was changed after export");
        }
        return manifest;
    }

    static boolean isFormat1(byte[] manifest) {
        try {
            JsonElement e = ManifestJson.parse("", manifest);
            if (!e.isJsonObject()) {
                return false;
            }
            JsonElement format = e.getAsJsonObject().get("format");
            JsonElement version = e.getAsJsonObject().get("format_version");
            return format != null && format.isJsonPrimitive() && format.getAsJsonPrimitive().isString()
                    && FORMAT.equals(format.getAsString()) && ManifestJson.isJsonInteger(version)
                    && version.getAsBigInteger().equals(BigInteger.ONE);
        } catch (BundleException notJson) {
            return false;
        }
    }

    /**
     * The bytes of the graph file {@code path} of the bundle in {@code directory} (null unless
     * {@code keep}), checked against the manifest's SHA-256 {@code expected}.
     *
     * @throws BundleException on a read error or a checksum mismatch, naming the file
     */
    static byte[] verifyGraph(Path directory, Path path, String expected, boolean keep) {
        MessageDigest digest = newSha256();
        byte[] bytes = null;
        try {
            if (keep) {
                bytes = Files.readAllBytes(path);
                digest.update(bytes);
            } else {
                try (InputStream in = Files.newInputStream(path)) {
                    byte[] buf = new byte[1 << 16];
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        digest.update(buf, 0, n);
                    }
                }
            }
        } catch (IOException e) {
            throw new BundleException("bundle " + directory + ": cannot read " + path.getFileName() + ": " + e, e);
        }
        String actual = hex(digest.digest());
        if (!actual.equals(expected)) {
            throw new BundleException("bundle " + directory + ": checksum mismatch for " + path.getFileName()
                    + " (manifest " + expected.substring(0, 12) + "..., file " + actual.substring(0, 12) + "...)");
        }
        return bytes;
    }

    static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /** Lower-case hex SHA-256 of a file. */
    static String sha256Hex(Path file) throws IOException {
        MessageDigest digest = newSha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                digest.update(buf, 0, n);
            }
        }
        return hex(digest.digest());
    }

    static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            sb.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
        }
        return sb.toString();
    }
}
