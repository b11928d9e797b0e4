package org.xpcvae;

import java.io.IOException;
import java.io.Writer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Writer of the summary CSV of docs/formats.md:
 * {@code source_id,status,message,n_samples,<p>_median,<p>_p16,<p>_p84,<p>_p2.5,<p>_p97.5} per
 * parameter, then {@link GoodnessOfFit#COLUMNS} ({@code gof_chi2,ood_flag,ood_reason,at_bound},
 * the Python engine's columns). Rows are streamed to a temporary file beside the target, which {@link #commit()}
 * renames onto the target atomically; {@link #close()} without commit leaves no file behind.
 * Numbers are written with {@link Double#toString(double)} (they read back to the same double).
 * The columns are {@link SummaryColumns}'. Not thread-safe.
 */
public final class SummaryCsv implements SummaryWriter {
    /** What the messages call this file. */
    static final String WHAT = "summary CSV";

    private final AtomicTextFile file;
    private final List<Parameter> parameters;
    private long rows;

    private SummaryCsv(AtomicTextFile file, List<Parameter> parameters) {
        this.file = file;
        this.parameters = List.copyOf(parameters);
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

    /** The column names ({@link SummaryColumns#names}). */
    public static List<String> header(List<Parameter> parameters) {
        return SummaryColumns.names(parameters);
    }

    /** A row with status {@code ok} and empty goodness-of-fit columns. */
    public void writeOk(PosteriorSummary summary) throws IOException {
        writeOk(summary, List.of("", "", "", ""));
    }

    @Override
    public void writeOk(PosteriorSummary summary, List<String> gof) throws IOException {
        line(okRow(parameters, summary, gof));
    }

    /**
     * The fields of an ok row as {@link #writeOk(PosteriorSummary, List)} writes them (before CSV
     * quoting), for writers of other formats that must hold the same values (the Spark job's
     * Parquet output).
     *
     * @param parameters the parameters of the summary's columns ({@link #header(List)})
     * @param summary    the summary, over these parameters
     * @param gof        the values of {@link GoodnessOfFit#COLUMNS}
     * @return one field per column of {@link #header(List)}
     */
    public static List<String> okRow(List<Parameter> parameters, PosteriorSummary summary, List<String> gof) {
        if (gof.size() != GoodnessOfFit.COLUMNS.size()) {
            throw new IllegalArgumentException("expected " + GoodnessOfFit.COLUMNS.size()
                    + " goodness-of-fit values, got " + gof.size());
        }
        if (!summary.parameters().equals(parameters)) {
            throw new IllegalArgumentException("summary of " + summary.sourceId() + " has other parameters");
        }
        List<String> row = new ArrayList<>();
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
        return row;
    }

    @Override
    public void writeError(String sourceId, String message) throws IOException {
        line(errorRow(parameters, sourceId, message));
    }

    /**
     * The fields of an error row as {@link #writeError(String, String)} writes them (before CSV
     * quoting): source id, {@code error}, the message, then empty fields.
     *
     * @param parameters the parameters of the summary's columns ({@link #header(List)})
     * @param sourceId   the source id (empty when the input row has none)
     * @param message    what went wrong
     * @return one field per column of {@link #header(List)}
     */
    public static List<String> errorRow(List<Parameter> parameters, String sourceId, String message) {
        int columns = header(parameters).size();
        List<String> row = new ArrayList<>(columns);
        row.add(Objects.requireNonNull(sourceId));
        row.add("error");
        row.add(Objects.requireNonNull(message));
        while (row.size() < columns) {
            row.add("");
        }
        return row;
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

    @Override
    public long rowCount() {
        return rows - 1;
    }

    @Override
    public void commit() throws IOException {
        file.commit();
    }

    @Override
    public void commit(SamplesCsv samples) throws IOException {
        AtomicTextFile.commitAll(Arrays.asList(file, samples == null ? null : samples.file()));
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
