package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The batch engine behind {@code xpcvae infer}, used through its API. */
public class BatchInferenceTest {
    private static final int N = ModelBundle.SPECTRUM_LENGTH;
    private static final int DRAWS = 50;
    private static final long SEED = 11L;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /**
     * {@code count} spectra, every 4th (row 3, 7, ...) with a negative uncertainty, and row 5
     * unparseable (a field that is not a number).
     */
    private Path input(int count) throws IOException {
        StringBuilder sb = new StringBuilder(SpectraCsv.header(N)).append('\n');
        for (int i = 0; i < count; i++) {
            Spectrum s = TestSupport.spectrum("src" + i, i);
            float[] err = s.fluxError();
            if (i % 4 == 3) {
                err[17] = -1.0f;
            }
            sb.append(s.sourceId());
            float[] flux = s.flux();
            for (int k = 0; k < N; k++) {
                sb.append(',').append(i == 5 && k == 9 ? "1.2.3" : Float.toString(flux[k]));
            }
            for (float v : err) {
                sb.append(',').append(v);
            }
            sb.append('\n');
        }
        Path f = tmp.newFolder().toPath().resolve("spectra.csv");
        Files.write(f, sb.toString().getBytes(StandardCharsets.UTF_8));
        return f;
    }

    private static boolean bad(int row) {
        return row % 4 == 3 || row == 5;
    }

    /** Runs {@code inference} over {@code in}; the committed summary's lines, and the report. */
    private static List<String> run(BatchInference inference, Path in, Path out, Path samples,
                                    BatchInference.Report[] report) throws Exception {
        ModelBundle b = inference.bundle();
        try (SpectraCsv.Reader reader = SpectraCsv.open(in, b.spectrumLength());
             SummaryCsv summary = SummaryCsv.create(out, b.parameters());
             SamplesCsv draws = samples == null ? null : SamplesCsv.create(samples, b.parameters())) {
            report[0] = inference.run(reader, summary, draws);
            if (draws != null) {
                draws.commit();
            }
            summary.commit();
        }
        return Files.readAllLines(out, StandardCharsets.UTF_8);
    }

    @Test
    public void oneRowPerInputRowErrorsInPlaceAndEachOkRowIsTheSamplersResult() throws Exception {
        ModelBundle bundle = TestSupport.bundle();
        Path in = input(10);
        Path dir = tmp.newFolder().toPath();
        BatchInference.Options options = BatchInference.Options.defaults().withSamples(DRAWS).withSeed(SEED)
                .withBatchSize(3);
        BatchInference.Report[] report = new BatchInference.Report[1];
        List<String> lines;
        try (BatchInference inference = new BatchInference(bundle, options)) {
            assertEquals(bundle.hasForwardModel(), inference.hasForwardModel());
            lines = run(inference, in, dir.resolve("summary.csv"), dir.resolve("samples.csv"), report);
        }
        assertEquals(1 + 10, lines.size());
        assertEquals(String.join(",", SummaryCsv.header(bundle.parameters())), lines.get(0));
        assertEquals(10, report[0].sources());
        assertEquals(3, report[0].failed());
        List<Long> failedRows = new ArrayList<>();
        for (BatchInference.Failure f : report[0].failures()) {
            failedRows.add(f.rowIndex());
            assertEquals("src" + f.rowIndex(), f.sourceId());
            assertTrue(f.message(), f.message().contains("src" + f.rowIndex()));
        }
        assertEquals(Arrays.asList(3L, 5L, 7L), failedRows);
        assertTrue(report[0].failures().get(0).message(), report[0].failures().get(0).message()
                .endsWith("flux_error[17] = -1.0 is not positive"));
        assertTrue(report[0].failures().get(1).message(), report[0].failures().get(1).message()
                .contains("is not a number"));

        List<SpectraCsv.Row> rows = SpectraCsv.readAll(in, N);
        try (PosteriorSampler sampler = new PosteriorSampler(bundle)) {
            for (int i = 0; i < 10; i++) {
                List<String> row = Csv.split(lines.get(1 + i));
                assertEquals("src" + i, row.get(0));
                if (bad(i)) {
                    assertEquals("error", row.get(1));
                    continue;
                }
                assertEquals("ok", row.get(1));
                assertEquals(String.valueOf(DRAWS), row.get(3));
                // keyed by the source id, whatever the work unit the row fell in
                PosteriorSummary expected = sampler.sample(rows.get(i).spectrum(), DRAWS, SEED).summary();
                for (int p = 0; p < bundle.parameterCount(); p++) {
                    for (int q = 0; q < PosteriorSummary.QUANTILES.length; q++) {
                        assertEquals(expected.get(p, q), Double.parseDouble(row.get(4 + 5 * p + q)), 0.0);
                    }
                }
            }
        }
        // the draws of the 7 ok rows, none of the failed ones
        List<String> draws = Files.readAllLines(dir.resolve("samples.csv"), StandardCharsets.UTF_8);
        assertEquals(1 + 7 * DRAWS, draws.size());
        assertTrue(draws.stream().noneMatch(l -> l.startsWith("src3,") || l.startsWith("src5,")));
    }

    @Test
    public void threadsAndBatchSizeDoNotChangeTheOutput() throws Exception {
        ModelBundle bundle = TestSupport.bundle();
        Path in = input(13);
        Path dir = tmp.newFolder().toPath();
        BatchInference.Options base = BatchInference.Options.defaults().withSamples(DRAWS).withSeed(SEED);
        BatchInference.Report[] report = new BatchInference.Report[1];
        List<String> reference;
        try (BatchInference inference = new BatchInference(bundle, base)) {
            reference = run(inference, in, dir.resolve("a.csv"), null, report);
            // a second run of the same instance reads its input afresh
            assertEquals(reference, run(inference, in, dir.resolve("b.csv"), null, report));
        }
        try (BatchInference inference = new BatchInference(bundle, base.withThreads(3).withBatchSize(2))) {
            assertEquals(reference, run(inference, in, dir.resolve("c.csv"), null, report));
        }
        assertEquals(13, report[0].sources());
        assertEquals(4, report[0].failed());
    }

    /**
     * A star's summary row is the same alone in a file and as row 5 of another file (its random
     * stream is keyed by its source id, not its row, and its goodness of fit is evaluated in padded
     * row groups).
     */
    @Test
    public void aRowDoesNotDependOnItsPositionOrTheOtherRows() throws Exception {
        ModelBundle bundle = TestSupport.bundle();
        Path dir = tmp.newFolder().toPath();
        Spectrum star = TestSupport.spectrum("Gaia DR3 4295806720", 3);
        Path alone = dir.resolve("alone.csv");
        SpectraCsv.write(alone, Arrays.asList(star));
        List<Spectrum> many = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            many.add(i == 5 ? star : TestSupport.spectrum("other" + i, 20 + i));
        }
        Path crowded = dir.resolve("crowded.csv");
        SpectraCsv.write(crowded, many);
        BatchInference.Report[] report = new BatchInference.Report[1];
        BatchInference.Options options = BatchInference.Options.defaults().withSamples(DRAWS).withSeed(SEED);
        List<String> one;
        List<String> all;
        try (BatchInference inference = new BatchInference(bundle, options)) {
            one = run(inference, alone, dir.resolve("a.csv"), null, report);
        }
        try (BatchInference inference = new BatchInference(bundle, options.withBatchSize(4).withThreads(2))) {
            all = run(inference, crowded, dir.resolve("b.csv"), null, report);
        }
        assertEquals(one.get(1), all.get(1 + 5));
        assertEquals(0, report[0].failed());
    }

    @Test
    public void onlyTheFirstFailuresAreKeptButAllAreCounted() throws Exception {
        int count = 4 * (BatchInference.Report.KEPT_FAILURES + 5);
        Path in = input(count);
        Path dir = tmp.newFolder().toPath();
        BatchInference.Report[] report = new BatchInference.Report[1];
        try (BatchInference inference = new BatchInference(TestSupport.bundle(),
                BatchInference.Options.defaults().withSamples(1).withBatchSize(16).withThreads(2))) {
            run(inference, in, dir.resolve("s.csv"), null, report);
        }
        long expected = 0;
        for (int i = 0; i < count; i++) {
            expected += bad(i) ? 1 : 0;
        }
        assertEquals(count, report[0].sources());
        assertEquals(expected, report[0].failed());
        assertEquals(BatchInference.Report.KEPT_FAILURES, report[0].failures().size());
        assertEquals(3L, report[0].failures().get(0).rowIndex());
    }

    @Test
    public void optionsAreImmutableAndChecked() {
        BatchInference.Options d = BatchInference.Options.defaults();
        assertEquals(BatchInference.Options.DEFAULT_SAMPLES, d.samples());
        assertEquals(BatchInference.Options.DEFAULT_SEED, d.seed());
        assertEquals(BatchInference.Options.DEFAULT_BATCH_SIZE, d.batchSize());
        assertEquals(1, d.threads());
        assertEquals(1, d.samplerOptions().intraOpThreads());
        BatchInference.Options o = d.withSamples(7).withSeed(-1L).withBatchSize(5).withThreads(4)
                .withSamplerOptions(PosteriorSampler.Options.defaults().withIntraOpThreads(2));
        assertNotSame(d, o);
        assertEquals(BatchInference.Options.DEFAULT_SAMPLES, d.samples());
        assertEquals(Arrays.asList(7L, -1L, 5L, 4L, 2L),
                Arrays.asList((long) o.samples(), o.seed(), (long) o.batchSize(), (long) o.threads(),
                        (long) o.samplerOptions().intraOpThreads()));
        for (Runnable bad : Arrays.<Runnable>asList(() -> d.withSamples(0), () -> d.withBatchSize(0),
                () -> d.withThreads(0))) {
            try {
                bad.run();
                fail("accepted an invalid setting");
            } catch (IllegalArgumentException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().contains(">= 1"));
            }
        }
    }
}
