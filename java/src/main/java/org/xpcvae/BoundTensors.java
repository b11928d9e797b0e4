package org.xpcvae;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The input and output tensors of runs of one batch size over direct buffers that the caller
 * keeps: ONNX Runtime reads the inputs from those buffers and writes the outputs into them.
 * Created once and reused by every run of that size, so that a run creates no tensor, and ONNX
 * Runtime neither allocates the outputs nor the caller copies them out of its memory: a batch-1
 * source of the sampler took about 0.1 ms less (ONNX Runtime Java 1.29, the two per-spectrum
 * graphs' own time being 0.7 ms).
 *
 * <p>Several graphs may share the inputs (the sampler's two per-spectrum graphs): each has its
 * own outputs, numbered in the order of {@link #addGraph()}.
 *
 * <p>Not thread-safe: one per work area (the buffers are the work area's anyway).
 */
final class BoundTensors implements AutoCloseable {
    private final OrtEnvironment env;
    private final int rows;
    private final Map<String, OnnxTensor> inputs = new LinkedHashMap<>(4);
    private final List<Map<String, OnnxValue>> outputs = new ArrayList<>(2);

    /** Tensors for runs of {@code rows} rows (the first dimension of every input and output). */
    BoundTensors(OrtEnvironment env, int rows) {
        this.env = env;
        this.rows = rows;
    }

    /** The batch size. */
    int rows() {
        return rows;
    }

    /** Binds input {@code name} of shape {@code shape} to the first elements of {@code buffer}. */
    BoundTensors input(String name, FloatBuffer buffer, long... shape) throws OrtException {
        inputs.put(name, tensor(buffer, shape));
        return this;
    }

    /** Starts the outputs of the next graph; {@link #output} adds to them. */
    BoundTensors addGraph() {
        outputs.add(new LinkedHashMap<>(4));
        return this;
    }

    /** Binds output {@code name} of the last added graph to the first elements of {@code buffer}. */
    BoundTensors output(String name, FloatBuffer buffer, long... shape) throws OrtException {
        outputs.get(outputs.size() - 1).put(name, tensor(buffer, shape));
        return this;
    }

    /**
     * Runs {@code session} as graph number {@code graph} on the bound inputs into its bound
     * outputs; {@code what} and {@code role} name the source(s) and graph in errors. ONNX Runtime
     * checks that the graph's outputs have the bound shapes and types.
     */
    void run(OrtSession session, int graph, String what, String role) throws OrtException {
        Map<String, OnnxValue> out = outputs.get(graph);
        int returned = NativeRuns.JVM.run(() -> {
            try (OrtSession.Result r = session.run(inputs, out)) {
                return r.size();
            }
        });
        if (returned != out.size()) {
            throw new InferenceException(what + ": " + role + " returned " + returned + " outputs, expected "
                    + out.keySet());
        }
    }

    private OnnxTensor tensor(FloatBuffer buffer, long... shape) throws OrtException {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        FloatBuffer view = buffer.duplicate();
        view.position(0).limit(Math.toIntExact(n));
        return OnnxTensor.createTensor(env, view, shape);
    }

    /** Closes the tensors (not the buffers, which the garbage collector frees). */
    @Override
    public void close() {
        for (OnnxTensor t : inputs.values()) {
            t.close();
        }
        for (Map<String, OnnxValue> m : outputs) {
            for (OnnxValue v : m.values()) {
                v.close();
            }
        }
        inputs.clear();
        outputs.clear();
    }

    /**
     * The bound tensors of one graph (or graphs sharing inputs) for the runs of a work area: those
     * of the largest run and those of the last run of another size, since a call's runs have at
     * most two sizes (full runs and the remainder). Not thread-safe.
     */
    static final class BySize implements AutoCloseable {
        /** Binds the inputs and outputs of runs of {@code t.rows()} rows. */
        interface Binder {
            void bind(BoundTensors t) throws OrtException;
        }

        private final OrtEnvironment env;
        private final int largest;
        private final Binder binder;
        private BoundTensors full;
        private BoundTensors other;

        BySize(OrtEnvironment env, int largest, Binder binder) {
            this.env = env;
            this.largest = largest;
            this.binder = binder;
        }

        /** The bound tensors for a run of {@code rows} rows, created on first use. */
        BoundTensors forRows(int rows) throws OrtException {
            if (rows == largest) {
                if (full == null) {
                    full = create(rows);
                }
                return full;
            }
            if (other == null || other.rows() != rows) {
                if (other != null) {
                    other.close();
                    other = null;
                }
                other = create(rows);
            }
            return other;
        }

        private BoundTensors create(int rows) throws OrtException {
            BoundTensors t = new BoundTensors(env, rows);
            try {
                binder.bind(t);
                return t;
            } catch (OrtException | RuntimeException e) {
                t.close();
                throw e;
            }
        }

        @Override
        public void close() {
            if (full != null) {
                full.close();
                full = null;
            }
            if (other != null) {
                other.close();
                other = null;
            }
        }
    }
}
