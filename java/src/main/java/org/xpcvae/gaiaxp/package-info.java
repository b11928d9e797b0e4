/**
 * Native readers of the Gaia DR3 archive's XP spectra: the XP continuous product (archive CSV,
 * ECSV, FITS and the gzipped ECSV bulk files), calibrated onto the models' wavelength grid with a
 * Java port of GaiaXPy's {@code calibrate} ({@link org.xpcvae.gaiaxp.XpCalibrator}; GaiaXPy,
 * https://github.com/gaia-dpci/GaiaXPy, BSD 3-Clause licence, Copyright (c) DPAC, CU5, DPCI), and
 * the XP sampled product (archive CSV, ECSV). {@link org.xpcvae.gaiaxp.SpectrumSources} opens any
 * spectra file, the project CSV included, as an {@link org.xpcvae.SpectrumReader}.
 */
package org.xpcvae.gaiaxp;
