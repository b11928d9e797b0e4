package org.xpcvae.spark;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.MetadataBuilder;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.xpcvae.GoodnessOfFit;
import org.xpcvae.Parameter;
import org.xpcvae.PosteriorSummary;
import org.xpcvae.SummaryCsv;

import java.util.ArrayList;
import java.util.List;

/**
 * The Spark schema of the job's output: the summary CSV's columns ({@link SummaryCsv#header(List)},
 * docs/formats.md) with Spark types, each with its unit and description in the column metadata
 * (keys {@value #UNIT} and {@value #DESCRIPTION}, stored in the Parquet file's Spark schema).
 *
 * <p>A row's values are those of the summary CSV row the library writes for the same source
 * ({@link SummaryCsv#okRow}, {@link SummaryCsv#errorRow}): a field the CSV leaves empty is null,
 * the others are the CSV text read back (every double reads back to the same double).
 */
public final class SummarySchema {
    /** Metadata key of a column's unit (empty for dimensionless or non-numeric columns). */
    public static final String UNIT = "unit";
    /** Metadata key of a column's description. */
    public static final String DESCRIPTION = "description";

    private static final String[] QUANTILE_WORDS = {"posterior median", "posterior 16th percentile",
            "posterior 84th percentile", "posterior 2.5th percentile", "posterior 97.5th percentile"};

    private SummarySchema() {
    }

    /**
     * The output schema for the given parameters.
     *
     * @param parameters   the bundle's parameters, in manifest order
     * @param sourceIdType the type of the input's (and the output's) source_id: long or string
     * @return the schema, its columns named and ordered as the summary CSV's
     */
    public static StructType of(List<Parameter> parameters, DataType sourceIdType) {
        if (!sourceIdType.equals(DataTypes.LongType) && !sourceIdType.equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("source_id must be long or string, got " + sourceIdType.simpleString());
        }
        List<String> header = SummaryCsv.header(parameters);
        List<StructField> fields = new ArrayList<>(header.size());
        fields.add(field("source_id", sourceIdType, false,
                "the input row's source_id (Gaia DR3 source_id or any text); null when the input row has none", ""));
        fields.add(field("status", DataTypes.StringType, false,
                "ok, or error: the row's posterior could not be sampled (message says why, numeric columns are null)",
                ""));
        fields.add(field("message", DataTypes.StringType, true, "why the row failed; null in ok rows", ""));
        fields.add(field("n_samples", DataTypes.IntegerType, true, "posterior draws summarised", ""));
        for (Parameter p : parameters) {
            for (int q = 0; q < PosteriorSummary.SUFFIXES.size(); q++) {
                fields.add(field(p.name() + "_" + PosteriorSummary.SUFFIXES.get(q), DataTypes.DoubleType, true,
                        p.description() + ": " + QUANTILE_WORDS[q], p.unit()));
            }
        }
        fields.add(field("gof_chi2", DataTypes.DoubleType, true,
                "reduced chi^2 of the forward model at the posterior median against the spectrum; "
                        + "null when not computed (ood_reason says why)", ""));
        fields.add(field("ood_flag", DataTypes.IntegerType, true,
                "1 when gof_chi2 exceeds the bundle's threshold: the model does not describe the spectrum and "
                        + "the posterior is not to be trusted; else 0", ""));
        fields.add(field("ood_reason", DataTypes.StringType, true,
                "why the row is flagged, or why gof_chi2 was not computed; null otherwise", ""));
        fields.add(field("at_bound", DataTypes.StringType, true,
                "';'-separated parameters whose posterior median lies in the outer bound fraction of the prior box",
                ""));
        List<String> names = new ArrayList<>();
        for (StructField f : fields) {
            names.add(f.name());
        }
        // the library owns the columns: fail loudly if they and these types ever disagree
        if (!names.equals(header) || !names.subList(names.size() - 4, names.size()).equals(GoodnessOfFit.COLUMNS)) {
            throw new IllegalStateException("output schema " + names + " does not match the summary CSV's "
                    + header);
        }
        return new StructType(fields.toArray(new StructField[0]));
    }

    private static StructField field(String name, DataType type, boolean nullable, String description, String unit) {
        Metadata m = new MetadataBuilder().putString(DESCRIPTION, description).putString(UNIT, unit).build();
        // source_id may be null in an error row (an input row without one)
        return new StructField(name, type, nullable || name.equals("source_id"), m);
    }

    /**
     * The output row of one summary CSV row.
     *
     * @param schema   the output schema ({@link #of})
     * @param fields   the CSV row's fields ({@link SummaryCsv#okRow}, {@link SummaryCsv#errorRow})
     * @param sourceId the input's source_id value (Long or String; null when it had none)
     * @return the row
     */
    static Row row(StructType schema, List<String> fields, Object sourceId) {
        StructField[] f = schema.fields();
        if (fields.size() != f.length) {
            throw new IllegalArgumentException(fields.size() + " fields for " + f.length + " columns");
        }
        Object[] values = new Object[f.length];
        values[0] = sourceId;
        for (int i = 1; i < f.length; i++) {
            String text = fields.get(i);
            DataType t = f[i].dataType();
            if (text.isEmpty()) {
                values[i] = null;
            } else if (t.equals(DataTypes.DoubleType)) {
                values[i] = Double.parseDouble(text);
            } else if (t.equals(DataTypes.IntegerType)) {
                values[i] = Integer.parseInt(text);
            } else {
                values[i] = text;
            }
        }
        return RowFactory.create(values);
    }
}
