package org.xpcvae;

import static org.junit.Assert.fail;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Shared fixtures: the test bundle (system property {@code xpcvae.bundle}) and synthetic spectra. */
final class TestSupport {
    /** What one in-process run of the command line returned and wrote to standard error. */
    static final class CliRun {
        final int rc;
        final String stderr;

        CliRun(int rc, String stderr) {
            this.rc = rc;
            this.stderr = stderr;
        }
    }

    /** {@link Main#run} with {@code args}, its standard output discarded. */
    static CliRun runMain(String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = Main.run(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), args);
        return new CliRun(rc, err.toString(StandardCharsets.UTF_8));
    }

    /** The names of the entries of {@code dir}, sorted (what a run left behind). */
    static List<String> listDir(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    private TestSupport() {
    }

    /** The bundle the tests use: {@code -Dxpcvae.bundle} (build.gradle sets it; see scripts/java_build.sh). */
    static Path bundleDir() {
        String dir = System.getProperty("xpcvae.bundle");
        if (dir == null || dir.isEmpty()) {
            fail("system property xpcvae.bundle is not set (build.gradle sets it from $XPCVAE_TEST_BUNDLE, "
                    + "export/default or export/tiny)");
        }
        Path p = Paths.get(dir);
        if (!Files.isRegularFile(p.resolve("manifest.json"))) {
            fail("no model bundle at " + p + " (set XPCVAE_TEST_BUNDLE to a bundle directory, or export one to "
                    + "export/default or export/tiny)");
        }
        return p;
    }

    static ModelBundle bundle() {
        return ModelBundle.load(bundleDir());
    }

    /** Copies the test bundle into {@code dst} (created), to be corrupted by a test. */
    static Path copyBundle(Path dst) throws IOException {
        Path src = bundleDir();
        Files.createDirectories(dst);
        try (Stream<Path> files = Files.list(src)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(f)) {
                    Files.copy(f, dst.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return dst;
    }

    /** The manifest of the bundle in {@code dir}. */
    static JsonObject readManifest(Path dir) throws IOException {
        return JsonParser.parseString(new String(Files.readAllBytes(dir.resolve(ModelBundle.MANIFEST)),
                StandardCharsets.UTF_8)).getAsJsonObject();
    }

    /**
     * Applies {@code edit} to the manifest of the bundle copy in {@code dir} and rewrites it with a
     * matching {@code manifest.json.sha256}, as an exporter would: the edited bundle passes the
     * checksum and meets the reader's other checks.
     */
    static void editManifest(Path dir, Consumer<JsonObject> edit) throws IOException {
        JsonObject m = readManifest(dir);
        edit.accept(m);
        Files.write(dir.resolve(ModelBundle.MANIFEST),
                new GsonBuilder().setPrettyPrinting().create().toJson(m).getBytes(StandardCharsets.UTF_8));
        writeChecksum(dir);
    }

    /** Writes {@code manifest.json.sha256} for the manifest in {@code dir} as it is ({@code sha256sum}'s line). */
    static void writeChecksum(Path dir) throws IOException {
        String line = ModelBundle.sha256Hex(dir.resolve(ModelBundle.MANIFEST)) + "  " + ModelBundle.MANIFEST + "\n";
        Files.write(dir.resolve(ModelBundle.CHECKSUM_FILE), line.getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * A smooth, positive, XP-like synthetic spectrum (flux of order 1e-17 W m^-2 nm^-1) that
     * differs with {@code variant}; uncertainties 3 percent of the flux.
     */
    static Spectrum spectrum(String id, int variant) {
        int n = ModelBundle.SPECTRUM_LENGTH;
        float[] flux = new float[n];
        float[] err = new float[n];
        java.util.SplittableRandom r = new java.util.SplittableRandom(1000 + variant);
        double slope = 0.5 + 0.1 * (variant % 7);
        for (int i = 0; i < n; i++) {
            double wl = 336.0 + 2.0 * i;
            double shape = Math.exp(-Math.pow((wl - 500.0 - 40.0 * (variant % 5)) / (250.0 * slope), 2));
            double line = (variant % 3 == 0 && Math.abs(wl - 656.0) < 6.0) ? 0.8 : 0.0; // an H-alpha bump
            double f = 1e-17 * (0.2 + shape + line) * (1.0 + 0.02 * (r.nextDouble() - 0.5));
            flux[i] = (float) f;
            err[i] = (float) (0.03 * f + 1e-20);
        }
        return new Spectrum(id, flux, err);
    }
}
