package org.xpcvae.gaiaxp;

import org.xpcvae.Csv;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.zip.GZIPInputStream;

/**
 * The container of a spectra file, told by its first bytes (gzip's magic number, FITS's
 * {@code SIMPLE  =} card, ECSV's {@code # %ECSV} line, else text with a comma on its first line:
 * CSV), not by its name: the archive's bulk files are named {@code .csv.gz} but hold ECSV. The
 * name only makes the error clearer when the content contradicts it. Immutable.
 */
final class FileFormat {
    /** The table formats read. */
    enum Kind {
        /** Comma-separated text (the archive's CSV, the project CSV). */
        CSV("CSV"),
        /** Enhanced CSV (astropy's; the archive's ECSV and bulk files). */
        ECSV("ECSV"),
        /** FITS with a binary table extension. */
        FITS("FITS");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        /** The format's usual name. */
        String label() {
            return label;
        }
    }

    /** Bytes read to tell the format (decompressed, for a gzipped file). */
    private static final int HEAD_BYTES = 4096;

    private final Kind kind;
    private final boolean gzip;
    private final boolean blank;

    private FileFormat(Kind kind, boolean gzip, boolean blank) {
        this.kind = kind;
        this.gzip = gzip;
        this.blank = blank;
    }

    /** Whether the file holds nothing but white space (then taken for an empty CSV). */
    boolean blank() {
        return blank;
    }

    Kind kind() {
        return kind;
    }

    /** Whether the table is gzipped. */
    boolean gzip() {
        return gzip;
    }

    /** E.g. {@code "ECSV (gzipped)"}. */
    String label() {
        return kind.label() + (gzip ? " (gzipped)" : "");
    }

    /**
     * The format of {@code file}.
     *
     * @throws NoSuchFileException if it does not exist
     * @throws SpectraFileException naming the file if it is a directory, empty, or not one of the formats
     */
    static FileFormat detect(Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new NoSuchFileException(file.toString());
        }
        if (Files.isDirectory(file)) {
            throw new SpectraFileException(file + ": is a directory, expected a spectra file");
        }
        byte[] head;
        boolean gzip;
        try (InputStream raw = Files.newInputStream(file)) {
            byte[] magic = raw.readNBytes(2);
            gzip = magic.length == 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b;
        }
        try (InputStream raw = Files.newInputStream(file);
             InputStream in = gzip ? new GZIPInputStream(raw) : raw) {
            head = in.readNBytes(HEAD_BYTES);
        } catch (IOException e) {
            throw TextTableCursor.corrupt(file, 0, e);
        }
        if (head.length < HEAD_BYTES && new String(head, StandardCharsets.ISO_8859_1).trim().isEmpty()) {
            if (gzip) {
                throw new SpectraFileException(file + ": empty file (gzipped)");
            }
            return new FileFormat(Kind.CSV, false, true);
        }
        String text = new String(head, StandardCharsets.ISO_8859_1);
        Kind kind = null;
        if (text.startsWith("SIMPLE  =")) {
            kind = Kind.FITS;
        } else if (text.startsWith("# %ECSV")) {
            kind = Kind.ECSV;
        } else {
            String first = firstLine(text);
            if (isText(first) && first.contains(",")) {
                kind = Kind.CSV;
            }
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        String plain = name.endsWith(".gz") ? name.substring(0, name.length() - 3) : name;
        Kind named = plain.endsWith(".fits") || plain.endsWith(".fit") ? Kind.FITS
                : plain.endsWith(".ecsv") ? Kind.ECSV : plain.endsWith(".csv") ? Kind.CSV : null;
        String signature = gzip || kind != null ? null : Csv.signatureProblem(head);
        if (signature != null) {
            // UTF-16 text, another compression: as the spectra-CSV grammar words it (both engines)
            throw new SpectraFileException(file + ": " + signature);
        }
        if (kind == null || ((named == Kind.FITS || named == Kind.ECSV) && kind != named)) {
            throw new SpectraFileException(file + ": " + (named != null
                    ? "named like a " + named.label() + " file, but its content is not " + named.label()
                    : "not a recognised spectra file") + (gzip ? " (inside gzip)" : "")
                    + "; expected a Gaia archive XP continuous or sampled product (CSV, ECSV or FITS, optionally "
                    + "gzipped) or the project CSV");
        }
        return new FileFormat(kind, gzip, false);
    }

    /**
     * No control characters other than tabs: not binary data. Only the header line is judged: a
     * data row with stray bytes is the readers' business (an error row), as it always was.
     */
    private static boolean isText(String line) {
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c < 0x20 && c != '\t') {
                return false;
            }
        }
        return true;
    }

    private static String firstLine(String text) {
        String t = text.startsWith("\u00EF\u00BB\u00BF") ? text.substring(3) : text; // UTF-8 BOM
        for (String line : t.split("\r\n|\r|\n")) {
            if (!line.trim().isEmpty()) {
                return line;
            }
        }
        return "";
    }

    /** Opens {@code file} (of this format) as a table. */
    TableCursor open(Path file) throws IOException {
        switch (kind) {
            case CSV:
                return TextTableCursor.open(file, gzip, false);
            case ECSV:
                return TextTableCursor.open(file, gzip, true);
            case FITS:
                return FitsCursor.open(file, label());
            default:
                throw new AssertionError(kind);
        }
    }
}
