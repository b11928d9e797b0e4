package org.xpcvae.spark;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.MetadataBuilder;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.xpcvae.BatchInference;
import org.xpcvae.Parameter;
import org.xpcvae.SummaryColumns;
import org.xpcvae.SummaryCsv;

import java.util.ArrayList;
import java.util.List;

/**
 * The Spark schema of the job's output: the library's summary columns ({@link SummaryColumns}:
 * the summary CSV's names and order, docs/formats.md) with their Spark types, each with its unit
 * and description in the column metadata (keys {@value #UNIT} and {@value #DESCRIPTION}, stored
 * in the Parquet file's Spark schema).
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

    private SummarySchema() {
    }

    /**
     * The output schema for the given parameters.
     *
     * @param parameters   the bundle's parameters, in manifest order
     * @param sourceIdType the type of the output's source_id: long or string (the input's)
     * @return the schema, its columns those of {@link SummaryColumns#of}, in its order
     */
    public static StructType of(List<Parameter> parameters, DataType sourceIdType) {
        if (!sourceIdType.equals(DataTypes.LongType) && !sourceIdType.equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("source_id must be long or string, got " + sourceIdType.simpleString());
        }
        List<StructField> fields = new ArrayList<>();
        for (SummaryColumns.Column c : SummaryColumns.of(parameters)) {
            boolean id = c.name().equals("source_id");
            DataType type = id ? sourceIdType : sparkType(c);
            Metadata m = new MetadataBuilder().putString(DESCRIPTION, c.description()).putString(UNIT, c.unit())
                    .build();
            // source_id may be null in an error row (an input row without one); status never is
            fields.add(new StructField(c.name(), type, !c.name().equals("status"), m));
        }
        return new StructType(fields.toArray(new StructField[0]));
    }

    private static DataType sparkType(SummaryColumns.Column c) {
        Class<?> t = c.type();
        if (t == String.class) {
            return DataTypes.StringType;
        }
        if (t == Double.class) {
            return DataTypes.DoubleType;
        }
        if (t == Integer.class) {
            return DataTypes.IntegerType;
        }
        if (t == Short.class) {
            return DataTypes.ShortType;
        }
        throw new IllegalStateException("summary column " + c + ": no Spark type for " + t.getName());
    }

    /**
     * The output row of one outcome of {@link BatchInference#inferBatch}: the library's summary
     * CSV row, typed.
     *
     * @param schema     the output schema ({@link #of})
     * @param parameters the bundle's parameters
     * @param outcome    the row's outcome
     * @param sourceId   the input's source_id value (Long or String; null when it had none)
     * @return the row
     */
    static Row row(StructType schema, List<Parameter> parameters, BatchInference.Outcome outcome, Object sourceId) {
        List<String> fields = outcome.ok()
                ? SummaryCsv.okRow(parameters, outcome.summary(), outcome.fitColumns())
                : SummaryCsv.errorRow(parameters, outcome.row().sourceId(), outcome.error());
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
            } else if (t.equals(DataTypes.ShortType)) {
                values[i] = Short.parseShort(text);
            } else {
                values[i] = text;
            }
        }
        return RowFactory.create(values);
    }
}
