package org.xpcvae;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The ONNX Runtime sessions of some of a bundle's graphs, opened with one set of session
 * options and closed together. Every graph of xpcvae (the sampler's three, the forward model,
 * the benchmark's decoder) is opened through this class, so that all of them run with the same
 * settings: the posterior draws are only reproducible bit for bit when they do.
 *
 * <p>The settings: the given number of intra-op threads, one inter-op thread, sequential
 * execution, the given optimisation level and deterministic compute (ONNX Runtime's kernels
 * otherwise may pick reduction orders that vary between runs).
 *
 * <p>Typical use, in a constructor that must not leak what it opened when it fails:
 * <pre>{@code
 * OrtSessions sessions = OrtSessions.create(bundle, 1, OptLevel.ALL_OPT);
 * try {
 *     OrtSession s = sessions.open(ModelBundle.ROLE_R1_ENCODER);
 *     // check s ...
 * } catch (RuntimeException e) {
 *     sessions.closeAfter(e);
 *     throw e;
 * }
 * }</pre>
 *
 * <p>Thread-safe; the opened sessions may be run by any number of threads until {@link #close()}.
 */
final class OrtSessions implements AutoCloseable {
    private final ModelBundle bundle;
    private final OrtEnvironment env;
    private final OrtSession.SessionOptions options;
    private final List<OrtSession> sessions = new ArrayList<>();
    private boolean closed;

    private OrtSessions(ModelBundle bundle, OrtEnvironment env, OrtSession.SessionOptions options) {
        this.bundle = bundle;
        this.env = env;
        this.options = options;
    }

    /**
     * Session options for {@code bundle}'s graphs; no graph is opened yet.
     *
     * @param intraOpThreads ONNX Runtime threads per graph run (at least 1)
     * @param optLevel       graph optimisation level
     * @throws BundleException if ONNX Runtime refuses the options
     */
    static OrtSessions create(ModelBundle bundle, int intraOpThreads, OrtSession.SessionOptions.OptLevel optLevel) {
        Objects.requireNonNull(bundle, "bundle");
        Objects.requireNonNull(optLevel, "optLevel");
        if (intraOpThreads < 1) {
            throw new IllegalArgumentException("intra-op threads must be >= 1, got " + intraOpThreads);
        }
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        try {
            so.setIntraOpNumThreads(intraOpThreads);
            so.setInterOpNumThreads(1);
            so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            so.setOptimizationLevel(optLevel);
            so.setDeterministicCompute(true);
        } catch (OrtException e) {
            so.close();
            throw new BundleException("bundle " + bundle.directory() + ": invalid session options: " + e.getMessage(),
                    e);
        }
        return new OrtSessions(bundle, OrtEnvironment.getEnvironment(), so);
    }

    /** The process-wide ONNX Runtime environment the sessions belong to (tensors are created in it). */
    OrtEnvironment environment() {
        return env;
    }

    /**
     * Opens the graph of {@code role} (read and checksum-verified by {@link ModelBundle#readGraph})
     * with these options; it is closed by {@link #close()}.
     *
     * @throws BundleException if the graph cannot be read or ONNX Runtime cannot load it
     */
    synchronized OrtSession open(String role) {
        if (closed) {
            throw new IllegalStateException("the sessions of " + bundle.directory() + " are closed");
        }
        byte[] model = bundle.readGraph(role);
        try {
            OrtSession s = env.createSession(model, options);
            sessions.add(s);
            return s;
        } catch (OrtException e) {
            throw new BundleException("bundle " + bundle.directory() + ": ONNX Runtime cannot load "
                    + bundle.file(role).getFileName() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Closes the sessions, the last opened first, then the options (idempotent). The environment
     * is a process-wide singleton owned by ONNX Runtime and stays open.
     *
     * @throws InferenceException if ONNX Runtime fails to close a session (all are closed regardless)
     */
    @Override
    public void close() {
        OrtException first = closeAll();
        if (first != null) {
            throw new InferenceException("closing ONNX Runtime sessions of bundle " + bundle.directory()
                    + " failed: " + first.getMessage(), first);
        }
    }

    /**
     * Closes everything after {@code failure} (the error being reported), adding any error of
     * closing to it as suppressed rather than replacing it.
     */
    void closeAfter(Throwable failure) {
        OrtException e = closeAll();
        if (e != null) {
            failure.addSuppressed(e);
        }
    }

    private synchronized OrtException closeAll() {
        if (closed) {
            return null;
        }
        closed = true;
        OrtException first = null;
        for (int i = sessions.size() - 1; i >= 0; i--) {
            try {
                sessions.get(i).close();
            } catch (OrtException e) {
                if (first == null) {
                    first = e;
                }
            } catch (IllegalStateException ignored) {
                // closed already (ONNX Runtime refuses to close a session twice)
            }
        }
        sessions.clear();
        options.close();
        return first;
    }
}
