package org.xpcvae.gaiaxp;

import org.xpcvae.Csv;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * GaiaXPy's external calibration instrument model of one band
 * ({@code gaiaxpy.calibrator.external_instrument_model.ExternalInstrumentModel}): the dispersion
 * function (wavelength to pseudo-wavelength), the instrument response and the inverse bases,
 * read from the copies of GaiaXPy's configuration files in this package's resources (README.md
 * and GAIAXPY_LICENSE.txt there). {@link #designMatrix} is the port of
 * {@code SampledBasisFunctions.from_external_instrument_model}. Immutable.
 */
final class InstrumentModel {
    /** Telescope pupil area [m^2] ({@code gaiaxpy.core.satellite.TELESCOPE_PUPIL_AREA}). */
    static final double TELESCOPE_PUPIL_AREA = 0.7278;
    /** Speed of light [m/s] ({@code gaiaxpy.core.nature.C}, Gaia Parameter Database). */
    static final double C = 2.99792458E8;
    /** Planck constant [J s] ({@code gaiaxpy.core.nature.PLANCK}, Gaia Parameter Database). */
    static final double PLANCK = 6.62607004E-34;

    private final Band band;
    private final String model;
    private final int nBases;
    private final double pwlRangeMin;
    private final double pwlRangeMax;
    private final double normRangeMin;
    private final double normRangeMax;
    private final int nInverseBasesCoefficients;
    /** nBases x nInverseBasesCoefficients. */
    private final double[][] inverseBasesCoefficients;
    /** nBases x nBases (the transformed set has the dimension of the bases). */
    private final double[][] transformationMatrix;
    private final NotAKnotSpline pseudoWavelength;
    private final NotAKnotSpline response;

    private InstrumentModel(Band band, String model, Map<String, String> bases, double[][] dispersion,
                            double[][] response) {
        this.band = band;
        this.model = model;
        String where = resourceName(band, model, "bases");
        nBases = integer(bases, "nBases", where);
        pwlRangeMin = number(bases, "pwlRangeMin", where);
        pwlRangeMax = number(bases, "pwlRangeMax", where);
        normRangeMin = number(bases, "normRangeMin", where);
        normRangeMax = number(bases, "normRangeMax", where);
        nInverseBasesCoefficients = integer(bases, "nInverseBasesCoefficients", where);
        int nTransformed = integer(bases, "nTransformedBases", where);
        if (nTransformed != nBases) {
            throw new IllegalStateException(where + ": nTransformedBases " + nTransformed + " != nBases " + nBases);
        }
        inverseBasesCoefficients = matrix(bases, "inverseBasesCoefficients", nBases, nInverseBasesCoefficients, where);
        transformationMatrix = matrix(bases, "transformationMatrix", nBases, nTransformed, where);
        this.pseudoWavelength = new NotAKnotSpline(dispersion[0], dispersion[1]);
        this.response = new NotAKnotSpline(response[0], response[1]);
    }

    /** GaiaXPy's default model of {@code band} in {@code calibrate}: BP v375wi, RP v142r. */
    static InstrumentModel load(Band band) {
        String model = band == Band.BP ? "v375wi" : "v142r";
        try {
            return new InstrumentModel(band, model, basesRow(resourceName(band, model, "bases")),
                    twoRows(resourceName(band, model, "dispersion")), twoRows(resourceName(band, model, "response")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read GaiaXPy's " + band + " calibration model " + model, e);
        }
    }

    /** GaiaXPy's file name {@code <xp>C03_<model>_<key>.csv} (config.ini, section [calibrator]). */
    private static String resourceName(Band band, String model, String key) {
        return band.columnPrefix().substring(0, 2) + "C03_" + model + "_" + key + ".csv";
    }

    Band band() {
        return band;
    }

    /** The model's name, e.g. {@code v375wi}. */
    String model() {
        return model;
    }

    /** Number of basis functions: the length of a coefficient vector of this band. */
    int basisCount() {
        return nBases;
    }

    /**
     * The design matrix on {@code samplingNm}: row i holds basis function i (in flux units per
     * coefficient) at each sample. Where {@code weights[k]} is 0 the band does not contribute and
     * the Hermite functions are not evaluated (column k is 0), as in GaiaXPy.
     *
     * @return nBases x samplingNm.length
     */
    double[][] designMatrix(double[] samplingNm, double[] weights) {
        int n = samplingNm.length;
        double scale = (normRangeMax - normRangeMin) / (pwlRangeMax - pwlRangeMin);
        double offset = normRangeMin - pwlRangeMin * scale;
        double[] psi = new double[nInverseBasesCoefficients];
        // inverse bases applied to the Hermite functions: nBases x n
        double[][] inverse = new double[nBases][n];
        for (int k = 0; k < n; k++) {
            if (!(weights[k] > 0)) {
                continue;
            }
            double rescaled = pseudoWavelength.value(samplingNm[k]) * scale + offset;
            HermiteFunctions.evaluate(rescaled, nInverseBasesCoefficients, psi);
            for (int i = 0; i < nBases; i++) {
                double[] row = inverseBasesCoefficients[i];
                double s = 0.0;
                for (int j = 0; j < nInverseBasesCoefficients; j++) {
                    s += row[j] * psi[j];
                }
                inverse[i][k] = s;
            }
        }
        double hc = 1.e9 * C * PLANCK;
        double[] norm = new double[n];
        for (int k = 0; k < n; k++) {
            double r = response.value(samplingNm[k]);
            norm[k] = r > 0 ? hc / (TELESCOPE_PUPIL_AREA * r * samplingNm[k]) : 0.0;
        }
        double[][] design = new double[nBases][n];
        for (int i = 0; i < nBases; i++) {
            double[] t = transformationMatrix[i];
            for (int k = 0; k < n; k++) {
                double s = 0.0;
                for (int j = 0; j < nBases; j++) {
                    s += t[j] * inverse[j][k];
                }
                design[i][k] = s * norm[k];
            }
        }
        return design;
    }

    // -- reading GaiaXPy's configuration files --------------------------------------------------

    private static List<String> lines(String resource) throws IOException {
        InputStream in = InstrumentModel.class.getResourceAsStream(resource);
        if (in == null) {
            throw new IOException("resource " + resource + " is missing from the class path");
        }
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (!line.trim().isEmpty()) {
                    out.add(line);
                }
            }
        }
        return out;
    }

    /** A file of two comma-separated rows of numbers (GaiaXPy reads it with numpy.genfromtxt). */
    private static double[][] twoRows(String resource) throws IOException {
        List<String> lines = lines(resource);
        if (lines.size() != 2) {
            throw new IOException(resource + ": expected 2 rows, found " + lines.size());
        }
        double[][] out = new double[2][];
        for (int r = 0; r < 2; r++) {
            out[r] = numbers(lines.get(r), resource);
        }
        if (out[0].length != out[1].length) {
            throw new IOException(resource + ": rows of " + out[0].length + " and " + out[1].length + " values");
        }
        return out;
    }

    /** The header and the one data row of an inverse-bases file, by column name. */
    private static Map<String, String> basesRow(String resource) throws IOException {
        List<String> lines = lines(resource);
        if (lines.size() != 2) {
            throw new IOException(resource + ": expected a header and 1 row, found " + lines.size() + " lines");
        }
        List<String> names = TextTableCursor.split(lines.get(0), ',');
        List<String> values = TextTableCursor.split(lines.get(1), ',');
        if (names == null || values == null || names.size() != values.size()) {
            throw new IOException(resource + ": the header and the row do not have the same number of fields");
        }
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < names.size(); i++) {
            out.put(names.get(i).trim(), values.get(i).trim());
        }
        return out;
    }

    private static double[] numbers(String text, String where) throws IOException {
        String t = text.trim();
        if (t.startsWith("(") && t.endsWith(")")) {
            t = t.substring(1, t.length() - 1);
        }
        String[] parts = t.split(",");
        double[] out = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Csv.parseNumber(parts[i]);
            } catch (NumberFormatException e) {
                throw new IOException(where + ": value " + i + " '" + parts[i] + "' is not a number");
            }
        }
        return out;
    }

    private static String field(Map<String, String> row, String name, String where) {
        String v = row.get(name);
        if (v == null) {
            throw new IllegalStateException(where + ": no column " + name);
        }
        return v;
    }

    private static double number(Map<String, String> row, String name, String where) {
        return Csv.parseNumber(field(row, name, where));
    }

    private static int integer(Map<String, String> row, String name, String where) {
        return Integer.parseInt(field(row, name, where));
    }

    private static double[][] matrix(Map<String, String> row, String name, int rows, int cols, String where) {
        double[] flat;
        try {
            flat = numbers(field(row, name, where), where);
        } catch (IOException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        if (flat.length != rows * cols) {
            throw new IllegalStateException(where + ": " + name + " has " + flat.length + " values, expected "
                    + rows + " x " + cols);
        }
        double[][] out = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(flat, i * cols, out[i], 0, cols);
        }
        return out;
    }
}
