package org.xpcvae.gaiaxp;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A table read row by row, holding only the current row: the column names, then each row's cells
 * by column index. Cells are what the format gives: strings for CSV text, typed values for ECSV
 * and FITS (numbers, {@code double[]}/{@code float[]} arrays, strings); null where a value is
 * missing.
 */
interface TableCursor extends Closeable {
    /** The file being read. */
    Path file();

    /** The column names, in file order. */
    List<String> columns();

    /**
     * Advances to the next row.
     *
     * @return false at the end of the table
     * @throws SpectraFileException if the file turns out to be corrupt or truncated
     */
    boolean next() throws IOException;

    /**
     * The current row's cell in {@code column}, or null if missing.
     *
     * @throws Cells.BadCellException if the cell holds a value that cannot be read as its declared type
     * @throws SpectraFileException   if the file cannot be read further
     */
    Object cell(int column) throws IOException, Cells.BadCellException;

    /** Why the current row's cells cannot be used as a whole (e.g. a CSV line with another number of fields), or null. */
    String rowProblem();

    /** 1-based line number of the current row in a text file; 0 for FITS. */
    long lineNumber();

    /** A table-level metadata value (ECSV meta, FITS header card), or null. */
    Object parameter(String name);
}
