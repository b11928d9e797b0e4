"""The forward model: seven parameters -> normalised Gaia XP spectrum (science.md section 2).

For each parameter vector (Teff, log g, [M/H], log Mdot, ff, M, A0):

1. R = sqrt(G M / g)                                     (:func:`stellar.stellar_radius`)
2. L_acc = (1 - 1/r_in) G M Mdot / R, R_in = r_in R      (:func:`stellar.accretion_luminosity`)
3. F = L_acc / (4 pi R^2 ff)                             (:func:`stellar.accretion_energy_flux`)
4. spot + hydrogen slab emission per unit column area    (:class:`accretion.AccretionShock`)
5. F_lambda = (1 - ff) F_phot + ff F_acc                 (ff = 0: the photosphere exactly)
6. x 10^(-0.4 A0 k(lambda)/k(541.4 nm))                  (:class:`extinction.ExtinctionCurve`)
7. XP resolution and sampling                            (:class:`instrument.XPInstrument`)
8. divide by the mean over the 343 samples               (the factor is returned as ``norm``)

Order of operations (a documented approximation): the accretion component is
computed on a 0.5 nm grid and brought to XP resolution by the instrument
operator; the photosphere is delivered at XP resolution by the photosphere
object (the empirical one is intrinsically at XP resolution); the two are mixed at
XP sampling and the extinction is applied at XP sampling (see
:mod:`xpcvae.forward.extinction` for the size of the error).

``norm`` is the mean over the 343 samples of the extinguished surface flux density
in W m^-2 nm^-1: the flux at Earth is ``flux * norm * (R/d)^2`` for a star of radius
R at distance d.
"""

from __future__ import annotations

import numpy as np

from xpcvae import __version__, params
from xpcvae.forward.accretion import DEFAULT_SLAB_FRACTION, DEFAULT_SLAB_TEMPERATURE, AccretionShock
from xpcvae.forward.extinction import ExtinctionCurve
from xpcvae.forward.instrument import DEFAULT_FWHM_BP, DEFAULT_FWHM_RP, WAVELENGTH, default_instrument
from xpcvae.forward.photosphere import Photosphere, make_photosphere
from xpcvae.forward.stellar import accretion_energy_flux, accretion_luminosity, stellar_radius

CHUNK = 4096  # rows per internal batch (bounds the memory of the fine-grid accretion spectra)


class ForwardModel:
    """Parameters (N, 7) -> (flux (N, 343) normalised to mean 1, norm (N,)).

    ``ForwardModel(photosphere="empirical", extinction_curve="F99", r_in=5.0)``;
    keyword-only options: ``rv`` (R_V of the curve, 3.1), ``slab_temperature``
    (1e4 K), ``slab_fraction`` (0.25), ``fwhm_bp`` / ``fwhm_rp`` (LSF FWHM in
    pseudo-wavelength samples, 1.4 / 2.0).
    """

    def __init__(self, photosphere: str | Photosphere = "empirical", extinction_curve: str = "F99",
                 r_in: float = 5.0, *, rv: float = 3.1, slab_temperature: float = DEFAULT_SLAB_TEMPERATURE,
                 slab_fraction: float = DEFAULT_SLAB_FRACTION, fwhm_bp: float = DEFAULT_FWHM_BP,
                 fwhm_rp: float = DEFAULT_FWHM_RP):
        if not (np.isfinite(r_in) and r_in > 1.0):
            raise ValueError(f"r_in (inner disk radius in stellar radii) must be > 1, got {r_in}")
        self.r_in = float(r_in)
        self.instrument = default_instrument(float(fwhm_bp), float(fwhm_rp))
        self.extinction = ExtinctionCurve(extinction_curve, rv)
        self.photosphere = make_photosphere(photosphere, self.instrument)
        self.shock = AccretionShock(self.instrument, slab_temperature, slab_fraction)
        self.wavelength = WAVELENGTH
        self._k_rel = self.extinction.relative(WAVELENGTH)

    # ------------------------------------------------------------------------------------------
    def components(self, theta) -> dict:
        """All intermediate quantities for validated ``theta`` (N, 7), unchunked:
        ``radius`` (m), ``l_acc`` (W), ``energy_flux`` (W m^-2, NaN where ff = 0),
        ``t_spot`` (K, NaN where ff = 0), ``photosphere`` and ``accretion`` (surface flux at
        XP resolution, W m^-2 nm^-1; accretion 0 where ff = 0), ``mixed`` (step 5),
        ``attenuation`` (step 6 factor), ``observed`` (mixed x attenuation)."""
        theta = params.validate(theta)
        teff, logg, mh, log_mdot, ff, mass, a0 = theta.T
        radius = stellar_radius(mass, logg)
        l_acc = accretion_luminosity(mass, radius, log_mdot, self.r_in)
        phot = self.photosphere.surface_flux(teff, logg, mh, self.instrument)
        acc = np.zeros_like(phot)
        energy_flux = np.full(teff.shape, np.nan)
        t_spot = np.full(teff.shape, np.nan)
        on = ff > 0
        if on.any():
            energy_flux[on] = accretion_energy_flux(l_acc[on], radius[on], ff[on])
            t_spot[on] = self.shock.spot_temperature(teff[on], energy_flux[on])
            acc[on] = self.shock.surface_flux(teff[on], energy_flux[on])
        mixed = (1.0 - ff)[:, None] * phot + ff[:, None] * acc
        attenuation = 10.0 ** (-0.4 * a0[:, None] * self._k_rel[None, :])
        return {"radius": radius, "l_acc": l_acc, "energy_flux": energy_flux, "t_spot": t_spot,
                "photosphere": phot, "accretion": acc, "mixed": mixed, "attenuation": attenuation,
                "observed": mixed * attenuation}

    def spectra(self, theta):
        """``(flux, norm)``: flux (N, 343) float64 normalised to mean 1 over the 343 samples,
        norm (N,) the divided-out mean extinguished surface flux density (W m^-2 nm^-1).

        Raises :class:`xpcvae.params.ParameterError` for malformed or out-of-range ``theta``.
        """
        theta = params.validate(theta)
        n = theta.shape[0]
        flux = np.empty((n, WAVELENGTH.size))
        norm = np.empty(n)
        for a in range(0, n, CHUNK):
            observed = self.components(theta[a:a + CHUNK])["observed"]
            m = observed.mean(axis=1)
            if np.any(~np.isfinite(observed)) or np.any(m <= 0):
                row = a + int(np.argmax(~np.isfinite(observed).all(axis=1) | (m <= 0)))
                raise FloatingPointError(f"forward model produced a non-finite or non-positive spectrum for row {row}")
            flux[a:a + CHUNK] = observed / m[:, None]
            norm[a:a + CHUNK] = m
        return flux, norm

    def describe(self) -> dict:
        """Provenance of the model (JSON-ready)."""
        return {
            "package": "xpcvae",
            "package_version": __version__,
            "photosphere": self.photosphere.describe(),
            "photosphere_spec": self.photosphere.spec(),
            "extinction": self.extinction.describe(),
            "r_in_stellar_radii": self.r_in,
            "accretion": self.shock.describe(),
            "instrument": self.instrument.describe(),
            "normalisation": "flux divided by its mean over the 343 samples; norm = that mean, "
                             "extinguished surface flux density in W m-2 nm-1",
        }
