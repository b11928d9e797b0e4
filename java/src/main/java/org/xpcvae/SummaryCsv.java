package org.xpcvae;

import java.io.IOException;
import java.io.Writer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Writer of the summary CSV of docs/formats.md:
 * {@code source_id,status,message,n_samples,<p>_median,<p>_p16,<p>_p84,<p>_p2.5,<p>_p97.5} per
 * parameter, then {@link GoodnessOfFit#COLUMNS} ({@code gof_chi2,ood_flag,ood_reason,at_bound},
 * the Python engine's columns). Rows are streamed to a temporary file beside the target, which {@link #commit()}
 * renames onto the target atomically; {@link #close()} without commit leaves no file behind.
 * Numbers are written with {@link Double#toString(double)} (they read back to the same double).
 * Not thread-safe.
 */
public final class SummaryCsv implements AutoCloseable {
    /** What the messages call this file. */
    static final String WHAT = "summary CSV";

    private final AtomicTextFile file;
    private final List<Parameter> parameters;
    private final int columns;
    private long rows;

    private SummaryCsv(AtomicTextFile file, List<Parameter> parameters) {
        this.file = file;
        this.parameters = List.copyOf(parameters);
        this.columns = header(parameters).size();
    }

    /**
     * Starts writing {@code target} (header written immediately, to the temporary file).
     *
     * @param target     the summary CSV to write
     * @param parameters the model's parameters, in column order
     * @return the open writer
     * @throws OutputException naming the file if it cannot be written there (a directory, no
     *                         permission, ...)
     * @throws IOException     if the header cannot be written
     */
    public static SummaryCsv create(Path target, List<Parameter> parameters) throws IOException {
        AtomicTextFile f = AtomicTextFile.create(target, WHAT);
        SummaryCsv s = new SummaryCsv(f, parameters);
        try {
            s.line(header(parameters));
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
        return s;
    }

    /** The column names. */
    public static List<String> header(List<Parameter> parameters) {
        List<String> h = new ArrayList<>(List.of("source_id", "status", "message", "n_samples"));
        for (Parameter p : parameters) {
            for (String suffix : PosteriorSummary.SUFFIXES) {
                h.add(p.name() + "_" + suffix);
            }
        }
        h.addAll(GoodnessOfFit.COLUMNS);
        return h;
    }

    /** A row with status {@code ok} and empty goodness-of-fit columns. */
    public void writeOk(PosteriorSummary summary) throws IOException {
        writeOk(summary, List.of("", "", "", ""));
    }

    /**
     * A row with status {@code ok}; {@code gof} holds the values of {@link GoodnessOfFit#COLUMNS}
     * ({@link GoodnessOfFit.Result#columns()}).
     */
    public void writeOk(PosteriorSummary summary, List<String> gof) throws IOException {
        if (gof.size() != GoodnessOfFit.COLUMNS.size()) {
            throw new IllegalArgumentException("expected " + GoodnessOfFit.COLUMNS.size()
                    + " goodness-of-fit values, got " + gof.size());
        }
        if (!summary.parameters().equals(parameters)) {
            throw new IllegalArgumentException("summary of " + summary.sourceId() + " has other parameters");
        }
        List<String> row = new ArrayList<>(columns);
        row.add(summary.sourceId());
        row.add("ok");
        row.add("");
        row.add(Integer.toString(summary.sampleCount()));
        for (int k = 0; k < parameters.size(); k++) {
            for (int q = 0; q < PosteriorSummary.QUANTILES.length; q++) {
                row.add(Double.toString(summary.get(k, q)));
            }
        }
        row.addAll(gof);
        line(row);
    }

    /** A row with status {@code error}, the message and empty numeric columns. */
    public void writeError(String sourceId, String message) throws IOException {
        List<String> row = new ArrayList<>(columns);
        row.add(Objects.requireNonNull(sourceId));
        row.add("error");
        row.add(Objects.requireNonNull(message));
        while (row.size() < columns) {
            row.add("");
        }
        line(row);
    }

    private void line(List<String> fields) throws IOException {
        Writer w = file.writer();
        for (int i = 0; i < fields.size(); i++) {
            if (i > 0) {
                w.write(',');
            }
            w.write(Csv.quote(fields.get(i)));
        }
        w.write('\n');
        rows++;
    }

    /** Data rows written so far. */
    public long rowCount() {
        return rows - 1;
    }

    /**
     * Finishes the file and moves it onto the target atomically.
     *
     * @throws OutputException naming the file if it cannot be finished or moved, or the JVM is
     *                         shutting down (a stopped run leaves no output)
     */
    public void commit() throws IOException {
        file.commit();
    }

    /**
     * Finishes this file and {@code samples} and moves both onto their targets: both or neither
     * (should the second move fail, the first output is deleted again).
     *
     * @param samples the draws written beside this summary; null commits the summary alone
     * @throws OutputException naming the file that could not be finished or moved
     */
    public void commit(SamplesCsv samples) throws IOException {
        AtomicTextFile.commitAll(java.util.Arrays.asList(file, samples == null ? null : samples.file()));
    }

    /** Discards the file unless committed. */
    @Override
    public void close() throws IOException {
        file.close();
    }
}
