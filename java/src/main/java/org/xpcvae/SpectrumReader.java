package org.xpcvae;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A stream of spectra read from a file, one {@link SpectraCsv.Row} per input row, in file order,
 * holding no more than the current row: the project CSV ({@link SpectraCsv.Reader}) and the Gaia
 * archive's XP products ({@code org.xpcvae.gaiaxp.SpectrumSources}) alike. A row that cannot be
 * used is an error row naming the source and the problem, so that batch output keeps one row per
 * input row; a file that cannot be read at all throws.
 */
public interface SpectrumReader extends AutoCloseable {
    /**
     * The next row, or null at the end of the file.
     *
     * @throws IOException if the file cannot be read further (the message names it)
     */
    SpectraCsv.Row next() throws IOException;

    /** The file being read. */
    Path file();

    @Override
    void close() throws IOException;
}
