"""Interstellar extinction (docs/science.md section 2, step 6).

``F_obs = F * 10**(-0.4 * A0 * k(lambda) / k(541.4 nm))`` with ``k`` an average Milky Way
curve of the ``dust_extinction`` package (default Fitzpatrick 1999 at R_V = 3.1) and A0 at
541.4 nm as in Gaia DR3 GSP-Phot. The curves, the references and the error of applying the
attenuation after the instrument: docs/grid.md section 2, step 6.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from dust_extinction import parameter_averages

from xpcvae.forward import constants as K

#: curves accepted by name (dust_extinction.parameter_averages classes with an R_V parameter)
CURVES = ("F99", "F19", "G23", "F04", "CCM89", "O94")
#: 2MASS Ks effective wavelength used to convert A_K to A0 (Cohen et al. 2003), nm
K_BAND_NM = 2159.0


class ExtinctionCurve:
    """An R_V-dependent extinction curve normalised to A0 at 541.4 nm.

    ``ExtinctionCurve("F99", rv=3.1)``; :meth:`relative` gives ``k(lambda)/k(541.4 nm)``
    and :meth:`attenuation` the factor ``10**(-0.4 A0 k/k0)``.
    """

    def __init__(self, name: str = "F99", rv: float = 3.1):
        if not isinstance(name, str) or name.upper() not in CURVES:
            raise ValueError(f"unknown extinction curve {name!r}; choose one of {', '.join(CURVES)}")
        self.name = name.upper()
        cls = getattr(parameter_averages, self.name)
        lo, hi = cls.Rv_range
        if not (np.isfinite(rv) and lo <= rv <= hi):
            raise ValueError(f"R_V = {rv} is outside the range [{lo}, {hi}] of the {self.name} curve")
        self.rv = float(rv)
        self._model = cls(Rv=self.rv)
        x_lo, x_hi = cls.x_range  # inverse microns
        self.valid_nm = (1e3 / x_hi, 1e3 / x_lo)
        self._k0 = self._a_over_av(np.array([K.A0_WAVELENGTH_NM]))[0]

    def _a_over_av(self, wavelength_nm) -> np.ndarray:
        lam = np.atleast_1d(np.asarray(wavelength_nm, dtype=float))
        if lam.min() < self.valid_nm[0] or lam.max() > self.valid_nm[1]:
            raise ValueError(
                f"{self.name} is defined for {self.valid_nm[0]:.0f}-{self.valid_nm[1]:.0f} nm; "
                f"asked for {lam.min():g}-{lam.max():g} nm"
            )
        return np.asarray(self._model(lam * u.nm), dtype=float)

    def relative(self, wavelength_nm) -> np.ndarray:
        """``A(lambda) / A0`` (A0 at 541.4 nm)."""
        return self._a_over_av(wavelength_nm) / self._k0

    def attenuation(self, a0, wavelength_nm) -> np.ndarray:
        """``10**(-0.4 A0 A(lambda)/A0)``, shape (N, len(wavelength)) for ``a0`` of shape (N,)."""
        k = self.relative(wavelength_nm)
        return 10.0 ** (-0.4 * np.asarray(a0, dtype=float).reshape(-1, 1) * k[None, :])

    def a0_per_ak(self) -> float:
        """A0 / A_K for this curve (8.9 for F99 at R_V = 3.1)."""
        return float(1.0 / self.relative(np.array([K_BAND_NM]))[0])

    def describe(self) -> dict:
        return {"curve": self.name, "rv": self.rv, "normalisation": "A0 at 541.4 nm", "library": "dust_extinction"}
