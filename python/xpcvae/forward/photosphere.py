"""Photospheres F_phot(lambda; Teff, log g, [M/H]) behind one interface.

Every photosphere returns the stellar surface flux density in W m^-2 nm^-1 at XP resolution on
:data:`xpcvae.forward.instrument.WAVELENGTH`, before extinction:
:class:`EmpiricalPhotosphere` (``"empirical"``, the default: the emulator of real XP spectra),
:class:`BlackbodyPhotosphere` (``"blackbody"``) and :class:`TabulatedPhotosphere`
(``"tabulated:PATH"``, a user library). How each is built and its limits: docs/grid.md section 4.
"""

from __future__ import annotations

import abc
import os

import h5py
import numpy as np
from scipy.interpolate import RegularGridInterpolator

from xpcvae.forward import constants as K
from xpcvae.forward.emulator import PhotosphereEmulator, load_default
from xpcvae.forward.instrument import FINE_WAVELENGTH, WAVELENGTH, XPInstrument, default_instrument, rebin_to_fine
from xpcvae.forward.stellar import blackbody_fraction, planck_surface_flux

PHOTOSPHERES = ("empirical", "blackbody", "tabulated:PATH")


class Photosphere(abc.ABC):
    """Interface: surface flux at XP resolution, (N, 343), W m^-2 nm^-1."""

    name: str = "photosphere"

    @abc.abstractmethod
    def surface_flux(self, teff, logg, mh, instrument: XPInstrument | None = None) -> np.ndarray:
        """Surface flux density (N, 343) in W m^-2 nm^-1 at XP resolution, before extinction."""

    def describe(self) -> dict:
        return {"name": self.name}

    def spec(self) -> str:
        """The string that :func:`make_photosphere` turns back into this photosphere."""
        return self.name


def scale_to_teff(shape: np.ndarray, teff) -> np.ndarray:
    """Scale spectra (N, 343) so that their XP-range integral is ``sigma Teff^4 x`` the
    XP-range fraction of a Teff blackbody (docs/grid.md section 4)."""
    teff = np.asarray(teff, dtype=float)
    target = K.SIGMA_SB * teff**4 * blackbody_fraction(teff, WAVELENGTH)
    return shape * (target / np.trapezoid(shape, WAVELENGTH, axis=1))[:, None]


class EmpiricalPhotosphere(Photosphere):
    """The emulator of real XP spectra (default file: ``xpcvae/forward/photosphere_emulator.npz``)."""

    name = "empirical"

    def __init__(self, path=None):
        self.emulator = load_default(None) if path is None else PhotosphereEmulator.load(path)
        self.path = path

    def surface_flux(self, teff, logg, mh, instrument=None) -> np.ndarray:
        shape = self.emulator.shape(teff, logg, mh)
        return scale_to_teff(shape, teff)

    def describe(self) -> dict:
        meta = self.emulator.meta
        return {
            "name": self.name,
            "emulator_file": os.path.basename(self.emulator.path or ""),
            "emulator": {k: meta.get(k) for k in ("description", "data", "held_out", "hidden", "n_train_pass2",
                                                  "dereddening", "clamp") if k in meta},
            "absolute_scale": "XP-range integral = sigma Teff^4 x blackbody XP-range fraction",
            "instrument": "intrinsic to the real spectra (operator not applied)",
        }

    def spec(self) -> str:
        return self.name if self.path is None else f"empirical:{self.path}"


class BlackbodyPhotosphere(Photosphere):
    """``pi B_lambda(Teff)`` through the instrument (log g and [M/H] ignored)."""

    name = "blackbody"

    def surface_flux(self, teff, logg, mh, instrument=None) -> np.ndarray:
        instrument = instrument or default_instrument()
        teff = np.atleast_1d(np.asarray(teff, dtype=float))
        return instrument.apply(planck_surface_flux(FINE_WAVELENGTH[None, :], teff[:, None]))

    def describe(self) -> dict:
        return {"name": self.name, "model": "pi B_lambda(Teff) through the XP instrument operator"}


_FLUX_UNITS = {"w m-2 nm-1": 1.0, "erg s-1 cm-2 a-1": 1.0e-2, "erg s-1 cm-2 angstrom-1": 1.0e-2, "relative": None}
_WAVELENGTH_UNITS = {"nm": 1.0, "angstrom": 0.1, "a": 0.1, "um": 1.0e3, "micron": 1.0e3}


class TabulatedPhotosphere(Photosphere):
    """A user library of model photospheres in HDF5, interpolated.

    Layout (all datasets at the root):

    - ``wavelength`` (M,): strictly increasing, covering 300-1100 nm; attribute
      ``unit``: ``"nm"`` (default), ``"Angstrom"`` or ``"um"``.
    - ``labels`` (K, 3): Teff (K), log g (dex, cgs), [M/H] (dex) of each spectrum.
      The K rows must form a full regular grid (every combination of the distinct
      values of each label present exactly once); a label with a single value is
      ignored in the interpolation.
    - ``flux`` (K, M): surface flux density, > 0 where finite; attribute ``unit``:
      ``"W m-2 nm-1"`` (default), ``"erg s-1 cm-2 A-1"`` (PHOENIX/BT-Settl native)
      or ``"relative"`` (shape only: scaled like the empirical photosphere).

    Requests outside the library's label ranges raise ``ValueError``.
    """

    name = "tabulated"

    def __init__(self, path, instrument: XPInstrument | None = None):
        self.path = str(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"tabulated photosphere library {self.path} does not exist")
        instrument = instrument or default_instrument()
        try:
            with h5py.File(self.path, "r") as h5:
                for key in ("wavelength", "labels", "flux"):
                    if key not in h5:
                        raise ValueError(f"tabulated photosphere library {self.path}: missing dataset '{key}'")
                lam = np.asarray(h5["wavelength"][...], dtype=float)
                labels = np.asarray(h5["labels"][...], dtype=float)
                flux = np.asarray(h5["flux"][...], dtype=float)
                wunit = str(h5["wavelength"].attrs.get("unit", "nm")).strip().lower()
                funit = str(h5["flux"].attrs.get("unit", "W m-2 nm-1")).strip().lower()
        except OSError as exc:
            raise ValueError(f"tabulated photosphere library {self.path} is not a readable HDF5 file: {exc}") from exc
        where = f"tabulated photosphere library {self.path}"
        if wunit not in _WAVELENGTH_UNITS:
            raise ValueError(f"{where}: unknown wavelength unit {wunit!r}")
        if funit not in _FLUX_UNITS:
            raise ValueError(f"{where}: unknown flux unit {funit!r}; use one of {sorted(_FLUX_UNITS)}")
        if labels.ndim != 2 or labels.shape[1] != 3:
            raise ValueError(f"{where}: labels must have shape (K, 3) (teff, logg, mh), got {labels.shape}")
        if lam.ndim != 1 or flux.shape != (labels.shape[0], lam.size):
            raise ValueError(f"{where}: flux must have shape (K, M) = ({labels.shape[0]}, {lam.size}), got {flux.shape}")
        if not (np.all(np.isfinite(labels)) and np.all(np.isfinite(flux)) and np.all(np.isfinite(lam))):
            raise ValueError(f"{where}: non-finite wavelengths, labels or fluxes")
        if np.any(flux < 0):
            raise ValueError(f"{where}: negative fluxes")
        lam = lam * _WAVELENGTH_UNITS[wunit]
        factor = _FLUX_UNITS[funit]
        self.relative = factor is None
        xp = instrument.apply(rebin_to_fine(lam, flux * (factor or 1.0)))  # (K, 343)
        if self.relative:
            xp = scale_to_teff(xp, labels[:, 0])
        # regular grid
        axes = [np.unique(labels[:, j]) for j in range(3)]
        shape = tuple(a.size for a in axes)
        if int(np.prod(shape)) != labels.shape[0]:
            raise ValueError(
                f"{where}: labels are not a full regular grid ({labels.shape[0]} spectra for "
                f"{' x '.join(map(str, shape))} distinct teff x logg x mh values)"
            )
        idx = tuple(np.searchsorted(axes[j], labels[:, j]) for j in range(3))
        cube = np.full(shape + (WAVELENGTH.size,), np.nan)
        cube[idx] = np.log(np.maximum(xp, 1e-300))
        if np.isnan(cube).any():
            raise ValueError(f"{where}: labels are not a full regular grid (duplicate rows)")
        self.axes = axes
        self.active = [j for j in range(3) if axes[j].size > 1]
        self._cube = cube.reshape(tuple(axes[j].size for j in self.active) + (WAVELENGTH.size,))
        self.n_spectra = labels.shape[0]

    def surface_flux(self, teff, logg, mh, instrument=None) -> np.ndarray:
        values = [np.atleast_1d(np.asarray(v, dtype=float)) for v in (teff, logg, mh)]
        names = ("teff", "logg", "mh")
        for j in self.active:
            lo, hi = self.axes[j][0], self.axes[j][-1]
            bad = (values[j] < lo) | (values[j] > hi)
            if bad.any():
                raise ValueError(
                    f"tabulated photosphere {self.path}: {names[j]} = {values[j][np.argmax(bad)]:g} is outside the "
                    f"library's range [{lo:g}, {hi:g}]"
                )
        if not self.active:
            n = values[0].size
            return np.exp(np.broadcast_to(self._cube, (n, WAVELENGTH.size))).copy()
        interp = RegularGridInterpolator([self.axes[j] for j in self.active], self._cube, method="linear")
        pts = np.stack([values[j] for j in self.active], axis=-1)
        return np.exp(interp(pts))

    def describe(self) -> dict:
        return {
            "name": self.name,
            "path": self.path,
            "n_spectra": self.n_spectra,
            "ranges": {n: [float(a[0]), float(a[-1])] for n, a in zip(("teff", "logg", "mh"), self.axes)},
            "interpolation": "linear in log flux on the regular label grid, after the instrument operator",
            "relative_flux_scaled": self.relative,
        }

    def spec(self) -> str:
        return f"tabulated:{self.path}"


def make_photosphere(spec, instrument: XPInstrument | None = None) -> Photosphere:
    """``"empirical"``, ``"empirical:EMULATOR.npz"``, ``"blackbody"``, ``"tabulated:PATH"`` or a
    :class:`Photosphere` instance."""
    if isinstance(spec, Photosphere):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"photosphere must be a name or a Photosphere object, got {type(spec).__name__}")
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "empirical":
        return EmpiricalPhotosphere(arg or None)
    if kind == "blackbody" and not arg:
        return BlackbodyPhotosphere()
    if kind == "tabulated":
        if not arg:
            raise ValueError("photosphere 'tabulated' needs a library path: tabulated:PATH")
        return TabulatedPhotosphere(arg, instrument)
    raise ValueError(f"unknown photosphere {spec!r}; choose one of {', '.join(PHOTOSPHERES)}")
