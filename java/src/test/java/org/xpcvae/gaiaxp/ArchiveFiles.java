package org.xpcvae.gaiaxp;

import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * The Gaia archive example files (tests/data/gaia-archive) and GaiaXPy's calibration of them
 * (gaiaxpy_calibrate_reference.csv there, written by make_gaiaxpy_reference.py with GaiaXPy).
 */
final class ArchiveFiles {
    private ArchiveFiles() {
    }

    static final String CONTINUOUS_CSV = "XP_CONTINUOUS_RAW.csv";
    static final String CONTINUOUS_ECSV = "XP_CONTINUOUS_RAW.ecsv";
    static final String CONTINUOUS_FITS = "XP_CONTINUOUS_RAW.fits";
    static final String CONTINUOUS_MISSING_BP = "XP_CONTINUOUS_RAW_with_missing_BP.csv";
    static final String SAMPLED_CSV = "XP_SAMPLED_RAW_dr3int6.csv";
    static final String SAMPLED_ECSV = "XP_SAMPLED_RAW_dr3int6.ecsv";
    static final List<String> CONTINUOUS = List.of(CONTINUOUS_CSV, CONTINUOUS_MISSING_BP, CONTINUOUS_ECSV,
            CONTINUOUS_FITS);
    static final List<String> SAMPLED = List.of(SAMPLED_CSV, SAMPLED_ECSV);

    /** tests/data/gaia-archive, found from the working directory (Gradle runs the tests in java/). */
    static Path dir() {
        for (Path p = Paths.get("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path d = p.resolve("tests").resolve("data").resolve("gaia-archive");
            if (Files.isRegularFile(d.resolve(CONTINUOUS_CSV))) {
                return d;
            }
        }
        fail("tests/data/gaia-archive not found above " + Paths.get("").toAbsolutePath());
        return null;
    }

    static Path file(String name) {
        return dir().resolve(name);
    }

    /** GaiaXPy's flux (index 0) and flux_error (index 1) per source of {@code file}, in file order. */
    static Map<String, double[][]> reference(String file) throws IOException {
        Map<String, double[][]> out = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(file("gaiaxpy_calibrate_reference.csv"), StandardCharsets.UTF_8);
        for (String line : lines) {
            if (line.startsWith("#") || line.startsWith("file,")) {
                continue;
            }
            String[] f = line.split(",");
            if (!f[0].equals(file)) {
                continue;
            }
            int n = (f.length - 2) / 2;
            double[][] v = new double[2][n];
            for (int i = 0; i < 2 * n; i++) {
                String s = f[2 + i];
                v[i / n][i % n] = s.equals("nan") ? Double.NaN : Double.parseDouble(s);
            }
            out.put(f[1], v);
        }
        if (out.isEmpty()) {
            fail("no GaiaXPy reference rows for " + file);
        }
        return out;
    }

    /** {@code src} gzipped into {@code dst}. */
    static Path gzip(Path src, Path dst) throws IOException {
        try (InputStream in = Files.newInputStream(src);
             OutputStream out = new GZIPOutputStream(Files.newOutputStream(dst))) {
            in.transferTo(out);
        }
        return dst;
    }

    /** Largest |a - b| / |b| over the samples (b the reference). */
    static double maxRelative(double[] a, double[] b) {
        double m = 0;
        for (int i = 0; i < b.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]) / Math.abs(b[i]));
        }
        return m;
    }
}
