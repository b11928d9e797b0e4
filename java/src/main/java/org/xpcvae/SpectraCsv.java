package org.xpcvae;

import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Reader and writer of the spectra CSV of docs/formats.md:
 * {@code source_id,flux_0,...,flux_<n-1>,flux_error_0,...,flux_error_<n-1>}, read exactly as the
 * document's "Spectra CSV grammar" says, the same as the Python reader
 * ({@code xpcvae.data.spectra_csv}): both agree on which lines are rows (a row's number is its
 * random stream), on every value to the bit and on every message.
 *
 * <p>A file unusable as a whole (not UTF-8 text, no header, missing or duplicate columns, flux
 * columns for more samples than the bundle's grid has) is refused by {@link #open} with a
 * {@link CsvFormatException} naming the file, before any row is read. Every other problem is
 * reported in that row's {@link Row} and reading goes on, so that batch output keeps one row per
 * input row. Values are parsed as doubles and rounded to float32. A file name of {@code -} reads
 * standard input.
 */
public final class SpectraCsv {
    private SpectraCsv() {
    }

    /** Longest line read (a spectrum takes about 15 000 bytes); longer lines are error rows. */
    public static final int MAX_LINE_BYTES = CsvLines.MAX_LINE_BYTES;

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

        /** A parsed row (for readers of other formats: {@link SpectrumReader}). */
        public static Row ok(long rowIndex, long lineNumber, Spectrum spectrum) {
            return new Row(rowIndex, lineNumber, spectrum.sourceId(), spectrum, null);
        }

        /** A row that could not be parsed; {@code message} names the source or row and the problem. */
        public static Row error(long rowIndex, long lineNumber, String sourceId, String message) {
            return new Row(rowIndex, lineNumber, Objects.requireNonNull(sourceId), null, Objects.requireNonNull(message));
        }

        /** 0-based data row number (messages name rows by it; random streams are keyed by the source id). */
        public long rowIndex() {
            return rowIndex;
        }

        /** 1-based line number in the file; 0 where the format has no lines (FITS) or the reader does not know it. */
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
    public static final class Reader implements SpectrumReader {
        private final Path file;
        private final CsvLines lines;
        private final int length;
        private final int idColumn;
        private final int[] fluxColumns;
        private final int[] errorColumns;
        private final int headerFields;
        private final Csv.Value value = new Csv.Value();
        private long rowIndex;

        private Reader(Path file, CsvLines lines, int length) throws IOException {
            this.file = file;
            this.lines = lines;
            this.length = length;
            List<String> names = header();
            headerFields = names.size();
            Map<String, Integer> index = new HashMap<>();
            for (int i = 0; i < names.size(); i++) {
                index.putIfAbsent(names.get(i), i);
            }
            List<String> missing = new ArrayList<>();
            idColumn = column(index, "source_id", missing);
            fluxColumns = new int[length];
            errorColumns = new int[length];
            Set<String> required = new HashSet<>();
            required.add("source_id");
            for (int i = 0; i < length; i++) {
                fluxColumns[i] = column(index, "flux_" + i, missing);
                required.add("flux_" + i);
            }
            for (int i = 0; i < length; i++) {
                errorColumns[i] = column(index, "flux_error_" + i, missing);
                required.add("flux_error_" + i);
            }
            if (!missing.isEmpty()) {
                String list = String.join(", ", missing.subList(0, Math.min(5, missing.size())))
                        + (missing.size() > 5 ? " and " + (missing.size() - 5) + " more" : "");
                throw new CsvFormatException(file + ": header lacks column" + (missing.size() > 1 ? "s " : " ")
                        + list + " (expected source_id,flux_0,...,flux_" + (length - 1) + ",flux_error_0,...,flux_error_"
                        + (length - 1) + "; docs/formats.md)");
            }
            Set<String> seen = new HashSet<>();
            for (String name : names) {
                if (!seen.add(name) && required.contains(name)) {
                    throw new CsvFormatException(file + ": header has column " + name + " more than once");
                }
            }
            // flux_<K>/flux_error_<K> beyond the grid: spectra sampled on another (longer) grid
            BigInteger top = BigInteger.valueOf(-1);
            for (String name : names) {
                String digits = name.startsWith("flux_error_") ? name.substring(11)
                        : name.startsWith("flux_") ? name.substring(5) : null;
                if (digits != null && !digits.isEmpty() && digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
                    top = top.max(new BigInteger(digits));
                }
            }
            if (top.compareTo(BigInteger.valueOf(length)) >= 0) {
                throw new CsvFormatException(file + ": header has flux columns up to index " + top + " ("
                        + top.add(BigInteger.ONE) + " samples per spectrum), the model's wavelength grid has " + length
                        + " (336-1020 nm in steps of 2 nm): the spectra are on another wavelength grid");
            }
        }

        /** The column names of the first non-blank line (rules 10 and 11 up to the column checks). */
        private List<String> header() throws IOException {
            while (lines.next()) {
                if (lines.blank()) {
                    continue;
                }
                String where = file + ": the header (line " + lines.lineNumber() + ")";
                if (lines.tooLong()) {
                    throw new CsvFormatException(where + " " + CsvLines.TOO_LONG);
                }
                List<byte[]> fields;
                try {
                    fields = Csv.splitFields(lines.bytes(), lines.length());
                } catch (Csv.SyntaxException e) {
                    throw new CsvFormatException(where + ": " + e.getMessage());
                }
                String problem = CsvLines.utf8Problem(lines.bytes(), lines.length());
                if (problem != null) {
                    throw new CsvFormatException(where + " " + problem);
                }
                List<String> names = new ArrayList<>();
                for (byte[] f : fields) {
                    names.add(Csv.text(Csv.trim(f)));
                }
                return names;
            }
            throw new CsvFormatException(file + ": no header line (the file is empty or blank; expected source_id,"
                    + "flux_0,...,flux_" + (length - 1) + ",flux_error_0,...,flux_error_" + (length - 1) + ")");
        }

        private static int column(Map<String, Integer> index, String name, List<String> missing) {
            Integer i = index.get(name);
            if (i == null) {
                missing.add(name);
                return -1;
            }
            return i;
        }

        /** The next data row (rule 12), or null at the end of the file. */
        @Override
        public Row next() throws IOException {
            do {
                if (!lines.next()) {
                    return null;
                }
            } while (lines.blank());
            if (lines.tooLong()) {
                return error(null, "the line " + CsvLines.TOO_LONG);
            }
            byte[] line = lines.bytes();
            int n = lines.length();
            List<byte[]> fields;
            try {
                fields = Csv.splitFields(line, n);
            } catch (Csv.SyntaxException e) {
                return error(null, e.getMessage());
            }
            // the source is named when its field is there, valid UTF-8 and a usable source_id (rule 13)
            String id = null;
            if (idColumn < fields.size()) {
                byte[] f = Csv.trim(fields.get(idColumn));
                if (CsvLines.utf8Problem(f, f.length) == null && Csv.sourceIdProblem(Csv.text(f)) == null) {
                    id = Csv.text(f);
                }
            }
            String problem = CsvLines.utf8Problem(line, n);
            if (problem != null) {
                return error(id, "the line " + problem);
            }
            if (fields.size() != headerFields) {
                return error(id, "the row has " + fields.size() + (fields.size() == 1 ? " field" : " fields")
                        + ", the header has " + headerFields);
            }
            if (id == null) {
                return error(null, Csv.sourceIdProblem(Csv.text(Csv.trim(fields.get(idColumn)))));
            }
            float[] flux = new float[length];
            float[] error = new float[length];
            for (int i = 0; i < length; i++) {
                Csv.readValue(Csv.trim(fields.get(fluxColumns[i])), value);
                if (value.problem != null) {
                    return error(id, "flux_" + i + " " + value.problem);
                }
                flux[i] = value.value;
            }
            for (int i = 0; i < length; i++) {
                Csv.readValue(Csv.trim(fields.get(errorColumns[i])), value);
                if (value.problem != null) {
                    return error(id, "flux_error_" + i + " " + value.problem);
                }
                error[i] = value.value;
            }
            return new Row(rowIndex++, lines.lineNumber(), id, new Spectrum(id, flux, error), null);
        }

        /** An error row; {@code id}: the source_id when it is known (rule 13). */
        private Row error(String id, String problem) {
            long row = rowIndex++;
            long line = lines.lineNumber();
            if (id == null) {
                return new Row(row, line, "", null, "row " + row + " (line " + line + "): " + problem);
            }
            return new Row(row, line, id, null, "source " + id + ": " + problem + " (row " + row + ", line " + line
                    + ")");
        }

        /** The file being read ({@code -} for standard input). */
        @Override
        public Path file() {
            return file;
        }

        @Override
        public void close() throws IOException {
            lines.close();
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
        try {
            return new Reader(file, new CsvLines(file, raw), spectrumLength);
        } catch (IOException | RuntimeException e) {
            raw.close();
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
