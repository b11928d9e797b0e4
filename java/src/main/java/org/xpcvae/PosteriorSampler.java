package org.xpcvae;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
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
    private final SpectrumEncoder spectrumEncoder;
    private final SourceDraws draws;
    // Constant per bundle (copied out of the immutable bundle once).
    private final int nw;
    private final int latent;
    private final int components;
    private final int contextSize;
    private final int nParams;

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
        this.sessions = OrtSessions.create(bundle, options.intraOpThreads(), options.optLevel());
        this.env = sessions.environment();
        try {
            this.encoder = sessions.open(ModelBundle.ROLE_R1_ENCODER);
            GraphInterface.check(bundle, encoder, ModelBundle.ROLE_R1_ENCODER,
                    GraphInterface.shapes("flux", new long[]{-1, nw}, "flux_error", new long[]{-1, nw}),
                    GraphInterface.shapes("mix_logits", new long[]{-1, components},
                            "mix_mean", new long[]{-1, components, latent},
                            "mix_log_std", new long[]{-1, components, latent}));
            this.contextGraph = sessions.open(ModelBundle.ROLE_DECODER_CONTEXT);
            GraphInterface.check(bundle, contextGraph, ModelBundle.ROLE_DECODER_CONTEXT,
                    GraphInterface.shapes("flux", new long[]{-1, nw}, "flux_error", new long[]{-1, nw}),
                    GraphInterface.shapes("context", new long[]{-1, contextSize}));
            this.decoder = sessions.open(ModelBundle.ROLE_DECODER_SAMPLE);
            GraphInterface.check(bundle, decoder, ModelBundle.ROLE_DECODER_SAMPLE,
                    GraphInterface.shapes("context", new long[]{-1, contextSize}, "z", new long[]{-1, latent}),
                    GraphInterface.shapes("loc", new long[]{-1, nParams}, "log_scale", new long[]{-1, nParams}));
            this.spectrumEncoder = new SpectrumEncoder(bundle, encoder, contextGraph);
            this.draws = new SourceDraws(bundle, decoder, options);
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
        SamplerWorkspace ws = acquire();
        try {
            SourceDraws.EncoderOutputs[] encoded = spectrumEncoder.encode(spectra, ws);
            PosteriorSamples[] out = new PosteriorSamples[spectra.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = draws.draw(spectra.get(i).sourceId(), sourceKeys[i], nSamples, seed, encoded[i], ws);
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
        SamplerWorkspace ws = acquire();
        try {
            SourceDraws.EncoderOutputs e = spectrumEncoder.encode(Collections.singletonList(spectrum), ws)[0];
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

    /** Most spectra per run of the two per-spectrum graphs. */
    static final int ENCODER_CHUNK = 64;

    // ---- work buffers ----------------------------------------------------------------------

    /** Idle workspaces (at most as many as threads ever sampled at once). */
    private final ConcurrentLinkedQueue<SamplerWorkspace> pool = new ConcurrentLinkedQueue<>();

    private SamplerWorkspace acquire() {
        SamplerWorkspace ws = pool.poll();
        return ws != null ? ws : new SamplerWorkspace(env, bundle, options.maxRowsPerRun());
    }

    private void release(SamplerWorkspace ws) {
        pool.offer(ws);
        if (closed.get() && pool.remove(ws)) {
            ws.close(); // returned after close(): nobody will take it again
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
        for (SamplerWorkspace ws; (ws = pool.poll()) != null; ) {
            ws.close();
        }
        sessions.close();
    }

    @Override
    public String toString() {
        return "PosteriorSampler(" + bundle + ", " + options + ")";
    }
}
