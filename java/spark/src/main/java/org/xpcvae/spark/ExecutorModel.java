package org.xpcvae.spark;

import org.apache.spark.SparkEnv;
import org.apache.spark.SparkFiles;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.xpcvae.BatchInference;
import org.xpcvae.BundleException;
import org.xpcvae.ModelBundle;
import org.xpcvae.SpectraCsv;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.stream.Stream;

/**
 * The model of one executor JVM: the bundle (checksums verified) and one {@link BatchInference}
 * (the CLI's per-row logic, with its sampler and forward model), opened by the first task that
 * needs them, shared by all the JVM's tasks ({@link BatchInference#inferBatch} is thread-safe) and
 * closed when the JVM shuts down.
 *
 * <p>Opening checks that the bundle is the one the driver loaded (same manifest, whose SHA-256
 * pins every graph's): a task never processes a row with another model than the driver's.
 */
final class ExecutorModel {
    final ModelBundle bundle;
    final BatchInference inference;

    /** Open models by location, fingerprint and settings (one in a real executor, which runs one job). */
    private static final Map<String, ExecutorModel> OPEN = new HashMap<>();
    private static boolean hookAdded;

    private ExecutorModel(ModelBundle bundle, BatchInference.Options options) {
        this.bundle = bundle;
        this.inference = new BatchInference(bundle, options);
    }

    /**
     * Opens the bundle at {@code directory} as the driver does before the job: loads it (checksums)
     * and opens its graphs in ONNX Runtime. In local mode, where the driver's JVM runs the tasks,
     * the model stays open for them ({@code keep}); else it is closed again.
     *
     * @return the loaded bundle
     * @throws BundleException if the bundle is unusable, naming the problem
     */
    static ModelBundle check(Path directory, BatchInference.Options options, boolean keep) {
        if (keep) {
            return get(directory.toString(), fingerprint(directory), options).bundle;
        }
        ExecutorModel m = new ExecutorModel(ModelBundle.load(directory), options);
        m.close();
        return m.bundle;
    }

    /**
     * {@link #check} on a thread of its own: opening the graphs in ONNX Runtime takes seconds, which
     * the driver spends meanwhile reading the input's schema and planning the job (they do not
     * scale with the executors' cores: the less of them in series, the better the job scales).
     *
     * @return the opening, to {@link Opening#await} before the job's first task
     */
    static Opening checkInBackground(Path directory, BatchInference.Options options, boolean keep) {
        FutureTask<ModelBundle> task = new FutureTask<>(() -> check(directory, options, keep));
        Thread t = new Thread(task, "xpcvae-spark-model-check");
        t.setDaemon(true);
        t.start();
        return new Opening(task);
    }

    /** A {@link #check} under way ({@link #checkInBackground}). */
    static final class Opening {
        private final FutureTask<ModelBundle> task;

        private Opening(FutureTask<ModelBundle> task) {
            this.task = task;
        }

        /**
         * Waits for the check.
         *
         * @return the loaded bundle
         * @throws BundleException if the bundle is unusable ({@link #check}'s exception)
         */
        ModelBundle await() {
            try {
                return task.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BundleException("interrupted while opening the bundle", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException) {
                    throw (RuntimeException) cause;
                }
                if (cause instanceof Error) {
                    throw (Error) cause;
                }
                throw new BundleException("cannot open the bundle: " + cause, cause);
            }
        }

        /**
         * Waits for the check, for a driver that failed meanwhile: an unusable bundle is reported
         * first, as when the bundle was checked first.
         *
         * @return the check's exception, null if it succeeded
         */
        RuntimeException failure() {
            try {
                await();
                return null;
            } catch (RuntimeException e) {
                return e;
            }
        }
    }

    /**
     * The model of this JVM for the bundle at {@code location}, opened on first use.
     *
     * @param location    where the executors find the bundle ({@link #resolve})
     * @param fingerprint the driver's bundle's {@link #fingerprint}
     * @param options     the job's settings (draws, seed, intra-op threads; one worker thread: the
     *                    tasks are the parallelism)
     * @throws BundleException if the bundle is missing, corrupt or not the driver's
     */
    static synchronized ExecutorModel get(String location, String fingerprint, BatchInference.Options options) {
        String key = location + "\n" + fingerprint + "\n" + options;
        ExecutorModel m = OPEN.get(key);
        if (m != null) {
            return m;
        }
        Path dir = resolve(location, "executor " + host());
        ModelBundle bundle = ModelBundle.load(dir);
        String found = fingerprint(dir);
        if (!found.equals(fingerprint)) {
            throw new BundleException("bundle " + dir + " on executor " + host() + " is not the driver's bundle: "
                    + "its manifest.json has SHA-256 " + found + ", the driver's " + fingerprint
                    + " (ship the same bundle to every executor)");
        }
        m = new ExecutorModel(bundle, options);
        OPEN.put(key, m);
        if (!hookAdded) {
            Runtime.getRuntime().addShutdownHook(new Thread(ExecutorModel::closeAll, "xpcvae-spark-model-close"));
            hookAdded = true;
        }
        return m;
    }

    /**
     * The summary rows of one batch of input rows, in order ({@link BatchInference#inferBatch}: the
     * CLI's per-row logic), counting ok and error rows.
     *
     * @param ids the output's source_id value of each row (Long or String; null for none)
     */
    List<Row> infer(StructType schema, List<SpectraCsv.Row> rows, List<Object> ids, LongAccumulator okRows,
                    LongAccumulator errorRows) {
        List<BatchInference.Outcome> outcomes = inference.inferBatch(rows);
        List<Row> out = new ArrayList<>(outcomes.size());
        for (int i = 0; i < outcomes.size(); i++) {
            BatchInference.Outcome o = outcomes.get(i);
            (o.ok() ? okRows : errorRows).add(1);
            out.add(SummarySchema.row(schema, bundle.parameters(), o, ids.get(i)));
        }
        return out;
    }

    private static synchronized void closeAll() {
        for (ExecutorModel m : OPEN.values()) {
            m.close();
        }
        OPEN.clear();
    }

    private void close() {
        inference.close();
    }

    /**
     * The identity of a bundle: the SHA-256 of its manifest.json, which records the SHA-256 of
     * every graph (and {@link ModelBundle#load} checks the graphs against it).
     */
    static String fingerprint(Path directory) {
        try {
            return ModelBundle.sha256Hex(directory.resolve(ModelBundle.MANIFEST));
        } catch (IOException e) {
            throw new BundleException("bundle " + directory + ": cannot read " + ModelBundle.MANIFEST + ": " + e, e);
        }
    }

    /**
     * The bundle directory of {@code location} on this JVM (the driver's or an executor's, as
     * {@code where} says in an error message). An absolute path is used as it is (a
     * path every executor can read). A relative one names a file shipped with the job: the
     * directory {@code SparkFiles.get(location)} (where {@code --archives bundle.tar.gz#location}
     * unpacks; {@code .} for the bundle's files shipped one by one with {@code --files}), else
     * {@code location} relative to the working directory.
     * If the directory has no manifest.json but exactly one sub-directory with one (an archive of
     * the bundle's directory rather than of its files), that sub-directory is the bundle.
     */
    static Path resolve(String location, String where) {
        Path given = Paths.get(location);
        List<Path> tried = new ArrayList<>();
        if (given.isAbsolute()) {
            tried.add(given);
        } else {
            if (SparkEnv.get() != null) {
                tried.add(Paths.get(SparkFiles.get(location)));
            }
            tried.add(given.toAbsolutePath());
        }
        for (Path p : tried) {
            Path b = bundleIn(p);
            if (b != null) {
                return b;
            }
        }
        throw new BundleException("no model bundle '" + location + "' on " + where + " (looked in "
                + tried + "): ship it with --archives bundle.tar.gz#" + given.getFileName()
                + " or give a path every executor can read");
    }

    private static Path bundleIn(Path p) {
        if (Files.isRegularFile(p.resolve(ModelBundle.MANIFEST))) {
            return p;
        }
        if (!Files.isDirectory(p)) {
            return null;
        }
        try (Stream<Path> entries = Files.list(p)) {
            List<Path> bundles = new ArrayList<>();
            entries.filter(e -> Files.isRegularFile(e.resolve(ModelBundle.MANIFEST))).forEach(bundles::add);
            return bundles.size() == 1 ? bundles.get(0) : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + p, e);
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "(unknown host)";
        }
    }
}
