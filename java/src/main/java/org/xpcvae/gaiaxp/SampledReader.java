package org.xpcvae.gaiaxp;

import org.xpcvae.SpectraCsv;
import org.xpcvae.Spectrum;
import org.xpcvae.SpectrumReader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The rows of an XP sampled product ({@code flux} and {@code flux_error} arrays per source: the
 * archive's {@code xp_sampled_mean_spectrum}, or GaiaXPy's output), one at a time. The DR3
 * product carries no wavelengths: it is on GaiaXPy's default sampling, which must be the model's
 * grid. As in the Python reader ({@code xpcvae.xpdata}), that is checked as far as the file
 * allows, and a file on another grid is refused ({@link SpectraFileException}): a sampling given
 * in the file's metadata ({@code sampling}, {@code SAMPLING}, {@code Sampling}, {@code pos},
 * {@code wavelength}), a {@code wavelength} or {@code sampling} column, GaiaXPy's
 * {@code <stem>_sampling.csv} beside a CSV, or a first flux array of another length. A later row
 * with arrays of another length, a missing array or a non-finite sample is an error row.
 */
final class SampledReader implements SpectrumReader {
    /** Metadata keys that may hold the sampling, as the Python reader looks them up. */
    private static final List<String> SAMPLING_KEYS = List.of("sampling", "SAMPLING", "Sampling", "pos", "wavelength");
    /** Columns that may hold the sampling. */
    private static final List<String> SAMPLING_COLUMNS = List.of("wavelength", "sampling");

    private final TableCursor cursor;
    private final double[] grid;
    private final int idColumn;
    private final int fluxColumn;
    private final int errorColumn;
    /** The cursor stands on a row read by the constructor's checks and not yet returned. */
    private boolean pending;
    private long rowIndex;

    private SampledReader(TableCursor cursor, double[] grid) throws IOException {
        this.cursor = cursor;
        this.grid = grid.clone();
        List<String> columns = cursor.columns();
        idColumn = columns.indexOf("source_id");
        fluxColumn = columns.indexOf("flux");
        errorColumn = columns.indexOf("flux_error");
        Path file = cursor.file();
        for (String key : SAMPLING_KEYS) {
            Object v = cursor.parameter(key);
            if (v != null) {
                check(samplingOf(v, "the '" + key + "' metadata entry"), "the '" + key + "' metadata entry");
                break;
            }
        }
        String name = file.getFileName().toString();
        if (name.toLowerCase(java.util.Locale.ROOT).endsWith(".csv")) {
            Path side = file.resolveSibling(name.substring(0, name.length() - 4) + "_sampling.csv");
            if (Files.isRegularFile(side)) {
                checkSidecar(side);
            }
        }
        pending = cursor.next();
        if (pending && cursor.rowProblem() == null) {
            for (String c : SAMPLING_COLUMNS) {
                int i = columns.indexOf(c);
                Object v = cellOrNull(i);
                if (v != null) {
                    check(samplingOf(v, "column '" + c + "'"), "column '" + c + "'");
                    break;
                }
            }
            double[] flux = arrayOrNull(fluxColumn);
            if (flux != null && flux.length != grid.length) {
                String id = sourceId(0);
                throw new SpectraFileException(file + ": source " + id + " has a flux array of " + flux.length
                        + " samples, the model grid " + gridText(grid) + " (GaiaXPy's default sampling) has "
                        + grid.length + ": the spectra are on another wavelength grid. Use the XP continuous spectra "
                        + "or resample with GaiaXPy's calibrate(sampling=numpy.arange(336, 1021, 2)).");
            }
        }
    }

    /** A reader over an opened table (which it closes); {@code grid} is the model's. */
    static SampledReader over(TableCursor cursor, double[] grid) throws IOException {
        return new SampledReader(cursor, grid);
    }

    /** The cell, or null if absent or unreadable (then reported as the row's error by next()). */
    private Object cellOrNull(int column) throws IOException {
        try {
            return column < 0 ? null : cursor.cell(column);
        } catch (Cells.BadCellException e) {
            return null;
        }
    }

    private double[] arrayOrNull(int column) throws IOException {
        try {
            return Cells.doubles(cellOrNull(column), cursor.columns().get(column));
        } catch (Cells.BadCellException e) {
            return null;
        }
    }

    private String sourceId(long row) throws IOException {
        return Cells.sourceId(cellOrNull(idColumn), row);
    }

    private double[] samplingOf(Object value, String where) throws SpectraFileException {
        try {
            double[] w = Cells.doubles(value instanceof Number ? new double[]{((Number) value).doubleValue()} : value,
                    where);
            if (w == null) {
                throw new SpectraFileException(cursor.file() + ": " + where + " holds no wavelengths");
            }
            return w;
        } catch (Cells.BadCellException e) {
            throw new SpectraFileException(cursor.file() + ": cannot read the sampling of " + e.getMessage());
        }
    }

    private void checkSidecar(Path side) throws IOException {
        try (TextTableCursor c = TextTableCursor.open(side, false, false)) {
            int pos = c.columns().indexOf("pos");
            if (pos >= 0 && c.next() && c.rowProblem() == null && c.cell(pos) != null) {
                check(samplingOf(c.cell(pos), side.getFileName().toString()), side.getFileName().toString());
            }
        } catch (Cells.BadCellException e) {
            throw new SpectraFileException(cursor.file() + ": cannot read the sampling of " + side + " ("
                    + e.getMessage() + ")");
        }
    }

    /** Refuses the file unless {@code sampling} is the model's grid. */
    private void check(double[] sampling, String where) throws SpectraFileException {
        boolean same = sampling.length == grid.length;
        for (int i = 0; same && i < grid.length; i++) {
            same = Math.abs(sampling[i] - grid[i]) <= SpectraCsv.GRID_TOLERANCE_NM;
        }
        if (!same) {
            throw new SpectraFileException(cursor.file() + ": spectra are sampled on another wavelength grid ("
                    + gridText(sampling) + ", from " + where + "); the model needs " + gridText(grid)
                    + " (GaiaXPy's default sampling). Use the XP continuous spectra (they are calibrated onto the "
                    + "model grid here) or resample with GaiaXPy's calibrate(sampling=numpy.arange(336, 1021, 2)).");
        }
    }

    /** E.g. "343 points 336-1020 nm in steps of 2 nm" (the Python reader's {@code _grid_text}). */
    static String gridText(double[] w) {
        if (w.length > 1) {
            double step = w[1] - w[0];
            boolean regular = true;
            for (int i = 1; regular && i < w.length; i++) {
                double d = w[i] - w[i - 1];
                regular = Math.abs(d - step) <= 1e-8 + 1e-5 * Math.abs(step);
            }
            if (regular) {
                return w.length + " points " + RowMessages.g(w[0]) + "-" + RowMessages.g(w[w.length - 1])
                        + " nm in steps of " + RowMessages.g(step) + " nm";
            }
        }
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double v : w) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        return w.length + " points " + RowMessages.g(lo) + "-" + RowMessages.g(hi) + " nm"
                + (w.length > 1 ? " (irregular)" : "");
    }

    @Override
    public SpectraCsv.Row next() throws IOException {
        if (pending) {
            pending = false;
        } else if (!cursor.next()) {
            return null;
        }
        long row = rowIndex++;
        long line = cursor.lineNumber();
        String id;
        try {
            id = Cells.sourceId(idColumn < 0 ? null : cursor.cell(idColumn), row);
        } catch (Cells.BadCellException e) {
            return SpectraCsv.Row.error(row, line, "row" + row, "row " + row + ": " + e.getMessage());
        }
        if (cursor.rowProblem() != null) {
            return SpectraCsv.Row.error(row, line, id, "source " + id + ": " + cursor.rowProblem());
        }
        double[] flux;
        double[] error;
        try {
            flux = Cells.doubles(cursor.cell(fluxColumn), "flux");
            error = Cells.doubles(cursor.cell(errorColumn), "flux_error");
        } catch (Cells.BadCellException e) {
            return SpectraCsv.Row.error(row, line, id, "source " + id + ": " + e.getMessage());
        }
        if (flux == null || error == null) {
            return SpectraCsv.Row.error(row, line, id, "source " + id + ": " + (flux == null ? "flux" : "flux_error")
                    + " is missing");
        }
        if (flux.length != grid.length || error.length != grid.length) {
            return SpectraCsv.Row.error(row, line, id, "source " + id + ": flux has " + flux.length + " and flux_error "
                    + error.length + " samples, the model grid " + grid.length + " (another wavelength grid)");
        }
        String problem = RowMessages.nonFinite(id, flux, error, grid);
        if (problem != null) {
            return SpectraCsv.Row.error(row, line, id, problem);
        }
        return SpectraCsv.Row.ok(row, line, Spectrum.of(id, flux, error));
    }

    @Override
    public Path file() {
        return cursor.file();
    }

    @Override
    public void close() throws IOException {
        cursor.close();
    }
}
