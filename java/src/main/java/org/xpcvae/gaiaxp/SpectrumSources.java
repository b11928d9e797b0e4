package org.xpcvae.gaiaxp;

import org.xpcvae.CsvFormatException;
import org.xpcvae.ModelBundle;
import org.xpcvae.SpectraCsv;
import org.xpcvae.SpectrumReader;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The one entry point for reading spectra files: the project CSV and the Gaia DR3 archive's XP
 * products, told apart by content ({@link #open(Path, ModelBundle)}).
 *
 * <ul>
 *   <li>Project CSV ({@code source_id, flux_0..flux_342, flux_error_0..}, docs/formats.md): read
 *       by {@link SpectraCsv} exactly as before; {@code -} reads it from standard input.</li>
 *   <li>XP continuous (archive CSV, ECSV, FITS, and the archive's gzipped bulk files
 *       {@code XpContinuousMeanSpectrum_*.csv.gz}, which hold ECSV): calibrated onto GaiaXPy's
 *       default sampling, 336-1020 nm in 2 nm steps, by {@link XpCalibrator}, the Java port of
 *       GaiaXPy's {@code calibrate}.</li>
 *   <li>XP sampled (archive CSV, ECSV, also gzipped or FITS): the spectra as they are, after
 *       checking that they are on that sampling.</li>
 * </ul>
 *
 * <p>Every reader streams: it holds one row at a time, so memory does not grow with the number of
 * rows. ECSV and FITS are read with STIL ({@code uk.ac.starlink:stil}), CSV line by line here.
 */
public final class SpectrumSources {
    private SpectrumSources() {
    }

    /**
     * Opens {@code file} for a model: checks that the bundle's wavelength grid is the spectra
     * CSV's and GaiaXPy's default sampling ({@link SpectraCsv#checkGrid}), then as
     * {@link #open(Path, int)}.
     *
     * @throws CsvFormatException   if the bundle is on another grid
     * @throws SpectraFileException naming the file if it cannot be read (see {@link #open(Path, int)})
     */
    public static SpectrumReader open(Path file, ModelBundle bundle) throws IOException {
        SpectraCsv.checkGrid(bundle, file);
        return open(file, bundle.spectrumLength());
    }

    /**
     * Opens {@code file}, telling its format by content and its layout by its columns.
     *
     * @param spectrumLength samples per spectrum: the project CSV is read with that many; the
     *                       archive products need GaiaXPy's default sampling, 343 samples
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws CsvFormatException   if a project CSV lacks required columns ({@link SpectraCsv#open})
     * @throws SpectraFileException naming the file if its format or layout is not recognised, an
     *                              archive product lacks required columns, its spectra are on
     *                              another grid, or it is corrupt
     */
    public static SpectrumReader open(Path file, int spectrumLength) throws IOException {
        if (file.toString().equals("-")) {
            return SpectraCsv.open(file, spectrumLength); // standard input: the project CSV
        }
        FileFormat format = FileFormat.detect(file);
        if (format.blank()) {
            return SpectraCsv.open(file, spectrumLength); // refused there, with the project CSV's message
        }
        TableCursor cursor = format.open(file);
        try {
            Layout layout = Layout.of(cursor.columns(), file);
            if (layout == Layout.PROJECT) {
                if (format.kind() != FileFormat.Kind.CSV) {
                    throw new SpectraFileException(file + ": the project layout (source_id, flux_0, ...) is read "
                            + "from a plain CSV file only, this is " + format.label());
                }
                cursor.close();
                // a gzipped one too: the spectra-CSV grammar refuses it there, with the hint to decompress it
                return SpectraCsv.open(file, spectrumLength);
            }
            double[] grid = XpCalibrator.defaultSamplingNm();
            if (spectrumLength != grid.length) {
                throw new SpectraFileException(file + ": Gaia archive XP spectra are read on GaiaXPy's default "
                        + "sampling (" + SampledReader.gridText(grid) + "), the model's grid has " + spectrumLength
                        + " samples");
            }
            if (layout == Layout.CONTINUOUS) {
                return new CalibratingReader(XpContinuousReader.over(cursor), XpCalibrator.onDefaultSampling());
            }
            return SampledReader.over(cursor, grid);
        } catch (IOException | RuntimeException e) {
            cursor.close();
            throw e;
        }
    }

    /**
     * Opens an XP continuous product for its records before calibration (with
     * {@link XpCalibrator#calibrate} they give the spectra in double precision).
     *
     * @throws SpectraFileException naming the file if it is not an XP continuous product or cannot be read
     */
    public static XpContinuousReader openContinuous(Path file) throws IOException {
        return XpContinuousReader.open(file);
    }
}
