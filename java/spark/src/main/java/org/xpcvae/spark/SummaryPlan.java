package org.xpcvae.spark;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.util.SerializableConfiguration;
import org.xpcvae.BatchInference;
import org.xpcvae.ModelBundle;

import java.io.IOException;
import java.util.List;

/**
 * The plan of {@link InferJob#run}: the input (a Parquet file, or spectra files read in the tasks)
 * through {@link PartitionInference} or {@link FileInference} into the summary's columns
 * ({@link SummarySchema}) with their units and descriptions. Built while the driver's bundle is
 * still being opened ({@link ExecutorModel#checkInBackground}).
 */
final class SummaryPlan {
    private SummaryPlan() {
    }

    /**
     * The job's output as a Dataset, nothing run yet but the reading of the input's schema.
     *
     * @throws IllegalArgumentException if the output exists or the input's schema is not the job's
     * @throws IOException              if the output cannot be checked
     */
    static Dataset<Row> of(SparkSession spark, InferJob.Settings settings, ModelBundle bundle, String location,
                                 String fingerprint, BatchInference.Options options, FileSystem fs,
                                 org.apache.hadoop.fs.Path out, LongAccumulator ok, LongAccumulator failed)
            throws IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        if (fs.exists(out)) {
            throw new IllegalArgumentException("output " + out + " exists: give a new path (the job never "
                    + "replaces an output)");
        }
        SpectraFiles.Format format = SpectraFiles.Format.parse(settings.inputFormat());
        boolean parquet = format == SpectraFiles.Format.PARQUET
                || format == SpectraFiles.Format.AUTO && SpectraFiles.looksLikeParquet(settings.input(), conf);
        StructType schema;
        Dataset<Row> summary;
        if (parquet) {
            Dataset<Row> in = spark.read().parquet(settings.input());
            InputSchema input = InputSchema.check(settings.input(), in.schema());
            Dataset<Row> rows = in.select(input.columns);
            if (settings.partitions() > 0) {
                rows = rows.repartition(settings.partitions());
            }
            schema = SummarySchema.of(bundle.parameters(), input.sourceIdType);
            PartitionInference work = new PartitionInference(new PartitionInference.TaskSettings(location,
                    fingerprint, options, schema, ok, failed), input.sourceIdType.equals(DataTypes.StringType),
                    input.hasReadError, settings.hook());
            summary = rows.mapPartitions(work, Encoders.row(schema));
        } else {
            // spectra files: one file per partition (or --partitions P groups of them), each streamed
            // through the library's reader inside its task
            List<String> files = SpectraFiles.list(settings.input(), conf);
            int slices = settings.partitions() > 0 ? Math.min(settings.partitions(), files.size()) : files.size();
            schema = SummarySchema.of(bundle.parameters(), DataTypes.StringType);
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            FileInference work = new FileInference(new PartitionInference.TaskSettings(location, fingerprint,
                    options, schema, ok, failed), jsc.broadcast(new SerializableConfiguration(conf)));
            summary = spark.createDataFrame(jsc.parallelize(files, slices).mapPartitions(work), schema);
        }
        // the encoder drops the columns' metadata: put the units and descriptions back
        Column[] described = new Column[schema.size()];
        for (int i = 0; i < described.length; i++) {
            StructField f = schema.fields()[i];
            described[i] = summary.col("`" + f.name() + "`").as(f.name(), f.metadata());
        }
        return summary.select(described);
    }

}
