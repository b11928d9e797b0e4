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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A text file written under a temporary name in the target's directory and renamed onto the
 * target by {@link #commit()} ({@code ATOMIC_MOVE, REPLACE_EXISTING}); closing without commit
 * deletes the temporary file, so an interrupted run never leaves a partial file under the final
 * name. A JVM shutdown (Ctrl-C, SIGTERM, System.exit) deletes the temporary files not yet
 * committed; only a hard kill can leave one behind, under its hidden {@code .<name>.*.partial}
 * name, never under the final name. Not thread-safe.
 */
final class AtomicTextFile implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final Writer writer;
    private boolean done;

    /** Temporary files not yet committed or discarded, deleted by a shutdown hook. */
    private static final Set<Path> PENDING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Path p : PENDING) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort at exit
                }
            }
        }, "xpcvae-partial-cleanup"));
    }

    private AtomicTextFile(Path target, Path temp, Writer writer) {
        this.target = target;
        this.temp = temp;
        this.writer = writer;
    }

    static AtomicTextFile create(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        Path temp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".partial");
        try {
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException | IOException ignored) {
            // not a POSIX file system: keep the default permissions
        }
        PENDING.add(temp);
        Writer w = new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(temp), StandardCharsets.UTF_8),
                1 << 16);
        return new AtomicTextFile(abs, temp, w);
    }

    Writer writer() {
        return writer;
    }

    Path target() {
        return target;
    }

    /** Flushes, closes and renames the temporary file onto the target. */
    void commit() throws IOException {
        if (done) {
            throw new IllegalStateException(target + " was already committed or discarded");
        }
        done = true;
        try {
            writer.close();
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            PENDING.remove(temp);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(e);
            throw e;
        }
    }

    /** Discards the temporary file unless {@link #commit()} succeeded. */
    @Override
    public void close() throws IOException {
        if (done) {
            return;
        }
        done = true;
        try {
            writer.close();
        } catch (IOException ignored) {
            // the file is discarded anyway
        }
        deleteQuietly(null);
    }

    private void deleteQuietly(Exception context) {
        try {
            Files.deleteIfExists(temp);
            PENDING.remove(temp);
        } catch (IOException e) {
            if (context != null) {
                context.addSuppressed(e);
            }
        }
    }
}
