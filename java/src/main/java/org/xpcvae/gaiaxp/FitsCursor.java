package org.xpcvae.gaiaxp;

import uk.ac.starlink.table.DescribedValue;
import uk.ac.starlink.table.RowSequence;
import uk.ac.starlink.table.StarTable;
import uk.ac.starlink.table.StarTableFactory;
import uk.ac.starlink.util.FileDataSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A FITS binary table read with STIL (the Starlink Tables Infrastructure Library,
 * {@code uk.ac.starlink:stil}, TOPCAT's table I/O), the first table extension of the file: cells
 * come typed as the file declares them (a {@code PE} variable-length column gives
 * {@code float[]}, {@code PD} gives {@code double[]}, {@code K} a {@code Long}), as the Python
 * reader (astropy) reads them. STIL memory-maps the file and reads one row at a time through a
 * {@link RowSequence}, the variable-length arrays from the heap, so memory does not grow with the
 * number of rows. (A gzipped FITS file is decompressed by STIL, which then has to buffer it.)
 */
final class FitsCursor implements TableCursor {
    /**
     * STIL logs at INFO how it maps each FITS file and its heap; the CLI's standard error is for
     * the user's messages, so only STIL's warnings are shown. Held here so that the logger (and
     * its level) is not garbage-collected.
     */
    private static final Logger STIL_LOG = Logger.getLogger("uk.ac.starlink");

    static {
        STIL_LOG.setLevel(Level.WARNING);
    }

    private final Path file;
    private final String format;
    private final StarTable table;
    private final RowSequence rows;
    private final List<String> columns;
    private long rowCount;

    private FitsCursor(Path file, String format, StarTable table, RowSequence rows) {
        this.file = file;
        this.format = format;
        this.table = table;
        this.rows = rows;
        List<String> names = new ArrayList<>();
        for (int i = 0; i < table.getColumnCount(); i++) {
            names.add(table.getColumnInfo(i).getName().trim());
        }
        columns = Collections.unmodifiableList(names);
    }

    /**
     * Opens {@code file}; {@code formatName} names the format in messages.
     *
     * @throws SpectraFileException naming the file if STIL cannot read it as a FITS table
     */
    static FitsCursor open(Path file, String formatName) throws IOException {
        StarTable table;
        RowSequence rows;
        try {
            // sequential access suffices: STIL then streams the rows instead of caching them
            StarTableFactory factory = new StarTableFactory(false);
            table = factory.makeStarTable(new FileDataSource(file.toFile()), "fits");
            rows = table.getRowSequence();
        } catch (IOException | RuntimeException e) {
            throw new SpectraFileException(file + ": cannot read as " + formatName + " (" + e.getMessage() + ")", e);
        }
        return new FitsCursor(file, formatName, table, rows);
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
        try {
            boolean more = rows.next();
            if (more) {
                rowCount++;
            }
            return more;
        } catch (IOException | RuntimeException e) {
            throw new SpectraFileException(file + ": the " + format + " file is corrupt or truncated after "
                    + rowCount + " rows (" + e.getMessage() + ")", e);
        }
    }

    @Override
    public Object cell(int column) throws IOException {
        try {
            Object v = rows.getCell(column);
            return v instanceof String && ((String) v).trim().isEmpty() ? null : v;
        } catch (IOException | RuntimeException e) {
            throw new SpectraFileException(file + ": cannot decode column " + columns.get(column) + " of row "
                    + (rowCount - 1) + " (" + e.getMessage() + ")", e);
        }
    }

    /** A binary table's rows all have its columns; STIL reports unreadable data as exceptions from {@link #next()}. */
    @Override
    public String rowProblem() {
        return null;
    }

    /** FITS has no lines. */
    @Override
    public long lineNumber() {
        return 0;
    }

    @Override
    public Object parameter(String name) {
        DescribedValue v = table.getParameterByName(name);
        return v == null ? null : v.getValue();
    }

    @Override
    public void close() throws IOException {
        rows.close();
    }
}
