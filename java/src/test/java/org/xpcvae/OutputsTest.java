package org.xpcvae;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The outputs of {@code xpcvae infer}: never onto the input or onto each other, all of them or
 * none, errors that name the file and the reason, nothing left after a signal.
 */
public class OutputsTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private String stderr = "";

    private int run(String... args) {
        TestSupport.CliRun r = TestSupport.runMain(args);
        stderr = r.stderr;
        return r.rc;
    }

    private int infer(Path in, String... more) {
        List<String> args = new ArrayList<>(Arrays.asList("infer", "--bundle", TestSupport.bundleDir().toString(),
                "--input", in.toString(), "--samples", "20"));
        args.addAll(Arrays.asList(more));
        return run(args.toArray(new String[0]));
    }

    private static Path spectra(Path dir, int n) throws IOException {
        List<Spectrum> spectra = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            spectra.add(TestSupport.spectrum("s" + i, i));
        }
        Path f = dir.resolve("in.csv");
        SpectraCsv.write(f, spectra);
        return f;
    }

    private void assertRefused(String expected) {
        assertTrue(stderr, stderr.startsWith("xpcvae infer: error: "));
        assertTrue(stderr, stderr.contains(expected));
        assertFalse(stderr, stderr.contains("Exception"));
    }

    @Test
    public void anOutputOntoTheInputIsRefusedBeforeAnyWork() throws IOException {
        Path dir = tmp.newFolder("same").toPath();
        Path in = spectra(dir, 2);
        byte[] spectra = Files.readAllBytes(in);
        Path symlink = Files.createSymbolicLink(dir.resolve("link.csv"), in);
        Path hardLink = Files.createLink(dir.resolve("hard.csv"), in);
        Path alias = dir.resolve("sub").resolve("..").resolve("in.csv");
        Files.createDirectory(dir.resolve("sub"));
        for (Path out : Arrays.asList(in, symlink, hardLink, alias)) {
            assertEquals(out.toString(), Main.EXIT_FATAL, infer(in, "--out", out.toString()));
            assertRefused("--out " + out + " is the input file --input " + in);
            assertTrue(stderr, stderr.contains("writing it would destroy the spectra"));
            boolean link = out.equals(symlink) || out.equals(hardLink);
            assertEquals(stderr, link, stderr.contains("(the same file under another name, or a link to it)"));
            assertEquals(Main.EXIT_FATAL, infer(in, "--out", dir.resolve("ok.csv").toString(),
                    "--samples-out", out.toString()));
            assertRefused("--samples-out " + out + " is the input file --input " + in);
        }
        assertArrayEquals(spectra, Files.readAllBytes(in));
        assertEquals(Arrays.asList("hard.csv", "in.csv", "link.csv", "sub"), TestSupport.listDir(dir));
    }

    @Test
    public void anOutputOntoAFileOfTheBundleIsRefused() throws IOException {
        Path dir = tmp.newFolder("bundle").toPath();
        Path in = spectra(dir, 2);
        Path bundle = TestSupport.copyBundle(dir.resolve("b"));
        Path manifest = bundle.resolve("manifest.json");
        byte[] before = Files.readAllBytes(manifest);
        Path link = Files.createSymbolicLink(dir.resolve("m.json"), manifest);
        for (Path out : Arrays.asList(manifest, link)) {
            assertEquals(Main.EXIT_FATAL, run("infer", "--bundle", bundle.toString(), "--input", in.toString(),
                    "--out", out.toString(), "--samples", "20"));
            assertRefused("--out " + out + " is a file of the model bundle --bundle " + bundle
                    + ": writing it would damage the bundle");
        }
        assertArrayEquals(before, Files.readAllBytes(manifest));
        // a new file in the bundle's directory damages nothing
        assertEquals(stderr, 0, run("infer", "--bundle", bundle.toString(), "--input", in.toString(),
                "--out", bundle.resolve("summary.csv").toString(), "--samples", "20"));
    }

    @Test
    public void bothOutputsUnderOneNameAreRefused() throws IOException {
        Path dir = tmp.newFolder("twice").toPath();
        Path in = spectra(dir, 2);
        Path out = dir.resolve("out.csv");
        // the same name, another spelling of it, a link to an output that does not exist yet
        Path dangling = Files.createSymbolicLink(dir.resolve("dangling.csv"), dir.resolve("out.csv"));
        for (Path samples : Arrays.asList(out, dir.resolve(".").resolve("out.csv"), dangling)) {
            assertEquals(Main.EXIT_FATAL, infer(in, "--out", out.toString(), "--samples-out", samples.toString()));
            assertRefused("--samples-out " + samples + " and --out " + out + " are the same file");
            assertTrue(stderr, stderr.contains("one output would overwrite the other"));
        }
        // an existing summary hard-linked as the samples file
        Files.write(out, Arrays.asList("old"));
        Path hard = Files.createLink(dir.resolve("hard.csv"), out);
        assertEquals(Main.EXIT_FATAL, infer(in, "--out", out.toString(), "--samples-out", hard.toString()));
        assertRefused("are the same file (the same file under another name, or a link to it)");
        assertEquals(Arrays.asList("old"), Files.readAllLines(out));
        assertEquals(Arrays.asList("dangling.csv", "hard.csv", "in.csv", "out.csv"), TestSupport.listDir(dir));
    }

    @Test
    public void standardStreamsAreNeverTheSameFile() {
        Path stream = Path.of(OutputPaths.STREAM);
        assertFalse(OutputPaths.sameFile(stream, stream));
        assertFalse(OutputPaths.sameFile(stream, Path.of("x.csv")));
        assertEquals(null, OutputPaths.problem(stream, null, Path.of("out.csv"), null));
    }

    @Test
    public void outputErrorsNameTheFileAndTheReasonInWords() throws IOException {
        Path dir = tmp.newFolder("errors").toPath();
        Path in = spectra(dir, 2);
        Path sub = Files.createDirectory(dir.resolve("adir"));
        Path file = Files.write(dir.resolve("afile"), new byte[]{1});

        assertEquals(Main.EXIT_FATAL, infer(in, "--out", sub.toString()));
        assertRefused("--out " + sub + " is a directory; expected the name of a file to write");

        Path under = file.resolve("x").resolve("s.csv");
        assertEquals(Main.EXIT_FATAL, infer(in, "--out", under.toString()));
        assertRefused("cannot write the summary CSV " + under + ": " + file + " is not a directory");

        // the draws cannot be written: no summary either
        Path out = dir.resolve("out.csv");
        assertEquals(Main.EXIT_FATAL,
                infer(in, "--out", out.toString(), "--samples-out", file.resolve("d.csv").toString()));
        assertRefused("cannot write the samples CSV " + file.resolve("d.csv") + ": " + file + " is not a directory");
        assertEquals(Arrays.asList("adir", "afile", "in.csv"), TestSupport.listDir(dir));
        assertEquals(Arrays.asList(), TestSupport.listDir(sub));
    }

    @Test
    public void aSpectraFileThatCannotBeReadIsNamed() throws IOException {
        Path dir = tmp.newFolder("unreadable").toPath();
        Path sub = Files.createDirectory(dir.resolve("indir"));
        assertEquals(Main.EXIT_FATAL, infer(sub, "--out", dir.resolve("o.csv").toString()));
        // as the Python engine words it (SpectrumSources)
        assertRefused(sub + ": is a directory, expected a spectra file");
        assertEquals(Arrays.asList("indir"), TestSupport.listDir(dir));
    }

    @Test
    public void aFailedRenameUndoesTheOutputsAlreadyRenamed() throws IOException {
        Path dir = tmp.newFolder("commit").toPath();
        Path first = dir.resolve("summary.csv");
        Path second = dir.resolve("samples.csv");
        AtomicTextFile a = AtomicTextFile.create(first, "summary CSV");
        AtomicTextFile b = AtomicTextFile.create(second, "samples CSV");
        a.writer().write("a\n");
        b.writer().write("b\n");
        // the second target turns into a non-empty directory while the run writes: its rename fails
        Files.createDirectory(second);
        Files.write(second.resolve("keep"), new byte[]{1});
        try {
            AtomicTextFile.commitAll(Arrays.asList(a, b));
            fail("the rename onto a directory succeeded");
        } catch (OutputException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("cannot write the samples CSV " + second
                    + ": cannot rename the finished temporary file onto it: "));
            assertTrue(e.getMessage(), e.getMessage().endsWith("; " + first + " removed again (all outputs or none)"));
        }
        assertEquals(Arrays.asList("samples.csv"), TestSupport.listDir(dir));
        assertEquals(Arrays.asList("keep"), TestSupport.listDir(second));
    }

    @Test
    public void theCommittedGroupAppearsTogether() throws IOException {
        Path dir = tmp.newFolder("together").toPath();
        List<Parameter> params = TestSupport.bundle().parameters();
        try (SummaryCsv summary = SummaryCsv.create(dir.resolve("s.csv"), params);
             SamplesCsv samples = SamplesCsv.create(dir.resolve("d.csv"), params)) {
            assertEquals(2, TestSupport.listDir(dir).stream().filter(n -> n.endsWith(".partial")).count());
            summary.commit(samples);
        }
        assertEquals(Arrays.asList("d.csv", "s.csv"), TestSupport.listDir(dir));
    }

    /**
     * Every summary writer (CSV, ECSV, and the progress line around one) commits with its draws: both
     * appear, or, when the draws cannot be renamed into place, neither.
     */
    @Test
    public void everySummaryWriterCommitsWithItsDrawsAllOrNone() throws IOException {
        List<Parameter> params = TestSupport.bundle().parameters();
        for (String name : new String[]{"s.csv", "s.ecsv", "p.ecsv"}) {
            Path dir = tmp.newFolder("writer-" + name).toPath();
            Path target = dir.resolve(name.replace("p.", "s."));
            try (SummaryWriter inner = SummaryWriter.create(target, params);
                 SamplesCsv samples = SamplesCsv.create(dir.resolve("d.csv"), params)) {
                SummaryWriter summary = name.startsWith("p") ? new ProgressLine(inner,
                        new java.io.PrintWriter(new java.io.StringWriter())) : inner;
                summary.writeError("s0", "source s0: broken");
                summary.commit(samples);
            }
            assertEquals(Arrays.asList("d.csv", target.getFileName().toString()), TestSupport.listDir(dir));
            assertTrue(new String(Files.readAllBytes(target), StandardCharsets.UTF_8).contains("source s0: broken"));

            Path failing = tmp.newFolder("failing-" + name).toPath();
            Path draws = failing.resolve("d.csv");
            Path summaryTarget = failing.resolve(target.getFileName());
            try (SummaryWriter summary = SummaryWriter.create(summaryTarget, params);
                 SamplesCsv samples = SamplesCsv.create(draws, params)) {
                summary.writeError("s0", "source s0: broken");
                Files.createDirectory(draws); // the draws' name turns into a non-empty directory
                Files.write(draws.resolve("keep"), new byte[]{1});
                summary.commit(samples);
                fail("the draws were renamed onto a directory");
            } catch (OutputException e) {
                assertTrue(e.getMessage(), e.getMessage().startsWith("cannot write the samples CSV " + draws));
                assertTrue(e.getMessage(),
                        e.getMessage().endsWith(summaryTarget + " removed again (all outputs or none)"));
            }
            assertEquals(Arrays.asList("d.csv"), TestSupport.listDir(failing));
        }
    }

    /**
     * Once the JVM shuts down (the hook ran), no file is renamed into place and the temporary
     * files are gone: checked in a JVM of its own ({@link ShutdownProbe}), as the hook's state is
     * for good.
     */
    @Test
    public void noRenameAfterTheShutdownBegan() throws Exception {
        Path dir = tmp.newFolder("shutdown").toPath();
        Path log = tmp.getRoot().toPath().resolve("probe.txt");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                ShutdownProbe.class.getName(), dir.toString(), TestSupport.bundleDir().toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = new String(Files.readAllBytes(log), StandardCharsets.UTF_8);
        assertEquals(out, 0, p.exitValue());
        assertTrue(out, out.contains("not writing the summary CSV " + dir.resolve("s.csv")
                + ": the run was stopped (the JVM is shutting down)"));
        assertEquals(Arrays.asList(), TestSupport.listDir(dir));
    }

    /** Ctrl-C (SIGINT) half-way through a run leaves neither the output nor a temporary file, exit status 130. */
    @Test
    public void sigintLeavesNoOutput() throws Exception {
        Path dir = tmp.newFolder("sigint").toPath();
        Path in = spectra(dir, 400);
        Path out = dir.resolve("summary.csv");
        Path samples = dir.resolve("draws.csv");
        Path log = tmp.getRoot().toPath().resolve("sigint.txt");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "infer", "--bundle", TestSupport.bundleDir().toString(), "--input", in.toString(), "--out",
                out.toString(), "--samples-out", samples.toString(), "--samples", "20000", "--batch", "1")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (TestSupport.listDir(dir).stream().filter(n -> n.endsWith(".partial")).count() < 2) {
                assertTrue("the run never started writing: " + TestSupport.listDir(dir), System.nanoTime() < deadline);
                assertTrue("the run ended early", p.isAlive());
                Thread.sleep(20);
            }
            Thread.sleep(300);
            assertEquals(0, new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor());
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        } finally {
            p.destroyForcibly();
        }
        assertEquals(130, p.exitValue());
        assertEquals(Arrays.asList("in.csv"), TestSupport.listDir(dir));
    }
}
