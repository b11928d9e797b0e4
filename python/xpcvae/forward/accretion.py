"""The accretion-shock component (science.md section 2, steps 3-5).

Per unit area of the accretion columns (a fraction ``ff`` of the stellar surface)
the shock region emits

    F_acc(lambda) = pi B_lambda(T_spot) + pi B_lambda(T_slab) (1 - exp(-tau_lambda)),

the sum of a shock-heated photospheric spot (a blackbody) and an isothermal
pure-hydrogen slab (the pre-shock gas; Calvet & Gullbring 1998, ApJ 509, 802,
"CG98"; the slab model of Valenti, Basri & Johns 1993, AJ 106, 2024 and Manara et
al. 2013, A&A 558, A114).

Assumptions, all documented choices:

- Energy budget. The columns carry the energy flux ``F = L_acc / (4 pi R^2 ff)``
  (:func:`xpcvae.forward.stellar.accretion_energy_flux`). In the optically thin
  limit the slab radiates a fixed fraction ``slab_fraction`` = 0.25 of it (CG98:
  about half of the shock energy goes outward and half of that is re-emitted
  outward by the pre-shock gas, the rest heats the photosphere). The spot
  re-radiates the rest, ``F_heat = F - F_slab``, on top of its own photospheric
  flux: ``sigma T_spot^4 = F_heat + sigma Teff^4`` (science.md step 4 with the
  slab's share subtracted, so the columns radiate exactly L_acc in addition to the
  photospheric flux they replace; ``slab_fraction=0`` gives step 4 literally).
- Slab emissivity. Optically thin hydrogen continuum at T_slab = 10^4 K: free-free
  plus bound-free (recombination) onto levels n = 2..50 with all Gaunt factors
  set to 1 (Kramers' hydrogen opacity, e.g. Gray, *The Observation and Analysis
  of Stellar Photospheres*, chapter 8, times the Planck function)::

      j_nu ∝ exp(-h nu / k T) [1 + sum_{n >= n0(nu), n >= 2} (2 chi_H / (n^3 k T)) exp(chi_H / (n^2 k T))]

  with n0(nu) the lowest level that a photon of frequency nu can ionise. The
  Lyman continuum (n = 1) is taken as optically thick and reprocessed (case B)
  and left out. The Balmer edge at 364.7 nm (vacuum; 364.6 nm in air) and the
  Paschen edge at 820.6 nm fall inside the XP range. Not included: H- emission,
  the Balmer/Paschen emission lines and the merging of the high series members
  near the edges.
- Geometry. As in slab-plus-photosphere veiling fits (Valenti et al. 1993; Manara
  et al. 2013) the slab emission is *added* to the spot's; the absorption of the
  spot light by the slab is neglected (a cooler optically thick slab in front of
  a hotter spot would turn the Balmer jump into an absorption edge, which is not
  what accreting stars show).
- Optical depth. The slab's optical depth follows from its thin-limit emission by
  Kirchhoff's law: ``tau_lambda = slab_fraction * F * s_lambda / (pi B_lambda(T_slab))``
  with ``s_lambda`` the emissivity normalised to unit integral over all
  wavelengths. At low energy flux the slab is optically thin and carries
  ``slab_fraction * F`` (99.7 % of it at F = 10^6 W m^-2: the far-infrared
  free-free emission saturates first); at very high F (very small ff) it saturates to a
  blackbody at T_slab, so ``ff * F_acc -> 0`` as ``ff -> 0`` at fixed Mdot: ff = 0
  means no accretion signature, continuously.
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
    (free-free + bound-free onto n >= 2, Gaunt factors 1); see the module docstring."""
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
