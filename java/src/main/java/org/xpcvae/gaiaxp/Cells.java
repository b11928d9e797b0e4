package org.xpcvae.gaiaxp;

import org.xpcvae.Csv;

import java.lang.reflect.Array;
import java.util.List;
import java.util.Locale;

/**
 * Conversions of table cells (CSV text or STIL's typed values) to numbers, arrays and source ids,
 * with the Python reader's notion of a missing value ({@code xpcvae.xpdata._as_array}): an empty
 * cell, an empty array, or the text {@code nan}, {@code null}, {@code none} or {@code --} for the
 * whole cell. A value that is present but malformed is never guessed: it throws
 * {@link BadCellException} naming the column (and the element).
 */
final class Cells {
    private Cells() {
    }

    /** A cell that is present but cannot be read; the message names the column. */
    static final class BadCellException extends Exception {
        private static final long serialVersionUID = 1L;

        BadCellException(String message) {
            super(message);
        }
    }

    private static boolean missingText(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        return t.isEmpty() || t.equals("nan") || t.equals("null") || t.equals("none") || t.equals("--");
    }

    /**
     * The cell as doubles, or null if missing. Text is an array written as
     * {@code (a, b, ...)} or {@code [a,b,...]} (the archive's CSV and ECSV layouts); elements are
     * read as doubles (Python's spellings of nan and inf included), float32 arrays are widened
     * exactly.
     */
    static double[] doubles(Object cell, String column) throws BadCellException {
        if (cell == null) {
            return null;
        }
        if (cell instanceof double[]) {
            double[] a = (double[]) cell;
            return a.length == 0 ? null : a.clone();
        }
        if (cell instanceof float[]) {
            float[] a = (float[]) cell;
            if (a.length == 0) {
                return null;
            }
            double[] out = new double[a.length];
            for (int i = 0; i < a.length; i++) {
                out[i] = a[i];
            }
            return out;
        }
        if (cell instanceof List) {
            cell = ((List<?>) cell).toArray();
        }
        if (cell instanceof Object[]) {
            Object[] a = (Object[]) cell;
            if (a.length == 0) {
                return null;
            }
            double[] out = new double[a.length];
            for (int i = 0; i < a.length; i++) {
                if (!(a[i] instanceof Number)) {
                    throw new BadCellException(column + "[" + i + "] = '" + a[i] + "' is not a number");
                }
                out[i] = ((Number) a[i]).doubleValue();
            }
            return out;
        }
        if (cell.getClass().isArray()) {
            int n = Array.getLength(cell);
            if (n == 0) {
                return null;
            }
            double[] out = new double[n];
            for (int i = 0; i < n; i++) {
                Object v = Array.get(cell, i);
                if (!(v instanceof Number)) {
                    throw new BadCellException(column + " is an array of " + cell.getClass().getComponentType()
                            + ", not of numbers");
                }
                out[i] = ((Number) v).doubleValue();
            }
            return out;
        }
        if (cell instanceof String) {
            String s = ((String) cell).trim();
            return missingText(s) ? null : parseArray(s, column, false);
        }
        throw new BadCellException(column + " holds a " + cell.getClass().getSimpleName() + ", not an array of numbers");
    }

    /**
     * The numbers of an array written as {@code (a, b, ...)} or {@code [a,b,...]} (elements
     * separated by commas and/or white space), null if it has none. An element {@code null},
     * {@code nan} or {@code --} (a masked element) is NaN; other elements are read as
     * {@link Csv#parseNumber} reads numbers, as doubles, or if {@code float32} as doubles rounded
     * to float32 (as astropy reads an ECSV {@code float32} array: JSON numbers, then float32).
     * Parsed here in one pass: the arrays are most of what an archive file holds.
     *
     * @throws BadCellException naming the column and the element that is not a number
     */
    static double[] parseArray(String text, String column, boolean float32) throws BadCellException {
        String s = text.trim();
        int n = s.length();
        if (n < 2 || !((s.charAt(0) == '(' && s.charAt(n - 1) == ')') || (s.charAt(0) == '[' && s.charAt(n - 1) == ']'))) {
            throw new BadCellException(column + " = '" + shorten(s) + "' is not an array ((a, b, ...) or [a,b,...])");
        }
        double[] out = new double[16];
        int count = 0;
        int i = 1;
        int end = n - 1;
        while (true) {
            while (i < end && isSeparator(s.charAt(i))) {
                i++;
            }
            if (i >= end) {
                break;
            }
            int start = i;
            boolean plain = true;
            while (i < end && !isSeparator(s.charAt(i))) {
                char c = s.charAt(i);
                plain &= (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+';
                i++;
            }
            String token = s.substring(start, i);
            double v;
            try {
                v = plain ? Double.parseDouble(token) : element(token);
            } catch (NumberFormatException e) {
                throw new BadCellException(column + "[" + count + "] = '" + shorten(token) + "' is not a number");
            }
            if (count == out.length) {
                out = java.util.Arrays.copyOf(out, 2 * count);
            }
            out[count++] = float32 ? (double) (float) v : v;
        }
        return count == 0 ? null : java.util.Arrays.copyOf(out, count);
    }

    private static boolean isSeparator(char c) {
        return c == ',' || c == ' ' || c == '\t';
    }

    private static double element(String token) {
        String t = token.toLowerCase(Locale.ROOT);
        return t.equals("null") || t.equals("--") ? Double.NaN : Csv.parseNumber(token);
    }

    /** The cell as a number, or null if missing. */
    static Double number(Object cell, String column) throws BadCellException {
        if (cell == null) {
            return null;
        }
        if (cell instanceof Number) {
            return ((Number) cell).doubleValue();
        }
        if (cell instanceof String) {
            String s = (String) cell;
            if (missingText(s)) {
                return null;
            }
            try {
                return Csv.parseNumber(s);
            } catch (NumberFormatException e) {
                throw new BadCellException(column + " = '" + shorten(s.trim()) + "' is not a number");
            }
        }
        throw new BadCellException(column + " holds a " + cell.getClass().getSimpleName() + ", not a number");
    }

    /**
     * The row's source id as the Python reader writes it ({@code xpdata._source_ids}): the cell's
     * text, an integral float without its fraction, {@code row<i>} where there is none.
     */
    static String sourceId(Object cell, long rowIndex) {
        String fallback = "row" + rowIndex;
        if (cell == null) {
            return fallback;
        }
        if (cell instanceof Double || cell instanceof Float) {
            double d = ((Number) cell).doubleValue();
            if (Double.isNaN(d)) {
                return fallback;
            }
            if (d == Math.rint(d) && Math.abs(d) < 9.2e18) {
                return Long.toString((long) d);
            }
        }
        String s = cell.toString().trim();
        return s.isEmpty() || s.equalsIgnoreCase("nan") ? fallback : s;
    }

    private static String shorten(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
