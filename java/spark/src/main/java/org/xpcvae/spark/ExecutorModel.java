package org.xpcvae.spark;

import org.apache.spark.SparkEnv;
import org.apache.spark.SparkFiles;
import org.xpcvae.BundleException;
import org.xpcvae.GoodnessOfFit;
import org.xpcvae.ModelBundle;
import org.xpcvae.PosteriorSampler;

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
import java.util.stream.Stream;

/**
 * The model of one executor JVM: the bundle (checksums verified), one {@link PosteriorSampler}
 * and one {@link GoodnessOfFit}, opened by the first task that needs them, shared by all the
 * JVM's tasks (both are thread-safe) and closed when the JVM shuts down.
 *
 * <p>Opening checks that the bundle is the one the driver loaded (same manifest, whose SHA-256
 * pins every graph's): a task never processes a row with another model than the driver's.
 */
final class ExecutorModel {
    final ModelBundle bundle;
    final PosteriorSampler sampler;
    final GoodnessOfFit fit;

    /** Open models by location, fingerprint and intra-op threads (one in a real executor). */
    private static final Map<String, ExecutorModel> OPEN = new HashMap<>();
    private static boolean hookAdded;

    private ExecutorModel(ModelBundle bundle, int intraOpThreads) {
        this.bundle = bundle;
        this.sampler = new PosteriorSampler(bundle, PosteriorSampler.Options.defaults()
                .withIntraOpThreads(intraOpThreads));
        GoodnessOfFit f;
        try {
            f = new GoodnessOfFit(bundle, intraOpThreads);
        } catch (RuntimeException e) {
            sampler.close();
            throw e;
        }
        this.fit = f;
    }

    /**
     * Opens the bundle at {@code directory} as the driver does before the job: loads it (checksums)
     * and opens its graphs in ONNX Runtime. In local mode, where the driver's JVM runs the tasks,
     * the model stays open for them ({@code keep}); else it is closed again.
     *
     * @return the loaded bundle
     * @throws BundleException if the bundle is unusable, naming the problem
     */
    static ModelBundle check(Path directory, int intraOpThreads, boolean keep) {
        if (keep) {
            return get(directory.toString(), fingerprint(directory), intraOpThreads).bundle;
        }
        ExecutorModel m = new ExecutorModel(ModelBundle.load(directory), intraOpThreads);
        m.close();
        return m.bundle;
    }

    /**
     * The model of this JVM for the bundle at {@code location}, opened on first use.
     *
     * @param location    where the executors find the bundle ({@link #resolve})
     * @param fingerprint the driver's bundle's {@link #fingerprint}
     * @throws BundleException if the bundle is missing, corrupt or not the driver's
     */
    static synchronized ExecutorModel get(String location, String fingerprint, int intraOpThreads) {
        String key = location + "\n" + fingerprint + "\n" + intraOpThreads;
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
        m = new ExecutorModel(bundle, intraOpThreads);
        OPEN.put(key, m);
        if (!hookAdded) {
            Runtime.getRuntime().addShutdownHook(new Thread(ExecutorModel::closeAll, "xpcvae-spark-model-close"));
            hookAdded = true;
        }
        return m;
    }

    private static synchronized void closeAll() {
        for (ExecutorModel m : OPEN.values()) {
            m.close();
        }
        OPEN.clear();
    }

    private void close() {
        try {
            fit.close();
        } finally {
            sampler.close();
        }
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
