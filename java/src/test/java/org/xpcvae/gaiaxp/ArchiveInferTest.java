package org.xpcvae.gaiaxp;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.xpcvae.Main;

/** {@code xpcvae infer} on Gaia archive files, and {@code --out -}. */
public class ArchiveInferTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private byte[] stdout = new byte[0];
    private String stderr = "";

    private static String bundle() {
        String dir = System.getProperty("xpcvae.bundle");
        if (dir == null || !Files.isRegularFile(Paths.get(dir, "manifest.json"))) {
            fail("system property xpcvae.bundle does not name a model bundle (build.gradle sets it)");
        }
        return dir;
    }

    private int infer(Path input, String out) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int rc = Main.run(new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8),
                "infer", "--bundle", bundle(), "--input", input.toString(), "--out", out, "--samples", "50",
                "--seed", "9");
        stdout = o.toByteArray();
        stderr = e.toString(StandardCharsets.UTF_8);
        return rc;
    }

    @Test
    public void inferReadsAnArchiveContinuousFileAndReportsTheMissingBand() throws IOException {
        Path out = tmp.getRoot().toPath().resolve("summary.csv");
        assertEquals(stderr, Main.EXIT_SOURCES_FAILED, infer(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_MISSING_BP),
                out.toString()));
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(4, lines.size());
        assertTrue(lines.get(1), lines.get(1).startsWith("5853498713190525696,ok,,50,"));
        assertTrue(lines.get(2), lines.get(2).startsWith("5405570973190252288,error,source 5405570973190252288: XP "
                + "continuous spectrum has no BP coefficients (BP missing)"));
        assertTrue(lines.get(3), lines.get(3).startsWith("5762406957886626816,ok,,50,"));
        assertTrue(stderr, stderr.contains("1 of 3 sources failed"));
        for (String name : List.of(ArchiveFiles.CONTINUOUS_FITS, ArchiveFiles.SAMPLED_ECSV)) {
            assertEquals(stderr, 0, infer(ArchiveFiles.file(name), tmp.getRoot().toPath().resolve(name + ".out").toString()));
        }
    }

    @Test
    public void outDashWritesTheSummaryToStandardOutput() throws IOException {
        Path file = tmp.getRoot().toPath().resolve("summary.csv");
        Path input = ArchiveFiles.file(ArchiveFiles.CONTINUOUS_CSV);
        assertEquals(stderr, 0, infer(input, file.toString()));
        assertEquals(0, stdout.length);
        assertEquals(stderr, 0, infer(input, "-"));
        assertArrayEquals(Files.readAllBytes(file), stdout);
        assertFalse("no file named -", Files.exists(Paths.get("-")));
    }

    @Test
    public void anUnreadableArchiveFileIsFatalAndWritesNothing() throws IOException {
        Path junk = tmp.getRoot().toPath().resolve("junk.fits");
        Files.write(junk, "not a FITS file, just text\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(Main.EXIT_FATAL, infer(junk, "-"));
        assertEquals(0, stdout.length);
        assertTrue(stderr, stderr.contains("xpcvae infer: error: " + junk + ": named like a FITS file"));
        Path out = tmp.getRoot().toPath().resolve("never.csv");
        assertEquals(Main.EXIT_FATAL, infer(junk, out.toString()));
        assertFalse(Files.exists(out));
    }
}
