package org.xpcvae;

import uk.ac.starlink.ecsv.EcsvTableWriter;
import uk.ac.starlink.table.ColumnInfo;
import uk.ac.starlink.table.RowListStarTable;
import uk.ac.starlink.table.RowStore;
import uk.ac.starlink.table.StoragePolicy;

import java.io.IOException;
import java.io.OutputStream;
import java.io.Writer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The summary as ECSV (astropy's Enhanced Character Separated Values), written with STIL's
 * {@link EcsvTableWriter}: the columns of {@link SummaryColumns} with their types, units and
 * descriptions, so that {@code astropy.table.Table.read("summary.ecsv")} gives typed columns with
 * units. A missing number (an error row's, a gof_chi2 not computed) is an empty field, masked in
 * astropy, as the Python engine writes it; missing text an empty string. Text is written as ASCII
 * (ECSV 1.0; another character becomes {@code ?}).
 *
 * <p>Rows are kept in a STIL row store (memory, then temporary files for a large catalogue) and
 * written at {@link #commit()}, to a temporary file renamed onto the target; {@link #close()}
 * without commit leaves no file behind. Not thread-safe.
 */
public final class SummaryEcsv implements SummaryWriter {
    /** What the messages call this file. */
    static final String WHAT = "summary ECSV";

    private final AtomicTextFile file;
    private final List<Parameter> parameters;
    private final List<SummaryColumns.Column> columns;
    private final RowStore store;
    private long rows;

    private SummaryEcsv(AtomicTextFile file, List<Parameter> parameters) {
        this.file = file;
        this.parameters = List.copyOf(parameters);
        this.columns = SummaryColumns.of(parameters);
        ColumnInfo[] infos = new ColumnInfo[columns.size()];
        for (int i = 0; i < infos.length; i++) {
            SummaryColumns.Column c = columns.get(i);
            infos[i] = new ColumnInfo(c.name(), c.type(), c.description());
            if (!c.unit().isEmpty()) {
                infos[i].setUnitString(c.unit());
            }
        }
        this.store = StoragePolicy.ADAPTIVE.makeRowStore();
        try {
            store.acceptMetadata(new RowListStarTable(infos));
        } catch (IOException e) {
            throw new IllegalStateException("row store refused the summary's columns", e);
        }
    }

    /** Starts writing {@code target} (its temporary file is created now, beside it). */
    public static SummaryEcsv create(Path target, List<Parameter> parameters) throws IOException {
        AtomicTextFile f = AtomicTextFile.create(target, WHAT);
        try {
            return new SummaryEcsv(f, parameters);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    @Override
    public void writeOk(PosteriorSummary summary, List<String> gof) throws IOException {
        if (gof.size() != GoodnessOfFit.COLUMNS.size()) {
            throw new IllegalArgumentException("expected " + GoodnessOfFit.COLUMNS.size()
                    + " goodness-of-fit values, got " + gof.size());
        }
        if (!summary.parameters().equals(parameters)) {
            throw new IllegalArgumentException("summary of " + summary.sourceId() + " has other parameters");
        }
        Object[] row = new Object[columns.size()];
        int c = 0;
        row[c++] = summary.sourceId();
        row[c++] = "ok";
        row[c++] = "";
        row[c++] = summary.sampleCount();
        for (int k = 0; k < parameters.size(); k++) {
            for (int q = 0; q < PosteriorSummary.QUANTILES.length; q++) {
                row[c++] = summary.get(k, q);
            }
        }
        for (String value : gof) {
            row[c] = typed(columns.get(c).type(), value);
            c++;
        }
        store.acceptRow(row);
        rows++;
    }

    @Override
    public void writeError(String sourceId, String message) throws IOException {
        Object[] row = new Object[columns.size()];
        row[0] = Objects.requireNonNull(sourceId);
        row[1] = "error";
        row[2] = Objects.requireNonNull(message);
        for (int c = 3; c < row.length; c++) {
            row[c] = typed(columns.get(c).type(), "");
        }
        store.acceptRow(row);
        rows++;
    }

    /** A summary CSV field as the value of a column of {@code type}; an empty number is null (missing). */
    private static Object typed(Class<?> type, String value) {
        if (type == String.class) {
            return value;
        }
        if (value.isEmpty()) {
            return null;
        }
        if (type == Double.class) {
            return Double.parseDouble(value);
        }
        return type == Short.class ? (Object) Short.parseShort(value) : (Object) Integer.parseInt(value);
    }

    @Override
    public long rowCount() {
        return rows;
    }

    @Override
    public void commit() throws IOException {
        commit(null);
    }

    @Override
    public void commit(SamplesCsv samples) throws IOException {
        store.endRows();
        Writer w = file.writer();
        // the table is written to the temporary file first: the renames of both files come after
        new EcsvTableWriter().writeStarTable(store.getStarTable(), new AsciiStream(w));
        AtomicTextFile.commitAll(Arrays.asList(file, samples == null ? null : samples.file()));
    }

    @Override
    public void close() throws IOException {
        file.close();
    }

    /** The bytes STIL writes (US-ASCII) as characters of the file's writer. */
    private static final class AsciiStream extends OutputStream {
        private final Writer out;

        AsciiStream(Writer out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b & 0xff);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            char[] chars = new char[len];
            for (int i = 0; i < len; i++) {
                chars[i] = (char) (b[off + i] & 0xff);
            }
            out.write(chars);
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }
    }
}
