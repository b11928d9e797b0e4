package org.xpcvae;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

/**
 * Run by {@link OutputsTest} in a JVM of its own (arguments: an empty directory, a bundle):
 * writes a summary and its draws into the directory, runs the
 * shutdown hook's work, then commits. Prints the commit's error; exit status 0 when the commit was
 * refused and nothing is left in the directory, 1 otherwise.
 */
final class ShutdownProbe {
    private ShutdownProbe() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Paths.get(args[0]);
        List<Parameter> params = ModelBundle.load(Paths.get(args[1])).parameters();
        boolean refused = false;
        try (SummaryCsv summary = SummaryCsv.create(dir.resolve("s.csv"), params);
             SamplesCsv samples = SamplesCsv.create(dir.resolve("d.csv"), params)) {
            summary.writeError("a", "a row");
            AtomicTextFile.stopAll();
            summary.commit(samples);
        } catch (OutputException e) {
            System.out.println(e.getMessage());
            refused = true;
        }
        try (java.util.stream.Stream<Path> left = Files.list(dir)) {
            System.exit(refused && left.count() == 0 ? 0 : 1);
        }
    }
}
