package org.xpcvae;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Command line {@code xpcvae} (picocli). {@code xpcvae infer} samples the posterior of every
 * spectrum of a spectra CSV and writes the summary CSV (and optionally all draws). Each ok row
 * carries the goodness of fit of the forward model at its posterior median and the
 * out-of-distribution flag ({@link GoodnessOfFit}; empty gof_chi2 if the bundle has no
 * {@code forward_model} graph).
 *
 * <p>The batch work (reading rows, sampling on worker threads, error rows) is
 * {@link BatchInference}'s: this class parses the options, opens the files and reports.
 *
 * <p>Exit status: 0 when every source succeeded, 1 when some failed (each has an error row),
 * 2 on a usage error or when nothing could be done (unusable bundle, unreadable input, write
 * error; no output file is then left behind). An output that is the input file or a file of the
 * bundle, or a summary and
 * draws under one name, is refused before any work ({@link OutputPaths}); the summary and the draws
 * appear together or not at all. A run stopped by SIGINT or SIGTERM leaves no output (the JVM's
 * exit status is then 130 or 143).
 */
@Command(name = "xpcvae", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Posterior inference of stellar and accretion parameters from Gaia XP spectra (CVAE, ONNX Runtime).",
        subcommands = {Main.Infer.class})
public final class Main implements Runnable {

    /** Exit status when some sources failed. */
    public static final int EXIT_SOURCES_FAILED = 1;
    /** Exit status of a usage error or a fatal error. */
    public static final int EXIT_FATAL = 2;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command (try: xpcvae infer --help)");
    }

    /** Runs the command line with the given streams and returns the exit status (no System.exit). */
    public static int run(PrintStream out, PrintStream err, String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        // an unexpected exception is fatal (2), never confused with "some sources failed" (1)
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            commandLine.getErr().println("xpcvae: internal error: " + ex);
            ex.printStackTrace(commandLine.getErr());
            commandLine.getErr().flush();
            return EXIT_FATAL;
        });
        return cl.execute(args);
    }

    /**
     * Runs the command line and exits the JVM with its exit status.
     *
     * @param args the command line arguments
     */
    public static void main(String[] args) {
        System.exit(run(System.out, System.err, args));
    }

    /**
     * {@code --version}: the version in the jar's manifest, which build.gradle takes from
     * pyproject.toml (the one definition).
     */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"xpcvae " + (v == null ? "(version unknown: not run from the xpcvae jar)" : v)
                    + " (Java)"};
        }
    }

    /** Parses a seed as a signed or unsigned 64-bit integer. */
    static final class SeedConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            String v = value.trim();
            try {
                return v.startsWith("-") ? Long.parseLong(v)
                        : Long.parseUnsignedLong(v.startsWith("+") ? v.substring(1) : v);
            } catch (NumberFormatException e) {
                // the reason in words: picocli would show the exception's class name
                throw new CommandLine.TypeConversionException("--seed must be a 64-bit integer (from "
                        + Long.MIN_VALUE + " to " + Long.toUnsignedString(-1L) + "), got " + value);
            }
        }
    }

    @Command(name = "infer", mixinStandardHelpOptions = true,
            description = {"Sample the posterior of each spectrum of a spectra CSV and write one summary row per input row.",
                    "The source index of a row (which selects its random numbers) is its 0-based data row number."})
    static final class Infer implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--bundle", required = true, paramLabel = "DIR", description = "model bundle directory")
        Path bundle;

        @Option(names = "--input", required = true, paramLabel = "FILE",
                description = "spectra CSV (docs/formats.md); - reads standard input")
        Path input;

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "summary CSV to write")
        Path out;

        @Option(names = "--samples", defaultValue = "1000", paramLabel = "N",
                description = "posterior draws per source (default: ${DEFAULT-VALUE})")
        int samples;

        @Option(names = "--seed", defaultValue = "42", paramLabel = "S", converter = SeedConverter.class,
                description = "random seed (default: ${DEFAULT-VALUE})")
        long seed;

        @Option(names = "--samples-out", paramLabel = "FILE", description = "also write every draw to this CSV")
        Path samplesOut;

        @Option(names = "--batch", defaultValue = "64", paramLabel = "B",
                description = "spectra per work unit handed to a worker thread (default: ${DEFAULT-VALUE})")
        int batch;

        @Option(names = "--threads", defaultValue = "1", paramLabel = "T",
                description = "worker threads sampling batches in parallel (default: ${DEFAULT-VALUE})")
        int threads;

        @Option(names = "--intra-op-threads", defaultValue = "1", paramLabel = "T",
                description = "ONNX Runtime threads per graph run (default: ${DEFAULT-VALUE})")
        int intraOpThreads;

        @Override
        public Integer call() {
            PrintWriter err = spec.commandLine().getErr();
            if (samples < 1) {
                throw new ParameterException(spec.commandLine(), "--samples must be >= 1, got " + samples);
            }
            if (batch < 1) {
                throw new ParameterException(spec.commandLine(), "--batch must be >= 1, got " + batch);
            }
            if (threads < 1 || intraOpThreads < 1) {
                throw new ParameterException(spec.commandLine(), "--threads and --intra-op-threads must be >= 1");
            }
            // before any work: an output onto an input, or both outputs onto one file, is refused
            String outputProblem = OutputPaths.problem(input, bundle, out, samplesOut);
            if (outputProblem != null) {
                return fatal(err, outputProblem);
            }
            long t0 = System.nanoTime();
            ModelBundle modelBundle;
            try {
                modelBundle = ModelBundle.load(bundle);
                SpectraCsv.checkGrid(modelBundle, input);
            } catch (BundleException | CsvFormatException e) {
                return fatal(err, e.getMessage());
            }
            BatchInference.Options options = BatchInference.Options.defaults()
                    .withSamples(samples).withSeed(seed).withBatchSize(batch).withThreads(threads)
                    .withSamplerOptions(PosteriorSampler.Options.defaults().withIntraOpThreads(intraOpThreads));
            try (BatchInference inference = new BatchInference(modelBundle, options);
                 SpectraCsv.Reader reader = SpectraCsv.open(input, modelBundle.spectrumLength());
                 SummaryCsv summaryCsv = SummaryCsv.create(out, modelBundle.parameters());
                 SamplesCsv samplesCsv = samplesOut == null ? null
                         : SamplesCsv.create(samplesOut, modelBundle.parameters())) {
                long t1 = System.nanoTime();
                if (!inference.hasForwardModel()) {
                    err.println("xpcvae infer: note: the bundle has no forward_model graph: gof_chi2 and ood_flag "
                            + "are left empty");
                }
                BatchInference.Report report = inference.run(reader, summaryCsv, samplesCsv);
                summaryCsv.commit(samplesCsv);
                long t2 = System.nanoTime();
                long sources = report.sources();
                long failed = report.failed();
                for (BatchInference.Failure f : report.failures()) {
                    err.println("xpcvae infer: row " + f.rowIndex() + ": " + f.message());
                }
                if (failed > report.failures().size()) {
                    err.println("xpcvae infer: ... and " + (failed - report.failures().size())
                            + " more failed sources");
                }
                if (failed > 0) {
                    err.println(failed + " of " + sources + " sources failed");
                }
                double sampling = (t2 - t1) / 1e9;
                err.println(String.format(Locale.ROOT,
                        "xpcvae infer: %d sources, %d samples each, %.3f s (%.3f s sampling, %.3f s loading), "
                                + "%.2f ms/source, %d thread%s",
                        sources, samples, (t2 - t0) / 1e9, sampling, (t1 - t0) / 1e9,
                        sources == 0 ? 0.0 : 1e3 * sampling / sources, threads, threads == 1 ? "" : "s"));
                err.flush();
                return failed > 0 ? EXIT_SOURCES_FAILED : 0;
            } catch (BundleException | CsvFormatException | InferenceException e) {
                return fatal(err, e.getMessage());
            } catch (OutputException e) {
                return fatal(err, e.getMessage());
            } catch (NoSuchFileException e) {
                return fatal(err, "no such file: " + e.getFile());
            } catch (IOException e) {
                // every output failure is an OutputException: what is left is reading the spectra
                return fatal(err, cannotRead(input, e));
            } catch (UncheckedIOException e) {
                return fatal(err, cannotRead(input, e.getCause()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return fatal(err, "interrupted");
            }
        }

        /**
         * A failure reading the spectra, without an exception class name: the file, the other file
         * involved if any, and the reason in words.
         */
        private static String cannotRead(Path input, IOException e) {
            if (e instanceof OutputException) {
                return e.getMessage();
            }
            String file = e instanceof FileSystemException ? ((FileSystemException) e).getFile() : null;
            String what = input.toString().equals(OutputPaths.STREAM) ? "standard input" : "the spectra file " + input;
            boolean other = file != null && !file.equals(input.toString());
            return "cannot read " + what + ": " + (other ? file + ": " : "") + OutputException.reason(e);
        }

        private static int fatal(PrintWriter err, String message) {
            err.println("xpcvae infer: error: " + message);
            err.flush();
            return EXIT_FATAL;
        }
    }
}
