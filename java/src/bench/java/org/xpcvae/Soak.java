package org.xpcvae;

import com.google.gson.GsonBuilder;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Soak test of the Java CLI (run by {@code python -m xpcvae.tools.reliability}, i.e.
 * {@code make reliability}; prints one JSON object on stdout):
 *
 * <pre>
 * java -Xmx512m -cp 'java/build/install/xpcvae/lib/*:java/build/bench/xpcvae-bench.jar' org.xpcvae.Soak --bundle DIR \
 *     [--sources 100000] [--threads 8] [--samples 100] [--batch 64] [--inject-every 97] [--seed 42]
 * </pre>
 *
 * <p>Streams {@code --sources} spectra rows through standard input into one {@code xpcvae infer}
 * run ({@link Main#run}, in this JVM, {@code --threads} workers sharing one sampler), every
 * {@code --inject-every}-th row damaged in one of {@link #KINDS}. While it runs, the resident set
 * size is sampled twice a second. Afterwards the summary is checked: exactly one row per input
 * row, in order; every damaged row, and only those, an error row naming its source and the
 * problem; the exit status 1 with the failure count; and, for a sample of ok rows, the summary
 * bit for bit equal to a single-threaded API call with the same seed and source id.
 *
 * <p>The batch work is {@link BatchInference}'s; the soak goes through the CLI rather than calling
 * it directly so that what the CLI adds (reading standard input, the exit status, the failure
 * report on stderr) is soaked too.
 */
public final class Soak {
    private Soak() {
    }

    /** Damage kinds and a fragment of the error message each must produce. */
    static final String[][] KINDS = {
        {"nan_flux", "is not finite"},
        {"inf_flux", "is not finite"},
        {"negative_error", "is not positive"},
        {"zero_error", "is not positive"},
        {"all_zero_flux", "all-zero spectrum"},
        {"missing_field", "fields, the header has"},
        {"extra_field", "fields, the header has"},
        {"not_a_number", "is not a number"},
        {"empty_field", "is empty"},
        {"invalid_utf8", "is not valid UTF-8"},
    };

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            a.put(argv[i], argv[i + 1]);
        }
        if (!a.containsKey("--bundle")) {
            System.err.println("usage: Soak --bundle DIR [--sources N] [--threads T] [--samples S] [--batch B] "
                    + "[--inject-every K] [--seed S]");
            System.exit(2);
        }
        Path bundleDir = Paths.get(a.get("--bundle"));
        long sources = Long.parseLong(a.getOrDefault("--sources", "100000"));
        int threads = Integer.parseInt(a.getOrDefault("--threads", "8"));
        int samples = Integer.parseInt(a.getOrDefault("--samples", "100"));
        int batch = Integer.parseInt(a.getOrDefault("--batch", "64"));
        int every = Integer.parseInt(a.getOrDefault("--inject-every", "97"));
        long seed = CounterRng.parseSeed(a.getOrDefault("--seed", "42"));

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("sources", sources);
        out.put("threads", threads);
        out.put("samples_per_source", samples);
        out.put("batch", batch);
        out.put("inject_every", every);
        out.put("max_heap_mb", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        out.put("rss_before_start_mb", Bench.Memory.rssMb());

        ModelBundle bundle = ModelBundle.load(bundleDir);
        int n = bundle.spectrumLength();
        List<Spectrum> base = Bench.syntheticSpectra(64, n);
        String[] rendered = new String[base.size()];
        for (int i = 0; i < base.size(); i++) {
            StringBuilder sb = new StringBuilder();
            for (float v : base.get(i).flux()) {
                sb.append(',').append(v);
            }
            for (float v : base.get(i).fluxError()) {
                sb.append(',').append(v);
            }
            rendered[i] = sb.toString();
        }

        Path dir = Files.createTempDirectory("xpcvae-soak");
        Path summary = dir.resolve("summary.csv");
        long[] injected = new long[KINDS.length];
        AtomicLong fed = new AtomicLong();
        PipedInputStream pipeIn = new PipedInputStream(1 << 20);
        PipedOutputStream pipeOut = new PipedOutputStream(pipeIn);
        Thread producer = new Thread(() -> {
            try (OutputStream os = new java.io.BufferedOutputStream(pipeOut, 1 << 16)) {
                os.write((SpectraCsv.header(n) + "\n").getBytes(StandardCharsets.UTF_8));
                for (long row = 0; row < sources; row++) {
                    String id = "soak-" + row;
                    String values = rendered[(int) (row % rendered.length)];
                    byte[] line;
                    if (row % every == every - 1) {
                        int kind = (int) ((row / every) % KINDS.length);
                        injected[kind]++;
                        line = damage(kind, id, values, n);
                    } else {
                        line = (id + values).getBytes(StandardCharsets.UTF_8);
                    }
                    os.write(line);
                    os.write('\n');
                    fed.incrementAndGet();
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, "soak-producer");

        // resident memory twice a second
        List<double[]> rss = new ArrayList<>();
        long start = System.nanoTime();
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                synchronized (rss) {
                    rss.add(new double[]{(System.nanoTime() - start) / 1e9, Bench.Memory.rssMb(), fed.get()});
                }
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "soak-rss");
        sampler.setDaemon(true);

        java.io.InputStream savedIn = System.in;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc;
        try {
            System.setIn(pipeIn);
            sampler.start();
            producer.start();
            rc = Main.run(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8),
                    "infer", "--bundle", bundleDir.toString(), "--input", "-", "--out", summary.toString(),
                    "--samples", String.valueOf(samples), "--seed", Long.toUnsignedString(seed),
                    "--threads", String.valueOf(threads), "--batch", String.valueOf(batch));
            producer.join();
        } finally {
            System.setIn(savedIn);
            sampler.interrupt();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        sampler.join();
        out.put("exit_status", rc);
        String errText = err.toString(StandardCharsets.UTF_8);
        String[] errLines = errText.split("\n");
        out.put("cli_stderr_last_lines", List.of(errLines).subList(Math.max(0, errLines.length - 2), errLines.length));
        out.put("seconds", seconds);
        out.put("sources_per_s", sources / seconds);

        // check the summary: one row per input row, in order, errors exactly where injected
        long rows = 0;
        long ok = 0;
        long errors = 0;
        long[] caught = new long[KINDS.length];
        long wrongRows = 0;
        List<String> problems = new ArrayList<>();
        List<long[]> checkRows = new ArrayList<>();
        List<List<String>> checkValues = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(summary, StandardCharsets.UTF_8)) {
            r.readLine();
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                List<String> f = Csv.split(line);
                long row = rows++;
                boolean damaged = row % every == every - 1;
                int kind = (int) ((row / every) % KINDS.length);
                String id = "soak-" + row;
                boolean idOk = f.get(0).equals(id) || (damaged && f.get(0).isEmpty());
                if (f.get(1).equals("ok")) {
                    ok++;
                    if (damaged || !idOk) {
                        wrongRows++;
                        if (problems.size() < 10) {
                            problems.add("row " + row + ": " + line.substring(0, Math.min(120, line.length())));
                        }
                    } else if (row % 997 == 0) {
                        checkRows.add(new long[]{row});
                        checkValues.add(f);
                    }
                } else {
                    errors++;
                    String msg = f.get(2);
                    if (damaged && idOk && msg.contains(KINDS[kind][1]) && msg.contains(id)) {
                        caught[kind]++;
                    } else {
                        wrongRows++;
                        if (problems.size() < 10) {
                            problems.add("row " + row + ": " + line.substring(0, Math.min(160, line.length())));
                        }
                    }
                }
            }
        }
        // single-threaded API calls for a sample of ok rows: bit-identical summaries
        long identical = 0;
        try (PosteriorSampler s = new PosteriorSampler(bundle)) {
            for (int k = 0; k < checkRows.size(); k++) {
                long row = checkRows.get(k)[0];
                Spectrum sp = base.get((int) (row % base.size()));
                PosteriorSummary sum = s.sample(new Spectrum("soak-" + row, sp.flux(), sp.fluxError()), samples,
                        seed).summary();
                List<String> f = checkValues.get(k);
                boolean same = true;
                for (int p = 0; p < sum.parameters().size(); p++) {
                    for (int q = 0; q < PosteriorSummary.QUANTILES.length; q++) {
                        same &= Double.parseDouble(f.get(4 + 5 * p + q)) == sum.get(p, q);
                    }
                }
                identical += same ? 1 : 0;
            }
        }
        long injectedTotal = 0;
        long caughtTotal = 0;
        Map<String, Object> kinds = new LinkedHashMap<>();
        for (int k = 0; k < KINDS.length; k++) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("injected", injected[k]);
            m.put("caught", caught[k]);
            m.put("expected_message", KINDS[k][1]);
            kinds.put(KINDS[k][0], m);
            injectedTotal += injected[k];
            caughtTotal += caught[k];
        }
        out.put("output_rows", rows);
        out.put("ok_rows", ok);
        out.put("error_rows", errors);
        out.put("injected_errors", injectedTotal);
        out.put("caught_errors", caughtTotal);
        out.put("errors_by_kind", kinds);
        out.put("unexpected_rows", wrongRows);
        out.put("unexpected_examples", problems);
        out.put("reported_failure_count", errText.contains(errors + " of " + sources + " sources failed"));
        out.put("single_thread_checks", checkRows.size());
        out.put("single_thread_identical", identical);
        out.put("leftover_files", listNames(dir));

        List<double[]> trace;
        synchronized (rss) {
            trace = new ArrayList<>(rss);
        }
        out.put("rss", rssSummary(trace, sources));
        List<List<Double>> t = new ArrayList<>();
        for (double[] p : trace) {
            t.add(List.of(Math.round(p[0] * 10) / 10.0, Math.round(p[1] * 10) / 10.0, p[2]));
        }
        out.put("rss_trace_s_mb_rows", t);
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        System.out.println(new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create()
                .toJson(out));
    }

    private static List<String> listNames(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        }
        names.sort(null);
        return names;
    }

    /** RSS at the start (first sample after 1 % of the rows were fed), at quartiles of the rows, and at the end. */
    static Map<String, Object> rssSummary(List<double[]> trace, long sources) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (trace.isEmpty() || Double.isNaN(trace.get(0)[1])) {
            m.put("available", false);
            return m;
        }
        double max = 0;
        for (double[] p : trace) {
            max = Math.max(max, p[1]);
        }
        for (double frac : new double[]{0.01, 0.25, 0.5, 0.75}) {
            for (double[] p : trace) {
                if (p[2] >= frac * sources) {
                    m.put("at_" + Math.round(frac * 100) + "pct_rows_mb", p[1]);
                    break;
                }
            }
        }
        m.put("end_mb", trace.get(trace.size() - 1)[1]);
        m.put("max_mb", max);
        m.put("samples", trace.size());
        return m;
    }

    /** A damaged data line of the given kind. */
    static byte[] damage(int kind, String id, String values, int n) {
        String[] f = (id + values).split(",", -1);
        switch (KINDS[kind][0]) {
            case "nan_flux":
                f[1 + 100] = "nan";
                break;
            case "inf_flux":
                f[1 + 5] = "-inf";
                break;
            case "negative_error":
                f[1 + n + 20] = "-" + f[1 + n + 20];
                break;
            case "zero_error":
                f[1 + n + 300] = "0.0";
                break;
            case "all_zero_flux":
                for (int i = 1; i <= n; i++) {
                    f[i] = "0";
                }
                break;
            case "missing_field":
                f = java.util.Arrays.copyOf(f, f.length - 1);
                break;
            case "extra_field":
                f = java.util.Arrays.copyOf(f, f.length + 1);
                f[f.length - 1] = "1.0";
                break;
            case "not_a_number":
                f[1 + 17] = "1.2.3";
                break;
            case "empty_field":
                f[1 + n + 3] = "";
                break;
            case "invalid_utf8": {
                byte[] pre = (String.join(",", java.util.Arrays.copyOf(f, 1 + 9)) + ",").getBytes(StandardCharsets.UTF_8);
                byte[] post = ("," + String.join(",", java.util.Arrays.copyOfRange(f, 1 + 10, f.length)))
                        .getBytes(StandardCharsets.UTF_8);
                byte[] bad = {(byte) 0xC3, (byte) 0x28, (byte) 0xFF};
                byte[] all = new byte[pre.length + bad.length + post.length];
                System.arraycopy(pre, 0, all, 0, pre.length);
                System.arraycopy(bad, 0, all, pre.length, bad.length);
                System.arraycopy(post, 0, all, pre.length + bad.length, post.length);
                return all;
            }
            default:
                throw new IllegalArgumentException(KINDS[kind][0]);
        }
        return String.join(",", f).getBytes(StandardCharsets.UTF_8);
    }
}
