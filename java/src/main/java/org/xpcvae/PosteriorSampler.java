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
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Posterior sampler of docs/sampling.md on ONNX Runtime: one {@link OrtEnvironment} and three
 * {@link OrtSession}s ({@code r1_encoder}, {@code decoder_context}, {@code decoder_sample}),
 * opened once in the constructor and released by {@link #close()}.
 *
 * <p>Thread-safe: a {@code sample} call keeps its state on the stack and in a work area (direct
 * buffers) that it takes from the sampler's pool and returns when done, and ONNX Runtime sessions
 * may be run concurrently, so any number of threads may share one sampler (do not call
 * {@link #close()} while they do). Results depend only on the bundle, the spectrum, its source id
 * (through {@link CounterRng#sourceKey}), the seed and N (draw j does not even depend on N), never
 * on the spectrum's position in a file or a call, batch composition, threads or order, bit for bit
 * (see {@link #sampleWithKeys} for how).
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

        /**
         * 1 intra-op thread per session, all graph optimisations, up to {@value #DEFAULT_DRAW_BATCH}
         * draws per decoder run (the run's activations then stay in a core's L2 cache: 4096 rows
         * made a 10 000-draw source 1.6 times slower; docs/performance.md).
         */
        public static Options defaults() {
            return new Options(1, OrtSession.SessionOptions.OptLevel.ALL_OPT, DEFAULT_DRAW_BATCH);
        }

        /** Default most draws per {@code decoder_sample} run. */
        public static final int DEFAULT_DRAW_BATCH = 512;

        /** ONNX Runtime intra-op threads of each session. */
        public Options withIntraOpThreads(int n) {
            return new Options(n, optLevel, drawBatchSize);
        }

        /** ONNX Runtime's graph optimisation level of each session (the parity tests run the default, ALL_OPT). */
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

        /** ONNX Runtime intra-op threads of each session. */
        public int intraOpThreads() {
            return intraOpThreads;
        }

        /** ONNX Runtime's graph optimisation level. */
        public OrtSession.SessionOptions.OptLevel optLevel() {
            return optLevel;
        }

        /** Most draws of one source per {@code decoder_sample} run (see {@link #withDrawBatchSize(int)}). */
        public int drawBatchSize() {
            return drawBatchSize;
        }

        /** Rows per decoder run for N draws: N itself when it fits in one run. */
        int rowsPerRun(int n) {
            return Math.min(n, maxRowsPerRun());
        }

        /** The largest run: the draw batch size rounded down to a multiple of 16 (at least 16). */
        int maxRowsPerRun() {
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
    private final OrtSessions sessions;
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
        this.sessions = OrtSessions.create(bundle, options.intraOpThreads(), options.optLevel());
        this.env = sessions.environment();
        try {
            this.encoder = sessions.open(ModelBundle.ROLE_R1_ENCODER);
            checkIo(encoder, ModelBundle.ROLE_R1_ENCODER,
                    inputs("flux", new long[]{-1, nw}, "flux_error", new long[]{-1, nw}),
                    inputs("mix_logits", new long[]{-1, components},
                            "mix_mean", new long[]{-1, components, latent},
                            "mix_log_std", new long[]{-1, components, latent}));
            this.contextGraph = sessions.open(ModelBundle.ROLE_DECODER_CONTEXT);
            checkIo(contextGraph, ModelBundle.ROLE_DECODER_CONTEXT,
                    inputs("flux", new long[]{-1, nw}, "flux_error", new long[]{-1, nw}),
                    inputs("context", new long[]{-1, contextSize}));
            this.decoder = sessions.open(ModelBundle.ROLE_DECODER_SAMPLE);
            checkIo(decoder, ModelBundle.ROLE_DECODER_SAMPLE,
                    inputs("context", new long[]{-1, contextSize}, "z", new long[]{-1, latent}),
                    inputs("loc", new long[]{-1, nParams}, "log_scale", new long[]{-1, nParams}));
        } catch (RuntimeException e) {
            sessions.closeAfter(e);
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

    /** The bundle whose graphs this samples. */
    public ModelBundle bundle() {
        return bundle;
    }

    /** The settings. */
    public Options options() {
        return options;
    }

    /**
     * The {@code nSamples} posterior draws of one spectrum, its random stream keyed by its source id
     * ({@link CounterRng#sourceKey}): the same star gets the same draws in any file, call or batch.
     *
     * @param spectrum the spectrum
     * @param nSamples N &gt;= 1
     * @param seed     the seed, an unsigned 64-bit integer (values from 2<sup>63</sup> on as negative longs)
     * @return the draws
     * @throws InvalidSpectrumException if the spectrum is invalid
     * @throws IllegalArgumentException if the source id is not valid Unicode text (it has no key)
     * @throws InferenceException       if ONNX Runtime fails
     */
    public PosteriorSamples sample(Spectrum spectrum, int nSamples, long seed) {
        return sample(Collections.singletonList(Objects.requireNonNull(spectrum, "spectrum")), nSamples, seed).get(0);
    }

    /**
     * The {@code nSamples} posterior draws of each spectrum, each keyed by its source id: as
     * {@link #sampleWithKeys} with the keys {@link CounterRng#sourceKey} of the spectra's ids.
     *
     * @param spectra  the spectra
     * @param nSamples N &gt;= 1
     * @param seed     the seed
     * @return one {@link PosteriorSamples} per spectrum, in order (unmodifiable)
     * @throws IllegalArgumentException if a source id is not valid Unicode text (it has no key)
     */
    public List<PosteriorSamples> sample(List<Spectrum> spectra, int nSamples, long seed) {
        Objects.requireNonNull(spectra, "spectra");
        long[] keys = new long[spectra.size()];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = CounterRng.sourceKey(Objects.requireNonNull(spectra.get(i), "spectrum").sourceId());
        }
        return sampleWithKeys(spectra, keys, nSamples, seed);
    }

    /**
     * The {@code nSamples} posterior draws of one spectrum from the random stream with key
     * {@code sourceKey} instead of its source id's (for callers that key sources themselves).
     *
     * @param spectrum  the spectrum
     * @param sourceKey the stream's key (an unsigned 64-bit integer)
     * @param nSamples  N &gt;= 1
     * @param seed      the seed
     * @return the draws
     */
    public PosteriorSamples sampleWithKey(Spectrum spectrum, long sourceKey, int nSamples, long seed) {
        return sampleWithKeys(Collections.singletonList(spectrum), new long[]{sourceKey}, nSamples, seed).get(0);
    }

    /**
     * The {@code nSamples} posterior draws of each spectrum, exactly as docs/sampling.md specifies:
     * per spectrum, {@code r1_encoder} and {@code decoder_context} run once, the latent vectors of
     * all draws are built (in double, passed as float32) and {@code decoder_sample} runs on
     * batches of draws (the spectrum's context repeated, one row per draw).
     *
     * <p>The two per-spectrum graphs run on the spectra of the call in batches of up to
     * {@value #ENCODER_CHUNK} (a single spectrum: batch 1), {@code r1_encoder} then
     * {@code decoder_context}: a batch of 64 costs about as much as 6 single spectra, since a
     * single spectrum's run mostly streams the graphs' weights from memory. A spectrum's outputs
     * in a batch are those of its batch-1 run, bit for bit: the graphs compute the input features
     * in double precision and round them once to float32, which absorbs the evaluation-order
     * differences of vectorised loops, and every later operation works row by row (tested on
     * thousands of spectra against batch-1 runs, and by the batch-composition and 8-thread tests).
     * Decoder runs hold whole groups of 16 rows (64 bytes of float32) so that draw j always sits at
     * the same alignment, whatever N and the run size.
     *
     * @param spectra    the spectra (all validated first; nothing runs if one is invalid)
     * @param sourceKeys the key of each spectrum's random stream ({@link #sample(List, int, long)}
     *                   uses {@link CounterRng#sourceKey} of its source id)
     * @param nSamples   N &gt;= 1
     * @param seed       the seed
     * @return one {@link PosteriorSamples} per spectrum, in order (unmodifiable)
     * @throws InvalidSpectrumException if a spectrum is invalid (naming its source id)
     * @throws InferenceException       if ONNX Runtime fails or a graph returns non-finite values
     *                                  (naming the source)
     */
    public List<PosteriorSamples> sampleWithKeys(List<Spectrum> spectra, long[] sourceKeys, int nSamples,
                                                 long seed) {
        Objects.requireNonNull(spectra, "spectra");
        Objects.requireNonNull(sourceKeys, "sourceKeys");
        checkOpen();
        if (sourceKeys.length != spectra.size()) {
            throw new IllegalArgumentException(spectra.size() + " spectra but " + sourceKeys.length + " source keys");
        }
        if (nSamples < 1) {
            throw new IllegalArgumentException("number of samples must be >= 1, got " + nSamples);
        }
        for (Spectrum s : spectra) {
            Objects.requireNonNull(s, "spectrum").validate(nw);
        }
        if (spectra.isEmpty()) {
            return Collections.emptyList();
        }
        Workspace ws = acquire();
        try {
            Encoded[] encoded = encode(spectra, ws);
            PosteriorSamples[] out = new PosteriorSamples[spectra.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = sampleSource(spectra.get(i).sourceId(), sourceKeys[i], nSamples, seed, encoded[i], ws);
            }
            return Collections.unmodifiableList(Arrays.asList(out));
        } finally {
            release(ws);
        }
    }

    /**
     * The outputs of the two per-spectrum graphs for one spectrum (for diagnostics and the
     * Python/Java parity tests): {@code [mix_logits, mix_mean, mix_log_std, context]}, each
     * flattened row-major, in float32 as ONNX Runtime returned them.
     *
     * @throws InvalidSpectrumException if the spectrum is invalid
     */
    public float[][] encoderOutputs(Spectrum spectrum) {
        checkOpen();
        Objects.requireNonNull(spectrum, "spectrum").validate(nw);
        Workspace ws = acquire();
        try {
            Encoded e = encode(Collections.singletonList(spectrum), ws)[0];
            return new float[][]{e.logits.clone(), e.mean.clone(), e.logStd.clone(), e.context.clone()};
        } finally {
            release(ws);
        }
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("the sampler is closed");
        }
    }

    // ---- work buffers ----------------------------------------------------------------------

    /**
     * Direct, 64-byte aligned buffers for the graph inputs and the decoder's outputs, used by one
     * {@code sample} call at a time and then returned to the sampler's pool: no direct memory is
     * allocated per call (direct buffers are only freed by the garbage collector, and allocating
     * them zeroes memory).
     */
    private final class Workspace implements AutoCloseable {
        final FloatBuffer flux = alignedFloats(ENCODER_CHUNK * nw);
        final FloatBuffer fluxError = alignedFloats(ENCODER_CHUNK * nw);
        final FloatBuffer mixLogits = alignedFloats(ENCODER_CHUNK * components);
        final FloatBuffer mixMean = alignedFloats(ENCODER_CHUNK * components * latent);
        final FloatBuffer mixLogStd = alignedFloats(ENCODER_CHUNK * components * latent);
        final FloatBuffer contextOut = alignedFloats(ENCODER_CHUNK * contextSize);
        final int rows = options.maxRowsPerRun();
        final FloatBuffer context = alignedFloats(rows * contextSize);
        final FloatBuffer z = alignedFloats(rows * latent);
        final FloatBuffer loc = alignedFloats(rows * nParams);
        final FloatBuffer logScale = alignedFloats(rows * nParams);
        final float[] zRow = new float[rows * latent];
        final float[] locRow = new float[rows * nParams];
        final float[] logScaleRow = new float[rows * nParams];
        /** A run's loc and log_scale in double, then the transform's intermediate values (toParameters). */
        final double[] locD = new double[rows * nParams];
        final double[] scaleD = new double[rows * nParams];
        /** Standard normals of a run (latent, then parameter ones) and the uniforms they come from. */
        final double[] eps = new double[rows * Math.max(latent, nParams)];
        final double[] uniforms = new double[rows * Math.max(latent, nParams)];
        /**
         * Tensors over these buffers: the per-spectrum graphs' (r1_encoder's outputs, then
         * decoder_context's; the inputs shared) and decoder_sample's.
         */
        final BoundTensors.BySize encoderRuns = new BoundTensors.BySize(env, ENCODER_CHUNK, t -> t
                .input("flux", flux, t.rows(), nw)
                .input("flux_error", fluxError, t.rows(), nw)
                .addGraph()
                .output("mix_logits", mixLogits, t.rows(), components)
                .output("mix_mean", mixMean, t.rows(), components, latent)
                .output("mix_log_std", mixLogStd, t.rows(), components, latent)
                .addGraph()
                .output("context", contextOut, t.rows(), contextSize));
        final BoundTensors.BySize decoderRuns = new BoundTensors.BySize(env, rows, t -> t
                .input("context", context, t.rows(), contextSize)
                .input("z", z, t.rows(), latent)
                .addGraph()
                .output("loc", loc, t.rows(), nParams)
                .output("log_scale", logScale, t.rows(), nParams));

        /** Closes the tensors (the buffers are freed by the garbage collector). */
        @Override
        public void close() {
            encoderRuns.close();
            decoderRuns.close();
        }
    }

    /** Idle workspaces (at most as many as threads ever sampled at once). */
    private final ConcurrentLinkedQueue<Workspace> pool = new ConcurrentLinkedQueue<>();

    private Workspace acquire() {
        Workspace ws = pool.poll();
        return ws != null ? ws : new Workspace();
    }

    private void release(Workspace ws) {
        pool.offer(ws);
        if (closed.get() && pool.remove(ws)) {
            ws.close(); // returned after close(): nobody will take it again
        }
    }

    private static FloatBuffer alignedFloats(int n) {
        int bytes = (n * 4 + ALIGN - 1) / ALIGN * ALIGN + ALIGN;
        return ByteBuffer.allocateDirect(bytes).alignedSlice(ALIGN).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    // ---- per-spectrum graphs -----------------------------------------------------------------

    /** Encoder outputs of one spectrum. */
    private static final class Encoded {
        float[] logits;
        float[] mean;
        float[] logStd;
        float[] context;
    }

    /** Most spectra per run of the two per-spectrum graphs. */
    static final int ENCODER_CHUNK = 64;

    /**
     * Runs {@code r1_encoder} and then {@code decoder_context} on the spectra of a call, up to
     * {@link #ENCODER_CHUNK} spectra per run (one [m, 343] batch from 64-byte aligned memory), the
     * outputs written into the workspace's buffers.
     */
    private Encoded[] encode(List<Spectrum> spectra, Workspace ws) {
        Encoded[] out = new Encoded[spectra.size()];
        int kl = components * latent;
        for (int c0 = 0; c0 < out.length; c0 += ENCODER_CHUNK) {
            int m = Math.min(ENCODER_CHUNK, out.length - c0);
            ws.flux.clear();
            ws.fluxError.clear();
            for (int i = 0; i < m; i++) {
                Spectrum s = spectra.get(c0 + i);
                s.putFlux(ws.flux);
                s.putFluxError(ws.fluxError);
            }
            String ids = m == 1 ? spectra.get(c0).sourceId()
                    : spectra.get(c0).sourceId() + " .. " + spectra.get(c0 + m - 1).sourceId() + " (a batch of " + m + ")";
            String role = ModelBundle.ROLE_R1_ENCODER;
            try {
                BoundTensors b = ws.encoderRuns.forRows(m);
                b.run(encoder, 0, "source " + ids, role);
                role = ModelBundle.ROLE_DECODER_CONTEXT;
                b.run(contextGraph, 1, "source " + ids, role);
            } catch (OrtException ex) {
                throw new InferenceException("source " + ids + ": ONNX Runtime failed in " + role + ": "
                        + ex.getMessage(), ex);
            }
            for (int i = 0; i < m; i++) {
                Encoded e = new Encoded();
                e.logits = floats(ws.mixLogits, i, components);
                e.mean = floats(ws.mixMean, i, kl);
                e.logStd = floats(ws.mixLogStd, i, kl);
                e.context = floats(ws.contextOut, i, contextSize);
                out[c0 + i] = e;
            }
            for (int i = 0; i < m; i++) {
                Encoded e = out[c0 + i];
                String id = spectra.get(c0 + i).sourceId();
                requireFinite(id, ModelBundle.ROLE_R1_ENCODER, "mix_logits", e.logits);
                requireFinite(id, ModelBundle.ROLE_R1_ENCODER, "mix_mean", e.mean);
                requireFinite(id, ModelBundle.ROLE_R1_ENCODER, "mix_log_std", e.logStd);
                requireFinite(id, ModelBundle.ROLE_DECODER_CONTEXT, "context", e.context);
            }
        }
        return out;
    }

    // ---- per-draw part -----------------------------------------------------------------------

    /** Draws of one source given its encoder outputs. */
    private PosteriorSamples sampleSource(String id, long sourceKey, int n, long seed, Encoded e, Workspace ws) {
        final int kk = components;
        final int l = latent;
        final int h = contextSize;
        final int p = nParams;
        final long d = drawsPerSample;
        final long key = CounterRng.streamKey(seed, sourceKey);

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
            std[q] = e.logStd[q];
        }
        expInPlace(std, kk * l);

        double[] x = new double[n * p];
        int rows = options.rowsPerRun(n);
        // the spectrum's context, once per row of a run (the same for every run of this source)
        ws.context.clear();
        for (int r = 0; r < rows; r++) {
            ws.context.put(e.context);
        }
        float[] z = ws.zRow;
        float[] loc = ws.locRow;
        float[] logScale = ws.logScaleRow;
        double[] eps = ws.eps;
        for (int j0 = 0; j0 < n; j0 += rows) {
            int m = Math.min(rows, n - j0);
            long runBase = (long) j0 * d;
            // 2. latent vectors of draws j0 .. j0+m-1: the normals of the whole run first (counters
            // b + 1 + q of draw j, b = j * D), so that their independent evaluations overlap
            CounterRng.fillNormals(key, runBase + 1, d, m, l, ws.uniforms, eps);
            for (int r = 0; r < m; r++) {
                double u = CounterRng.uniform(key, runBase + r * d);
                int comp = kk - 1;
                double cum = 0.0;
                for (int k = 0; k < kk; k++) {
                    cum += w[k];
                    if (u < cum) {
                        comp = k;
                        break;
                    }
                }
                int c0 = comp * l;
                int o = r * l;
                for (int q = 0; q < l; q++) {
                    z[o + q] = (float) (mean[c0 + q] + std[c0 + q] * eps[o + q]);
                }
            }
            ws.z.clear();
            ws.z.put(z, 0, m * l);
            // 3. parameters: decoder_sample writes loc and log_scale into the workspace's buffers
            runDecoder(id, ws, m);
            ws.loc.position(0);
            ws.loc.get(loc, 0, m * p);
            ws.logScale.position(0);
            ws.logScale.get(logScale, 0, m * p);
            // parameter normals at counters b + 1 + L + q
            CounterRng.fillNormals(key, runBase + 1 + l, d, m, p, ws.uniforms, eps);
            toParameters(id, j0, m, ws, x);
        }
        return new PosteriorSamples(id, sourceKey, seed, bundle.parameters(), x);
    }

    /**
     * Step 3 for the {@code m} draws of a run starting at draw {@code j0}: {@code x = low + (high - low)
     * / (1 + exp(-(loc + exp(log_scale) * eps)))} from the run's decoder outputs and parameter normals
     * in the workspace, into {@code x} from row {@code j0}. The same operations in the same order as
     * one draw at a time, so the same bits, but in passes over the whole run on double arrays: C2
     * compiles a {@code StrictMath.exp} loop over a {@code double[]} to code about three times
     * faster than one whose argument comes from a {@code float[]} element (measured on JDK 17), and
     * the arithmetic passes are plain loops it can vectorise.
     */
    private void toParameters(String id, int j0, int m, Workspace ws, double[] x) {
        final int p = nParams;
        final int n = m * p;
        final float[] locF = ws.locRow;
        final float[] logScaleF = ws.logScaleRow;
        final double[] loc = ws.locD;
        final double[] t = ws.scaleD;
        final double[] eps = ws.eps;
        for (int i = 0; i < n; i++) {
            float lc = locF[i];
            float ls = logScaleF[i];
            if (!Float.isFinite(lc) || !Float.isFinite(ls)) {
                throw new InferenceException("source " + id + ": decoder_sample produced a non-finite "
                        + (Float.isFinite(lc) ? "log_scale" : "loc") + " for draw " + (j0 + i / p));
            }
            loc[i] = lc;
            t[i] = ls;
        }
        expInPlace(t, n);
        // -w: the logistic 1 / (1 + exp(-w)) takes exp(-w), and negating is exact
        for (int i = 0; i < n; i++) {
            t[i] = -(loc[i] + t[i] * eps[i]);
        }
        expInPlace(t, n);
        for (int r = 0, i = 0; r < m; r++) {
            int xo = (j0 + r) * p;
            for (int q = 0; q < p; q++, i++) {
                x[xo + q] = low[q] + (high[q] - low[q]) * (1.0 / (1.0 + t[i]));
            }
        }
    }

    /** {@code a[i] = StrictMath.exp(a[i])} for {@code i < n}. */
    private static void expInPlace(double[] a, int n) {
        for (int i = 0; i < n; i++) {
            a[i] = StrictMath.exp(a[i]);
        }
    }

    /** One run of {@code decoder_sample} on the first {@code m} rows of the workspace. */
    private void runDecoder(String id, Workspace ws, int m) {
        String role = ModelBundle.ROLE_DECODER_SAMPLE;
        try {
            ws.decoderRuns.forRows(m).run(decoder, 0, "source " + id, role);
        } catch (OrtException ex) {
            throw new InferenceException("source " + id + ": ONNX Runtime failed in " + role + ": "
                    + ex.getMessage(), ex);
        }
    }

    /** Row {@code row} of {@code n} floats of a bound output buffer, copied out. */
    private static float[] floats(FloatBuffer b, int row, int n) {
        float[] a = new float[n];
        b.position(row * n);
        b.get(a);
        return a;
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
     *
     * @throws InferenceException if ONNX Runtime fails to close a session
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (Workspace ws; (ws = pool.poll()) != null; ) {
            ws.close();
        }
        sessions.close();
    }

    @Override
    public String toString() {
        return "PosteriorSampler(" + bundle + ", " + options + ")";
    }
}
