package org.xpcvae.gaiaxp;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.xpcvae.ModelBundle;
import org.xpcvae.SpectraCsv;
import org.xpcvae.Spectrum;
import org.xpcvae.SpectrumReader;

/** {@link SpectrumSources} on every Gaia archive example file, their gzipped forms, and broken files. */
public class ArchiveReadersTest {
    private static final int N = ModelBundle.SPECTRUM_LENGTH;

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static List<SpectraCsv.Row> rows(Path file) throws IOException {
        List<SpectraCsv.Row> out = new ArrayList<>();
        try (SpectrumReader r = SpectrumSources.open(file, N)) {
            assertEquals(file, r.file());
            for (SpectraCsv.Row row = r.next(); row != null; row = r.next()) {
                assertEquals(out.size(), row.rowIndex());
                out.add(row);
            }
            assertNull("the end stays the end", r.next());
        }
        return out;
    }

    private static List<XpContinuousRecord> records(Path file) throws IOException {
        List<XpContinuousRecord> out = new ArrayList<>();
        try (XpContinuousReader r = SpectrumSources.openContinuous(file)) {
            for (XpContinuousRecord rec = r.next(); rec != null; rec = r.next()) {
                out.add(rec);
            }
        }
        return out;
    }

    private static List<String> ids(List<SpectraCsv.Row> rows) {
        List<String> out = new ArrayList<>();
        for (SpectraCsv.Row r : rows) {
            out.add(r.sourceId());
        }
        return out;
    }

    @Test
    public void everyArchiveExampleFileReads() throws IOException {
        List<String> pair = List.of("5853498713190525696", "5762406957886626816");
        for (String name : List.of(ArchiveFiles.CONTINUOUS_CSV, ArchiveFiles.CONTINUOUS_ECSV, ArchiveFiles.CONTINUOUS_FITS)) {
            List<SpectraCsv.Row> rows = rows(ArchiveFiles.file(name));
            assertEquals(name, pair, ids(rows));
            for (SpectraCsv.Row r : rows) {
                assertTrue(name + ": " + r, r.ok());
                r.spectrum().validate(N); // finite, positive errors and mean flux: usable by the networks
            }
        }
        List<SpectraCsv.Row> missing = rows(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_MISSING_BP));
        assertEquals(List.of("5853498713190525696", "5405570973190252288", "5762406957886626816"), ids(missing));
        assertTrue(missing.get(0).ok() && missing.get(2).ok());
        for (String name : ArchiveFiles.SAMPLED) {
            List<SpectraCsv.Row> rows = rows(ArchiveFiles.file(name));
            assertEquals(name, List.of("6", "4"), ids(rows));
            for (SpectraCsv.Row r : rows) {
                assertTrue(name + ": " + r, r.ok());
            }
            // the archive's values, as they are (float32 in the file)
            assertEquals(3.3061049E-16f, rows.get(0).spectrum().flux()[0], 0f);
            assertEquals(6.84483E-17f, rows.get(0).spectrum().fluxError()[0], 0f);
        }
        assertSameSpectra(rows(ArchiveFiles.file(ArchiveFiles.SAMPLED_CSV)),
                rows(ArchiveFiles.file(ArchiveFiles.SAMPLED_ECSV)));
    }

    @Test
    public void aSourceWithoutBpIsAnErrorRowNamingBp() throws IOException {
        SpectraCsv.Row row = rows(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_MISSING_BP)).get(1);
        assertFalse(row.ok());
        assertEquals("5405570973190252288", row.sourceId());
        assertEquals("source 5405570973190252288: XP continuous spectrum has no BP coefficients (BP missing); the "
                + "model needs the whole 336-1020 nm range", row.error());
        assertEquals(3, row.lineNumber());
        XpContinuousRecord rec = records(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_MISSING_BP)).get(1);
        assertEquals(List.of(Band.BP), rec.missingBands());
        assertFalse(rec.ok());
    }

    @Test
    public void csvEcsvAndFitsGiveTheSameValues() throws IOException {
        List<XpContinuousRecord> csv = records(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_CSV));
        List<XpContinuousRecord> ecsv = records(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_ECSV));
        List<XpContinuousRecord> fits = records(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_FITS));
        assertEquals(2, csv.size());
        for (int i = 0; i < csv.size(); i++) {
            for (Band b : Band.values()) {
                BandSolution c = csv.get(i).band(b);
                BandSolution e = ecsv.get(i).band(b);
                BandSolution f = fits.get(i).band(b);
                // float64 columns: the same doubles in all three
                assertArrayEquals(f.coefficients(), c.coefficients(), 0);
                assertArrayEquals(f.coefficients(), e.coefficients(), 0);
                // float32 columns: ECSV and FITS hold the same float32 values; the CSV holds their
                // shortest decimals, read as float64 (as GaiaXPy reads them), which round back to them
                assertArrayEquals(f.coefficientErrors(), e.coefficientErrors(), 0);
                assertEquals(f.standardDeviation(), e.standardDeviation(), 0);
                double[] ce = c.coefficientErrors();
                double[] fe = f.coefficientErrors();
                for (int k = 0; k < fe.length; k++) {
                    assertEquals((float) fe[k], (float) ce[k], 0f);
                }
                assertEquals((float) f.standardDeviation(), (float) c.standardDeviation(), 0f);
                for (int p = 0; p < c.size(); p++) {
                    for (int q = 0; q < p; q++) {
                        assertEquals(f.correlation(p, q), e.correlation(p, q), 0);
                        assertEquals((float) f.correlation(p, q), (float) c.correlation(p, q), 0f);
                    }
                }
            }
        }
        XpCalibrator cal = XpCalibrator.onDefaultSampling();
        for (int i = 0; i < csv.size(); i++) {
            CalibratedSpectrum c = cal.calibrate(csv.get(i));
            CalibratedSpectrum e = cal.calibrate(ecsv.get(i));
            CalibratedSpectrum f = cal.calibrate(fits.get(i));
            assertArrayEquals(f.flux(), e.flux(), 0);
            assertArrayEquals(f.fluxError(), e.fluxError(), 0);
            assertArrayEquals(f.flux(), c.flux(), 0);
            // the error of the CSV's float64 reading of float32 values differs in the 8th digit
            assertTrue(ArchiveFiles.maxRelative(c.fluxError(), f.fluxError()) < 1e-7);
        }
        assertSameSpectra(rows(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_ECSV)),
                rows(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_FITS)));
    }

    private static void assertSameSpectra(List<SpectraCsv.Row> a, List<SpectraCsv.Row> b) {
        assertEquals(ids(a), ids(b));
        for (int i = 0; i < a.size(); i++) {
            Spectrum x = a.get(i).spectrum();
            Spectrum y = b.get(i).spectrum();
            assertArrayEquals(x.flux(), y.flux(), 0f);
            assertArrayEquals(x.fluxError(), y.fluxError(), 0f);
        }
    }

    @Test
    public void gzippedBulkEcsvAndGzippedCsvReadTheSame() throws IOException {
        // the archive's bulk files are ECSV inside a .csv.gz name
        Path bulk = ArchiveFiles.gzip(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_ECSV),
                tmp.getRoot().toPath().resolve("XpContinuousMeanSpectrum_000000-003111.csv.gz"));
        assertSameSpectra(rows(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_ECSV)), rows(bulk));
        Path csvGz = ArchiveFiles.gzip(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_MISSING_BP),
                tmp.getRoot().toPath().resolve("missing_bp.csv.gz"));
        List<SpectraCsv.Row> plain = rows(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_MISSING_BP));
        List<SpectraCsv.Row> zipped = rows(csvGz);
        assertEquals(plain.get(1).error(), zipped.get(1).error());
        assertSameSpectra(List.of(plain.get(0), plain.get(2)), List.of(zipped.get(0), zipped.get(2)));
        Path sampledGz = ArchiveFiles.gzip(ArchiveFiles.file(ArchiveFiles.SAMPLED_ECSV),
                tmp.getRoot().toPath().resolve("XpSampledMeanSpectrum_000000-003111.csv.gz"));
        assertSameSpectra(rows(ArchiveFiles.file(ArchiveFiles.SAMPLED_ECSV)), rows(sampledGz));
    }

    @Test
    public void theProjectCsvIsReadBySpectraCsvUnchanged() throws IOException {
        Path f = tmp.getRoot().toPath().resolve("project.csv");
        List<Spectrum> spectra = new ArrayList<>();
        for (SpectraCsv.Row r : rows(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_CSV))) {
            spectra.add(r.spectrum());
        }
        SpectraCsv.write(f, spectra);
        try (SpectrumReader r = SpectrumSources.open(f, N)) {
            assertTrue(r instanceof SpectraCsv.Reader);
        }
        assertSameSpectra(SpectraCsv.readAll(f, N), rows(f));
    }

    // -- broken files ------------------------------------------------------------------------------

    private static String openError(Path file) throws IOException {
        try (SpectrumReader r = SpectrumSources.open(file, N)) {
            for (SpectraCsv.Row row = r.next(); row != null; row = r.next()) {
                // read to the end: the problem may show only there
            }
        } catch (SpectraFileException e) {
            assertTrue("the message names the file: " + e.getMessage(), e.getMessage().startsWith(file.toString()));
            return e.getMessage();
        }
        fail(file + " was read without an error");
        return null;
    }

    private Path write(String name, String text) throws IOException {
        Path f = tmp.getRoot().toPath().resolve(name);
        Files.write(f, text.getBytes(StandardCharsets.UTF_8));
        return f;
    }

    private Path truncated(String name, Path src, int bytes) throws IOException {
        Path f = tmp.getRoot().toPath().resolve(name);
        Files.write(f, Arrays.copyOf(Files.readAllBytes(src), bytes));
        return f;
    }

    @Test
    public void corruptOrTruncatedFilesAreClearErrorsNamingTheFile() throws IOException {
        Path gz = ArchiveFiles.gzip(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_ECSV),
                tmp.getRoot().toPath().resolve("bulk.csv.gz"));
        Path cutGz = truncated("cut.csv.gz", gz, (int) Files.size(gz) / 2);
        assertTrue(openError(cutGz), openError(cutGz).contains("corrupt or truncated"));
        Path cutFits = truncated("cut.fits", ArchiveFiles.file(ArchiveFiles.CONTINUOUS_FITS), 30000);
        assertTrue(openError(cutFits), openError(cutFits).contains("FITS"));
        Path headerOnlyFits = truncated("header.fits", ArchiveFiles.file(ArchiveFiles.CONTINUOUS_FITS), 2880);
        assertTrue(openError(headerOnlyFits).contains("FITS"));
        byte[] junk = new byte[500];
        new java.util.Random(3).nextBytes(junk);
        junk[0] = 7;
        Path bin = tmp.getRoot().toPath().resolve("junk.dat");
        Files.write(bin, junk);
        assertTrue(openError(bin).contains("not a recognised spectra file"));
        assertTrue(openError(write("table.fits", "a,b\n1,2\n")).contains("named like a FITS file"));
        assertTrue(openError(write("table.ecsv", "a,b\n1,2\n")).contains("named like a ECSV file"));
        try {
            SpectrumSources.open(write("empty.csv", " \n"), N);
            fail("opened an empty file");
        } catch (org.xpcvae.CsvFormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("empty.csv: no header line"));
        }
        Path emptyGz = ArchiveFiles.gzip(write("empty.txt", ""), tmp.getRoot().toPath().resolve("empty.csv.gz"));
        assertTrue(openError(emptyGz).contains("empty file (gzipped)"));
        assertTrue(openError(write("other.csv", "source_id,teff,logg\n1,2,3\n"))
                .contains("not a recognised XP spectra layout (columns: source_id, teff, logg)"));
        assertTrue(openError(write("bad.ecsv", "# %ECSV 1.0\n# ---\n# datatype: [oops\nsource_id,flux,flux_error\n"))
                .contains("cannot read the ECSV header"));
        String noCorrelations = String.join(",", "source_id", "bp_coefficients", "bp_coefficient_errors",
                "bp_n_parameters", "bp_standard_deviation", "rp_coefficients", "rp_coefficient_errors",
                "rp_n_parameters", "rp_standard_deviation");
        String msg = openError(write("partial.csv", noCorrelations + "\n"));
        assertTrue(msg, msg.contains("lacks columns bp_coefficient_correlations, rp_coefficient_correlations"));
        try {
            SpectrumSources.open(tmp.getRoot().toPath().resolve("absent.csv"), N);
            fail("opened a file that does not exist");
        } catch (NoSuchFileException e) {
            assertTrue(e.getMessage().contains("absent.csv"));
        }
        assertTrue(openError(tmp.getRoot().toPath()).contains("is a directory"));
    }

    @Test
    public void aTextFileCutInARowEndsWithAnErrorRowNotASilentLoss() throws IOException {
        for (String name : List.of(ArchiveFiles.CONTINUOUS_ECSV, ArchiveFiles.CONTINUOUS_CSV)) {
            Path src = ArchiveFiles.file(name);
            Path cut = truncated("cut-" + name, src, (int) Files.size(src) - 20000);
            List<SpectraCsv.Row> rows = rows(cut);
            assertEquals(name, 2, rows.size());
            assertTrue(rows.get(0).ok());
            assertFalse(rows.get(1).ok());
            assertTrue(rows.get(1).error(), rows.get(1).error().contains("row 1 (line "));
        }
    }

    @Test
    public void malformedValuesAreErrorRowsNamingTheSourceAndColumn() throws IOException {
        List<String> lines = Files.readAllLines(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_CSV), StandardCharsets.UTF_8);
        String good = lines.get(1);
        // a NaN coefficient, a word in the errors, a wrong n_parameters, a missing standard deviation
        String nan = good.replaceFirst("\\(56947\\.03696840172,", "(nan,");
        String word = good.replaceFirst("\\(55\\.701263,", "(abc,");
        String[] f = good.split(",", -1);
        String n54 = good.replaceFirst("^([^,]*,[^,]*,[^,]*,[^,]*,)55,", "$154,");
        String noSigma = good.replaceFirst("^([^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,)" + f[7].replace(".", "\\.") + ",", "$1,");
        Path file = write("malformed.csv", String.join("\n", lines.get(0), nan, word, n54, noSigma, good) + "\n");
        List<SpectraCsv.Row> rows = rows(file);
        assertEquals(5, rows.size());
        String id = "source 5853498713190525696: ";
        assertEquals(id + "bp_coefficients[0] = NaN is not finite", rows.get(0).error());
        assertEquals(id + "bp_coefficient_errors[0] = 'abc' is not a number", rows.get(1).error());
        assertEquals(id + "bp_coefficients has 55 values, bp_n_parameters is 54", rows.get(2).error());
        assertEquals(id + "bp_standard_deviation is missing", rows.get(3).error());
        assertTrue(rows.get(4).ok());
    }

    @Test
    public void sampledSpectraOnAnotherGridAreRefused() throws IOException {
        // arrays of another length
        List<String> lines = Files.readAllLines(ArchiveFiles.file(ArchiveFiles.SAMPLED_ECSV), StandardCharsets.UTF_8);
        List<String> shortened = new ArrayList<>();
        for (String line : lines) {
            shortened.add(line.startsWith("#") || !line.contains("[") ? line
                    : line.replaceAll(",[^,\\[\\]]+\\]", "]")); // drop each array's last value
        }
        Path shortFile = write("short.ecsv", String.join("\n", shortened) + "\n");
        String msg = openError(shortFile);
        assertTrue(msg, msg.contains("has a flux array of 342 samples") && msg.contains("another wavelength grid"));
        // GaiaXPy's sampling file beside a CSV
        Path dir = tmp.newFolder("gaiaxpy-output").toPath();
        Path csv = Files.copy(ArchiveFiles.file(ArchiveFiles.SAMPLED_CSV), dir.resolve("spectra.csv"));
        StringBuilder grid = new StringBuilder("pos\n\"(");
        for (int i = 0; i < N; i++) {
            grid.append(i == 0 ? "" : ", ").append(330.0 + 2.0 * i);
        }
        Files.write(dir.resolve("spectra_sampling.csv"), (grid + ")\"\n").getBytes(StandardCharsets.UTF_8));
        msg = openError(csv);
        assertTrue(msg, msg.contains("spectra are sampled on another wavelength grid (343 points 330-1014 nm in "
                + "steps of 2 nm, from spectra_sampling.csv)"));
        Files.write(dir.resolve("spectra_sampling.csv"), grid.toString().replace("330.0", "336.0")
                .replaceAll("(\\d+)\\.0", "$1").getBytes(StandardCharsets.UTF_8));
        StringBuilder right = new StringBuilder("pos\n\"(");
        for (int i = 0; i < N; i++) {
            right.append(i == 0 ? "" : ", ").append(336.0 + 2.0 * i);
        }
        Files.write(dir.resolve("spectra_sampling.csv"), (right + ")\"\n").getBytes(StandardCharsets.UTF_8));
        assertEquals(2, rows(csv).size());
        // a model on another grid
        try {
            SpectrumSources.open(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_CSV), 300);
            fail("read archive spectra for a 300-sample grid");
        } catch (SpectraFileException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("GaiaXPy's default sampling (343 points 336-1020 nm "
                    + "in steps of 2 nm), the model's grid has 300 samples"));
        }
    }

    @Test
    public void aSampledRowWithNonFiniteSamplesIsAnErrorRow() throws IOException {
        List<String> lines = Files.readAllLines(ArchiveFiles.file(ArchiveFiles.SAMPLED_CSV), StandardCharsets.UTF_8);
        String bad = lines.get(1).replaceFirst("\\(3\\.3061049E-16, 2\\.0851757E-16,", "(nan, inf,");
        List<SpectraCsv.Row> rows = rows(write("nan.csv", String.join("\n", lines.get(0), bad, lines.get(2)) + "\n"));
        assertEquals("source 6: 2 samples between 336 and 338 nm are not finite (BP missing?)", rows.get(0).error());
        assertTrue(rows.get(1).ok());
    }

    // -- streaming ------------------------------------------------------------------------------

    /**
     * A gzipped XP continuous ECSV (the archive's bulk layout) of {@code rows} copies of a compact
     * row: the example's BP and RP coefficients, uncorrelated, each with its own source_id.
     */
    private Path bulkFile(String name, int rows) throws IOException {
        List<String> lines = Files.readAllLines(ArchiveFiles.file(ArchiveFiles.CONTINUOUS_ECSV), StandardCharsets.UTF_8);
        int names = 0;
        while (lines.get(names).startsWith("#")) {
            names++;
        }
        List<String> f = new ArrayList<>(TextTableCursor.split(lines.get(names + 1), ','));
        StringBuilder zeros = new StringBuilder("[0");
        for (int i = 1; i < 55 * 54 / 2; i++) {
            zeros.append(",0");
        }
        zeros.append(']');
        f.set(11, zeros.toString()); // bp_coefficient_correlations
        f.set(23, zeros.toString()); // rp_coefficient_correlations
        Path file = tmp.getRoot().toPath().resolve(name);
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file), 1 << 16);
             Writer w = new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8)) {
            for (int i = 0; i <= names; i++) {
                w.write(lines.get(i));
                w.write('\n');
            }
            StringBuilder rest = new StringBuilder();
            for (int k = 1; k < f.size(); k++) {
                String v = f.get(k);
                rest.append(',').append(v.contains(",") ? '"' + v + '"' : v);
            }
            rest.append('\n');
            for (int r = 0; r < rows; r++) {
                w.write(Long.toString(1000000L + r));
                w.write(rest.toString());
            }
        }
        return file;
    }

    @Test
    public void aLargeGzippedBulkFileIsStreamedRowByRow() throws IOException {
        int n = 20000;
        Path whole = bulkFile("XpContinuousMeanSpectrum_big.csv.gz", n);
        long count = 0;
        try (XpContinuousReader r = SpectrumSources.openContinuous(whole)) {
            for (XpContinuousRecord rec = r.next(); rec != null; rec = r.next()) {
                assertTrue(rec.toString(), rec.ok());
                assertEquals(count, rec.rowIndex());
                assertEquals(Long.toString(1000000L + count), rec.sourceId());
                count++;
            }
        }
        assertEquals(n, count);
        // The same file cut short: a reader that collected the rows first would fail before
        // returning any; this one hands out the rows before the cut, one at a time, then names the file.
        byte[] all = Files.readAllBytes(whole);
        Path cut = whole.resolveSibling("XpContinuousMeanSpectrum_cut.csv.gz");
        Files.write(cut, Arrays.copyOf(all, (int) (all.length * 0.95)));
        count = 0;
        try (SpectrumReader r = SpectrumSources.open(cut, N)) {
            for (SpectraCsv.Row row = r.next(); row != null; row = r.next()) {
                count++;
            }
            fail("read a truncated gzip file to its end");
        } catch (SpectraFileException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith(cut + ": the file is corrupt or truncated"));
        }
        assertTrue("rows before the cut: " + count, count > 0.9 * n);
    }
}
