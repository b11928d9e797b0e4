package org.xpcvae.gaiaxp;

import org.xpcvae.SpectraCsv;
import uk.ac.starlink.ecsv.EcsvColumn;
import uk.ac.starlink.ecsv.EcsvDecoder;
import uk.ac.starlink.ecsv.EcsvFormatException;
import uk.ac.starlink.ecsv.EcsvMeta;
import uk.ac.starlink.ecsv.SnakeYamlParser;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * A CSV or ECSV table, plain or gzipped, read line by line: one header (for ECSV the YAML block
 * of {@code #} lines, then the column names line), then one row per non-blank line.
 *
 * <p>CSV cells are the fields' text, read later as float64 as GaiaXPy and the Python reader read
 * them. ECSV cells are decoded as the header declares (a {@code float32[null]} array gives
 * {@code float[]}, as astropy reads it) by STIL's ECSV header parser and cell decoders
 * ({@code uk.ac.starlink.ecsv}). The rows themselves are split here rather than by STIL's ECSV
 * reader: that reader ends the table without a word at a row cut short (a quoted field still open
 * at the end of a truncated file) and reads a malformed value as a missing one, whereas here every
 * line is a row, and a row that cannot be split, or a cell that cannot be decoded, is reported.
 * STIL's CSV reader is not used either: it reads the whole file once to guess the column types
 * (and may guess float32 for decimal text) before it reads the rows.
 *
 * <p>Bytes that are not UTF-8 read as U+FFFD. Lines longer than {@link SpectraCsv#MAX_LINE_BYTES} characters
 * become row problems without being held in memory.
 */
final class TextTableCursor implements TableCursor {
    private static final Pattern ECSV_MAGIC = Pattern.compile("#\\s+%ECSV\\s+[0-9]+[.][0-9]+\\s*");

    private final Path file;
    private final LineSource lines;
    private final char delimiter;
    private final List<String> columns;
    /** Per column: STIL's ECSV decoder, or null (CSV: the text is the cell). */
    private final List<EcsvDecoder<?>> decoders;
    private final List<String> datatypes;
    private final Map<?, ?> meta;
    private List<String> fields = Collections.emptyList();
    private String problem;
    private long rows;

    private TextTableCursor(Path file, LineSource lines, boolean ecsv) throws IOException {
        this.file = file;
        this.lines = lines;
        String header = readLine();
        while (header != null && !lines.tooLong() && header.trim().isEmpty()) {
            header = readLine();
        }
        if (header == null) {
            throw new SpectraFileException(file + ": empty file, expected a " + (ecsv ? "ECSV" : "CSV") + " header");
        }
        if (header.startsWith("\uFEFF")) {
            header = header.substring(1);
        }
        List<String> decoded = new ArrayList<>();
        List<String> types = new ArrayList<>();
        List<EcsvDecoder<?>> decs = new ArrayList<>();
        Map<?, ?> tableMeta = null;
        char delim = ',';
        if (ecsv) {
            if (!ECSV_MAGIC.matcher(header).matches()) {
                throw new SpectraFileException(file + ": the first line is not an ECSV identifier (# %ECSV 1.0)");
            }
            List<String> yaml = new ArrayList<>();
            for (header = readLine(); header != null && !lines.tooLong() && header.startsWith("#"); header = readLine()) {
                yaml.add(header.startsWith("# ") ? header.substring(2) : header.substring(1));
            }
            if (header == null || lines.tooLong()) {
                throw new SpectraFileException(file + ": the ECSV header is not followed by a column names line");
            }
            EcsvMeta parsed;
            try {
                parsed = new SnakeYamlParser().parseMeta(yaml.toArray(new String[0]));
            } catch (EcsvFormatException | RuntimeException e) {
                throw new SpectraFileException(file + ": cannot read the ECSV header (" + e.getMessage() + ")", e);
            }
            delim = parsed.getDelimiter();
            tableMeta = parsed.getTableMeta();
            for (EcsvColumn<?> c : parsed.getColumns()) {
                decoded.add(c.getName().trim());
                decs.add(c.getDecoder());
                types.add(c.getDatatype());
            }
        }
        if (lines.tooLong()) {
            throw new SpectraFileException(file + ": the header line is longer than " + SpectraCsv.MAX_LINE_BYTES
                    + " characters");
        }
        List<String> names = split(header, delim);
        if (names == null) {
            throw new SpectraFileException(file + ": the column names line ends inside a quoted name");
        }
        List<String> trimmed = new ArrayList<>();
        for (String n : names) {
            trimmed.add(n.trim());
        }
        if (ecsv && !trimmed.equals(decoded)) {
            throw new SpectraFileException(file + ": the ECSV column names line (" + shown(trimmed)
                    + ") differs from the header's columns (" + shown(decoded) + ")");
        }
        this.delimiter = delim;
        this.columns = Collections.unmodifiableList(trimmed);
        this.decoders = ecsv ? decs : null;
        this.datatypes = types;
        this.meta = tableMeta;
    }

    private static String shown(List<String> names) {
        return String.join(", ", names.subList(0, Math.min(6, names.size()))) + (names.size() > 6 ? ", ..." : "");
    }

    /** Opens {@code file} (gunzipping it if {@code gzip}) as CSV or, if {@code ecsv}, ECSV, and reads the header. */
    static TextTableCursor open(Path file, boolean gzip, boolean ecsv) throws IOException {
        InputStream raw = Files.newInputStream(file);
        try {
            InputStream in = gzip ? new GZIPInputStream(raw, 1 << 16) : raw;
            CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE);
            LineSource lines = new LineSource(new InputStreamReader(in, utf8), SpectraCsv.MAX_LINE_BYTES);
            return new TextTableCursor(file, lines, ecsv);
        } catch (SpectraFileException e) {
            raw.close();
            throw e;
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw corrupt(file, 0, e);
        }
    }

    /** The file cannot be read further: corrupt (e.g. not gzip data) or truncated. */
    static SpectraFileException corrupt(Path file, long line, Exception cause) {
        return new SpectraFileException(file + ": the file is corrupt or truncated"
                + (line > 0 ? " after line " + line : "") + " (" + cause + ")", cause);
    }

    private String readLine() throws IOException {
        try {
            return lines.next();
        } catch (IOException e) {
            throw corrupt(file, lines.lineNumber(), e);
        }
    }

    /**
     * The fields of {@code line}: separated by {@code delimiter} (a run of spaces for a space),
     * a field in double quotes may hold delimiters and doubled quotes; null if a quoted field is
     * still open at the end of the line or a closing quote is not followed by a delimiter.
     */
    static List<String> split(String line, char delimiter) {
        List<String> out = new ArrayList<>();
        boolean space = delimiter == ' ';
        String s = space ? line.trim() : line;
        int n = s.length();
        int i = 0;
        while (true) {
            StringBuilder field = new StringBuilder();
            if (i < n && s.charAt(i) == '"') {
                i++;
                while (true) {
                    int quote = s.indexOf('"', i);
                    if (quote < 0) {
                        return null; // still open at the end of the line
                    }
                    field.append(s, i, quote);
                    i = quote + 1;
                    if (i < n && s.charAt(i) == '"') {
                        field.append('"'); // a doubled quote
                        i++;
                    } else {
                        break;
                    }
                }
                if (i < n && s.charAt(i) != delimiter) {
                    return null;
                }
            } else {
                int stop = s.indexOf(delimiter, i);
                field.append(s, i, stop < 0 ? n : stop);
                i = stop < 0 ? n : stop;
            }
            out.add(field.toString());
            if (i >= n) {
                return out;
            }
            i++; // the delimiter
            while (space && i < n && s.charAt(i) == ' ') {
                i++;
            }
        }
    }

    @Override
    public Path file() {
        return file;
    }

    @Override
    public List<String> columns() {
        return columns;
    }

    @Override
    public boolean next() throws IOException {
        String line;
        do {
            line = readLine();
            if (line == null) {
                fields = Collections.emptyList();
                return false;
            }
        } while (!lines.tooLong() && line.trim().isEmpty());
        long row = rows++;
        problem = null;
        fields = Collections.emptyList();
        String where = "row " + row + " (line " + lines.lineNumber() + ")";
        if (lines.tooLong()) {
            problem = where + " is longer than " + SpectraCsv.MAX_LINE_BYTES + " characters";
            return true;
        }
        List<String> split = split(line, delimiter);
        if (split == null) {
            problem = where + " has a quoted field that is not closed properly (a line cut short?)";
            return true;
        }
        fields = split;
        if (fields.size() != columns.size()) {
            problem = where + " has " + fields.size() + " fields, the header has " + columns.size();
        }
        return true;
    }

    @Override
    public Object cell(int column) throws Cells.BadCellException {
        if (column < 0 || column >= fields.size()) {
            return null;
        }
        String word = fields.get(column);
        String t = word.trim().toLowerCase(Locale.ROOT);
        if (t.isEmpty() || t.equals("null") || t.equals("none") || t.equals("--")) {
            return null;
        }
        if (decoders == null) {
            return word;
        }
        EcsvDecoder<?> decoder = decoders.get(column);
        Class<?> type = decoder.getContentClass();
        if (t.equals("nan") && !type.isArray()) {
            if (type == Float.class) {
                return Float.NaN;
            }
            if (type == Double.class) {
                return Double.NaN;
            }
        }
        if (t.equals("nan") && type.isArray()) {
            return null; // a whole array cell written as nan: missing, as the Python reader reads it
        }
        if ((type == float[].class || type == double[].class) && t.startsWith("[") && !t.startsWith("[[")) {
            // a one-dimensional number array: parsed directly (STIL's decoder goes through a JSON tree)
            return Cells.parseArray(word, columns.get(column), type == float[].class);
        }
        Object v;
        try {
            v = decoder.decode(word.trim());
        } catch (RuntimeException e) {
            v = null;
        }
        if (v == null) {
            throw new Cells.BadCellException(columns.get(column) + " = '" + (word.length() > 40
                    ? word.substring(0, 40) + "..." : word) + "' cannot be read as " + datatypes.get(column)
                    + (type.isArray() ? " array" : ""));
        }
        return v;
    }

    @Override
    public String rowProblem() {
        return problem;
    }

    @Override
    public long lineNumber() {
        return lines.lineNumber();
    }

    /** An ECSV {@code meta} entry of the table; CSV files have none. */
    @Override
    public Object parameter(String name) {
        return meta == null ? null : meta.get(name);
    }

    @Override
    public void close() throws IOException {
        lines.close();
    }
}
