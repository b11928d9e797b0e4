"""Physical constants and unit conversions used inside the forward model.

Taken once from :mod:`astropy.constants` / :mod:`astropy.units` (CODATA 2018, IAU 2015
nominal solar values) and stored as plain floats in SI units, so that the numerical
code works on plain NumPy arrays.

Unit conventions inside :mod:`xpcvae.forward`:

- wavelengths in nm;
- spectral surface flux densities in W m^-2 nm^-1 (the unit GaiaXPy uses for sampled
  spectra, here per unit area of the stellar surface rather than at the observer);
- masses in kg, lengths in m, luminosities in W, unless a name says otherwise
  (``mass_msun``, ``log_mdot`` in log10(Msun/yr), ``logg`` in log10(cm s^-2)).
"""

from __future__ import annotations

import astropy.constants as _c
import astropy.units as _u

G = float(_c.G.si.value)                  # m^3 kg^-1 s^-2
M_SUN = float(_c.M_sun.si.value)          # kg
R_SUN = float(_c.R_sun.si.value)          # m
L_SUN = float(_c.L_sun.si.value)          # W
SIGMA_SB = float(_c.sigma_sb.si.value)    # W m^-2 K^-4
H = float(_c.h.si.value)                  # J s
C = float(_c.c.si.value)                  # m s^-1
K_B = float(_c.k_B.si.value)              # J K^-1
#: hydrogen ionisation energy chi_H, J (Rydberg energy with the electron-proton reduced mass: 13.598 eV)
RYDBERG_ENERGY = float((_c.Ryd * _c.h * _c.c / (1.0 + _c.m_e / _c.m_p)).si.value)
YEAR = float((1 * _u.yr).to(_u.s).value)  # s (Julian year)
CGS_GRAVITY_TO_SI = float((1 * _u.cm / _u.s**2).to(_u.m / _u.s**2).value)  # 0.01

#: hc/k in nm K, for Planck exponents hc / (lambda k T) with lambda in nm
HC_OVER_K_NM = H * C / K_B * 1e9
#: wavelength of the hydrogen Balmer edge (ionisation from n = 2), nm: 364.70 in vacuum (364.6 in air)
BALMER_EDGE_NM = H * C / (RYDBERG_ENERGY / 4.0) * 1e9
#: reference wavelength of A0 in the Gaia DR3 convention, nm
A0_WAVELENGTH_NM = 541.4
