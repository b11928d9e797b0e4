package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class CsvTest {
    private static final int N = ModelBundle.SPECTRUM_LENGTH;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static String row(String id, float[] flux, float[] err) {
        StringBuilder sb = new StringBuilder(id);
        for (float f : flux) {
            sb.append(',').append(f);
        }
        for (float f : err) {
            sb.append(',').append(f);
        }
        return sb.toString();
    }

    @Test
    public void roundTripKeepsEveryFloat() throws IOException {
        Path f = tmp.getRoot().toPath().resolve("spectra.csv");
        List<Spectrum> in = Arrays.asList(TestSupport.spectrum("1234567890123", 0), TestSupport.spectrum("name, with comma", 1),
                TestSupport.spectrum("q\"uote", 2));
        SpectraCsv.write(f, in);
        assertEquals(Arrays.asList("spectra.csv"), TestSupport.listDir(tmp.getRoot().toPath()));
        List<SpectraCsv.Row> rows = SpectraCsv.readAll(f, N);
        assertEquals(3, rows.size());
        for (int i = 0; i < 3; i++) {
            SpectraCsv.Row r = rows.get(i);
            assertTrue(r.error(), r.ok());
            assertEquals(i, r.rowIndex());
            assertEquals(in.get(i).sourceId(), r.sourceId());
            assertTrue(Arrays.equals(in.get(i).flux(), r.spectrum().flux()));
            assertTrue(Arrays.equals(in.get(i).fluxError(), r.spectrum().fluxError()));
        }
    }

    @Test
    public void columnsAreFoundByNameAndExtraColumnsIgnored() throws IOException {
        Spectrum s = TestSupport.spectrum("x", 3);
        // reversed column order plus an extra column in front
        List<String> header = new ArrayList<>(Arrays.asList(SpectraCsv.header(N).split(",")));
        List<String> values = new ArrayList<>(Arrays.asList(row("x", s.flux(), s.fluxError()).split(",")));
        java.util.Collections.reverse(header);
        java.util.Collections.reverse(values);
        header.add(0, "ra");
        values.add(0, "12.5");
        Path f = tmp.newFile("spectra.csv").toPath();
        Files.write(f, Arrays.asList(String.join(",", header), "", String.join(",", values), ""), StandardCharsets.UTF_8);
        List<SpectraCsv.Row> rows = SpectraCsv.readAll(f, N);
        assertEquals(1, rows.size()); // blank lines are not rows
        assertTrue(Arrays.equals(s.flux(), rows.get(0).spectrum().flux()));
        assertTrue(Arrays.equals(s.fluxError(), rows.get(0).spectrum().fluxError()));
    }

    @Test
    public void missingHeaderOrColumnsIsAnError() throws IOException {
        Path empty = tmp.newFile("empty.csv").toPath();
        try {
            SpectraCsv.open(empty, N).close();
            fail();
        } catch (CsvFormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no header line"));
        }
        Path f = tmp.newFile("cols.csv").toPath();
        String header = SpectraCsv.header(N).replace(",flux_17,", ",flux17,").replace(",flux_error_3,", ",");
        Files.write(f, Arrays.asList(header), StandardCharsets.UTF_8);
        try {
            SpectraCsv.open(f, N).close();
            fail();
        } catch (CsvFormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("header lacks columns flux_17, flux_error_3"));
        }
        Files.write(f, Arrays.asList(SpectraCsv.header(N).replace("source_id", "id")), StandardCharsets.UTF_8);
        try {
            SpectraCsv.open(f, N).close();
            fail();
        } catch (CsvFormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("header lacks column source_id"));
        }
    }

    @Test
    public void badRowsAreReportedPerRow() throws IOException {
        Spectrum s = TestSupport.spectrum("x", 3);
        String good = row("good", s.flux(), s.fluxError());
        String notNumber = row("nn", s.flux(), s.fluxError()).replaceFirst(",[^,]*", ",abc");
        float[] err = s.fluxError();
        err[5] = Float.NaN;
        String nan = row("with-nan", s.flux(), err).replace("NaN", "nan");
        Path f = tmp.newFile("rows.csv").toPath();
        Files.write(f, Arrays.asList(SpectraCsv.header(N), good, "short,1.0,2.0", notNumber, nan, good.replaceFirst(",[^,]*", ",")),
                StandardCharsets.UTF_8);
        List<SpectraCsv.Row> rows = SpectraCsv.readAll(f, N);
        assertEquals(5, rows.size());
        assertTrue(rows.get(0).ok());
        assertNull(rows.get(0).error());
        assertFalse(rows.get(1).ok());
        assertEquals("source short: the row has 3 fields, the header has " + (1 + 2 * N) + " (row 1, line 3)",
                rows.get(1).error());
        assertEquals("source nn: flux_0 = 'abc' is not a number (row 2, line 4)", rows.get(2).error());
        // Python's spelling of NaN is read; the value is then rejected by validation
        assertTrue(rows.get(3).ok());
        try {
            rows.get(3).spectrum().validate(N);
            fail();
        } catch (InvalidSpectrumException e) {
            assertEquals("source with-nan: flux_error[5] = NaN is not finite", e.getMessage());
        }
        assertEquals("source good: flux_0 is empty (row 4, line 6)", rows.get(4).error());
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(i, rows.get(i).rowIndex());
        }
    }

    @Test
    public void numbersFollowTheGrammar() {
        // docs/formats.md, rule 14: decimals and the words nan/inf/infinity, nothing else
        assertEquals(1.5e-17, Csv.parseNumber("1.5e-17"), 0.0);
        assertEquals(0.5, Csv.parseNumber("+.5"), 0.0);
        assertEquals(5.0, Csv.parseNumber("5."), 0.0);
        assertTrue(Double.isNaN(Csv.parseNumber("NaN")));
        assertEquals(Double.NEGATIVE_INFINITY, Csv.parseNumber("-inf"), 0.0);
        assertEquals(Double.POSITIVE_INFINITY, Csv.parseNumber("Infinity"), 0.0);
        assertEquals(Double.POSITIVE_INFINITY, Csv.parseNumber("1e309"), 0.0); // a double's overflow
        for (String bad : new String[]{"1.0d", "0x1p3", "1f", "", "one", " 1.5", "1.5 ", "1_0", "\u0661", "1e", ".",
            "\u0130nf", "infinit", "+-1", "1.5\u00a0"}) {
            try {
                Csv.parseNumber(bad);
                fail(bad);
            } catch (NumberFormatException expected) {
                // ok
            }
        }
    }

    @Test
    public void fieldsAndMessages() {
        assertEquals(Arrays.asList("a", "b,c", "d\"e", ""), Csv.split("a,\"b,c\",\"d\"\"e\","));
        assertEquals(Arrays.asList("a", "b"), Csv.split(" a\t, b "));
        try {
            Csv.split("a,\"b");
            fail();
        } catch (IllegalArgumentException e) {
            assertEquals("field 2 opens a quote that is not closed on this line", e.getMessage());
        }
        assertEquals("\"b,c\"", Csv.quote("b,c"));
        assertEquals("a b", Csv.quote("a\nb"));
        assertEquals("'a\\\\b\\'\\t\\x00\\xa0\\u2028\\U0001f600'", Csv.show("a\\b'\t\u0000\u00a0\u2028\ud83d\ude00"));
        assertEquals("'" + "x".repeat(40) + "'...", Csv.show("x".repeat(41)));
    }

    @Test
    public void summaryIsWrittenAtomically() throws IOException {
        Path dir = tmp.newFolder("out").toPath();
        Path target = dir.resolve("summary.csv");
        List<Parameter> params = TestSupport.bundle().parameters();
        Files.write(target, Arrays.asList("old content"), StandardCharsets.UTF_8);
        double[][] s = new double[5][params.size()];
        for (int j = 0; j < 5; j++) {
            Arrays.fill(s[j], 0.1 * j);
        }
        try (SummaryCsv w = SummaryCsv.create(target, params)) {
            w.writeOk(PosteriorSamples.of("a", 0, 1, params, s).summary());
            w.writeError("b", "source b: something, with a comma");
            // nothing visible under the final name before commit
            assertEquals(Arrays.asList("old content"), Files.readAllLines(target));
            assertEquals(2, TestSupport.listDir(dir).size());
            w.commit();
        }
        assertEquals(Arrays.asList("summary.csv"), TestSupport.listDir(dir));
        List<String> lines = Files.readAllLines(target);
        assertEquals(3, lines.size());
        assertEquals(String.join(",", SummaryCsv.header(params)), lines.get(0));
        assertTrue(lines.get(0).startsWith("source_id,status,message,n_samples,teff_median,teff_p16,teff_p84,teff_p2.5,teff_p97.5,logg_median"));
        assertTrue(lines.get(0).endsWith(",a0_p97.5,gof_chi2,ood_flag,ood_reason,at_bound"));
        List<String> ok = Csv.split(lines.get(1));
        assertEquals(4 + 5 * params.size() + 4, ok.size());
        assertEquals("a", ok.get(0));
        assertEquals("ok", ok.get(1));
        assertEquals("", ok.get(2));
        assertEquals("5", ok.get(3));
        assertEquals(0.2, Double.parseDouble(ok.get(4)), 0.0); // median of 0, .1, .2, .3, .4 (as doubles)
        List<String> err = Csv.split(lines.get(2));
        assertEquals(Arrays.asList("b", "error", "source b: something, with a comma", ""), err.subList(0, 4));
        assertEquals(4 + 5 * params.size() + 4, err.size());
        assertTrue(err.subList(3, err.size()).stream().allMatch(String::isEmpty));

        // not committed: target untouched, no temporary file left behind
        try (SummaryCsv w = SummaryCsv.create(target, params)) {
            w.writeError("c", "x");
        }
        assertEquals(lines, Files.readAllLines(target));
        assertEquals(Arrays.asList("summary.csv"), TestSupport.listDir(dir));
    }

    @Test
    public void samplesCsvHasOneRowPerDraw() throws IOException {
        Path target = tmp.getRoot().toPath().resolve("sub").resolve("samples.csv");
        List<Parameter> params = TestSupport.bundle().parameters();
        double[][] s = new double[3][params.size()];
        s[2][6] = 0.125;
        try (SamplesCsv w = SamplesCsv.create(target, params)) {
            w.write(PosteriorSamples.of("z", 0, 1, params, s));
            w.commit();
        }
        List<String> lines = Files.readAllLines(target);
        assertEquals("source_id,draw,teff,logg,mh,log_mdot,ff,mass,a0", lines.get(0));
        assertEquals(4, lines.size());
        assertEquals("z,2,0.0,0.0,0.0,0.0,0.0,0.0,0.125", lines.get(3));
    }
}
