package org.xpcvae.gaiaxp;

import org.xpcvae.SpectraCsv;
import org.xpcvae.Spectrum;
import org.xpcvae.SpectrumReader;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The rows of an XP continuous product calibrated onto the model grid ({@link XpCalibrator}), one
 * at a time. A source lacking a band, a malformed row, or a calibrated spectrum with a non-finite
 * value or a non-positive error becomes an error row naming the source (the Python reader's
 * messages); the flux and error are rounded to float32 for the networks.
 */
final class CalibratingReader implements SpectrumReader {
    private final XpContinuousReader records;
    private final XpCalibrator calibrator;
    private final double[] grid;

    CalibratingReader(XpContinuousReader records, XpCalibrator calibrator) {
        this.records = records;
        this.calibrator = calibrator;
        this.grid = calibrator.samplingNm();
    }

    @Override
    public SpectraCsv.Row next() throws IOException {
        XpContinuousRecord r = records.next();
        if (r == null) {
            return null;
        }
        if (r.error() != null) {
            return SpectraCsv.Row.error(r.rowIndex(), r.lineNumber(), r.sourceId(), r.error());
        }
        if (!r.missingBands().isEmpty()) {
            return SpectraCsv.Row.error(r.rowIndex(), r.lineNumber(), r.sourceId(),
                    RowMessages.missingBands(r.sourceId(), r.missingBands(), grid));
        }
        CalibratedSpectrum c;
        try {
            c = calibrator.calibrate(r);
        } catch (IllegalArgumentException e) {
            return SpectraCsv.Row.error(r.rowIndex(), r.lineNumber(), r.sourceId(), e.getMessage());
        }
        double[] flux = c.flux();
        double[] error = c.fluxError();
        String problem = RowMessages.nonFinite(r.sourceId(), flux, error, grid);
        if (problem == null) {
            problem = RowMessages.nonPositiveError(r.sourceId(), error, grid);
        }
        if (problem != null) {
            return SpectraCsv.Row.error(r.rowIndex(), r.lineNumber(), r.sourceId(), problem);
        }
        return SpectraCsv.Row.ok(r.rowIndex(), r.lineNumber(), Spectrum.of(r.sourceId(), flux, error));
    }

    @Override
    public Path file() {
        return records.file();
    }

    @Override
    public void close() throws IOException {
        records.close();
    }
}
