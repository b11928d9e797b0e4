package org.xpcvae;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A text file written under a temporary name in the target's directory and renamed onto the
 * target by {@link #commit()} ({@code ATOMIC_MOVE, REPLACE_EXISTING}); closing without commit
 * deletes the temporary file, so an interrupted run never leaves a partial file under the final
 * name. Files that belong together are renamed by {@link #commitAll}: all of them or none.
 *
 * <p>A JVM shutdown (Ctrl-C, SIGTERM, System.exit) deletes the temporary files not yet committed,
 * and from then on no commit renames anything: a run stopped by a signal leaves no output, even
 * if its last rows are written while the JVM shuts down. Renames and the shutdown exclude each
 * other, so a group of files is renamed wholly before the shutdown or not at all. Only a hard
 * kill can leave a temporary file behind, under its hidden {@code .<name>.*.partial} name, never
 * under the final name.
 *
 * <p>Every failure is an {@link OutputException} that names the file (what it is, its path), what
 * failed and why. Not thread-safe.
 */
final class AtomicTextFile implements AutoCloseable {
    private final String what;
    private final Path target;
    private final Path temp;
    private final Writer writer;
    private boolean done;

    /** Temporary files not yet committed or discarded, deleted by the shutdown hook. */
    private static final Set<Path> PENDING = ConcurrentHashMap.newKeySet();
    /** Held while renaming and by the shutdown hook. */
    private static final Object RENAMING = new Object();
    /** Set by the shutdown hook: no rename after it. Guarded by {@link #RENAMING}. */
    private static boolean shuttingDown;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(AtomicTextFile::stopAll, "xpcvae-partial-cleanup"));
    }

    /**
     * The shutdown hook's work: from now on no file is renamed into place, and the temporary files
     * not yet renamed are deleted. Waits for a group of renames under way to end.
     */
    static void stopAll() {
        synchronized (RENAMING) {
            shuttingDown = true;
            for (Path p : PENDING) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort at exit
                }
            }
        }
    }

    private AtomicTextFile(String what, Path target, Path temp, OutputStreamWriter out) {
        this.what = what;
        this.target = target;
        this.temp = temp;
        this.writer = new NamedWriter(new BufferedWriter(out, 1 << 16));
    }

    /**
     * {@link #create(Path, String)} of a file the messages call "file".
     *
     * @param target the file to write
     * @return the open file
     * @throws OutputException naming the file if it cannot be written there
     */
    static AtomicTextFile create(Path target) throws OutputException {
        return create(target, "file");
    }

    /**
     * Starts a file: creates the target's directory if needed and the temporary file in it.
     *
     * @param target the file to write
     * @param what   what the file is, for messages ("summary CSV")
     * @return the open file
     * @throws OutputException naming the file if the target is a directory or the temporary file
     *                         cannot be created
     */
    static AtomicTextFile create(Path target, String what) throws OutputException {
        String failed = "cannot write the " + what + " " + target;
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (Files.isDirectory(abs)) {
            throw new OutputException(failed + ": it is a directory", null);
        }
        for (Path p = target.getParent(); p != null; p = p.getParent()) {
            if (Files.exists(p)) {
                if (!Files.isDirectory(p)) {
                    throw new OutputException(failed + ": " + p + " is not a directory", null);
                }
                break;
            }
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new OutputException(failed + ": cannot create its directory " + dir + ": "
                    + OutputException.reason(e), e);
        }
        Path temp;
        try {
            temp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".partial");
        } catch (IOException e) {
            throw new OutputException(failed + ": cannot create a file in " + dir + ": " + OutputException.reason(e),
                    e);
        }
        PENDING.add(temp);
        try {
            try {
                Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException | IOException ignored) {
                // not a POSIX file system: keep the default permissions
            }
            return new AtomicTextFile(what, target, temp,
                    new OutputStreamWriter(Files.newOutputStream(temp), StandardCharsets.UTF_8));
        } catch (IOException e) {
            deleteQuietly(temp, e);
            throw new OutputException(failed + ": cannot open " + temp + ": " + OutputException.reason(e), e);
        }
    }

    /** @return the writer of the temporary file; its failures are {@link OutputException}s naming the target */
    Writer writer() {
        return writer;
    }

    /** @return the absolute path of the target */
    Path target() {
        return target.toAbsolutePath();
    }

    /**
     * Flushes, closes and renames the temporary file onto the target.
     *
     * @throws OutputException naming the file if it cannot be finished or renamed, or the JVM is
     *                         shutting down (no file is then left)
     */
    void commit() throws OutputException {
        commitAll(Arrays.asList(this));
    }

    /**
     * Finishes {@code files} and renames them onto their targets, in order: all of them or none.
     * Should a rename fail, the targets already renamed are deleted again and the message says so;
     * their previous contents, if any, are then lost (they were replaced). Null entries are skipped.
     *
     * @param files the files of one result
     * @throws OutputException naming the file that failed, and why
     */
    static void commitAll(List<AtomicTextFile> files) throws OutputException {
        List<AtomicTextFile> group = new ArrayList<>();
        for (AtomicTextFile f : files) {
            if (f != null) {
                if (f.done) {
                    throw new IllegalStateException(f.target + " was already committed or discarded");
                }
                group.add(f);
            }
        }
        try {
            for (AtomicTextFile f : group) {
                try {
                    f.writer.close();
                } catch (OutputException e) {
                    throw e;
                } catch (IOException e) {
                    throw new OutputException(f.failed() + ": " + OutputException.reason(e), e);
                }
            }
            synchronized (RENAMING) {
                if (shuttingDown) {
                    throw new OutputException("not writing the " + group.get(0).what + " " + group.get(0).target
                            + ": the run was stopped (the JVM is shutting down)", null);
                }
                List<AtomicTextFile> renamed = new ArrayList<>();
                for (AtomicTextFile f : group) {
                    try {
                        move(f.temp, f.target);
                    } catch (IOException e) {
                        StringBuilder undone = new StringBuilder();
                        for (AtomicTextFile r : renamed) {
                            try {
                                Files.deleteIfExists(r.target);
                                undone.append(undone.length() == 0 ? "; " : ", ").append(r.target);
                            } catch (IOException suppressed) {
                                e.addSuppressed(suppressed);
                            }
                        }
                        if (undone.length() > 0) {
                            undone.append(" removed again (all outputs or none)");
                        }
                        throw new OutputException(f.failed() + ": cannot rename the finished temporary file onto it: "
                                + OutputException.reason(e) + undone, e);
                    }
                    PENDING.remove(f.temp);
                    f.done = true;
                    renamed.add(f);
                }
            }
        } finally {
            for (AtomicTextFile f : group) {
                f.close();
            }
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private String failed() {
        return "cannot write the " + what + " " + target;
    }

    /** Discards the temporary file unless {@link #commit()} succeeded. */
    @Override
    public void close() {
        if (done) {
            return;
        }
        done = true;
        try {
            writer.close();
        } catch (IOException ignored) {
            // the file is discarded anyway
        }
        deleteQuietly(temp, null);
    }

    private static void deleteQuietly(Path temp, Exception context) {
        try {
            Files.deleteIfExists(temp);
            PENDING.remove(temp);
        } catch (IOException e) {
            if (context != null) {
                context.addSuppressed(e);
            }
        }
    }

    /** The writer of the temporary file: a failure (a full disk, ...) names the target, not the temporary file. */
    private final class NamedWriter extends Writer {
        private final Writer out;

        NamedWriter(Writer out) {
            this.out = out;
        }

        @Override
        public void write(int c) throws IOException {
            try {
                out.write(c);
            } catch (IOException e) {
                throw named(e);
            }
        }

        @Override
        public void write(char[] buf, int off, int len) throws IOException {
            try {
                out.write(buf, off, len);
            } catch (IOException e) {
                throw named(e);
            }
        }

        @Override
        public void write(String s, int off, int len) throws IOException {
            try {
                out.write(s, off, len);
            } catch (IOException e) {
                throw named(e);
            }
        }

        @Override
        public void flush() throws IOException {
            try {
                out.flush();
            } catch (IOException e) {
                throw named(e);
            }
        }

        @Override
        public void close() throws IOException {
            try {
                out.close();
            } catch (IOException e) {
                throw named(e);
            }
        }

        private OutputException named(IOException e) {
            return e instanceof OutputException ? (OutputException) e
                    : new OutputException(failed() + ": " + OutputException.reason(e), e);
        }
    }
}
