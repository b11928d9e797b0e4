package org.xpcvae;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Posterior sampler of docs/sampling.md on ONNX Runtime: one {@link OrtEnvironment} and three
 * {@link OrtSession}s ({@code r1_encoder}, {@code decoder_context}, {@code decoder_sample}),
 * opened once in the constructor and released by {@link #close()}.
 *
 * <p>Thread-safe: {@code sample} keeps all its state on the stack and ONNX Runtime sessions may
 * be run concurrently, so any number of threads may share one sampler (do not call
 * {@link #close()} while they do). Results depend only on the bundle, the spectrum, its source
 * index, the seed and N (draw j does not even depend on N), never on batch composition, threads
 * or order: bit for bit, because every graph input is passed from 64-byte aligned memory at the
 * same position (see {@link #sample(List, long[], int, long)}).
 *
 * <p>Typical use: {@code try (PosteriorSampler s = PosteriorSampler.open(dir)) { s.sample(spectrum, 1000, 42L); }}
 */
public final class PosteriorSampler implements AutoCloseable {

    /** Immutable sampler settings; start from {@link #defaults()}. */
    public static final class Options {
        private final int intraOpThreads;
        private final OrtSession.SessionOptions.OptLevel optLevel;
        private final int drawBatchSize;

        private Options(int intraOpThreads, OrtSession.SessionOptions.OptLevel optLevel, int drawBatchSize) {
            if (intraOpThreads < 1) {
                throw new IllegalArgumentException("intra-op threads must be >= 1, got " + intraOpThreads);
            }
            if (drawBatchSize < 1) {
                throw new IllegalArgumentException("draw batch size must be >= 1, got " + drawBatchSize);
            }
            this.intraOpThreads = intraOpThreads;
            this.optLevel = Objects.requireNonNull(optLevel);
            this.drawBatchSize = drawBatchSize;
        }

        /** 1 intra-op thread per session, all graph optimisations, up to 4096 draws per decoder run. */
        public static Options defaults() {
            return new Options(1, OrtSession.SessionOptions.OptLevel.ALL_OPT, 4096);
        }

        /** ONNX Runtime intra-op threads of each session. */
        public Options withIntraOpThreads(int n) {
            return new Options(n, optLevel, drawBatchSize);
        }

        public Options withOptLevel(OrtSession.SessionOptions.OptLevel level) {
            return new Options(intraOpThreads, level, drawBatchSize);
        }

        /**
         * Most rows (draws of one source) per run of {@code decoder_sample}; a source with more
         * draws is split into runs of this many rows, rounded down to a multiple of 16 (at least
         * 16) so that every draw's rows keep the same memory alignment.
         */
        public Options withDrawBatchSize(int n) {
            return new Options(intraOpThreads, optLevel, n);
        }

        public int intraOpThreads() {
            return intraOpThreads;
        }

        public OrtSession.SessionOptions.OptLevel optLevel() {
            return optLevel;
        }

        public int drawBatchSize() {
            return drawBatchSize;
        }

        /** Rows per decoder run for N draws. */
        int rowsPerRun(int n) {
            if (n <= drawBatchSize) {
                return n;
            }
            return Math.max(ROW_GROUP, drawBatchSize / ROW_GROUP * ROW_GROUP);
        }

        @Override
        public String toString() {
            return "Options(intraOpThreads=" + intraOpThreads + ", optLevel=" + optLevel + ", drawBatchSize="
                    + drawBatchSize + ")";
        }
    }

    /** Input buffers are aligned to this many bytes (ONNX Runtime's reductions depend on alignment). */
    private static final int ALIGN = 64;
    /** Decoder runs hold a multiple of this many rows (16 floats = 64 bytes). */
    private static final int ROW_GROUP = 16;

    private final ModelBundle bundle;
    private final Options options;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final OrtEnvironment env;
    private final OrtSession.SessionOptions sessionOptions;
    private final OrtSession encoder;
    private final OrtSession contextGraph;
    private final OrtSession decoder;
    // Constant per bundle (copied out of the immutable bundle once).
    private final int nw;
    private final int latent;
    private final int components;
    private final int contextSize;
    private final int nParams;
    private final int drawsPerSample;
    private final double[] low;
    private final double[] high;

    /** A sampler with {@link Options#defaults()}. */
    public PosteriorSampler(ModelBundle bundle) {
        this(bundle, Options.defaults());
    }

    /**
     * Opens the three graphs of {@code bundle}.
     *
     * @throws BundleException if a graph cannot be read, fails its checksum, cannot be loaded by
     *                         ONNX Runtime or has inputs/outputs other than docs/sampling.md's
     */
    public PosteriorSampler(ModelBundle bundle, Options options) {
        this.bundle = Objects.requireNonNull(bundle, "bundle");
        this.options = Objects.requireNonNull(options, "options");
        this.nw = bundle.spectrumLength();
        this.latent = bundle.latentSize();
        this.components = bundle.mixtureComponents();
        this.contextSize = bundle.contextSize();
        this.nParams = bundle.parameterCount();
        this.drawsPerSample = bundle.drawsPerSample();
        this.low = new double[nParams];
        this.high = new double[nParams];
        for (int p = 0; p < nParams; p++) {
            low[p] = bundle.parameters().get(p).low();
            high[p] = bundle.parameters().get(p).high();
        }
        this.env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        List<OrtSession> opened = new ArrayList<>();
        try {
            so.setIntraOpNumThreads(options.intraOpThreads());
            so.setInterOpNumThreads(1);
            so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            so.setOptimizationLevel(options.optLevel());
            so.setDeterministicCompute(true);
        } catch (OrtException e) {
            so.close();
            throw new BundleException("bundle " + bundle.directory() + ": invalid session options: " + e.getMessage(),
                    e);
        }
        try {
            OrtSession enc = openSession(so, ModelBundle.ROLE_R1_ENCODER, opened);
            checkIo(enc, ModelBundle.ROLE_R1_ENCODER,
                    inputs("flux", new long[]{-1, nw}, "flux_error", new long[]{-1, nw}),
                    inputs("mix_logits", new long[]{-1, components},
                            "mix_mean", new long[]{-1, components, latent},
                            "mix_log_std", new long[]{-1, components, latent}));
            OrtSession ctx = openSession(so, ModelBundle.ROLE_DECODER_CONTEXT, opened);
            checkIo(ctx, ModelBundle.ROLE_DECODER_CONTEXT,
                    inputs("flux", new long[]{-1, nw}, "flux_error", new long[]{-1, nw}),
                    inputs("context", new long[]{-1, contextSize}));
            OrtSession dec = openSession(so, ModelBundle.ROLE_DECODER_SAMPLE, opened);
            checkIo(dec, ModelBundle.ROLE_DECODER_SAMPLE,
                    inputs("context", new long[]{-1, contextSize}, "z", new long[]{-1, latent}),
                    inputs("loc", new long[]{-1, nParams}, "log_scale", new long[]{-1, nParams}));
            this.encoder = enc;
            this.contextGraph = ctx;
            this.decoder = dec;
            this.sessionOptions = so;
        } catch (RuntimeException e) {
            for (OrtSession s : opened) {
                try {
                    s.close();
                } catch (OrtException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            so.close();
            throw e;
        }
    }

    /** Loads the bundle in {@code directory} and opens a sampler with default options. */
    public static PosteriorSampler open(Path directory) {
        return new PosteriorSampler(ModelBundle.load(directory));
    }

    /** {@link #open(Path)} with a string path. */
    public static PosteriorSampler open(String directory) {
        return open(Path.of(directory));
    }

    private OrtSession openSession(OrtSession.SessionOptions so, String role, List<OrtSession> opened) {
        byte[] model = bundle.readGraph(role);
        try {
            OrtSession s = env.createSession(model, so);
            opened.add(s);
            return s;
        } catch (OrtException e) {
            throw new BundleException("bundle " + bundle.directory() + ": ONNX Runtime cannot load "
                    + bundle.file(role).getFileName() + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, long[]> inputs(Object... nameShape) {
        Map<String, long[]> m = new LinkedHashMap<>();
        for (int i = 0; i < nameShape.length; i += 2) {
            m.put((String) nameShape[i], (long[]) nameShape[i + 1]);
        }
        return m;
    }

    private void checkIo(OrtSession s, String role, Map<String, long[]> in, Map<String, long[]> out) {
        String file = bundle.file(role).getFileName().toString();
        try {
            checkNodes(file, "input", s.getInputInfo(), in);
            checkNodes(file, "output", s.getOutputInfo(), out);
        } catch (OrtException e) {
            throw new BundleException("bundle " + bundle.directory() + ": " + file + ": cannot inspect graph: "
                    + e.getMessage(), e);
        }
    }

    private void checkNodes(String file, String kind, Map<String, NodeInfo> actual, Map<String, long[]> expected) {
        String where = "bundle " + bundle.directory() + ": " + file;
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            NodeInfo info = actual.get(e.getKey());
            if (info == null) {
                throw new BundleException(where + " has no " + kind + " '" + e.getKey() + "' (it has "
                        + actual.keySet() + ")");
            }
            if (!(info.getInfo() instanceof TensorInfo)) {
                throw new BundleException(where + ": " + kind + " '" + e.getKey() + "' is not a tensor");
            }
            TensorInfo t = (TensorInfo) info.getInfo();
            long[] shape = t.getShape();
            long[] want = e.getValue();
            boolean ok = t.type == OnnxJavaType.FLOAT && shape.length == want.length;
            for (int i = 0; ok && i < shape.length; i++) {
                ok = shape[i] == want[i] || (shape[i] < 0 && want[i] >= 0 && i > 0);
            }
            if (!ok) {
                throw new BundleException(where + ": " + kind + " '" + e.getKey() + "' is " + t.type + " "
                        + Arrays.toString(shape) + ", expected FLOAT " + Arrays.toString(want).replace("-1", "batch")
                        + " with a dynamic batch dimension");
            }
        }
        if (kind.equals("input") && actual.size() != expected.size()) {
            throw new BundleException(where + " has inputs " + actual.keySet() + ", expected " + expected.keySet());
        }
    }

    public ModelBundle bundle() {
        return bundle;
    }

    public Options options() {
        return options;
    }

    /** {@link #sample(Spectrum, long, int, long)} with source index 0. */
    public PosteriorSamples sample(Spectrum spectrum, int nSamples, long seed) {
        return sample(spectrum, 0L, nSamples, seed);
    }

    /** The {@code nSamples} posterior draws of one spectrum with the given source index. */
    public PosteriorSamples sample(Spectrum spectrum, long sourceIndex, int nSamples, long seed) {
        return sample(Collections.singletonList(spectrum), new long[]{sourceIndex}, nSamples, seed).get(0);
    }

    /**
     * The {@code nSamples} posterior draws of each spectrum, exactly as docs/sampling.md specifies:
     * per spectrum, {@code r1_encoder} and {@code decoder_context} run once, the latent vectors of
     * all draws are built (in double, passed as float32) and {@code decoder_sample} runs on
     * batches of draws (the spectrum's context repeated, one row per draw).
     *
     * <p>The encoder graphs run on one spectrum at a time from 64-byte aligned memory: ONNX
     * Runtime's reductions (the mean flux computed inside the graphs) round differently depending
     * on a row's memory alignment, and the rows of a [B, 343] float32 batch sit at different
     * alignments (1372 bytes apart), so a batched run would make a spectrum's draws depend, at
     * float32 round-off, on its position in the batch.
     *
     * @param spectra       the spectra (all validated first; nothing runs if one is invalid)
     * @param sourceIndices source index of each spectrum (selects its random stream)
     * @param nSamples      N &gt;= 1
     * @param seed          the seed
     * @return one {@link PosteriorSamples} per spectrum, in order (unmodifiable)
     * @throws InvalidSpectrumException if a spectrum is invalid (naming its source id)
     * @throws InferenceException       if ONNX Runtime fails or a graph returns non-finite values
     *                                  (naming the source)
     */
    public List<PosteriorSamples> sample(List<Spectrum> spectra, long[] sourceIndices, int nSamples, long seed) {
        Objects.requireNonNull(spectra, "spectra");
        Objects.requireNonNull(sourceIndices, "sourceIndices");
        if (closed.get()) {
            throw new IllegalStateException("the sampler is closed");
        }
        if (sourceIndices.length != spectra.size()) {
            throw new IllegalArgumentException(spectra.size() + " spectra but " + sourceIndices.length
                    + " source indices");
        }
        if (nSamples < 1) {
            throw new IllegalArgumentException("number of samples must be >= 1, got " + nSamples);
        }
        for (Spectrum s : spectra) {
            Objects.requireNonNull(s, "spectrum").validate(nw);
        }
        List<PosteriorSamples> out = new ArrayList<>(spectra.size());
        if (spectra.isEmpty()) {
            return Collections.unmodifiableList(out);
        }
        Buffers buffers = new Buffers(options.rowsPerRun(nSamples));
        for (int i = 0; i < spectra.size(); i++) {
            Spectrum s = spectra.get(i);
            Encoded e = encode(s, buffers);
            out.add(sampleSource(s.sourceId(), sourceIndices[i], nSamples, seed, e, buffers));
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * The outputs of the two per-spectrum graphs for one spectrum (for diagnostics and the
     * Python/Java parity tests): {@code [mix_logits, mix_mean, mix_log_std, context]}, each
     * flattened row-major, in float32 as ONNX Runtime returned them.
     *
     * @throws InvalidSpectrumException if the spectrum is invalid
     */
    public float[][] encoderOutputs(Spectrum spectrum) {
        if (closed.get()) {
            throw new IllegalStateException("the sampler is closed");
        }
        Objects.requireNonNull(spectrum, "spectrum").validate(nw);
        Encoded e = encode(spectrum, new Buffers(1));
        return new float[][]{e.logits.clone(), e.mean.clone(), e.logStd.clone(), e.context.clone()};
    }

    /** Direct, 64-byte aligned input buffers of one {@code sample} call (never shared between calls). */
    private final class Buffers {
        final FloatBuffer flux = alignedFloats(nw);
        final FloatBuffer fluxError = alignedFloats(nw);
        final int rows;
        final FloatBuffer context;
        final FloatBuffer z;

        Buffers(int rows) {
            this.rows = rows;
            this.context = alignedFloats(rows * contextSize);
            this.z = alignedFloats(rows * latent);
        }
    }

    private static FloatBuffer alignedFloats(int n) {
        int bytes = (n * 4 + ALIGN - 1) / ALIGN * ALIGN + ALIGN;
        return ByteBuffer.allocateDirect(bytes).alignedSlice(ALIGN).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** Encoder outputs of one spectrum. */
    private static final class Encoded {
        final float[] logits;
        final float[] mean;
        final float[] logStd;
        final float[] context;

        Encoded(float[] logits, float[] mean, float[] logStd, float[] context) {
            this.logits = logits;
            this.mean = mean;
            this.logStd = logStd;
            this.context = context;
        }
    }

    private Encoded encode(Spectrum spectrum, Buffers buf) {
        String id = spectrum.sourceId();
        buf.flux.clear();
        spectrum.putFlux(buf.flux);
        buf.flux.flip();
        buf.fluxError.clear();
        spectrum.putFluxError(buf.fluxError);
        buf.fluxError.flip();
        long[] shape = {1, nw};
        String role = ModelBundle.ROLE_R1_ENCODER;
        Encoded e;
        try (OnnxTensor fluxT = OnnxTensor.createTensor(env, buf.flux, shape);
             OnnxTensor errT = OnnxTensor.createTensor(env, buf.fluxError, shape)) {
            Map<String, OnnxTensor> in = new LinkedHashMap<>();
            in.put("flux", fluxT);
            in.put("flux_error", errT);
            float[] logits;
            float[] mean;
            float[] logStd;
            try (OrtSession.Result r = encoder.run(in)) {
                logits = output(r, id, role, "mix_logits", 1, components);
                mean = output(r, id, role, "mix_mean", 1, components, latent);
                logStd = output(r, id, role, "mix_log_std", 1, components, latent);
            }
            role = ModelBundle.ROLE_DECODER_CONTEXT;
            try (OrtSession.Result r = contextGraph.run(in)) {
                e = new Encoded(logits, mean, logStd, output(r, id, role, "context", 1, contextSize));
            }
        } catch (OrtException ex) {
            throw new InferenceException("source " + id + ": ONNX Runtime failed in " + role + ": " + ex.getMessage(),
                    ex);
        }
        requireFinite(id, ModelBundle.ROLE_R1_ENCODER, "mix_logits", e.logits);
        requireFinite(id, ModelBundle.ROLE_R1_ENCODER, "mix_mean", e.mean);
        requireFinite(id, ModelBundle.ROLE_R1_ENCODER, "mix_log_std", e.logStd);
        requireFinite(id, ModelBundle.ROLE_DECODER_CONTEXT, "context", e.context);
        return e;
    }

    /** Draws of one source given its encoder outputs. */
    private PosteriorSamples sampleSource(String id, long sourceIndex, int n, long seed, Encoded e, Buffers buf) {
        final int kk = components;
        final int l = latent;
        final int h = contextSize;
        final int p = nParams;
        final long d = drawsPerSample;
        final long key = CounterRng.streamKey(seed, sourceIndex);

        // 1. mixture weights: softmax in double (subtract the max, exp, divide by the sum)
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < kk; k++) {
            max = Math.max(max, e.logits[k]);
        }
        double[] w = new double[kk];
        double sum = 0.0;
        for (int k = 0; k < kk; k++) {
            w[k] = StrictMath.exp((double) e.logits[k] - max);
            sum += w[k];
        }
        for (int k = 0; k < kk; k++) {
            w[k] /= sum;
        }
        // component means and standard deviations in double
        double[] mean = new double[kk * l];
        double[] std = new double[kk * l];
        for (int q = 0; q < kk * l; q++) {
            mean[q] = e.mean[q];
            std[q] = StrictMath.exp((double) e.logStd[q]);
        }

        double[] x = new double[n * p];
        int rows = buf.rows;
        buf.context.clear();
        for (int r = 0; r < rows; r++) {
            buf.context.put(e.context);
        }
        float[] z = new float[rows * l];
        for (int j0 = 0; j0 < n; j0 += rows) {
            int m = Math.min(rows, n - j0);
            // 2. latent vectors of draws j0 .. j0+m-1
            for (int r = 0; r < m; r++) {
                long base = (long) (j0 + r) * d;
                double u = CounterRng.uniform(key, base);
                int comp = kk - 1;
                double cum = 0.0;
                for (int k = 0; k < kk; k++) {
                    cum += w[k];
                    if (u < cum) {
                        comp = k;
                        break;
                    }
                }
                for (int q = 0; q < l; q++) {
                    double zq = mean[comp * l + q] + std[comp * l + q] * CounterRng.normal(key, base + 1 + 2L * q);
                    z[r * l + q] = (float) zq;
                }
            }
            buf.z.clear();
            buf.z.put(z, 0, m * l);
            buf.z.flip();
            buf.context.position(0).limit(m * h);
            // 3. parameters
            float[] loc;
            float[] logScale;
            String role = ModelBundle.ROLE_DECODER_SAMPLE;
            try (OnnxTensor ctxT = OnnxTensor.createTensor(env, buf.context, new long[]{m, h});
                 OnnxTensor zT = OnnxTensor.createTensor(env, buf.z, new long[]{m, l})) {
                Map<String, OnnxTensor> in = new LinkedHashMap<>();
                in.put("context", ctxT);
                in.put("z", zT);
                try (OrtSession.Result res = decoder.run(in)) {
                    loc = output(res, id, role, "loc", m, p);
                    logScale = output(res, id, role, "log_scale", m, p);
                }
            } catch (OrtException ex) {
                throw new InferenceException("source " + id + ": ONNX Runtime failed in " + role + ": "
                        + ex.getMessage(), ex);
            }
            for (int r = 0; r < m; r++) {
                long base = (long) (j0 + r) * d + 1 + 2L * l;
                for (int q = 0; q < p; q++) {
                    double lc = loc[r * p + q];
                    double ls = logScale[r * p + q];
                    if (!Double.isFinite(lc) || !Double.isFinite(ls)) {
                        throw new InferenceException("source " + id + ": decoder_sample produced a non-finite "
                                + (Double.isFinite(lc) ? "log_scale" : "loc") + " for draw " + (j0 + r));
                    }
                    double wq = lc + StrictMath.exp(ls) * CounterRng.normal(key, base + 2L * q);
                    double uq = 1.0 / (1.0 + StrictMath.exp(-wq));
                    x[(j0 + r) * p + q] = low[q] + (high[q] - low[q]) * uq;
                }
            }
        }
        return new PosteriorSamples(id, sourceIndex, seed, bundle.parameters(), x);
    }

    private static float[] output(OrtSession.Result r, String id, String role, String name, long... shape)
            throws OrtException {
        OnnxValue v = r.get(name).orElseThrow(() ->
                new InferenceException("source " + id + ": " + role + " returned no '" + name + "'"));
        if (!(v instanceof OnnxTensor)) {
            throw new InferenceException("source " + id + ": " + role + " output '" + name + "' is not a tensor");
        }
        OnnxTensor t = (OnnxTensor) v;
        long[] actual = t.getInfo().getShape();
        if (!Arrays.equals(actual, shape) || t.getInfo().type != OnnxJavaType.FLOAT) {
            throw new InferenceException("source " + id + ": " + role + " output '" + name + "' is "
                    + t.getInfo().type + " " + Arrays.toString(actual) + ", expected FLOAT " + Arrays.toString(shape));
        }
        FloatBuffer fb = t.getFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }

    private static void requireFinite(String id, String role, String name, float[] a) {
        for (float v : a) {
            if (!Float.isFinite(v)) {
                throw new InferenceException("source " + id + ": " + role + " produced a non-finite " + name
                        + " (" + v + ")");
            }
        }
    }

    /**
     * Closes the three sessions and their options (idempotent). The ONNX Runtime environment is
     * a process-wide singleton owned by ONNX Runtime and stays open.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        OrtException first = null;
        for (OrtSession s : new OrtSession[]{decoder, contextGraph, encoder}) {
            try {
                s.close();
            } catch (OrtException e) {
                if (first == null) {
                    first = e;
                }
            } catch (IllegalStateException ignored) {
                // already closed
            }
        }
        sessionOptions.close();
        if (first != null) {
            throw new InferenceException("closing ONNX Runtime sessions failed: " + first.getMessage(), first);
        }
    }

    @Override
    public String toString() {
        return "PosteriorSampler(" + bundle + ", " + options + ")";
    }
}
