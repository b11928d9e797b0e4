package org.xpcvae;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** CSV helpers shared by the readers and writers (RFC 4180 quoting, one record per line). */
public final class Csv {
    private Csv() {
    }

    /** Splits one line into fields; double-quoted fields may contain commas and doubled quotes. */
    static List<String> split(String line) {
        List<String> out = new ArrayList<>();
        int n = line.length();
        int i = 0;
        while (true) {
            if (i < n && line.charAt(i) == '"') {
                StringBuilder sb = new StringBuilder();
                i++;
                while (i < n) {
                    char c = line.charAt(i);
                    if (c == '"') {
                        if (i + 1 < n && line.charAt(i + 1) == '"') {
                            sb.append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    sb.append(c);
                    i++;
                }
                // anything between the closing quote and the next comma is kept verbatim
                int comma = line.indexOf(',', i);
                int stop = comma < 0 ? n : comma;
                sb.append(line, i, stop);
                out.add(sb.toString());
                if (comma < 0) {
                    return out;
                }
                i = comma + 1;
            } else {
                int comma = line.indexOf(',', i);
                if (comma < 0) {
                    out.add(line.substring(i));
                    return out;
                }
                out.add(line.substring(i, comma));
                i = comma + 1;
            }
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
     * A number as Python's {@code float()} reads it: decimal or scientific notation, plus
     * {@code nan}, {@code inf}, {@code infinity} (any case, optional sign). Rejects Java-only
     * forms (hexadecimal, {@code d}/{@code f} suffixes).
     *
     * @throws NumberFormatException if {@code text} is not a number
     */
    public static double parseNumber(String text) {
        String t = text.trim();
        if (t.isEmpty()) {
            throw new NumberFormatException("empty");
        }
        String lower = t.toLowerCase(Locale.ROOT);
        String body = lower.startsWith("+") || lower.startsWith("-") ? lower.substring(1) : lower;
        boolean negative = lower.startsWith("-");
        if (body.equals("nan")) {
            return Double.NaN;
        }
        if (body.equals("inf") || body.equals("infinity")) {
            return negative ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        }
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == '+' || c == '-')) {
                throw new NumberFormatException(text);
            }
        }
        return Double.parseDouble(t);
    }
}
