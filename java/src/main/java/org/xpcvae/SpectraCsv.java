package org.xpcvae;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reader and writer of the spectra CSV of docs/formats.md:
 * {@code source_id,flux_0,...,flux_<n-1>,flux_error_0,...,flux_error_<n-1>} (UTF-8, one header
 * line, columns located by name, extra columns ignored).
 *
 * <p>A missing header or missing columns, or flux columns for more samples than the bundle's
 * grid has ({@code flux_343}, ...: spectra on another wavelength grid), make the file unreadable
 * ({@link CsvFormatException}); a problem in one data row (another number of fields than the
 * header, a value that is not a number, a line longer than {@link #MAX_LINE_CHARS}) is reported in
 * that row's {@link Row} and reading goes on, so that batch output keeps one row per input row.
 * Blank lines are skipped and not counted as rows. Bytes that are not UTF-8 are read as U+FFFD
 * (a row holding them in a number field becomes an error row; they never stop the file). Numbers
 * are parsed as doubles (accepting Python's {@code nan}/{@code inf} spellings) and rounded to
 * float32. A file name of {@code -} reads standard input.
 */
public final class SpectraCsv {
    private SpectraCsv() {
    }

    /** Longest data line read (a spectrum takes about 20 000 characters); longer lines are error rows. */
    public static final int MAX_LINE_CHARS = 1 << 22;

    /** Wavelengths of the spectra CSV's samples: GaiaXPy's default sampling, 336, 338, ..., 1020 nm. */
    public static double wavelengthNm(int i) {
        return 336.0 + 2.0 * i;
    }

    /** Two wavelength grids are the same when every sample agrees to this many nm. */
    public static final double GRID_TOLERANCE_NM = 1e-3;

    /**
     * Checks that {@code bundle}'s wavelength grid is the spectra CSV's (the file carries no
     * wavelengths: flux_i is at {@link #wavelengthNm(int)}, docs/formats.md), so that spectra are
     * never fed to a model trained on another grid.
     *
     * @throws CsvFormatException naming the bundle, both grids and the first differing sample
     */
    public static void checkGrid(ModelBundle bundle, Path file) throws CsvFormatException {
        double[] w = bundle.wavelength();
        if (w.length != ModelBundle.SPECTRUM_LENGTH) {
            throw new CsvFormatException(file + ": the spectra CSV has " + ModelBundle.SPECTRUM_LENGTH
                    + " samples per spectrum (336-1020 nm), bundle " + bundle.directory() + " has a grid of "
                    + w.length);
        }
        for (int i = 0; i < w.length; i++) {
            if (!(Math.abs(w[i] - wavelengthNm(i)) <= GRID_TOLERANCE_NM)) {
                throw new CsvFormatException(file + ": bundle " + bundle.directory() + " has another wavelength grid ("
                        + w.length + " points " + w[0] + "-" + w[w.length - 1] + " nm; sample " + i + " at " + w[i]
                        + " nm) than the spectra CSV (GaiaXPy's default sampling, 336-1020 nm in steps of 2 nm; sample "
                        + i + " at " + wavelengthNm(i) + " nm): the spectra would be misread");
            }
        }
    }

    /** One data row: a parsed spectrum (not yet validated) or the reason it could not be parsed. */
    public static final class Row {
        private final long rowIndex;
        private final long lineNumber;
        private final String sourceId;
        private final Spectrum spectrum;
        private final String error;

        private Row(long rowIndex, long lineNumber, String sourceId, Spectrum spectrum, String error) {
            this.rowIndex = rowIndex;
            this.lineNumber = lineNumber;
            this.sourceId = sourceId;
            this.spectrum = spectrum;
            this.error = error;
        }

        /** 0-based data row number (messages name rows by it; random streams are keyed by the source id). */
        public long rowIndex() {
            return rowIndex;
        }

        /** 1-based line number in the file. */
        public long lineNumber() {
            return lineNumber;
        }

        /** The row's source_id ("" if the row has none). */
        public String sourceId() {
            return sourceId;
        }

        /** Whether the row could be parsed ({@link #spectrum()} is then non-null). */
        public boolean ok() {
            return spectrum != null;
        }

        /** The parsed spectrum, or null if the row could not be parsed. */
        public Spectrum spectrum() {
            return spectrum;
        }

        /** Why the row could not be parsed (names the source or row), or null. */
        public String error() {
            return error;
        }

        @Override
        public String toString() {
            return "Row(" + rowIndex + ", " + sourceId + ", " + (ok() ? "ok" : error) + ")";
        }
    }

    /** Streaming reader; {@link #next()} returns rows in file order, null at the end. */
    public static final class Reader implements AutoCloseable {
        private final Path file;
        private final BufferedReader in;
        private final int length;
        private final int idColumn;
        private final int[] fluxColumns;
        private final int[] errorColumns;
        private final int headerFields;
        private long lineNumber;
        private long rowIndex;

        private Reader(Path file, BufferedReader in, int length) throws IOException {
            this.file = file;
            this.in = in;
            this.length = length;
            String header = readLine();
            lineNumber = 1;
            while (header != null && !tooLong && header.trim().isEmpty()) {
                header = readLine();
                lineNumber++;
            }
            if (tooLong) {
                throw new CsvFormatException(file + ": the header line is longer than " + MAX_LINE_CHARS
                        + " characters");
            }
            if (header == null) {
                throw new CsvFormatException(file + ": no header line (expected source_id,flux_0,...,flux_"
                        + (length - 1) + ",flux_error_0,...)");
            }
            if (header.startsWith("\uFEFF")) {
                header = header.substring(1);
            }
            List<String> names = Csv.split(header);
            headerFields = names.size();
            Map<String, Integer> index = new HashMap<>();
            List<String> duplicates = new ArrayList<>();
            for (int i = 0; i < names.size(); i++) {
                String name = names.get(i).trim();
                if (index.put(name, i) != null) {
                    duplicates.add(name);
                }
            }
            List<String> missing = new ArrayList<>();
            idColumn = column(index, "source_id", missing);
            fluxColumns = new int[length];
            errorColumns = new int[length];
            for (int i = 0; i < length; i++) {
                fluxColumns[i] = column(index, "flux_" + i, missing);
            }
            for (int i = 0; i < length; i++) {
                errorColumns[i] = column(index, "flux_error_" + i, missing);
            }
            if (!missing.isEmpty()) {
                String list = String.join(", ", missing.subList(0, Math.min(5, missing.size())))
                        + (missing.size() > 5 ? " and " + (missing.size() - 5) + " more" : "");
                throw new CsvFormatException(file + ": header lacks column" + (missing.size() > 1 ? "s " : " ")
                        + list + " (expected source_id,flux_0,...,flux_" + (length - 1) + ",flux_error_0,...,flux_error_"
                        + (length - 1) + ")");
            }
            for (String d : duplicates) {
                if (d.equals("source_id") || d.startsWith("flux_")) {
                    throw new CsvFormatException(file + ": header has column " + d + " more than once");
                }
            }
            // flux_<i>/flux_error_<i> beyond the grid: spectra sampled on another (longer) grid
            int extra = -1;
            for (String name : index.keySet()) {
                String digits = name.startsWith("flux_error_") ? name.substring(11)
                        : name.startsWith("flux_") ? name.substring(5) : null;
                if (digits != null && !digits.isEmpty() && digits.length() < 10 && digits.chars().allMatch(Character::isDigit)) {
                    extra = Math.max(extra, Integer.parseInt(digits));
                }
            }
            if (extra >= length) {
                throw new CsvFormatException(file + ": header has flux columns up to index " + extra + " ("
                        + (extra + 1) + " samples per spectrum), the bundle's wavelength grid has " + length
                        + " (336-1020 nm in steps of 2 nm): the spectra are on another wavelength grid");
            }
            int max = idColumn;
            for (int i = 0; i < length; i++) {
                max = Math.max(max, Math.max(fluxColumns[i], errorColumns[i]));
            }
        }

        private static int column(Map<String, Integer> index, String name, List<String> missing) {
            Integer i = index.get(name);
            if (i == null) {
                missing.add(name);
                return -1;
            }
            return i;
        }

        /** The next data row, or null at the end of the file. */
        public Row next() throws IOException {
            String line;
            do {
                line = readLine();
                if (line == null) {
                    return null;
                }
                lineNumber++;
            } while (!tooLong && line.trim().isEmpty());
            long row = rowIndex++;
            if (tooLong) {
                return new Row(row, lineNumber, "", null, "row " + row + " (line " + lineNumber
                        + ") is longer than " + MAX_LINE_CHARS + " characters");
            }
            List<String> fields = Csv.split(line);
            String id = idColumn < fields.size() ? fields.get(idColumn).trim() : "";
            String who = id.isEmpty() ? "row " + row : "source " + id;
            if (fields.size() != headerFields) {
                return new Row(row, lineNumber, id, null, (id.isEmpty() ? "" : "source " + id + ": ") + "row " + row
                        + " (line " + lineNumber + ") has " + fields.size() + " fields, the header has " + headerFields);
            }
            float[] flux = new float[length];
            float[] error = new float[length];
            for (int i = 0; i < length; i++) {
                String bad = parse(fields.get(fluxColumns[i]), flux, i);
                if (bad != null) {
                    return new Row(row, lineNumber, id, null, who + ": flux_" + i + " " + bad);
                }
            }
            for (int i = 0; i < length; i++) {
                String bad = parse(fields.get(errorColumns[i]), error, i);
                if (bad != null) {
                    return new Row(row, lineNumber, id, null, who + ": flux_error_" + i + " " + bad);
                }
            }
            return new Row(row, lineNumber, id, new Spectrum(id, flux, error), null);
        }

        private final StringBuilder lineBuffer = new StringBuilder(1 << 15);
        private final char[] chunk = new char[1 << 16];
        private int chunkPos;
        private int chunkEnd;
        private boolean tooLong;
        private boolean pendingCr;

        /**
         * The next line without its terminator ({@code \n}, {@code \r\n} or {@code \r}, as
         * {@link BufferedReader#readLine()}), or null at the end; a line longer than
         * {@link #MAX_LINE_CHARS} is consumed but not kept ({@link #tooLong} set, "" returned).
         */
        private String readLine() throws IOException {
            lineBuffer.setLength(0);
            tooLong = false;
            boolean any = false;
            while (true) {
                if (chunkPos == chunkEnd) {
                    int n = in.read(chunk, 0, chunk.length);
                    if (n < 0) {
                        return any ? (tooLong ? "" : lineBuffer.toString()) : null;
                    }
                    chunkPos = 0;
                    chunkEnd = n;
                    continue;
                }
                if (pendingCr) {
                    pendingCr = false;
                    if (chunk[chunkPos] == '\n') {
                        chunkPos++; // the \n of a \r\n
                        continue;
                    }
                }
                int start = chunkPos;
                int stop = start;
                while (stop < chunkEnd && chunk[stop] != '\n' && chunk[stop] != '\r') {
                    stop++;
                }
                if (stop > start) {
                    any = true;
                    if (!tooLong && lineBuffer.length() + (stop - start) > MAX_LINE_CHARS) {
                        tooLong = true;
                        lineBuffer.setLength(0);
                    }
                    if (!tooLong) {
                        lineBuffer.append(chunk, start, stop - start);
                    }
                }
                chunkPos = stop;
                if (stop < chunkEnd) {
                    pendingCr = chunk[stop] == '\r';
                    chunkPos++;
                    return tooLong ? "" : lineBuffer.toString();
                }
            }
        }

        private static String parse(String text, float[] dst, int i) {
            if (text.trim().isEmpty()) {
                return "is empty";
            }
            try {
                dst[i] = (float) Csv.parseNumber(text);
                return null;
            } catch (NumberFormatException e) {
                String shown = text.length() > 40 ? text.substring(0, 40) + "..." : text;
                return "= '" + shown + "' is not a number";
            }
        }

        /** The file being read ({@code -} for standard input). */
        public Path file() {
            return file;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /**
     * Opens {@code file} and reads its header.
     *
     * @param spectrumLength number of flux values per spectrum (the bundle's grid, 343)
     * @throws CsvFormatException if the header is missing or lacks required columns
     */
    public static Reader open(Path file, int spectrumLength) throws IOException {
        InputStream raw = file.toString().equals("-") ? System.in : Files.newInputStream(file);
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        BufferedReader in = new BufferedReader(new InputStreamReader(raw, utf8), 1 << 16);
        try {
            return new Reader(file, in, spectrumLength);
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    /** All rows of {@code file}. */
    public static List<Row> readAll(Path file, int spectrumLength) throws IOException {
        List<Row> rows = new ArrayList<>();
        try (Reader r = open(file, spectrumLength)) {
            for (Row row = r.next(); row != null; row = r.next()) {
                rows.add(row);
            }
        }
        return rows;
    }

    /** The header line for spectra of {@code length} values. */
    public static String header(int length) {
        StringBuilder sb = new StringBuilder("source_id");
        for (int i = 0; i < length; i++) {
            sb.append(",flux_").append(i);
        }
        for (int i = 0; i < length; i++) {
            sb.append(",flux_error_").append(i);
        }
        return sb.toString();
    }

    /**
     * Writes spectra (all of the same length) atomically. Each float32 value is written as the
     * shortest decimal of its exact double value, so it reads back to the same float.
     */
    public static void write(Path file, List<Spectrum> spectra) throws IOException {
        Objects.requireNonNull(spectra);
        int length = spectra.isEmpty() ? ModelBundle.SPECTRUM_LENGTH : spectra.get(0).length();
        try (AtomicTextFile f = AtomicTextFile.create(file)) {
            Writer w = f.writer();
            w.write(header(length));
            w.write('\n');
            for (Spectrum s : spectra) {
                float[] flux = s.flux();
                float[] err = s.fluxError();
                if (flux.length != length || err.length != length) {
                    throw new IllegalArgumentException("source " + s.sourceId() + ": " + flux.length + "/"
                            + err.length + " values, expected " + length);
                }
                w.write(Csv.quote(s.sourceId()));
                for (float v : flux) {
                    w.write(',');
                    w.write(Double.toString(v));
                }
                for (float v : err) {
                    w.write(',');
                    w.write(Double.toString(v));
                }
                w.write('\n');
            }
            f.commit();
        }
    }
}
