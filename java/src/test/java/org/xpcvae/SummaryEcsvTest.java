package org.xpcvae;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import uk.ac.starlink.ecsv.EcsvTableBuilder;
import uk.ac.starlink.table.ColumnInfo;
import uk.ac.starlink.table.StarTable;
import uk.ac.starlink.table.StoragePolicy;
import uk.ac.starlink.table.Tables;
import uk.ac.starlink.util.FileDataSource;

public class SummaryEcsvTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    /** A missing number as STIL reads an empty ECSV field back. */
    private static boolean missing(Object value) {
        return value == null || Double.isNaN((Double) value);
    }

    private static StarTable read(Path file) throws IOException {
        return Tables.randomTable(new EcsvTableBuilder().makeStarTable(new FileDataSource(file.toFile()), false,
                StoragePolicy.PREFER_MEMORY));
    }

    @Test
    public void columnsCarryTypesUnitsAndDescriptions() throws IOException {
        List<Parameter> params = TestSupport.bundle().parameters();
        Path dir = tmp.newFolder("out").toPath();
        Path target = dir.resolve("summary.ecsv");
        double[][] s = new double[5][params.size()];
        for (int j = 0; j < 5; j++) {
            Arrays.fill(s[j], 0.1 * j);
        }
        try (SummaryWriter w = SummaryWriter.create(target, params)) {
            assertTrue(w instanceof SummaryEcsv);
            w.writeOk(PosteriorSamples.of("a", 0, 1, params, s).summary(), List.of("1.25", "0", "", "ff"));
            w.writeError("b b", "source b b: flux_error[3] = -1 is not positive, \"quoted\"");
            w.writeOk(PosteriorSamples.of("c", 0, 1, params, s).summary(), List.of("", "", "not computed", ""));
            assertEquals(3, w.rowCount());
            assertEquals(1, TestSupport.listDir(dir).size()); // only the hidden temporary file before commit
            assertFalse(Files.exists(target));
            w.commit();
        }
        assertEquals(List.of("summary.ecsv"), TestSupport.listDir(dir));
        assertTrue(Files.readAllLines(target).get(0).startsWith("# %ECSV 1.0"));

        StarTable t = read(target);
        List<SummaryColumns.Column> cols = SummaryColumns.of(params);
        assertEquals(cols.size(), t.getColumnCount());
        assertEquals(SummaryCsv.header(params), SummaryColumns.names(params));
        for (int i = 0; i < cols.size(); i++) {
            ColumnInfo info = t.getColumnInfo(i);
            assertEquals(cols.get(i).name(), info.getName());
            assertEquals(cols.get(i).type(), info.getContentClass());
            assertEquals(cols.get(i).description(), info.getDescription());
            assertEquals(cols.get(i).unit().isEmpty() ? null : cols.get(i).unit(), info.getUnitString());
        }
        assertEquals("K", t.getColumnInfo(4).getUnitString()); // teff_median
        assertEquals(3, t.getRowCount());
        Object[] ok = t.getRow(0);
        // an empty string is written as "" and read back as a missing value (by STIL and astropy alike)
        assertEquals(Arrays.asList("a", "ok", null, 5), Arrays.asList(ok).subList(0, 4));
        assertEquals(0.2, (Double) ok[4], 0.0);
        int gof = cols.size() - 4;
        assertEquals(1.25, (Double) ok[gof], 0.0);
        assertEquals((short) 0, ok[gof + 1]);
        assertEquals("ff", ok[gof + 3]);
        Object[] err = t.getRow(1);
        assertEquals("b b", err[0]);
        assertEquals("error", err[1]);
        assertEquals("source b b: flux_error[3] = -1 is not positive, \"quoted\"", err[2]);
        assertNull(err[3]);
        assertTrue(missing(err[4]));
        assertNull(err[gof + 1]);
        Object[] noGof = t.getRow(2);
        assertTrue(missing(noGof[gof]));
        // missing numbers are empty fields (masked in astropy), never "nan"
        List<String> body = Files.readAllLines(target).stream().filter(l -> !l.startsWith("#"))
                .collect(Collectors.toList());
        assertFalse(body.get(2), body.get(2).contains("nan"));
        assertTrue(body.get(2), body.get(2).startsWith("\"b b\" error "));
        assertNull(noGof[gof + 1]);
        assertEquals("not computed", noGof[gof + 2]);
    }

    @Test
    public void closingWithoutCommitLeavesNoFile() throws IOException {
        Path dir = tmp.newFolder("out").toPath();
        try (SummaryWriter w = SummaryWriter.create(dir.resolve("s.ecsv"), TestSupport.bundle().parameters())) {
            w.writeError("x", "y");
        }
        assertEquals(List.of(), TestSupport.listDir(dir));
    }

    @Test
    public void formatFollowsTheExtension() {
        assertEquals(SummaryWriter.Format.ECSV, SummaryWriter.Format.of(Path.of("a/B.ECSV")));
        assertEquals(SummaryWriter.Format.FITS, SummaryWriter.Format.of(Path.of("b.fits")));
        assertEquals(SummaryWriter.Format.CSV, SummaryWriter.Format.of(Path.of("c.csv")));
        assertEquals(SummaryWriter.Format.CSV, SummaryWriter.Format.of(Path.of("c.txt")));
    }

    @Test
    public void cliWritesEcsvRefusesFitsAndKeepsProgressOutOfTheSummary() throws IOException {
        Path dir = tmp.newFolder("cli").toPath();
        Spectrum a = TestSupport.spectrum("s1", 1);
        Spectrum b = TestSupport.spectrum("s2", 2);
        Path in = dir.resolve("in.csv");
        SpectraCsv.write(in, List.of(a, b));
        String bundle = TestSupport.bundleDir().toString();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(err, true, StandardCharsets.UTF_8);
        Path fits = dir.resolve("s.fits");
        int rc = Main.run(ps, ps, "infer", "--bundle", bundle, "--input", in.toString(), "--out", fits.toString());
        assertEquals(Main.EXIT_FATAL, rc);
        String refusal = err.toString(StandardCharsets.UTF_8);
        assertTrue(refusal, refusal.contains("--engine python"));
        assertFalse(Files.exists(fits));

        Path ecsv = dir.resolve("s.ecsv");
        Path csv = dir.resolve("s.csv");
        err.reset();
        assertEquals(0, Main.run(ps, ps, "infer", "--bundle", bundle, "--input", in.toString(), "--out",
                ecsv.toString(), "--samples", "50", "--progress"));
        String log = err.toString(StandardCharsets.UTF_8);
        assertTrue(log, log.contains("\rxpcvae infer: 2 sources (0 failed)"));
        assertFalse(log, log.contains("INFO"));
        assertEquals(0, Main.run(ps, ps, "infer", "--bundle", bundle, "--input", in.toString(), "--out",
                csv.toString(), "--samples", "50", "--no-progress"));
        StarTable t = read(ecsv);
        List<String> lines = Files.readAllLines(csv);
        assertEquals(3, lines.size());
        for (int r = 0; r < 2; r++) {
            List<String> fields = Csv.split(lines.get(r + 1));
            Object[] row = t.getRow(r);
            assertEquals(fields.get(0), row[0]);
            for (int c = 4; c < 4 + 35; c++) {
                assertEquals(Double.parseDouble(fields.get(c)), (Double) row[c], 0.0);
            }
        }
    }
}
