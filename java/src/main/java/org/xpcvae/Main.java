package org.xpcvae;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import org.xpcvae.gaiaxp.SpectraFileException;
import org.xpcvae.gaiaxp.SpectrumSources;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Command line {@code xpcvae} (picocli). {@code xpcvae infer} samples the posterior of every
 * spectrum of a spectra CSV and writes the summary, CSV or ECSV by the extension of {@code --out}
 * ({@link SummaryWriter#create}), and optionally all draws. Each ok row
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

    /**
     * STIL's logger, kept (java.util.logging holds loggers weakly) at WARNING: its INFO notes (the
     * memory limit of the ECSV writer's row store) are not for users of the CLI.
     */
    private static final java.util.logging.Logger STIL_LOG = java.util.logging.Logger.getLogger("uk.ac.starlink");

    static {
        STIL_LOG.setLevel(java.util.logging.Level.WARNING);
    }

    @Spec
    CommandSpec spec;

    /** Where {@code --out -} writes: the standard output given to {@link #run(PrintStream, PrintStream, String...)}. */
    private PrintStream stdout = System.out;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command (try: xpcvae infer --help)");
    }

    /** Runs the command line with the given streams and returns the exit status (no System.exit). */
    public static int run(PrintStream out, PrintStream err, String... args) {
        Main main = new Main();
        main.stdout = out;
        CommandLine cl = new CommandLine(main);
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

    @Command(name = "infer", mixinStandardHelpOptions = true,
            description = {"Sample the posterior of each spectrum of a spectra file (the project CSV or a Gaia archive XP "
                    + "product) and write one summary row per input row.",
                    "A row's random numbers are keyed by its source_id, so a star gets the same draws at any row."})
    static final class Infer implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @ParentCommand
        Main main;

        @Option(names = "--bundle", required = true, paramLabel = "DIR", description = "model bundle directory")
        Path bundle;

        @Option(names = "--input", required = true, paramLabel = "FILE",
                description = {"spectra file: the project CSV (docs/formats.md), or a Gaia archive XP continuous or sampled "
                        + "product (CSV, ECSV, FITS, gzipped bulk files); - reads the project CSV from standard input"})
        Path input;

        @Option(names = "--out", required = true, paramLabel = "FILE",
                description = "summary to write: .ecsv gives ECSV with units and column descriptions, any other "
                        + "extension CSV (docs/formats.md); - writes CSV to standard output once the run is done")
        Path out;

        @Option(names = "--samples", defaultValue = "1000", paramLabel = "N",
                description = "posterior draws per source (default: ${DEFAULT-VALUE})")
        int samples;

        @Option(names = "--seed", defaultValue = "42", paramLabel = "S",
                description = "random seed, an integer in 0..2^64-1 (default: ${DEFAULT-VALUE})")
        String seed;

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

        @Option(names = "--progress", negatable = true,
                description = "a progress line on standard error, never in the summary (default: when the "
                        + "console is a terminal)")
        Boolean progress;

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
            long seedValue;
            try {
                seedValue = CounterRng.parseSeed(seed);
            } catch (IllegalArgumentException e) {
                // as the Python CLI words it: one line, exit status 2
                return fatal(err, e.getMessage());
            }
            if (SummaryWriter.Format.of(out) == SummaryWriter.Format.FITS) {
                throw new ParameterException(spec.commandLine(), "--out " + out + ": the Java engine writes the "
                        + "summary as .csv or .ecsv; for FITS use `xpcvae infer --engine python`");
            }
            // before any work: an output onto an input, or both outputs onto one file, is refused
            String outputProblem = OutputPaths.problem(input, bundle, out, samplesOut);
            if (outputProblem != null) {
                return fatal(err, outputProblem);
            }
            boolean showProgress = progress != null ? progress : System.console() != null;
            long t0 = System.nanoTime();
            // standard output gets the summary only when it is complete, as a file is only renamed then
            boolean toStdout = out.toString().equals("-");
            Path summaryPath = out;
            ModelBundle modelBundle;
            try {
                modelBundle = ModelBundle.load(bundle);
                SpectraCsv.checkGrid(modelBundle, input);
            } catch (BundleException | CsvFormatException e) {
                return fatal(err, e.getMessage());
            }
            BatchInference.Options options = BatchInference.Options.defaults()
                    .withSamples(samples).withSeed(seedValue).withBatchSize(batch).withThreads(threads)
                    .withSamplerOptions(PosteriorSampler.Options.defaults().withIntraOpThreads(intraOpThreads));
            try {
                if (toStdout) {
                    summaryPath = Files.createTempFile("xpcvae-summary-", ".csv");
                }
            } catch (IOException e) {
                return fatal(err, "cannot create a temporary file for --out -: " + OutputException.reason(e));
            }
            try (BatchInference inference = new BatchInference(modelBundle, options);
                 SpectrumReader reader = SpectrumSources.open(input, modelBundle.spectrumLength());
                 SummaryWriter summaryFile = SummaryWriter.create(summaryPath, modelBundle.parameters());
                 SamplesCsv samplesCsv = samplesOut == null ? null
                         : SamplesCsv.create(samplesOut, modelBundle.parameters())) {
                long t1 = System.nanoTime();
                if (!inference.hasForwardModel()) {
                    err.println("xpcvae infer: note: the bundle has no forward_model graph: gof_chi2 and ood_flag "
                            + "are left empty");
                }
                ProgressLine line = showProgress ? new ProgressLine(summaryFile, err) : null;
                BatchInference.Report report = inference.run(reader, line != null ? line : summaryFile, samplesCsv);
                if (line != null) {
                    line.finish();
                }
                // both outputs or neither
                summaryFile.commit(samplesCsv);
                if (toStdout) {
                    copyToStdout(summaryPath, main.stdout);
                }
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
            } catch (BundleException | CsvFormatException | SpectraFileException | InferenceException e) {
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
            } finally {
                if (toStdout) {
                    try {
                        Files.deleteIfExists(summaryPath);
                    } catch (IOException ignored) {
                        // a temporary file; the run's outcome stands
                    }
                }
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

        /** The committed summary to standard output ({@code --out -}); a failure is an output error in words. */
        private static void copyToStdout(Path summary, PrintStream stdout) throws OutputException {
            try {
                Files.copy(summary, stdout);
            } catch (IOException e) {
                throw new OutputException("cannot write the summary to standard output: "
                        + OutputException.reason(e), e);
            }
            stdout.flush();
            if (stdout.checkError()) {
                throw new OutputException("cannot write the summary to standard output: input/output error", null);
            }
        }

        private static int fatal(PrintWriter err, String message) {
            err.println("xpcvae infer: error: " + message);
            err.flush();
            return EXIT_FATAL;
        }
    }
}
