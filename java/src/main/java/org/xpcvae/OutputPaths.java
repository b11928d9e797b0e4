package org.xpcvae;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The output files of {@code xpcvae infer} checked against its inputs and each other before any
 * work: a summary written onto its own spectra file (or a file of the model bundle) destroys an
 * input, and two outputs under one name lose one of them. Two names are the same file when they are
 * the same file on disk (a hard or symbolic link to it included: {@link Files#isSameFile}), or,
 * for files that do not exist yet, when their absolute paths with the symbolic links of the existing part resolved are equal.
 * {@code -} (a standard stream) is never a file. The Python engine applies the same rules with
 * the same messages ({@code xpcvae.infer.output_paths}).
 */
final class OutputPaths {
    /** The name of a standard stream: stdin as an input, stdout as an output. */
    static final String STREAM = "-";
    /** Symbolic links followed at most when resolving a name (as the kernel's ELOOP limit). */
    private static final int MAX_LINKS = 40;

    private OutputPaths() {
    }

    /**
     * The problem with the outputs, or null if there is none: {@code out} or {@code samplesOut}
     * is the input file, a file of the bundle directory or a directory, or they are one file.
     *
     * @param input      the {@code --input} file (or {@code -})
     * @param bundle     the {@code --bundle} directory
     * @param out        the {@code --out} file (or {@code -})
     * @param samplesOut the {@code --samples-out} file, or null
     * @return a message naming the options, the files and why it is refused; null if fine
     */
    static String problem(Path input, Path bundle, Path out, Path samplesOut) {
        String[] names = {"--out", "--samples-out"};
        Path[] paths = {out, samplesOut};
        for (int i = 0; i < paths.length; i++) {
            Path p = paths[i];
            if (p == null) {
                continue;
            }
            if (!isStream(p) && Files.isDirectory(p)) {
                return names[i] + " " + p + " is a directory; expected the name of a file to write";
            }
            if (input != null && sameFile(p, input)) {
                return names[i] + " " + p + " is the input file --input " + input + how(p, input)
                        + ": writing it would destroy the spectra; choose another output file";
            }
            if (bundle != null && bundleFile(p, bundle)) {
                return names[i] + " " + p + " is a file of the model bundle --bundle " + bundle
                        + ": writing it would damage the bundle; choose another output file";
            }
        }
        if (samplesOut != null && sameFile(out, samplesOut)) {
            return "--samples-out " + samplesOut + " and --out " + out + " are the same file" + how(out, samplesOut)
                    + ": one output would overwrite the other; give them different names";
        }
        return null;
    }

    /**
     * @param a a file name
     * @param b another
     * @return whether {@code a} and {@code b} denote one file (see the class comment)
     */
    static boolean sameFile(Path a, Path b) {
        if (isStream(a) || isStream(b)) {
            return false;
        }
        if (Files.exists(a) && Files.exists(b)) {
            try {
                return Files.isSameFile(a, b);
            } catch (IOException e) {
                // cannot tell from the file system: compare the names
            }
        }
        return resolved(a).equals(resolved(b));
    }

    /** Whether {@code p} is an existing file of the {@code bundle} directory (under any name). */
    private static boolean bundleFile(Path p, Path bundle) {
        if (isStream(p) || !Files.isRegularFile(p) || !Files.isDirectory(bundle)) {
            return false;
        }
        try (java.util.stream.Stream<Path> files = Files.list(bundle)) {
            return files.anyMatch(f -> Files.isRegularFile(f) && sameFile(p, f));
        } catch (IOException | java.io.UncheckedIOException e) {
            return false; // an unreadable bundle is refused when it is loaded
        }
    }

    private static boolean isStream(Path p) {
        return p.toString().equals(STREAM);
    }

    private static String how(Path a, Path b) {
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize()) ? ""
                : " (the same file under another name, or a link to it)";
    }

    /**
     * The absolute name of {@code p} with every symbolic link resolved as far as the file system
     * has it, the missing rest normalised (as Python's {@code os.path.realpath}): a dangling link
     * resolves to the name it points at.
     */
    static Path resolved(Path p) {
        Path abs = p.toAbsolutePath();
        for (int links = 0; links < MAX_LINKS; links++) {
            try {
                return abs.toRealPath();
            } catch (IOException e) {
                // the name, or a part of it, does not exist: resolve what does
            }
            Path parent = abs.getParent();
            if (Files.isSymbolicLink(abs) && parent != null) {
                try {
                    abs = parent.resolve(Files.readSymbolicLink(abs));
                    continue;
                } catch (IOException e) {
                    // unreadable link: keep the name
                }
            }
            if (parent == null || abs.getFileName() == null) {
                return abs.normalize();
            }
            return resolved(parent).resolve(abs.getFileName()).normalize();
        }
        return abs.normalize();
    }
}
