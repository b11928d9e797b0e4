package org.xpcvae;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The field and value rules of the spectra-CSV grammar (docs/formats.md, "Spectra CSV grammar",
 * rules 4, 8, 9, 12-14), shared by the readers and writers; {@link CsvLines} has the byte and
 * line rules. {@code xpcvae.data.csv_grammar} is the Python twin: the two engines must agree on
 * every value and message, so both follow the document word for word.
 *
 * <p>Fields are split on bytes: separators and quotes are ASCII, and UTF-8 never uses an ASCII
 * byte inside a multi-byte character, so splitting before decoding is exact.
 */
public final class Csv {
    private Csv() {
    }

    /** A line that cannot be split into fields (rule 8); the message is the grammar's wording. */
    static final class SyntaxException extends Exception {
        private static final long serialVersionUID = 1L;

        SyntaxException(String message) {
            super(message, null, false, false);
        }
    }

    /** Values are cut after this many characters in messages. */
    static final int SHOW_CHARS = 40;

    /** The grammar's only whitespace: space and tab (rule 4). */
    static boolean isWhitespace(int c) {
        return c == ' ' || c == '\t';
    }

    /** The fields of {@code line[0, length)}, unquoted but not trimmed (rule 8). */
    static List<byte[]> splitFields(byte[] line, int length) throws SyntaxException {
        List<byte[]> fields = new ArrayList<>();
        int i = 0;
        while (true) {
            int k = fields.size() + 1;
            if (i < length && line[i] == '"') {
                byte[] value = new byte[length - i];
                int n = 0;
                int j = i + 1;
                while (true) {
                    int q = indexOf(line, '"', j, length);
                    if (q < 0) {
                        throw new SyntaxException("field " + k + " opens a quote that is not closed on this line");
                    }
                    System.arraycopy(line, j, value, n, q - j);
                    n += q - j;
                    if (q + 1 < length && line[q + 1] == '"') {
                        value[n++] = '"';
                        j = q + 2;
                        continue;
                    }
                    i = q + 1;
                    break;
                }
                fields.add(java.util.Arrays.copyOf(value, n));
                if (i == length) {
                    return fields;
                }
                if (line[i] != ',') {
                    throw new SyntaxException("field " + k + " has text after its closing quote");
                }
                i++;
            } else {
                int comma = indexOf(line, ',', i, length);
                int end = comma < 0 ? length : comma;
                if (indexOf(line, '"', i, end) >= 0) {
                    throw new SyntaxException("field " + k + " has a quote inside an unquoted field");
                }
                fields.add(java.util.Arrays.copyOfRange(line, i, end));
                if (comma < 0) {
                    return fields;
                }
                i = comma + 1;
            }
        }
    }

    private static int indexOf(byte[] b, char c, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] == c) {
                return i;
            }
        }
        return -1;
    }

    /** A field's value: its bytes without leading and trailing whitespace (rule 9). */
    static byte[] trim(byte[] field) {
        int a = 0;
        int b = field.length;
        while (a < b && isWhitespace(field[a])) {
            a++;
        }
        while (b > a && isWhitespace(field[b - 1])) {
            b--;
        }
        return a == 0 && b == field.length ? field : java.util.Arrays.copyOfRange(field, a, b);
    }

    /** The text of a trimmed value (valid UTF-8: the caller checked the line). */
    static String text(byte[] value) {
        return new String(value, StandardCharsets.UTF_8);
    }

    /**
     * Splits a line of text into trimmed values (rules 8 and 9), e.g. a line this program wrote.
     *
     * @throws IllegalArgumentException if the line's quoting is malformed
     */
    static List<String> split(String line) {
        byte[] b = line.getBytes(StandardCharsets.UTF_8);
        try {
            List<String> out = new ArrayList<>();
            for (byte[] f : splitFields(b, b.length)) {
                out.add(text(trim(f)));
            }
            return out;
        } catch (SyntaxException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    /** A field quoted if it contains a comma, quote or line break (line breaks become spaces). */
    static String quote(String field) {
        String f = field.replace("\r\n", " ").replace('\n', ' ').replace('\r', ' ');
        if (f.indexOf(',') < 0 && f.indexOf('"') < 0) {
            return f;
        }
        return '"' + f.replace("\"", "\"\"") + '"';
    }

    /**
     * {@code text} as a message shows it (rule 13): in single quotes, cut after 40 characters
     * ({@code ...} after the closing quote), {@code \} and {@code '} escaped, tab as {@code \t},
     * every other character outside printable ASCII as {@code \xhh}, {@code \}{@code uhhhh} or
     * {@code \Uhhhhhhhh} (Python's {@code ascii()}).
     */
    public static String show(String text) {
        StringBuilder sb = new StringBuilder("'");
        int shown = 0;
        int i = 0;
        while (i < text.length() && shown < SHOW_CHARS) {
            int c = text.codePointAt(i);
            i += Character.charCount(c);
            shown++;
            if (c == '\\' || c == '\'') {
                sb.append('\\').append((char) c);
            } else if (c == '\t') {
                sb.append("\\t");
            } else if (c >= 0x20 && c < 0x7F) {
                sb.append((char) c);
            } else if (c <= 0xFF) {
                sb.append(String.format("\\x%02x", c));
            } else if (c <= 0xFFFF) {
                sb.append(String.format("\\u%04x", c));
            } else {
                sb.append(String.format("\\U%08x", c));
            }
        }
        sb.append('\'');
        if (i < text.length()) {
            sb.append("...");
        }
        return sb.toString();
    }

    /** Why {@code id} (trimmed) is not a usable source_id (rule 12.5), or null. */
    static String sourceIdProblem(String id) {
        if (id.isEmpty()) {
            return "source_id is empty";
        }
        for (int i = 0; i < id.length(); i++) {
            if (Character.isISOControl(id.charAt(i))) { // U+0000-U+001F, U+007F-U+009F
                return "source_id " + show(id) + " contains a control character";
            }
        }
        return null;
    }

    /** The result of reading one value: its float32, or the problem (after the column's name). */
    static final class Value {
        float value;
        String problem;
    }

    /**
     * Reads one trimmed value (rules 12.6 and 14) into {@code out}: its float32 value, or why it is
     * not a usable number ({@code is empty}, {@code = '...' is not a number}, {@code overflows},
     * {@code underflows}).
     */
    static void readValue(byte[] value, Value out) {
        out.problem = null;
        if (value.length == 0) {
            out.problem = "is empty";
            return;
        }
        int kind = numberKind(value);
        if (kind == NOT_A_NUMBER) {
            out.problem = "= " + show(text(value)) + " is not a number";
            return;
        }
        double d = toDouble(value, kind);
        float f = (float) d;
        if (kind == DECIMAL && Float.isInfinite(f)) {
            out.problem = "= " + show(text(value)) + " overflows float32 (rounds to infinity)";
        } else if (kind == DECIMAL && f == 0 && nonzeroMantissa(value)) {
            out.problem = "= " + show(text(value)) + " underflows float32 (nonzero, rounds to 0)";
        }
        out.value = f;
    }

    /**
     * The binary64 value of a number of the grammar (rule 14): the decimal rounded to the nearest
     * double, or NaN/infinity for the words {@code nan}, {@code inf}, {@code infinity} (any case,
     * optional sign). Java-only forms (hexadecimal, {@code d}/{@code f} suffixes, whitespace) are not
     * numbers.
     *
     * @throws NumberFormatException if {@code text} is not a number of the grammar
     */
    public static double parseNumber(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int kind = numberKind(b);
        if (kind == NOT_A_NUMBER) {
            throw new NumberFormatException(text);
        }
        return toDouble(b, kind);
    }

    private static final int NOT_A_NUMBER = 0;
    private static final int DECIMAL = 1;
    private static final int NAN = 2;
    private static final int INFINITY = 3;

    /** Which kind of number {@code b} is: [+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)? or a word. */
    private static int numberKind(byte[] b) {
        int n = b.length;
        int i = n > 0 && (b[0] == '+' || b[0] == '-') ? 1 : 0;
        if (i < n && isAsciiLetter(b[i]) && (b[i] | 0x20) != 'e') {
            String word = new String(b, i, n - i, StandardCharsets.ISO_8859_1);
            if (word.equalsIgnoreCase("nan")) {
                return NAN;
            }
            return word.equalsIgnoreCase("inf") || word.equalsIgnoreCase("infinity") ? INFINITY : NOT_A_NUMBER;
        }
        int digits = 0;
        while (i < n && isDigit(b[i])) {
            i++;
            digits++;
        }
        if (i < n && b[i] == '.') {
            i++;
            while (i < n && isDigit(b[i])) {
                i++;
                digits++;
            }
        }
        if (digits == 0) {
            return NOT_A_NUMBER;
        }
        if (i < n && (b[i] == 'e' || b[i] == 'E')) {
            i++;
            if (i < n && (b[i] == '+' || b[i] == '-')) {
                i++;
            }
            int exponentDigits = 0;
            while (i < n && isDigit(b[i])) {
                i++;
                exponentDigits++;
            }
            if (exponentDigits == 0) {
                return NOT_A_NUMBER;
            }
        }
        return i == n ? DECIMAL : NOT_A_NUMBER;
    }

    private static double toDouble(byte[] b, int kind) {
        boolean negative = b.length > 0 && b[0] == '-';
        switch (kind) {
            case NAN:
                return Double.NaN;
            case INFINITY:
                return negative ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
            default:
                // the grammar's decimals are a subset of what parseDouble reads, correctly rounded
                return Double.parseDouble(new String(b, StandardCharsets.ISO_8859_1));
        }
    }

    /** Whether a decimal has a nonzero digit before its exponent (it is not zero). */
    private static boolean nonzeroMantissa(byte[] b) {
        for (byte c : b) {
            if (c == 'e' || c == 'E') {
                return false;
            }
            if (c >= '1' && c <= '9') {
                return true;
            }
        }
        return false;
    }

    private static boolean isDigit(byte c) {
        return c >= '0' && c <= '9';
    }

    private static boolean isAsciiLetter(byte c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    /**
     * What a file that starts with {@code head} is when it is not UTF-8 text the grammar reads
     * (compressed, UTF-16: docs/formats.md), with what to do, or null: the message the spectra-CSV
     * reader gives, for readers that tell formats apart before it runs.
     *
     * @param head the first bytes of the file (at least 10, unless the file is shorter)
     * @return e.g. "is UTF-16 text (it starts with the bytes ff fe); save it as UTF-8", or null
     */
    public static String signatureProblem(byte[] head) {
        return CsvLines.signatureProblem(head, head.length);
    }
}
