package org.xpcvae.spark;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.List;

import static org.apache.spark.sql.functions.col;

/**
 * The job's input schema (docs/scale.md): {@code source_id} long (or int) or string,
 * {@code flux} and {@code flux_error} array&lt;float&gt; or array&lt;double&gt; on the bundle's
 * wavelength grid, and optionally {@code read_error} string: when set, the row could not be read
 * by the converter and becomes an error row with this message. Other columns are ignored. The
 * converter {@code xpcvae to-parquet} writes long ids when every id is an integer, float arrays,
 * and read_error.
 */
final class InputSchema {
    static final String SOURCE_ID = "source_id";
    static final String FLUX = "flux";
    static final String FLUX_ERROR = "flux_error";
    static final String READ_ERROR = "read_error";

    /** The checked input: the type of the output's source_id and the columns the job reads. */
    final DataType sourceIdType;
    final boolean hasReadError;
    final Column[] columns;

    private InputSchema(DataType sourceIdType, boolean hasReadError, Column[] columns) {
        this.sourceIdType = sourceIdType;
        this.hasReadError = hasReadError;
        this.columns = columns;
    }

    /**
     * Checks {@code schema} and selects the job's columns: source_id as long or string, the
     * arrays as array&lt;float&gt; (doubles rounded to float32, the graphs' precision, as the CLI
     * rounds the CSV's numbers).
     *
     * @throws IllegalArgumentException naming every missing or mistyped column
     */
    static InputSchema check(String input, StructType schema) {
        List<String> problems = new ArrayList<>();
        StructField id = find(schema, SOURCE_ID, problems);
        DataType idType = null;
        if (id != null) {
            DataType t = id.dataType();
            if (t.equals(DataTypes.LongType) || t.equals(DataTypes.IntegerType)) {
                idType = DataTypes.LongType;
            } else if (t.equals(DataTypes.StringType)) {
                idType = DataTypes.StringType;
            } else {
                problems.add(SOURCE_ID + " is " + t.simpleString() + ", expected long or string");
            }
        }
        for (String name : new String[]{FLUX, FLUX_ERROR}) {
            StructField f = find(schema, name, problems);
            if (f == null) {
                continue;
            }
            DataType t = f.dataType();
            boolean ok = t instanceof ArrayType && (((ArrayType) t).elementType().equals(DataTypes.FloatType)
                    || ((ArrayType) t).elementType().equals(DataTypes.DoubleType));
            if (!ok) {
                problems.add(name + " is " + t.simpleString() + ", expected array<float> or array<double>");
            }
        }
        boolean hasReadError = false;
        for (StructField f : schema.fields()) {
            if (f.name().equals(READ_ERROR)) {
                hasReadError = true;
                if (!f.dataType().equals(DataTypes.StringType)) {
                    problems.add(READ_ERROR + " is " + f.dataType().simpleString() + ", expected string");
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("input " + input + ": " + String.join("; ", problems)
                    + " (its schema: " + schema.simpleString() + "; docs/scale.md)");
        }
        DataType floats = DataTypes.createArrayType(DataTypes.FloatType, true);
        List<Column> columns = new ArrayList<>(List.of(
                col(SOURCE_ID).cast(idType).as(SOURCE_ID),
                col(FLUX).cast(floats).as(FLUX),
                col(FLUX_ERROR).cast(floats).as(FLUX_ERROR)));
        if (hasReadError) {
            columns.add(col(READ_ERROR));
        }
        return new InputSchema(idType, hasReadError, columns.toArray(new Column[0]));
    }

    private static StructField find(StructType schema, String name, List<String> problems) {
        for (StructField f : schema.fields()) {
            if (f.name().equals(name)) {
                return f;
            }
        }
        problems.add("no column " + name);
        return null;
    }
}
