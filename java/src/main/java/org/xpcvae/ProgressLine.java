package org.xpcvae;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

/**
 * A progress line on the error stream while {@code xpcvae infer} runs: sources written so far,
 * failures and rate, rewritten in place ({@code \r}) at most every {@link #INTERVAL_NANOS}. It wraps
 * the summary writer and passes every row on untouched: the line never reaches the summary.
 */
final class ProgressLine implements SummaryWriter {
    /** Shortest time between two updates of the line. */
    static final long INTERVAL_NANOS = 500_000_000L;

    private final SummaryWriter inner;
    private final PrintWriter err;
    private final long start = System.nanoTime();
    private long last = start;
    private long failed;

    ProgressLine(SummaryWriter inner, PrintWriter err) {
        this.inner = inner;
        this.err = err;
    }

    @Override
    public void writeOk(PosteriorSummary summary, List<String> gof) throws IOException {
        inner.writeOk(summary, gof);
        tick(false);
    }

    @Override
    public void writeError(String sourceId, String message) throws IOException {
        inner.writeError(sourceId, message);
        failed++;
        tick(false);
    }

    private void tick(boolean force) {
        long now = System.nanoTime();
        if (!force && now - last < INTERVAL_NANOS) {
            return;
        }
        last = now;
        double seconds = Math.max(1e-9, (now - start) / 1e9);
        err.print(String.format(Locale.ROOT, "\rxpcvae infer: %d sources (%d failed), %.0f sources/s, %.0f s ",
                inner.rowCount(), failed, inner.rowCount() / seconds, seconds));
        err.flush();
    }

    /** Shows the final count and ends the line. */
    void finish() {
        tick(true);
        err.println();
        err.flush();
    }

    @Override
    public long rowCount() {
        return inner.rowCount();
    }

    @Override
    public void commit() throws IOException {
        inner.commit();
    }

    @Override
    public void commit(SamplesCsv samples) throws IOException {
        inner.commit(samples);
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}
