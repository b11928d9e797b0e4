package org.xpcvae;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * The lines of a spectra CSV as bytes (docs/formats.md, "Spectra CSV grammar", rules 1-7): the
 * signatures of files that are not UTF-8 text, the byte-order mark, the line terminators, blank
 * lines, the line-length limit and UTF-8 well-formedness. {@code xpcvae.data.csv_grammar} is the
 * Python twin.
 *
 * <p>Memory stays bounded: a line is never kept beyond {@link #MAX_LINE_BYTES}.
 */
final class CsvLines implements Closeable {
    /** Longest line read (terminator excluded); a spectrum line takes about 15 KB. */
    static final int MAX_LINE_BYTES = 1 << 22;

    /** The problem of a line longer than {@link #MAX_LINE_BYTES}, after "the line " or "the header (line l) ". */
    static final String TOO_LONG = "is longer than " + MAX_LINE_BYTES + " bytes";

    private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

    /** Signature at the start of the file (null: any byte), what the file is, what to do (rule 1). */
    private static final Object[][] SIGNATURES = {
        {new int[]{0x1F, 0x8B}, "gzip-compressed", "decompress it first (e.g. gunzip)"},
        {new int[]{'B', 'Z', 'h', -1, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59}, "bzip2-compressed",
            "decompress it first (e.g. bunzip2)"},
        {new int[]{0xFD, '7', 'z', 'X', 'Z', 0x00}, "xz-compressed", "decompress it first (e.g. unxz)"},
        {new int[]{0x28, 0xB5, 0x2F, 0xFD}, "Zstandard-compressed", "decompress it first (e.g. unzstd)"},
        {new int[]{'P', 'K', 0x03, 0x04}, "a zip archive", "extract the CSV file first (e.g. unzip)"},
        {new int[]{0xFF, 0xFE}, "UTF-16 text", "save it as UTF-8"},
        {new int[]{0xFE, 0xFF}, "UTF-16 text", "save it as UTF-8"},
    };

    private final InputStream in;
    private final byte[] buffer = new byte[1 << 16];
    private int pos;
    private int end;
    private byte[] line = new byte[1 << 15];
    private int length;
    private boolean tooLong;
    private boolean blank;
    private long lineNumber;

    /**
     * Starts reading {@code in}.
     *
     * @throws CsvFormatException naming {@code file} if it starts with the signature of a file
     *         that is not UTF-8 text (rule 1)
     */
    CsvLines(Path file, InputStream in) throws IOException {
        this.in = in;
        while (end < 10 && fill(true)) {
            // the longest signature has 10 bytes
        }
        String problem = signatureProblem(buffer, end);
        if (problem != null) {
            throw new CsvFormatException(file + ": " + problem);
        }
        if (startsWith(buffer, end, BOM)) {
            pos = BOM.length;
        }
    }

    static String signatureProblem(byte[] head, int n) {
        for (Object[] s : SIGNATURES) {
            int[] sig = (int[]) s[0];
            if (n < sig.length) {
                continue;
            }
            boolean match = true;
            StringBuilder shown = new StringBuilder();
            for (int i = 0; i < sig.length && match; i++) {
                int b = head[i] & 0xFF;
                match = sig[i] == -1 ? b >= '1' && b <= '9' : b == sig[i];
                shown.append(i > 0 ? " " : "").append(String.format("%02x", b));
            }
            if (match) {
                return "is " + s[1] + " (it starts with the bytes " + shown + "); " + s[2];
            }
        }
        return null;
    }

    private static boolean startsWith(byte[] b, int n, byte[] prefix) {
        if (n < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (b[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    /** Reads more bytes (appending when {@code append}, else replacing the consumed buffer); false at the end. */
    private boolean fill(boolean append) throws IOException {
        if (!append) {
            pos = 0;
            end = 0;
        }
        int n = in.read(buffer, end, buffer.length - end);
        if (n <= 0) {
            return false;
        }
        end += n;
        return true;
    }

    /**
     * Advances to the next line (rule 3: terminated by {@code \n}, {@code \r\n} or a lone
     * {@code \r}; the bytes after the last terminator are a last line); false at the end.
     */
    boolean next() throws IOException {
        length = 0;
        tooLong = false;
        blank = true;
        boolean any = false;
        while (true) {
            if (pos == end && !fill(false)) {
                if (!any) {
                    return false;
                }
                lineNumber++;
                return true;
            }
            int i = pos;
            while (i < end && buffer[i] != '\n' && buffer[i] != '\r') {
                if (blank && !Csv.isWhitespace(buffer[i])) {
                    blank = false;
                }
                i++;
            }
            append(pos, i);
            any = true;
            if (i < end) {
                byte terminator = buffer[i];
                pos = i + 1;
                if (terminator == '\r' && (pos < end || fill(false)) && buffer[pos] == '\n') {
                    pos++;
                }
                lineNumber++;
                return true;
            }
            pos = end;
        }
    }

    private void append(int from, int to) {
        int n = to - from;
        if (tooLong || n == 0) {
            return;
        }
        if (length + n > MAX_LINE_BYTES) {
            tooLong = true; // consumed, not kept
            return;
        }
        if (length + n > line.length) {
            line = java.util.Arrays.copyOf(line, Math.min(MAX_LINE_BYTES, Math.max(2 * line.length, length + n)));
        }
        System.arraycopy(buffer, from, line, length, n);
        length += n;
    }

    /** The current line's bytes, {@code [0, length())} (not valid after {@link #next()}). */
    byte[] bytes() {
        return line;
    }

    int length() {
        return length;
    }

    /** 1-based number of the current line, blank lines included. */
    long lineNumber() {
        return lineNumber;
    }

    /** Whether the current line is empty or spaces and tabs only (rule 5), whatever its length. */
    boolean blank() {
        return blank;
    }

    /** Whether the current line is longer than {@link #MAX_LINE_BYTES} (rule 6; its bytes are not kept). */
    boolean tooLong() {
        return tooLong;
    }

    /**
     * Why {@code b[0, n)} is not well-formed UTF-8 (rule 7; after "the line "), or null: the first
     * byte of the first ill-formed sequence and its offset (Unicode's table 3-7: no overlong forms,
     * no surrogates, nothing above U+10FFFF).
     */
    static String utf8Problem(byte[] b, int n) {
        int i = 0;
        while (i < n) {
            int c = b[i] & 0xFF;
            if (c < 0x80) {
                i++;
                continue;
            }
            int more;
            int lo = 0x80;
            int hi = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) {
                more = 1;
            } else if (c >= 0xE0 && c <= 0xEF) {
                more = 2;
                lo = c == 0xE0 ? 0xA0 : 0x80;
                hi = c == 0xED ? 0x9F : 0xBF;
            } else if (c >= 0xF0 && c <= 0xF4) {
                more = 3;
                lo = c == 0xF0 ? 0x90 : 0x80;
                hi = c == 0xF4 ? 0x8F : 0xBF;
            } else {
                return invalid(b, i);
            }
            for (int k = 1; k <= more; k++) {
                int d = i + k < n ? b[i + k] & 0xFF : -1;
                if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xBF)) {
                    return invalid(b, i);
                }
            }
            i += more + 1;
        }
        return null;
    }

    private static String invalid(byte[] b, int i) {
        return String.format("is not valid UTF-8 (byte 0x%02x at offset %d)", b[i] & 0xFF, i);
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
