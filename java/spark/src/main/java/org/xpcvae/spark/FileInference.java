package org.xpcvae.spark;

import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.util.SerializableConfiguration;
import org.xpcvae.SpectraCsv;
import org.xpcvae.SpectrumReader;
import org.xpcvae.gaiaxp.SpectrumSources;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.Stream;

/**
 * The job's work on one partition of spectra files (Gaia archive XP products or the project CSV;
 * {@link SpectraFiles}): each file is streamed through the library's reader
 * ({@link SpectrumSources#open}, the CLI's, one row in memory at a time) and its rows taken in
 * batches through the executor's shared {@link org.xpcvae.BatchInference}, one summary row per
 * input row, in file order. A row the reader cannot use (e.g. a source without BP) is an error
 * row with the reader's message; a file that cannot be read at all fails the task, naming it.
 *
 * <p>A file on another file system than the local one (HDFS, S3A, ...) is copied to the task's
 * local temporary directory first, then read there and deleted: the readers stream a local file.
 * Output source_id: the text the reader gives (the CLI's summary CSV text).
 */
final class FileInference implements FlatMapFunction<Iterator<String>, Row> {
    private static final long serialVersionUID = 1L;

    private final PartitionInference.TaskSettings settings;
    private final Broadcast<SerializableConfiguration> hadoopConf;

    FileInference(PartitionInference.TaskSettings settings, Broadcast<SerializableConfiguration> hadoopConf) {
        this.settings = settings;
        this.hadoopConf = hadoopConf;
    }

    @Override
    public Iterator<Row> call(Iterator<String> files) {
        // before any row: the bundle is found, verified and the driver's, or the task fails
        ExecutorModel model = settings.model();
        return new Rows(model, files);
    }

    /** The summary rows of a partition's files, read lazily, a batch at a time. */
    private final class Rows implements Iterator<Row> {
        private final ExecutorModel model;
        private final Iterator<String> files;
        private final ArrayDeque<Row> ready = new ArrayDeque<>();
        private String file;
        private Path localCopy;
        private SpectrumReader reader;

        Rows(ExecutorModel model, Iterator<String> files) {
            this.model = model;
            this.files = files;
            TaskContext task = TaskContext.get();
            if (task != null) {
                // a failed or killed task leaves no open file or local copy behind
                task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) t -> closeFile());
            }
        }

        @Override
        public boolean hasNext() {
            try {
                while (ready.isEmpty()) {
                    if (reader == null) {
                        if (!files.hasNext()) {
                            return false;
                        }
                        open(files.next());
                    }
                    List<SpectraCsv.Row> batch = new ArrayList<>(settings.batchSize);
                    List<Object> ids = new ArrayList<>(settings.batchSize);
                    for (SpectraCsv.Row row; batch.size() < settings.batchSize && (row = reader.next()) != null; ) {
                        batch.add(row);
                        ids.add(row.sourceId().isEmpty() ? null : row.sourceId());
                    }
                    if (batch.isEmpty()) {
                        closeFile();
                        continue;
                    }
                    ready.addAll(model.infer(settings.schema, batch, ids, settings.okRows, settings.errorRows));
                }
                return true;
            } catch (IOException e) {
                throw new UncheckedIOException("spectra file " + file + ": " + e.getMessage(), e);
            }
        }

        @Override
        public Row next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            return ready.poll();
        }

        private void open(String name) throws IOException {
            file = name;
            Path local = localPath(name);
            reader = SpectrumSources.open(local, model.bundle);
        }

        /** The file as a local path: itself on the local file system, else a copy in the task's temp directory. */
        private Path localPath(String name) throws IOException {
            URI uri = new org.apache.hadoop.fs.Path(name).toUri();
            if (uri.getScheme() == null || uri.getScheme().equals("file")) {
                return Paths.get(uri.getPath());
            }
            org.apache.hadoop.fs.Path src = new org.apache.hadoop.fs.Path(name);
            FileSystem fs = src.getFileSystem(hadoopConf.value().value());
            localCopy = Files.createTempDirectory("xpcvae-spark-input-");
            Path dst = localCopy.resolve(src.getName());
            fs.copyToLocalFile(false, src, new org.apache.hadoop.fs.Path(dst.toUri()), true);
            return dst;
        }

        private void closeFile() {
            try {
                if (reader != null) {
                    reader.close();
                }
            } catch (IOException e) {
                throw new UncheckedIOException("spectra file " + file + ": " + e.getMessage(), e);
            } finally {
                reader = null;
                deleteCopy();
            }
        }

        private void deleteCopy() {
            if (localCopy == null) {
                return;
            }
            try (Stream<Path> s = Files.walk(localCopy)) {
                for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete the local copy " + localCopy, e);
            } finally {
                localCopy = null;
            }
        }
    }
}
