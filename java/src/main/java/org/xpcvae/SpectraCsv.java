package org.xpcvae;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.Writer;
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
 * <p>A missing header or missing columns make the file unreadable ({@link CsvFormatException});
 * a problem in one data row (too few fields, a value that is not a number) is reported in that
 * row's {@link Row} and reading goes on. Blank lines are skipped and not counted as rows.
 * Numbers are parsed as doubles (accepting Python's {@code nan}/{@code inf} spellings) and rounded
 * to float32.
 */
public final class SpectraCsv {
    private SpectraCsv() {
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

        /** 0-based data row number (the CLI's source index). */
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
        private final int minFields;
        private final int headerFields;
        private long lineNumber;
        private long rowIndex;

        private Reader(Path file, BufferedReader in, int length) throws IOException {
            this.file = file;
            this.in = in;
            this.length = length;
            String header = in.readLine();
            lineNumber = 1;
            while (header != null && header.trim().isEmpty()) {
                header = in.readLine();
                lineNumber++;
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
            int max = idColumn;
            for (int i = 0; i < length; i++) {
                max = Math.max(max, Math.max(fluxColumns[i], errorColumns[i]));
            }
            minFields = max + 1;
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
                line = in.readLine();
                if (line == null) {
                    return null;
                }
                lineNumber++;
            } while (line.trim().isEmpty());
            long row = rowIndex++;
            List<String> fields = Csv.split(line);
            String id = idColumn < fields.size() ? fields.get(idColumn).trim() : "";
            String who = id.isEmpty() ? "row " + row : "source " + id;
            if (fields.size() < minFields) {
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
        BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
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
