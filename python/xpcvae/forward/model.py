"""The forward model: seven parameters -> normalised Gaia XP spectrum (docs/science.md section 2).

:class:`ForwardModel` chains the stellar relations, the accretion shock, the photosphere, the
extinction and the instrument; the steps, their order and its approximations are in
docs/grid.md section 2. :func:`model_spectra` evaluates the model of a :class:`ForwardConfig`,
built once per process.
"""

from __future__ import annotations

import functools

import numpy as np

from xpcvae import __version__, params
from xpcvae.forward.accretion import AccretionShock
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.extinction import ExtinctionCurve
from xpcvae.forward.instrument import N_WAVE, WAVELENGTH, default_instrument
from xpcvae.forward.photosphere import Photosphere, make_photosphere
from xpcvae.forward.stellar import accretion_energy_flux, accretion_luminosity, stellar_radius

CHUNK = 4096  # rows per internal batch (bounds the memory of the fine-grid accretion spectra)


class ForwardModel:
    """Parameters (N, 7) -> (flux (N, N_WAVE) normalised to mean 1, norm (N,)).

    The keyword arguments and their defaults are the fields of :class:`ForwardConfig`
    (``photosphere`` may also be a :class:`Photosphere`); :attr:`config` is the
    :class:`ForwardConfig` that rebuilds this model.
    """

    def __init__(self, photosphere: str | Photosphere = ForwardConfig.photosphere,
                 extinction_curve: str = ForwardConfig.extinction_curve, r_in: float = ForwardConfig.r_in, *,
                 rv: float = ForwardConfig.rv, slab_temperature: float = ForwardConfig.slab_temperature,
                 slab_fraction: float = ForwardConfig.slab_fraction, fwhm_bp: float = ForwardConfig.fwhm_bp,
                 fwhm_rp: float = ForwardConfig.fwhm_rp):
        if not (np.isfinite(r_in) and r_in > 1.0):
            raise ValueError(f"r_in (inner disk radius in stellar radii) must be > 1, got {r_in}")
        self.r_in = float(r_in)
        self.instrument = default_instrument(float(fwhm_bp), float(fwhm_rp))
        self.extinction = ExtinctionCurve(extinction_curve, rv)
        self.photosphere = make_photosphere(photosphere, self.instrument)
        self.shock = AccretionShock(self.instrument, slab_temperature, slab_fraction)
        self.wavelength = WAVELENGTH
        self._k_rel = self.extinction.relative(WAVELENGTH)
        self.config = ForwardConfig(
            photosphere=self.photosphere.spec(), extinction_curve=self.extinction.name, rv=self.extinction.rv,
            r_in=self.r_in, slab_temperature=self.shock.slab_temperature, slab_fraction=self.shock.slab_fraction,
            fwhm_bp=self.instrument.fwhm_bp, fwhm_rp=self.instrument.fwhm_rp)

    @classmethod
    def from_config(cls, config: ForwardConfig) -> "ForwardModel":
        """The model of ``config`` (a new one; :func:`cached_model` shares one per process)."""
        return cls(**config.to_dict())

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
        """``(flux, norm)``: flux (N, N_WAVE) float64 normalised to mean 1 over the samples,
        norm (N,) the divided-out mean extinguished surface flux density (W m^-2 nm^-1).

        Raises :class:`xpcvae.params.ParameterError` for malformed or out-of-range ``theta``.
        """
        theta = params.validate(theta)
        n = theta.shape[0]
        flux = np.empty((n, N_WAVE))
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
        """Provenance of the model's components (JSON-ready); the settings are :attr:`config`."""
        return {
            "package": "xpcvae",
            "package_version": __version__,
            "photosphere": self.photosphere.describe(),
            "extinction": self.extinction.describe(),
            "accretion": self.shock.describe(),
            "instrument": self.instrument.describe(),
            "normalisation": f"flux divided by its mean over the {N_WAVE} samples; norm = that mean, "
                             "extinguished surface flux density in W m-2 nm-1",
        }


@functools.lru_cache(maxsize=4)
def cached_model(config: ForwardConfig) -> ForwardModel:
    """The model of ``config``, built once per process (building the empirical one takes ~0.1 s)."""
    return ForwardModel.from_config(config)


def model_spectra(theta, config: ForwardConfig, wavelength=None) -> np.ndarray:
    """Spectra (N, N_WAVE) of the model of ``config`` at parameters ``theta`` (N, 7), normalised to mean 1.

    ``wavelength``: the grid the caller's spectra are on (a bundle's), refused if it is not the model's.
    """
    if not isinstance(config, ForwardConfig):
        raise TypeError(f"model_spectra takes a ForwardConfig, got {type(config).__name__}")
    if wavelength is not None and not np.allclose(np.asarray(wavelength, dtype=float), WAVELENGTH, atol=1e-6):
        raise ValueError("the bundle's wavelength grid differs from the forward model's")
    flux, _ = cached_model(config).spectra(np.atleast_2d(np.asarray(theta, dtype=float)))
    return np.asarray(flux, dtype=float)
