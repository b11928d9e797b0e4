package org.xpcvae;

import ai.onnxruntime.OrtException;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Lets the JVM exit between ONNX Runtime calls, never during one.
 *
 * <p>Why: when the JVM exits (SIGTERM, Ctrl-C, {@code System.exit}) while a thread is inside
 * {@code OrtSession.run}, the process's exit tears down ONNX Runtime's native global state under
 * that thread, which then crashes with SIGSEGV and leaves an {@code hs_err_pid*.log} file in the
 * working directory instead of simply stopping. So every graph run holds a shared (read) lock, and a
 * shutdown hook takes the exclusive (write) lock: it waits for the runs in flight (milliseconds) and
 * keeps new ones from starting, so the exit goes on with no thread in ONNX Runtime. The lock is never
 * contended outside shutdown except by its readers, which share it.
 */
final class NativeRuns {
    /** How long the shutdown waits for runs in flight before letting the exit go on regardless. */
    static final long DRAIN_SECONDS = 10;

    /** The gate of this JVM's ONNX Runtime calls, drained by a shutdown hook. */
    static final NativeRuns JVM = new NativeRuns();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> JVM.drain(DRAIN_SECONDS, TimeUnit.SECONDS),
                "xpcvae-onnxruntime-drain"));
    }

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    /** A gate of its own (tests); the library uses {@link #JVM}. */
    NativeRuns() {
    }

    /** A call into ONNX Runtime. */
    interface Call<T> {
        T call() throws OrtException;
    }

    /** Runs {@code call}; once the gate is drained, waits for good (the JVM is exiting). */
    <T> T run(Call<T> call) throws OrtException {
        lock.readLock().lock();
        try {
            return call.call();
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Waits up to {@code timeout} for the calls in flight to end and blocks new ones for good.
     * Returns whether the calls in flight ended within the wait.
     */
    boolean drain(long timeout, TimeUnit unit) {
        try {
            return lock.writeLock().tryLock(timeout, unit);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
