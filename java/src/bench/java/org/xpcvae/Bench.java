package org.xpcvae;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import com.google.gson.GsonBuilder;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Benchmark harness of the Java sampler (run by {@code python -m xpcvae.tools.bench}, i.e.
 * {@code make bench}; prints one JSON object on stdout). Not a unit test: it only measures.
 *
 * <pre>
 * java -cp 'java/build/install/xpcvae/lib/*:java/build/bench/xpcvae-bench.jar' org.xpcvae.Bench --bundle DIR --input SPECTRA.csv \
 *     [--samples 100,1000,10000] [--warmup-s 2] [--latency-s 4] [--threads 1,2] [--batch 64] \
 *     [--throughput-samples 1000] [--throughput-s 8] [--draw-batch N] [--seed 42]
 * </pre>
 *
 * <ul>
 *   <li><b>latency</b>: per N, one source per call ({@code sampleWithKey(spectrum, key, N, seed)} plus
 *       its {@code summary()}), single thread, after a warm-up; p50/p95/mean over the timed calls
 *       (cycling through the input spectra, a new source key for every call);</li>
 *   <li><b>breakdown</b> (N = 1000): encoder graphs per source, {@code decoder_sample} alone per
 *       draw (the sampler's session options, a run of as many rows as the sampler uses), and the rest of a
 *       draw (random numbers, logit-normal transform, bookkeeping); and the encoder graphs' memory floor
 *       (one read of their files' bytes from memory, {@link #weightsRead});</li>
 *   <li><b>throughput</b>: one shared sampler, T worker threads each sampling batches of B
 *       spectra, sources/s over a fixed time after a warm-up;</li>
 *   <li><b>memory</b>: VmRSS/VmHWM of this process at start, after loading the sampler, after
 *       the latency runs and at the end (Linux {@code /proc/self/status}).</li>
 * </ul>
 */
public final class Bench {
    private Bench() {
    }

    private static final class Args {
        Path bundle;
        Path input;
        int[] samples = {100, 1000, 10000};
        double warmupS = 2.0;
        double latencyS = 4.0;
        int[] threads = {1, 2};
        int batch = 64;
        int throughputSamples = 1000;
        double throughputS = 8.0;
        int drawBatch = -1;
        long seed = 42L;
    }

    private static int[] ints(String s) {
        return Arrays.stream(s.split(",")).map(String::trim).filter(t -> !t.isEmpty())
                .mapToInt(Integer::parseInt).toArray();
    }

    private static Args parse(String[] argv) {
        Args a = new Args();
        for (int i = 0; i < argv.length; i++) {
            String k = argv[i];
            if (i + 1 >= argv.length) {
                throw new IllegalArgumentException("option " + k + " needs a value");
            }
            String v = argv[++i];
            switch (k) {
                case "--bundle": a.bundle = Paths.get(v); break;
                case "--input": a.input = Paths.get(v); break;
                case "--samples": a.samples = ints(v); break;
                case "--warmup-s": a.warmupS = Double.parseDouble(v); break;
                case "--latency-s": a.latencyS = Double.parseDouble(v); break;
                case "--threads": a.threads = ints(v); break;
                case "--batch": a.batch = Integer.parseInt(v); break;
                case "--throughput-samples": a.throughputSamples = Integer.parseInt(v); break;
                case "--throughput-s": a.throughputS = Double.parseDouble(v); break;
                case "--draw-batch": a.drawBatch = Integer.parseInt(v); break;
                case "--seed": a.seed = CounterRng.parseSeed(v); break;
                default: throw new IllegalArgumentException("unknown option " + k);
            }
        }
        if (a.bundle == null) {
            throw new IllegalArgumentException("--bundle is required");
        }
        return a;
    }

    public static void main(String[] argv) throws Exception {
        Args a;
        try {
            a = parse(argv);
        } catch (IllegalArgumentException e) {
            System.err.println("Bench: " + e.getMessage());
            System.exit(2);
            return;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        Map<String, Object> mem = new LinkedHashMap<>();
        mem.put("start", Memory.snapshot());
        out.put("java_version", System.getProperty("java.version"));
        out.put("vm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
        out.put("max_heap_mb", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        out.put("available_processors", Runtime.getRuntime().availableProcessors());

        long t0 = System.nanoTime();
        ModelBundle bundle = ModelBundle.load(a.bundle);
        PosteriorSampler.Options options = PosteriorSampler.Options.defaults();
        if (a.drawBatch > 0) {
            options = options.withDrawBatchSize(a.drawBatch);
        }
        List<Spectrum> spectra = a.input != null ? readSpectra(a.input, bundle.spectrumLength())
                : syntheticSpectra(64, bundle.spectrumLength());
        try (PosteriorSampler sampler = new PosteriorSampler(bundle, options)) {
            out.put("load_s", (System.nanoTime() - t0) / 1e9);
            out.put("options", options.toString());
            out.put("bundle", bundle.toString());
            out.put("n_spectra", spectra.size());
            mem.put("after_load", Memory.snapshot());

            List<Object> latency = new ArrayList<>();
            long index = 0;
            for (int n : a.samples) {
                Map<String, Object> r = latency(sampler, spectra, n, a, index);
                index += ((Number) r.get("calls")).longValue();
                latency.add(r);
            }
            out.put("latency", latency);
            mem.put("after_latency", Memory.snapshot());

            out.put("breakdown", breakdown(sampler, bundle, spectra, options, a));

            List<Object> throughput = new ArrayList<>();
            for (int t : a.threads) {
                throughput.add(throughput(sampler, spectra, t, a));
            }
            out.put("throughput", throughput);
            mem.put("end", Memory.snapshot());
            out.put("sources_total", Memory.SOURCES.get());
        }
        out.put("memory", mem);
        System.out.println(new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create()
                .toJson(out));
    }

    /** Spectra of a spectra CSV (bad rows skipped: the benchmark needs valid spectra). */
    static List<Spectrum> readSpectra(Path file, int length) throws IOException {
        List<Spectrum> out = new ArrayList<>();
        for (SpectraCsv.Row r : SpectraCsv.readAll(file, length)) {
            if (r.ok()) {
                try {
                    out.add(r.spectrum().validate(length));
                } catch (InvalidSpectrumException ignored) {
                    // skipped
                }
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + " holds no valid spectrum");
        }
        return out;
    }

    /** Smooth positive spectra with 3 % uncertainties (when no input file is given). */
    static List<Spectrum> syntheticSpectra(int count, int length) {
        List<Spectrum> out = new ArrayList<>();
        for (int v = 0; v < count; v++) {
            SplittableRandom r = new SplittableRandom(1000 + v);
            float[] f = new float[length];
            float[] e = new float[length];
            double centre = 450.0 + 8.0 * v;
            for (int i = 0; i < length; i++) {
                double wl = 336.0 + 2.0 * i;
                double flux = 1e-17 * (0.2 + Math.exp(-Math.pow((wl - centre) / 250.0, 2)))
                        * (1.0 + 0.02 * (r.nextDouble() - 0.5));
                f[i] = (float) flux;
                e[i] = (float) (0.03 * flux + 1e-20);
            }
            out.add(new Spectrum("syn" + v, f, e));
        }
        return out;
    }

    private static double percentile(double[] sorted, double q) {
        return PosteriorSummary.percentileOfSorted(sorted, q);
    }

    /** One source per call, single thread: warm-up, then timed calls. */
    static Map<String, Object> latency(PosteriorSampler sampler, List<Spectrum> spectra, int n, Args a,
                                       long firstIndex) {
        long index = firstIndex;
        long warmEnd = System.nanoTime() + (long) (a.warmupS * 1e9);
        int warm = 0;
        while (System.nanoTime() < warmEnd || warm < 10) {
            sampler.sampleWithKey(spectra.get(warm % spectra.size()), index++, n, a.seed).summary();
            warm++;
        }
        List<Double> times = new ArrayList<>();
        long end = System.nanoTime() + (long) (a.latencyS * 1e9);
        int i = 0;
        while ((System.nanoTime() < end || times.size() < 30) && times.size() < 20000) {
            Spectrum s = spectra.get(i % spectra.size());
            long t = System.nanoTime();
            PosteriorSummary summary = sampler.sampleWithKey(s, index++, n, a.seed).summary();
            times.add((System.nanoTime() - t) / 1e6);
            if (summary.sampleCount() != n) {
                throw new IllegalStateException("wrong sample count");
            }
            i++;
        }
        Memory.SOURCES.addAndGet(warm + times.size());
        double[] t = times.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("n_samples", n);
        r.put("calls", (long) warm + t.length);
        r.put("warmup_calls", warm);
        r.put("timed_calls", t.length);
        r.put("p50_ms", percentile(t, 0.5));
        r.put("p95_ms", percentile(t, 0.95));
        r.put("mean_ms", Arrays.stream(t).average().orElse(Double.NaN));
        r.put("min_ms", t[0]);
        return r;
    }

    /**
     * The memory floor of the per-spectrum graphs at batch 1, which read each of their weights once
     * per spectrum: the time one thread takes to read as many bytes as their two files hold (nearly
     * all of it float64 weights) from an array too large for the core's L2 cache, best of 30 reads.
     */
    static Map<String, Object> weightsRead(ModelBundle bundle) throws IOException {
        long bytes = Files.size(bundle.file(ModelBundle.ROLE_R1_ENCODER))
                + Files.size(bundle.file(ModelBundle.ROLE_DECODER_CONTEXT));
        long[] w = new long[Math.toIntExact(bytes / 8)];
        Arrays.fill(w, 1L);
        long sum = 0;
        double best = Double.POSITIVE_INFINITY;
        for (int rep = 0; rep < 30; rep++) {
            long t = System.nanoTime();
            for (long v : w) {
                sum += v;
            }
            best = Math.min(best, (System.nanoTime() - t) / 1e3);
        }
        if (sum != 30L * w.length) {
            throw new IllegalStateException("weights read: wrong sum");
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("encoder_weights_mb", bytes / 1e6);
        r.put("encoder_weights_read_us", best);
        return r;
    }

    /** Where the time of a 1000-draw source goes. */
    static Map<String, Object> breakdown(PosteriorSampler sampler, ModelBundle bundle, List<Spectrum> spectra,
                                         PosteriorSampler.Options options, Args a) throws OrtException, IOException {
        int n = 1000;
        int reps = 400;
        Map<String, Object> r = new LinkedHashMap<>();
        // encoder graphs (both, per spectrum, as sample() runs them)
        for (int w = 0; w < 2; w++) {
            long t = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                sampler.encoderOutputs(spectra.get(i % spectra.size()));
            }
            r.put("encoder_us_per_source", (System.nanoTime() - t) / 1e3 / reps);
        }
        // the same in batches of 64 spectra (as the CLI and the throughput runs use them)
        List<Spectrum> batch = new ArrayList<>();
        long[] idx = new long[64];
        for (int i = 0; i < 64; i++) {
            batch.add(spectra.get(i % spectra.size()));
            idx[i] = i;
        }
        for (int w = 0; w < 2; w++) {
            long t = System.nanoTime();
            for (int i = 0; i < reps / 20; i++) {
                sampler.sampleWithKeys(batch, idx, 1, a.seed);
            }
            r.put("encoder_batch64_us_per_source", (System.nanoTime() - t) / 1e3 / (reps / 20) / 64);
        }
        // a source with 1 draw and with N draws: the difference is the per-draw cost
        double one = 0;
        double full = 0;
        for (int w = 0; w < 2; w++) {
            long t = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                sampler.sampleWithKey(spectra.get(i % spectra.size()), i, 1, a.seed);
            }
            one = (System.nanoTime() - t) / 1e3 / reps;
            t = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                sampler.sampleWithKey(spectra.get(i % spectra.size()), i, n, a.seed);
            }
            full = (System.nanoTime() - t) / 1e3 / reps;
        }
        r.put("sample_n1_us", one);
        r.put("sample_n1000_us", full);
        double perDraw = (full - one) / (n - 1);
        r.put("per_draw_us", perDraw);
        PosteriorSamples ps = sampler.sampleWithKey(spectra.get(0), 0, n, a.seed);
        long t = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            ps.summary();
        }
        r.put("summary_us_per_source", (System.nanoTime() - t) / 1e3 / reps);
        r.putAll(weightsRead(bundle));

        // decoder_sample alone, on the rows of one run, opened with the sampler's session options
        // (OrtSessions; a baseline revision without that class gets the current one, bench.py)
        int rows = options.rowsPerRun(n);
        int h = bundle.contextSize();
        int latent = bundle.latentSize();
        FloatBuffer ctx = ByteBuffer.allocateDirect(rows * h * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        FloatBuffer z = ByteBuffer.allocateDirect(rows * latent * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        float[] c = sampler.encoderOutputs(spectra.get(0))[3];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < rows; i++) {
            ctx.put(c);
            for (int q = 0; q < latent; q++) {
                z.put((float) (rnd.nextDouble() * 2 - 1));
            }
        }
        ctx.flip();
        z.flip();
        try (OrtSessions sessions = OrtSessions.create(bundle, options.intraOpThreads(), options.optLevel())) {
            OrtSession dec = sessions.open(ModelBundle.ROLE_DECODER_SAMPLE);
            OrtEnvironment env = sessions.environment();
            try (OnnxTensor ct = OnnxTensor.createTensor(env, ctx, new long[]{rows, h});
                 OnnxTensor zt = OnnxTensor.createTensor(env, z, new long[]{rows, latent})) {
                Map<String, OnnxTensor> in = new LinkedHashMap<>();
                in.put("context", ct);
                in.put("z", zt);
                int runs = Math.max(50, 400000 / rows);
                double best = Double.POSITIVE_INFINITY;
                for (int w = 0; w < 3; w++) {
                    long t1 = System.nanoTime();
                    for (int i = 0; i < runs; i++) {
                        try (OrtSession.Result res = dec.run(in)) {
                            res.size();
                        }
                    }
                    best = Math.min(best, (System.nanoTime() - t1) / 1e3 / runs / rows);
                }
                r.put("decoder_rows_per_run", rows);
                r.put("decoder_us_per_draw", best);
            }
        }
        r.put("rest_us_per_draw", perDraw - (double) r.get("decoder_us_per_draw"));
        // the random numbers alone: 1 uniform + (L + P) normals + 2P exponentials per draw, in
        // runs of the sampler's default size as the sampler generates them
        int l = bundle.latentSize();
        int p = bundle.parameterCount();
        long d = bundle.drawsPerSample();
        // CounterRng.fillNormals is looked up reflectively so that this harness also compiles against
        // the sources of older revisions (bench.py's "Java before"), which draw normals one by one
        java.lang.reflect.Method fill;
        try {
            fill = CounterRng.class.getMethod("fillNormals", long.class, long.class, long.class, int.class,
                    int.class, double[].class, double[].class);
        } catch (NoSuchMethodException e) {
            fill = null;
        }
        double best = Double.NaN;
        double sink = 0;
        if (fill != null) {
            long key = CounterRng.streamKey(a.seed, 7);
            int draws = 200000;
            int run = 512; // PosteriorSampler.Options.DEFAULT_DRAW_BATCH (a literal: older revisions lack the constant)
            double[] scratch = new double[run * Math.max(l, p)];
            double[] eps = new double[run * Math.max(l, p)];
            best = Double.POSITIVE_INFINITY;
            try {
                for (int w = 0; w < 3; w++) {
                    long t1 = System.nanoTime();
                    for (int j0 = 0; j0 < draws; j0 += run) {
                        int m = Math.min(run, draws - j0);
                        long base = (long) j0 * d;
                        fill.invoke(null, key, base + 1, d, m, l, scratch, eps);
                        for (int i = 0; i < m * l; i++) {
                            sink += eps[i];
                        }
                        fill.invoke(null, key, base + 1 + l, d, m, p, scratch, eps);
                        for (int i = 0; i < m; i++) {
                            sink += CounterRng.uniform(key, base + i * d);
                            for (int q = 0; q < p; q++) {
                                sink += eps[i * p + q];
                            }
                            for (int q = 0; q < 2 * p; q++) {
                                sink += StrictMath.exp(-1e-9 * (j0 + i + q));
                            }
                        }
                    }
                    best = Math.min(best, (System.nanoTime() - t1) / 1e3 / draws);
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("CounterRng.fillNormals failed", e);
            }
        }
        r.put("random_numbers_us_per_draw", best);
        r.put("sink", sink == 42.0 ? 1 : 0);
        Memory.SOURCES.addAndGet(4L * reps);
        return r;
    }

    /** T threads sharing one sampler, each sampling batches of B spectra. */
    static Map<String, Object> throughput(PosteriorSampler sampler, List<Spectrum> spectra, int threads, Args a)
            throws InterruptedException {
        AtomicLong next = new AtomicLong();
        AtomicLong counted = new AtomicLong();
        long start = System.nanoTime();
        long warmEnd = start + (long) (a.warmupS * 1e9);
        long end = warmEnd + (long) (a.throughputS * 1e9);
        long[] countedAt = new long[1];
        Thread[] workers = new Thread[threads];
        Throwable[] failure = new Throwable[1];
        for (int w = 0; w < threads; w++) {
            workers[w] = new Thread(() -> {
                try {
                    while (true) {
                        long now = System.nanoTime();
                        if (now >= end) {
                            return;
                        }
                        long first = next.getAndAdd(a.batch);
                        List<Spectrum> batch = new ArrayList<>(a.batch);
                        long[] idx = new long[a.batch];
                        for (int i = 0; i < a.batch; i++) {
                            batch.add(spectra.get((int) ((first + i) % spectra.size())));
                            idx[i] = first + i;
                        }
                        List<PosteriorSamples> res = sampler.sampleWithKeys(batch, idx, a.throughputSamples, a.seed);
                        for (PosteriorSamples ps : res) {
                            ps.summary();
                        }
                        long done = System.nanoTime();
                        if (now >= warmEnd && done <= end) {
                            counted.addAndGet(a.batch);
                        }
                    }
                } catch (Throwable e) {
                    synchronized (failure) {
                        failure[0] = e;
                    }
                }
            }, "bench-" + w);
            workers[w].start();
        }
        for (Thread w : workers) {
            w.join();
        }
        if (failure[0] != null) {
            throw new IllegalStateException("throughput worker failed", failure[0]);
        }
        countedAt[0] = counted.get();
        Memory.SOURCES.addAndGet(next.get());
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("threads", threads);
        r.put("batch", a.batch);
        r.put("n_samples", a.throughputSamples);
        r.put("seconds", a.throughputS);
        r.put("sources", countedAt[0]);
        r.put("sources_per_s", countedAt[0] / a.throughputS);
        return r;
    }

    /** Resident memory of this process from /proc/self/status (Linux; empty elsewhere). */
    static final class Memory {
        static final AtomicLong SOURCES = new AtomicLong();

        static Map<String, Object> snapshot() {
            Map<String, Object> m = new LinkedHashMap<>();
            try {
                for (String line : Files.readAllLines(Paths.get("/proc/self/status"), StandardCharsets.US_ASCII)) {
                    if (line.startsWith("VmRSS:") || line.startsWith("VmHWM:")) {
                        String[] f = line.split("\\s+");
                        m.put(line.startsWith("VmRSS:") ? "rss_mb" : "hwm_mb", Long.parseLong(f[1]) / 1024.0);
                    }
                }
            } catch (IOException | RuntimeException ignored) {
                // not Linux
            }
            Runtime rt = Runtime.getRuntime();
            m.put("heap_used_mb", (rt.totalMemory() - rt.freeMemory()) / (1024.0 * 1024.0));
            m.put("sources_so_far", SOURCES.get());
            return m;
        }

        static double rssMb() {
            Object v = snapshot().get("rss_mb");
            return v == null ? Double.NaN : (double) v;
        }
    }
}
