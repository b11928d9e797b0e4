package org.xpcvae;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Receives the summary of a batch run, one row per input row, in order ({@link BatchInference#run}),
 * and writes it atomically: nothing appears under the target's name before {@link #commit()}, and
 * {@link #close()} without commit leaves no file behind. Implementations: {@link SummaryCsv} (the
 * summary CSV of docs/formats.md) and {@link SummaryEcsv} (the same columns as ECSV, with units and
 * descriptions). A summary and its draws are committed together ({@link #commit(SamplesCsv)}):
 * both or neither. Every output failure is an {@link OutputException} naming the file. Not thread-safe.
 */
public interface SummaryWriter extends AutoCloseable {

    /** The summary formats, chosen by the extension of the target. */
    enum Format {
        /** CSV: {@code .csv} and any extension not listed here. */
        CSV,
        /** ECSV with units and column descriptions: {@code .ecsv}. */
        ECSV,
        /** FITS: {@code .fits}, {@code .fit}; written by the Python engine only. */
        FITS;

        /** The format of {@code target}, by its extension (case-insensitive). */
        public static Format of(Path target) {
            String name = target.getFileName() == null ? "" : target.getFileName().toString().toLowerCase(Locale.ROOT);
            if (name.endsWith(".ecsv")) {
                return ECSV;
            }
            if (name.endsWith(".fits") || name.endsWith(".fit")) {
                return FITS;
            }
            return CSV;
        }
    }

    /**
     * A writer for {@code target} in the format of its extension ({@link Format#of}).
     *
     * @throws IllegalArgumentException for a FITS target (the Java engine writes CSV or ECSV)
     * @throws OutputException          naming the file if the temporary file beside the target cannot be created
     */
    static SummaryWriter create(Path target, List<Parameter> parameters) throws IOException {
        switch (Format.of(target)) {
            case ECSV:
                return SummaryEcsv.create(target, parameters);
            case FITS:
                throw new IllegalArgumentException(target + ": the Java engine writes the summary as .csv or .ecsv; "
                        + "for FITS use `xpcvae infer --engine python`");
            default:
                return SummaryCsv.create(target, parameters);
        }
    }

    /**
     * A row with status {@code ok}; {@code gof} holds the values of {@link GoodnessOfFit#COLUMNS}
     * ({@link GoodnessOfFit.Result#columns()}).
     */
    void writeOk(PosteriorSummary summary, List<String> gof) throws IOException;

    /** A row with status {@code error}, the message and empty values elsewhere. */
    void writeError(String sourceId, String message) throws IOException;

    /** Data rows written so far. */
    long rowCount();

    /**
     * Finishes the file and moves it onto the target atomically.
     *
     * @throws OutputException naming the file if it cannot be finished or moved, or the JVM is
     *                         shutting down (a stopped run leaves no output)
     */
    void commit() throws IOException;

    /**
     * Finishes this file and {@code samples} and moves both onto their targets: both or neither
     * (should the second move fail, the first output is deleted again).
     *
     * @param samples the draws written beside this summary; null commits the summary alone
     * @throws OutputException naming the file that could not be finished or moved
     */
    void commit(SamplesCsv samples) throws IOException;

    /** Discards the file unless committed. */
    @Override
    void close() throws IOException;
}
