"""Stellar radius, accretion luminosity, accretion energy flux and spot temperature
(docs/science.md section 2, steps 1-4).

Magnetospheric accretion onto a T Tauri star: gas leaves the disk at the inner
radius R_in, falls along the field lines and shocks at the stellar surface on a
fraction ``ff`` of it (Hartmann 1994; Calvet & Gullbring 1998, ApJ 509, 802,
"CG98"; Hartmann, Herczeg & Calvet 2016, ARA&A 54, 135, eq. 4).

All functions take and return plain NumPy arrays (broadcasting), SI units unless
the argument name says otherwise (see :mod:`xpcvae.forward.constants`).
"""

from __future__ import annotations

import numpy as np

from xpcvae.forward import constants as K


def surface_gravity_si(logg):
    """Surface gravity in m s^-2 from ``logg`` = log10(g / cm s^-2)."""
    return 10.0 ** np.asarray(logg, dtype=float) * K.CGS_GRAVITY_TO_SI


def stellar_radius(mass_msun, logg):
    """Stellar radius in m from mass (Msun) and gravity (step 1): ``R = sqrt(G M / g)``.

    Example: M = 1 Msun and log g = 4.438 give R = 1.000 Rsun.
    """
    mass = np.asarray(mass_msun, dtype=float) * K.M_SUN
    return np.sqrt(K.G * mass / surface_gravity_si(logg))


def mass_accretion_rate_si(log_mdot):
    """Mass accretion rate in kg s^-1 from log10(Mdot / (Msun yr^-1)) (Julian year)."""
    return 10.0 ** np.asarray(log_mdot, dtype=float) * K.M_SUN / K.YEAR


def accretion_luminosity(mass_msun, radius_m, log_mdot, r_in=5.0):
    """Accretion luminosity in W (step 2): ``L_acc = (1 - R/R_in) G M Mdot / R``.

    ``r_in`` is the inner disk (truncation) radius in units of the stellar radius,
    R_in = r_in R (5 R by default, the typical corotation/truncation radius of CTTS,
    Gullbring et al. 1998, ApJ 492, 323); the factor (1 - 1/r_in) is the fraction of
    the free-fall energy from R_in released at the surface.
    """
    r_in = np.asarray(r_in, dtype=float)
    if np.any(r_in <= 1.0):
        raise ValueError(f"r_in (inner disk radius in stellar radii) must be > 1, got {r_in}")
    mass = np.asarray(mass_msun, dtype=float) * K.M_SUN
    radius = np.asarray(radius_m, dtype=float)
    return (1.0 - 1.0 / r_in) * K.G * mass * mass_accretion_rate_si(log_mdot) / radius


def accretion_energy_flux(l_acc, radius_m, ff):
    """Energy flux of the accretion columns in W m^-2 (step 3): ``F = L_acc / (4 pi R^2 ff)``.

    Diverges as ``ff -> 0``; callers treat ``ff == 0`` (no columns) separately.
    """
    ff = np.asarray(ff, dtype=float)
    with np.errstate(divide="ignore"):
        return np.asarray(l_acc, dtype=float) / (4.0 * np.pi * np.asarray(radius_m, dtype=float) ** 2 * ff)


def spot_temperature(teff, heating_flux):
    """Temperature in K of the shock-heated photosphere under the columns (step 4).

    ``sigma T_spot^4 = F_heat + sigma Teff^4``: the heated patch re-radiates, as a
    blackbody, the accretion energy flux it absorbs on top of its own photospheric
    flux (CG98 section 2). :class:`xpcvae.forward.accretion.AccretionShock` passes the
    part of the column energy flux that heats the photosphere (the flux not radiated
    by the pre-shock slab); with no slab this is the full ``F`` of step 3.
    """
    teff = np.asarray(teff, dtype=float)
    heating_flux = np.asarray(heating_flux, dtype=float)
    return (heating_flux / K.SIGMA_SB + teff**4) ** 0.25


def planck_surface_flux(wavelength_nm, temperature):
    """Blackbody surface flux ``pi B_lambda(T)`` in W m^-2 nm^-1.

    Broadcasts ``wavelength_nm`` against ``temperature`` (e.g. (n,) against (N, 1)).
    Uses ``expm1`` so that very hot spots (Rayleigh-Jeans regime) stay accurate and
    cool temperatures underflow to 0 rather than overflow.
    """
    lam = np.asarray(wavelength_nm, dtype=float)
    temperature = np.asarray(temperature, dtype=float)
    lam_m = lam * 1e-9
    with np.errstate(over="ignore"):
        x = K.HC_OVER_K_NM / (lam * temperature)
        return (2.0 * np.pi * K.H * K.C**2 / lam_m**5) / np.expm1(x) * 1e-9


def blackbody_fraction(temperature, wavelength_nm):
    """Fraction of ``sigma T^4`` emitted between the first and last of ``wavelength_nm``
    (trapezoidal rule on those samples). Shape of ``temperature``."""
    t = np.asarray(temperature, dtype=float)
    lam = np.asarray(wavelength_nm, dtype=float)
    flux = planck_surface_flux(lam, t[..., None])
    return np.trapezoid(flux, lam, axis=-1) / (K.SIGMA_SB * t**4)
