package org.xpcvae.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The job's {@code --show N}: the start of an output as a text table. */
final class SummaryTable {
    private SummaryTable() {
    }

    /**
     * The first {@code limit} rows of an output (by source_id) as a text table: medians with the
     * half-width of the 68 % interval, the goodness of fit, and the message of error rows.
     */
    static String of(SparkSession spark, String output, int limit) {
        Dataset<Row> d = spark.read().parquet(output);
        List<Row> rows = d.orderBy("source_id").limit(limit).collectAsList();
        List<String> params = new ArrayList<>();
        StructType schema = d.schema();
        for (String f : schema.fieldNames()) {
            if (f.endsWith("_median")) {
                params.add(f.substring(0, f.length() - "_median".length()));
            }
        }
        StringBuilder sb = new StringBuilder();
        int idWidth = 9;
        for (Row r : rows) {
            idWidth = Math.max(idWidth, String.valueOf(r.get(r.fieldIndex("source_id"))).length());
        }
        sb.append(String.format(Locale.ROOT, "%-" + idWidth + "s %-6s", "source_id", "status"));
        for (String p : params) {
            String unit = schema.apply(p + "_median").metadata().getString(SummarySchema.UNIT);
            sb.append(String.format(Locale.ROOT, " %16s", p + (unit.isEmpty() ? "" : " [" + unit + "]")));
        }
        sb.append(String.format(Locale.ROOT, " %9s %3s  %s%n", "gof_chi2", "ood", "message / at_bound"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-" + idWidth + "s %-6s", r.get(r.fieldIndex("source_id")),
                    r.<String>getAs("status")));
            if (!"ok".equals(r.getAs("status"))) {
                sb.append(' ').append(r.<String>getAs("message")).append(System.lineSeparator());
                continue;
            }
            for (String p : params) {
                double median = r.getAs(p + "_median");
                double half = 0.5 * (r.<Double>getAs(p + "_p84") - r.<Double>getAs(p + "_p16"));
                String fmt = p.equals("teff") ? "%.0f ± %.0f" : p.equals("ff") ? "%.3f ± %.3f" : "%.2f ± %.2f";
                sb.append(String.format(Locale.ROOT, " %16s", String.format(Locale.ROOT, fmt, median, half)));
            }
            Double chi2 = r.getAs("gof_chi2");
            Object flag = r.getAs("ood_flag");
            String atBound = r.getAs("at_bound");
            sb.append(String.format(Locale.ROOT, " %9s %3s  %s%n", chi2 == null ? "-" : String.format(Locale.ROOT,
                    "%.2f", chi2), flag == null ? "-" : flag.toString(), atBound == null ? "" : "at bound: " + atBound));
        }
        return sb.toString();
    }

}
