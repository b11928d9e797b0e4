"""The accretion-shock component (docs/science.md section 2, steps 3-5).

Per unit area of the accretion columns the shock region emits a shock-heated spot (a
blackbody) plus an isothermal pure-hydrogen slab, ``F_acc = pi B(T_spot) + pi B(T_slab)
(1 - exp(-tau))``, with the energy budget, the slab emissivity, the geometry and the optical
depth chosen as documented in docs/grid.md section 2, step 4.
"""

from __future__ import annotations

import functools

import numpy as np

from xpcvae.forward import constants as K
from xpcvae.forward.instrument import FINE_WAVELENGTH, XPInstrument, default_instrument
from xpcvae.forward.stellar import planck_surface_flux, spot_temperature

DEFAULT_SLAB_TEMPERATURE = 1.0e4  # K
DEFAULT_SLAB_FRACTION = 0.25
N_MAX = 50  # highest hydrogen level whose recombination continuum is summed


def hydrogen_continuum_emissivity_nu(frequency_hz, temperature, n_max: int = N_MAX) -> np.ndarray:
    """Relative emissivity per unit frequency of an optically thin hydrogen plasma
    (free-free + bound-free onto n >= 2, Gaunt factors 1; docs/grid.md section 2, step 4)."""
    nu = np.asarray(frequency_hz, dtype=float)
    kt = K.K_B * float(temperature)
    chi = K.RYDBERG_ENERGY
    h_nu = K.H * nu
    total = np.ones_like(nu)
    for n in range(2, n_max + 1):
        edge = chi / n**2
        term = 2.0 * chi / (n**3 * kt) * np.exp(chi / (n**2 * kt))
        total = total + np.where(h_nu >= edge, term, 0.0)
    return np.exp(-h_nu / kt) * total


def hydrogen_continuum_emissivity(wavelength_nm, temperature, n_max: int = N_MAX) -> np.ndarray:
    """Relative emissivity per unit wavelength ``j_lambda = j_nu c / lambda^2`` (arbitrary scale)."""
    lam = np.asarray(wavelength_nm, dtype=float)
    nu = K.C / (lam * 1e-9)
    return hydrogen_continuum_emissivity_nu(nu, temperature, n_max) * nu / lam


@functools.lru_cache(maxsize=8)
def _emissivity_norm(temperature: float) -> float:
    """Integral of :func:`hydrogen_continuum_emissivity_nu` over all frequencies (per unit
    frequency) -- so that ``j_lambda / norm`` integrates to 1 over wavelength in nm."""
    kt = K.K_B * temperature
    nu_max = 60.0 * kt / K.H  # exp(-60): negligible beyond
    nu_ly = K.RYDBERG_ENERGY / K.H
    # piecewise integration between the recombination edges (the integrand is smooth in between)
    edges = sorted({0.0, *(nu_ly / n**2 for n in range(2, N_MAX + 1) if nu_ly / n**2 < nu_max), nu_max})
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        x, w = np.polynomial.legendre.leggauss(64)
        nu = 0.5 * (b - a) * x + 0.5 * (b + a)
        # Gauss-Legendre nodes lie strictly inside the piece, so the edge steps are handled exactly
        total += 0.5 * (b - a) * np.sum(w * hydrogen_continuum_emissivity_nu(nu, temperature))
    # j_lambda = j_nu * nu / lambda(nm) per nm: integral over lambda(nm) equals integral over nu
    return total


class AccretionShock:
    """Spot + slab emission of the accretion columns, per unit column area.

    ``AccretionShock(instrument=None, slab_temperature=1e4, slab_fraction=0.25)``.
    All fluxes are surface flux densities in W m^-2 nm^-1; ``energy_flux`` is the
    column energy flux F in W m^-2.
    """

    def __init__(
        self,
        instrument: XPInstrument | None = None,
        slab_temperature: float = DEFAULT_SLAB_TEMPERATURE,
        slab_fraction: float = DEFAULT_SLAB_FRACTION,
    ):
        if not (np.isfinite(slab_temperature) and 5.0e3 <= slab_temperature <= 3.0e4):
            raise ValueError(f"slab_temperature = {slab_temperature} K is outside the supported 5000-30000 K")
        if not (np.isfinite(slab_fraction) and 0.0 <= slab_fraction < 1.0):
            raise ValueError(f"slab_fraction = {slab_fraction} must lie in [0, 1)")
        self.instrument = instrument if instrument is not None else default_instrument()
        self.slab_temperature = float(slab_temperature)
        self.slab_fraction = float(slab_fraction)
        lam = FINE_WAVELENGTH
        #: slab emissivity on the fine grid, normalised to unit integral over all wavelengths (1/nm)
        self.slab_shape = hydrogen_continuum_emissivity(lam, self.slab_temperature) / _emissivity_norm(
            self.slab_temperature
        )
        self.slab_planck = planck_surface_flux(lam, self.slab_temperature)
        #: optical depth per unit energy flux: tau_lambda = F * tau_per_flux
        self.tau_per_flux = self.slab_fraction * self.slab_shape / self.slab_planck
        self._build_slab_table()

    # -- slab energy bookkeeping -------------------------------------------------------------------
    def _build_slab_table(self) -> None:
        """Tabulate F_slab(F) / (f F) (1 in the thin limit) over log10 F = -4..24 (W m^-2)."""
        self._log_f = np.linspace(-4.0, 24.0, 561)
        if self.slab_fraction == 0.0:
            self._ratio = np.ones_like(self._log_f)
            return
        # wavelength grid wide enough for the whole slab emission at T_slab (log-spaced, refined at edges)
        lam = np.unique(
            np.concatenate(
                [
                    np.geomspace(60.0, 1.0e6, 20000),
                    *(
                        (K.H * K.C / (K.RYDBERG_ENERGY / n**2) * 1e9) * np.array([1 - 1e-9, 1 + 1e-9])
                        for n in range(2, N_MAX + 1)
                    ),
                ]
            )
        )
        shape = hydrogen_continuum_emissivity(lam, self.slab_temperature) / _emissivity_norm(self.slab_temperature)
        planck = planck_surface_flux(lam, self.slab_temperature)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(planck > 0, self.slab_fraction * shape / planck, 0.0)
        f = 10.0 ** self._log_f
        emitted = np.trapezoid(planck[None, :] * -np.expm1(-f[:, None] * g[None, :]), lam, axis=1)
        thin = np.trapezoid(self.slab_fraction * shape, lam)  # = slab_fraction up to quadrature error
        self._ratio = np.minimum(emitted / (f * thin), 1.0)

    def slab_flux(self, energy_flux) -> np.ndarray:
        """Bolometric surface flux radiated by the slab, W m^-2 (``slab_fraction * F`` when thin)."""
        f = np.asarray(energy_flux, dtype=float)
        logf = np.log10(np.maximum(f, 1e-300))
        ratio = np.interp(logf, self._log_f, self._ratio)
        # beyond the table the slab is a saturated blackbody: emitted flux constant
        top = logf > self._log_f[-1]
        ratio = np.where(top, self._ratio[-1] * 10.0 ** (self._log_f[-1] - logf), ratio)
        return self.slab_fraction * f * ratio

    def heating_flux(self, energy_flux) -> np.ndarray:
        """The part of the column energy flux that heats the spot, W m^-2."""
        f = np.asarray(energy_flux, dtype=float)
        return f - self.slab_flux(f)

    def spot_temperature(self, teff, energy_flux) -> np.ndarray:
        """Spot temperature, K: ``sigma T^4 = F_heat + sigma Teff^4``."""
        return spot_temperature(teff, self.heating_flux(energy_flux))

    # -- spectra -----------------------------------------------------------------------------------
    def surface_flux_fine(self, teff, energy_flux) -> np.ndarray:
        """F_acc on the fine grid, (N, n_fine), W m^-2 nm^-1."""
        teff = np.atleast_1d(np.asarray(teff, dtype=float))
        f = np.atleast_1d(np.asarray(energy_flux, dtype=float))
        if np.any(~np.isfinite(f)) or np.any(f < 0):
            raise ValueError("accretion energy flux must be finite and >= 0")
        t_spot = self.spot_temperature(teff, f)
        spot = planck_surface_flux(FINE_WAVELENGTH[None, :], t_spot[:, None])
        return spot + self.slab_flux_fine(f)

    def slab_flux_fine(self, energy_flux) -> np.ndarray:
        """The slab's emission on the fine grid, (N, n_fine), W m^-2 nm^-1."""
        f = np.atleast_1d(np.asarray(energy_flux, dtype=float))
        tau = f[:, None] * self.tau_per_flux[None, :]
        return -self.slab_planck[None, :] * np.expm1(-tau)

    def surface_flux(self, teff, energy_flux) -> np.ndarray:
        """F_acc at XP resolution and sampling, (N, 343), W m^-2 nm^-1."""
        return self.instrument.apply(self.surface_flux_fine(teff, energy_flux))

    def describe(self) -> dict:
        return {
            "model": "shock-heated blackbody spot plus an isothermal pure-hydrogen slab (emission added)",
            "slab_temperature_K": self.slab_temperature,
            "slab_fraction_thin": self.slab_fraction,
            "slab_emissivity": "H free-free + bound-free n>=2 (Lyman excluded), Gaunt factors 1",
            "spot": "sigma T_spot^4 = (F - F_slab) + sigma Teff^4",
        }
