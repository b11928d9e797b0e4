package org.xpcvae.example;

import org.xpcvae.ModelBundle;
import org.xpcvae.Parameter;
import org.xpcvae.PosteriorSampler;
import org.xpcvae.PosteriorSummary;
import org.xpcvae.SpectraCsv;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;

/**
 * Samples the posterior of the first spectrum of a spectra CSV with a model bundle and prints
 * its summary: {@code FirstSpectrum BUNDLE_DIR SPECTRA_CSV}.
 */
public final class FirstSpectrum {
    private static final int DRAWS = 1000;
    private static final long SEED = 42L;

    private FirstSpectrum() {
    }

    /**
     * Entry point.
     *
     * @param args the bundle directory and the spectra CSV
     * @throws IOException if the spectra CSV cannot be read
     */
    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: FirstSpectrum BUNDLE_DIR SPECTRA_CSV");
            System.exit(2);
        }
        Path spectra = Paths.get(args[1]);
        ModelBundle bundle = ModelBundle.load(Paths.get(args[0]));
        SpectraCsv.Row row;
        try (SpectraCsv.Reader reader = SpectraCsv.open(spectra, bundle.spectrumLength())) {
            row = reader.next();
        }
        if (row == null || !row.ok()) {
            System.err.println(spectra + ": no readable first row" + (row == null ? "" : ": " + row.error()));
            System.exit(1);
        }
        try (PosteriorSampler sampler = new PosteriorSampler(bundle)) {
            // keyed by the source id, as `xpcvae infer` keys every row: the same draws
            PosteriorSummary summary = sampler.sample(row.spectrum(), DRAWS, SEED).summary();
            System.out.printf(Locale.ROOT, "%s: %d posterior draws (seed %d)%n", summary.sourceId(),
                    summary.sampleCount(), SEED);
            System.out.printf(Locale.ROOT, "%-10s %12s %12s %12s  %s%n", "parameter", "median", "p16", "p84", "unit");
            for (int p = 0; p < summary.parameters().size(); p++) {
                Parameter par = summary.parameters().get(p);
                System.out.printf(Locale.ROOT, "%-10s %12.4f %12.4f %12.4f  %s%n", par.name(), summary.median(p),
                        summary.p16(p), summary.p84(p), par.unit());
            }
        }
    }
}
