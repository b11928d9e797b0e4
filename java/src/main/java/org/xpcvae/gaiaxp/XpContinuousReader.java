package org.xpcvae.gaiaxp;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the Gaia archive's XP continuous product (archive CSV, ECSV, FITS, gzipped CSV or ECSV)
 * row by row into {@link XpContinuousRecord}s, before any calibration: the coefficients, errors,
 * correlations, number of parameters and standard deviation of each band. Holds one row at a
 * time. A row lacking a band (no finite coefficient, or no positive {@code <band>_n_parameters},
 * as the Python reader decides) is a {@link XpContinuousRecord#lacking} record; a malformed value
 * makes an {@link XpContinuousRecord#invalid} record naming the source, the column and the
 * problem; nothing is dropped.
 */
public final class XpContinuousReader implements AutoCloseable {
    /** The per-band columns the calibration needs (after the {@code bp_}/{@code rp_} prefix). */
    static final List<String> BAND_COLUMNS = List.of("coefficients", "coefficient_errors",
            "coefficient_correlations", "n_parameters", "standard_deviation");

    private final TableCursor cursor;
    private final int idColumn;
    private final Map<String, Integer> index = new HashMap<>();
    private long rowIndex;

    private XpContinuousReader(TableCursor cursor) throws SpectraFileException {
        this.cursor = cursor;
        List<String> columns = cursor.columns();
        for (int i = 0; i < columns.size(); i++) {
            index.putIfAbsent(columns.get(i), i);
        }
        List<String> missing = new ArrayList<>();
        for (Band band : Band.values()) {
            for (String c : BAND_COLUMNS) {
                if (!index.containsKey(band.column(c))) {
                    missing.add(band.column(c));
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new SpectraFileException(cursor.file() + ": XP continuous product lacks column"
                    + (missing.size() > 1 ? "s " : " ") + String.join(", ", missing));
        }
        idColumn = index.getOrDefault("source_id", -1);
    }

    /**
     * Opens an XP continuous file.
     *
     * @throws SpectraFileException naming the file if it is not an XP continuous product or cannot be read
     */
    public static XpContinuousReader open(Path file) throws IOException {
        TableCursor cursor = FileFormat.detect(file).open(file);
        try {
            if (Layout.of(cursor.columns(), file) != Layout.CONTINUOUS) {
                throw new SpectraFileException(file + ": not an XP continuous product (no bp_coefficients or "
                        + "rp_coefficients column)");
            }
            return new XpContinuousReader(cursor);
        } catch (IOException | RuntimeException e) {
            cursor.close();
            throw e;
        }
    }

    /** A reader over an opened table (which it closes). */
    static XpContinuousReader over(TableCursor cursor) throws SpectraFileException {
        return new XpContinuousReader(cursor);
    }

    /** The file being read. */
    public Path file() {
        return cursor.file();
    }

    /**
     * The next row, or null at the end.
     *
     * @throws SpectraFileException if the file turns out to be corrupt or truncated
     */
    public XpContinuousRecord next() throws IOException {
        if (!cursor.next()) {
            return null;
        }
        long row = rowIndex++;
        long line = cursor.lineNumber();
        String id;
        try {
            id = Cells.sourceId(idColumn < 0 ? null : cursor.cell(idColumn), row);
        } catch (Cells.BadCellException e) {
            return XpContinuousRecord.invalid("row" + row, row, line, "row " + row + ": " + e.getMessage());
        }
        if (cursor.rowProblem() != null) {
            return XpContinuousRecord.invalid(id, row, line, "source " + id + ": " + cursor.rowProblem());
        }
        try {
            List<Band> missing = new ArrayList<>();
            for (Band band : Band.values()) {
                if (!present(band)) {
                    missing.add(band);
                }
            }
            if (!missing.isEmpty()) {
                return XpContinuousRecord.lacking(id, row, line, missing);
            }
            return XpContinuousRecord.of(id, row, line, solution(Band.BP), solution(Band.RP));
        } catch (Cells.BadCellException | IllegalArgumentException e) {
            return XpContinuousRecord.invalid(id, row, line, "source " + id + ": " + e.getMessage());
        }
    }

    private Object cell(Band band, String name) throws IOException, Cells.BadCellException {
        return cursor.cell(index.get(band.column(name)));
    }

    /** The Python reader's test of a band's presence ({@code xpdata._band_present}). */
    private boolean present(Band band) throws IOException, Cells.BadCellException {
        double[] c = Cells.doubles(cell(band, "coefficients"), band.column("coefficients"));
        boolean anyFinite = false;
        for (int i = 0; c != null && i < c.length && !anyFinite; i++) {
            anyFinite = Double.isFinite(c[i]);
        }
        if (!anyFinite) {
            return false;
        }
        Double n = Cells.number(cell(band, "n_parameters"), band.column("n_parameters"));
        return n != null && Double.isFinite(n) && n > 0;
    }

    private BandSolution solution(Band band) throws IOException, Cells.BadCellException {
        double n = Cells.number(cell(band, "n_parameters"), band.column("n_parameters"));
        if (n != Math.rint(n) || n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(band.column("n_parameters") + " = " + n + " is not an integer");
        }
        Double sigma = Cells.number(cell(band, "standard_deviation"), band.column("standard_deviation"));
        if (sigma == null) {
            throw new IllegalArgumentException(band.column("standard_deviation") + " is missing");
        }
        return BandSolution.of(band, (int) n,
                Cells.doubles(cell(band, "coefficients"), band.column("coefficients")),
                Cells.doubles(cell(band, "coefficient_errors"), band.column("coefficient_errors")),
                Cells.doubles(cell(band, "coefficient_correlations"), band.column("coefficient_correlations")),
                sigma);
    }

    @Override
    public void close() throws IOException {
        cursor.close();
    }
}
