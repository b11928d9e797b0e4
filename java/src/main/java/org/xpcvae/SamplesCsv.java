package org.xpcvae;

import java.io.IOException;
import java.io.Writer;
import java.nio.file.Path;
import java.util.List;

/**
 * Writer of the samples CSV of docs/formats.md: {@code source_id,draw,<p>...} with one row per
 * posterior draw, draws of a source in order 0..N-1. Written atomically like {@link SummaryCsv}.
 * Not thread-safe.
 */
public final class SamplesCsv implements AutoCloseable {
    /** What the messages call this file. */
    static final String WHAT = "samples CSV";

    private final AtomicTextFile file;
    private final List<Parameter> parameters;

    private SamplesCsv(AtomicTextFile file, List<Parameter> parameters) {
        this.file = file;
        this.parameters = List.copyOf(parameters);
    }

    /**
     * Starts writing {@code target} (header written immediately, to the temporary file).
     *
     * @param target     the samples CSV to write
     * @param parameters the model's parameters, in column order
     * @return the open writer
     * @throws OutputException naming the file if it cannot be written there
     * @throws IOException     if the header cannot be written
     */
    public static SamplesCsv create(Path target, List<Parameter> parameters) throws IOException {
        AtomicTextFile f = AtomicTextFile.create(target, WHAT);
        try {
            Writer w = f.writer();
            w.write("source_id,draw");
            for (Parameter p : parameters) {
                w.write(',');
                w.write(p.name());
            }
            w.write('\n');
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
        return new SamplesCsv(f, parameters);
    }

    /** All draws of one source. */
    public void write(PosteriorSamples samples) throws IOException {
        if (!samples.parameters().equals(parameters)) {
            throw new IllegalArgumentException("samples of " + samples.sourceId() + " have other parameters");
        }
        Writer w = file.writer();
        String id = Csv.quote(samples.sourceId());
        int p = samples.parameterCount();
        StringBuilder sb = new StringBuilder(160);
        for (int j = 0; j < samples.size(); j++) {
            sb.setLength(0);
            sb.append(id).append(',').append(j);
            for (int k = 0; k < p; k++) {
                sb.append(',').append(samples.get(j, k));
            }
            sb.append('\n');
            w.write(sb.toString());
        }
    }

    /**
     * Finishes the file and moves it onto the target atomically; written beside a summary, commit
     * both with {@link SummaryCsv#commit(SamplesCsv)} instead.
     *
     * @throws OutputException naming the file if it cannot be finished or moved
     */
    public void commit() throws IOException {
        file.commit();
    }

    AtomicTextFile file() {
        return file;
    }

    /** Discards the file unless committed. */
    @Override
    public void close() throws IOException {
        file.close();
    }
}
