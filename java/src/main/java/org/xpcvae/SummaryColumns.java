package org.xpcvae;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The columns of the summary, once for the Java engine: names, types, units and descriptions, from
 * the bundle's parameters and {@link GoodnessOfFit}. The Python engine defines the same columns in
 * {@code xpcvae.infer.table} (same names, types, units and descriptions). {@link SummaryCsv}
 * writes the names; {@link SummaryEcsv} all of it.
 */
public final class SummaryColumns {

    /** One column: name, Java type of its values, unit (empty when dimensionless), description. Immutable. */
    public static final class Column {
        private final String name;
        private final Class<?> type;
        private final String unit;
        private final String description;

        Column(String name, Class<?> type, String unit, String description) {
            this.name = Objects.requireNonNull(name);
            this.type = Objects.requireNonNull(type);
            this.unit = Objects.requireNonNull(unit);
            this.description = Objects.requireNonNull(description);
        }

        /** The name. */
        public String name() {
            return name;
        }

        /** {@code String}, {@code Integer} (int32), {@code Short} (int16) or {@code Double} (float64). */
        public Class<?> type() {
            return type;
        }

        /** The unit, empty when dimensionless. */
        public String unit() {
            return unit;
        }

        /** What the column holds. */
        public String description() {
            return description;
        }

        @Override
        public String toString() {
            return name + " (" + type.getSimpleName() + (unit.isEmpty() ? "" : ", " + unit) + ")";
        }
    }

    /** What each percentile column holds, in the order of {@link PosteriorSummary#SUFFIXES}. */
    static final List<String> PERCENTILE_TEXT = List.of("posterior median", "posterior 16th percentile",
            "posterior 84th percentile", "posterior 2.5th percentile", "posterior 97.5th percentile");

    private SummaryColumns() {
    }

    /** The columns of a summary of {@code parameters}, in order. */
    public static List<Column> of(List<Parameter> parameters) {
        List<Column> cols = new ArrayList<>();
        cols.add(new Column("source_id", String.class, "", "source identifier, as in the input"));
        cols.add(new Column("status", String.class, "", "ok, or error when the row could not be used (see message)"));
        cols.add(new Column("message", String.class, "", "why the row failed; empty for ok rows"));
        cols.add(new Column("n_samples", Integer.class, "", "posterior draws summarised in the row"));
        for (Parameter p : parameters) {
            for (int q = 0; q < PosteriorSummary.SUFFIXES.size(); q++) {
                cols.add(new Column(p.name() + "_" + PosteriorSummary.SUFFIXES.get(q), Double.class, p.unit(),
                        p.description() + ": " + PERCENTILE_TEXT.get(q)));
            }
        }
        for (String name : GoodnessOfFit.COLUMNS) {
            cols.add(new Column(name, GoodnessOfFit.TYPES.get(name), "", GoodnessOfFit.DESCRIPTIONS.get(name)));
        }
        return Collections.unmodifiableList(cols);
    }

    /** The column names of a summary of {@code parameters}, in order. */
    public static List<String> names(List<Parameter> parameters) {
        List<String> names = new ArrayList<>();
        for (Column c : of(parameters)) {
            names.add(c.name());
        }
        return names;
    }
}
