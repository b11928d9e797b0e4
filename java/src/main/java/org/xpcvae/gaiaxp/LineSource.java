package org.xpcvae.gaiaxp;

import java.io.IOException;
import java.io.Reader;

/**
 * Lines of a character stream (terminated by {@code \n}, {@code \r\n} or {@code \r}) with a bound
 * on their length, so that a file without line breaks cannot exhaust the memory: a longer line is
 * consumed but not kept ({@link #tooLong()}). Counts physical lines. Not thread-safe.
 */
final class LineSource implements AutoCloseable {
    private final Reader in;
    private final int maxChars;
    private final char[] chunk = new char[1 << 16];
    private final StringBuilder line = new StringBuilder(1 << 15);
    private int pos;
    private int end;
    private boolean pendingCr;
    private boolean tooLong;
    private long lineNumber;

    LineSource(Reader in, int maxChars) {
        this.in = in;
        this.maxChars = maxChars;
    }

    /** The next line without its terminator, or null at the end; "" (and {@link #tooLong()}) for an over-long line. */
    String next() throws IOException {
        line.setLength(0);
        tooLong = false;
        boolean any = false;
        while (true) {
            if (pos == end) {
                int n = in.read(chunk, 0, chunk.length);
                if (n < 0) {
                    if (!any) {
                        return null;
                    }
                    lineNumber++;
                    return tooLong ? "" : line.toString();
                }
                pos = 0;
                end = n;
                continue;
            }
            if (pendingCr) {
                pendingCr = false;
                if (chunk[pos] == '\n') {
                    pos++; // the \n of a \r\n
                    continue;
                }
            }
            int start = pos;
            int stop = start;
            while (stop < end && chunk[stop] != '\n' && chunk[stop] != '\r') {
                stop++;
            }
            if (stop > start) {
                any = true;
                if (!tooLong && line.length() + (stop - start) > maxChars) {
                    tooLong = true;
                    line.setLength(0);
                }
                if (!tooLong) {
                    line.append(chunk, start, stop - start);
                }
            }
            pos = stop;
            if (stop < end) {
                pendingCr = chunk[stop] == '\r';
                pos++;
                lineNumber++;
                return tooLong ? "" : line.toString();
            }
        }
    }

    /** Whether the line last returned was longer than the bound (and was dropped). */
    boolean tooLong() {
        return tooLong;
    }

    /** 1-based number of the line last returned. */
    long lineNumber() {
        return lineNumber;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
