"""The XP instrument as a linear operator (docs/science.md section 2, step 7).

A surface-flux SED on :data:`FINE_WAVELENGTH` (300-1100 nm, 0.5 nm steps) is brought to
Gaia XP resolution and GaiaXPy's default sampling (:data:`WAVELENGTH`, 343 points) by one
matrix product: GaiaXPy's DR3 dispersion, a Gaussian LSF of fixed width in
pseudo-wavelength, GaiaXPy's BP/RP merge weights. The model, the choice of the LSF widths
and what is not modelled: docs/grid.md section 3.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import os

from xml.etree import ElementTree

import numpy as np

#: GaiaXPy's default sampling: 336..1020 nm in 2 nm steps
WAVELENGTH = np.arange(336.0, 1021.0, 2.0)
#: number of samples of an XP spectrum (the length of every spectrum, flux and model in the package)
N_WAVE = WAVELENGTH.size
#: the fine grid on which high-resolution SEDs are handed to the instrument operator
FINE_WAVELENGTH = np.linspace(300.0, 1100.0, 1601)

DEFAULT_FWHM_BP = 1.4  # samples (pseudo-wavelength units)
DEFAULT_FWHM_RP = 2.0
_SIGMA_PER_FWHM = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
_KERNEL_HALF_WIDTH = 5.0  # in LSF sigmas


def gaiaxpy_config_dir() -> str:
    """GaiaXPy's shipped configuration folder (located without importing GaiaXPy)."""
    spec = importlib.util.find_spec("gaiaxpy")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("GaiaXPy is not installed: it provides the XP dispersion function")
    return os.path.join(list(spec.submodule_search_locations)[0], "config")


@functools.lru_cache(maxsize=None)
def dispersion_table():
    """GaiaXPy's tabulated DR3 dispersion: (path, wavelength_nm, bp_pwl, rp_pwl) (NaN outside a band)."""
    paths = sorted(glob.glob(os.path.join(gaiaxpy_config_dir(), "TabulatedDispersionFunction-DR3-*.csv")))
    if not paths:
        raise RuntimeError(f"no TabulatedDispersionFunction-DR3-*.csv in {gaiaxpy_config_dir()}")
    path = paths[-1]
    data = np.genfromtxt(path, delimiter=",", names=True)
    return path, np.asarray(data["wl_nm"], float), np.asarray(data["bp_pwl"], float), np.asarray(data["rp_pwl"], float)


MERGE_FILE = os.path.join("filters", "XpFilter_v375wiv142r.xml")


@functools.lru_cache(maxsize=None)
def merge_weights():
    """GaiaXPy's BP/RP merge weights on :data:`WAVELENGTH`: (bp_weights, rp_weights).

    Read from the ``XpMerge`` table of GaiaXPy's default filter file (the table
    ``gaiaxpy.core.config.load_xpmerge_from_xml`` loads), parsed here directly so that
    importing GaiaXPy -- which switches matplotlib to LaTeX text globally -- is avoided.
    """
    path = os.path.join(gaiaxpy_config_dir(), MERGE_FILE)
    merge = ElementTree.parse(path).getroot().find("XpMerge")
    if merge is None:
        raise RuntimeError(f"no XpMerge table in {path}")

    def array(tag):
        node = merge.find(tag)
        if node is None:
            raise RuntimeError(f"no XpMerge/{tag} in {path}")
        return np.array([float(e.text) for e in node])

    grid, bp, rp = array("sampleMeanWavelengths"), array("bpWeights"), array("rpWeights")
    if grid.shape != WAVELENGTH.shape or not np.allclose(grid, WAVELENGTH):
        raise RuntimeError(f"GaiaXPy's default sampling is not the {N_WAVE}-point 336-1020 nm grid this package assumes")
    return bp, rp


def _spline(band: str):
    # lazy: the bundle loader and the CSV readers import this module for WAVELENGTH only
    from scipy.interpolate import CubicSpline

    _, wl, bp, rp = dispersion_table()
    pwl = bp if band == "bp" else rp
    ok = np.isfinite(pwl)
    return CubicSpline(wl[ok], pwl[ok])


def _band_kernel(band: str, fwhm: float, targets: np.ndarray, fine: np.ndarray) -> np.ndarray:
    """LSF weights (len(targets), len(fine)) of one band, rows normalised to unit sum."""
    _, wl, bp, rp = dispersion_table()
    pwl_tab = bp if band == "bp" else rp
    ok = np.isfinite(pwl_tab)
    lo, hi = wl[ok].min(), wl[ok].max()
    spline = _spline(band)
    inside = (fine >= lo) & (fine <= hi)
    p_fine = np.where(inside, spline(np.clip(fine, lo, hi)), np.nan)
    jac = np.where(inside, np.abs(spline(np.clip(fine, lo, hi), 1)), 0.0)
    step = np.gradient(fine)
    p_t = spline(np.clip(targets, lo, hi))
    sigma = fwhm * _SIGMA_PER_FWHM
    u = (p_fine[None, :] - p_t[:, None]) / sigma
    with np.errstate(invalid="ignore"):
        w = np.where(np.abs(u) <= _KERNEL_HALF_WIDTH, np.exp(-0.5 * u * u), 0.0) * jac * step
    w = np.nan_to_num(w)
    total = w.sum(axis=1, keepdims=True)
    # the kernel must fit inside the fine grid and the tabulated dispersion
    edge = (w[:, 0] > 0) | (w[:, -1] > 0)
    if np.any(total <= 0) or np.any(edge & (total[:, 0] > 0)):
        raise ValueError(f"{band.upper()} LSF of FWHM {fwhm} samples does not fit inside the fine wavelength grid")
    return w / total


class XPInstrument:
    """Linear XP instrument operator: fine-grid SED (W m^-2 nm^-1) -> 343 XP samples.

    Parameters are the Gaussian LSF FWHMs in pseudo-wavelength samples (the choice of the
    defaults: docs/grid.md section 3).
    """

    def __init__(self, fwhm_bp: float = DEFAULT_FWHM_BP, fwhm_rp: float = DEFAULT_FWHM_RP):
        for name, value in (("fwhm_bp", fwhm_bp), ("fwhm_rp", fwhm_rp)):
            if not (np.isfinite(value) and 0.1 <= value <= 6.0):
                raise ValueError(f"{name} = {value} samples is outside the supported 0.1-6 samples")
        self.fwhm_bp = float(fwhm_bp)
        self.fwhm_rp = float(fwhm_rp)
        self.wavelength = WAVELENGTH
        self.fine_wavelength = FINE_WAVELENGTH
        w_bp, w_rp = merge_weights()
        k_bp = np.zeros((WAVELENGTH.size, FINE_WAVELENGTH.size))
        k_rp = np.zeros_like(k_bp)
        use_bp, use_rp = w_bp > 0, w_rp > 0
        k_bp[use_bp] = _band_kernel("bp", self.fwhm_bp, WAVELENGTH[use_bp], FINE_WAVELENGTH)
        k_rp[use_rp] = _band_kernel("rp", self.fwhm_rp, WAVELENGTH[use_rp], FINE_WAVELENGTH)
        self.merge_bp, self.merge_rp = w_bp, w_rp
        #: (343, n_fine) operator; rows sum to 1
        self.matrix = w_bp[:, None] * k_bp + w_rp[:, None] * k_rp
        self._matrix_t = np.ascontiguousarray(self.matrix.T)

    def apply(self, flux_fine) -> np.ndarray:
        """Bring SEDs sampled on :data:`FINE_WAVELENGTH` (..., n_fine) to XP samples (..., 343)."""
        flux_fine = np.asarray(flux_fine, dtype=float)
        if flux_fine.shape[-1] != FINE_WAVELENGTH.size:
            raise ValueError(
                f"SED must be sampled on the {FINE_WAVELENGTH.size}-point fine grid, got last axis {flux_fine.shape[-1]}"
            )
        return flux_fine @ self._matrix_t

    def fwhm_nm(self, wavelength_nm, band: str | None = None) -> np.ndarray:
        """LSF FWHM in nm at ``wavelength_nm``: ``fwhm / |dp/dlambda|`` of the band
        (``"bp"``, ``"rp"``, or None for the band that dominates the merge there)."""
        lam = np.asarray(wavelength_nm, dtype=float)
        if band is None:
            w_bp, _ = merge_weights()
            bp_weight = np.interp(lam, WAVELENGTH, w_bp)
            return np.where(bp_weight >= 0.5, self.fwhm_nm(lam, "bp"), self.fwhm_nm(lam, "rp"))
        fwhm = self.fwhm_bp if band == "bp" else self.fwhm_rp
        return fwhm / np.abs(_spline(band)(lam, 1))

    def describe(self) -> dict:
        path = dispersion_table()[0]
        return {
            "model": "Gaussian LSF of fixed FWHM in pseudo-wavelength, BP/RP merged with GaiaXPy's XpMerge weights",
            "dispersion_file": os.path.basename(path),
            "fwhm_bp_samples": self.fwhm_bp,
            "fwhm_rp_samples": self.fwhm_rp,
            "fine_grid_nm": [float(FINE_WAVELENGTH[0]), float(FINE_WAVELENGTH[-1]), float(FINE_WAVELENGTH[1] - FINE_WAVELENGTH[0])],
        }


@functools.lru_cache(maxsize=4)
def default_instrument(fwhm_bp: float = DEFAULT_FWHM_BP, fwhm_rp: float = DEFAULT_FWHM_RP) -> XPInstrument:
    """A cached :class:`XPInstrument` (construction takes ~0.1 s)."""
    return XPInstrument(fwhm_bp, fwhm_rp)


def rebin_to_fine(wavelength_nm, flux) -> np.ndarray:
    """Flux-conserving resampling of SEDs (..., M) on ``wavelength_nm`` onto :data:`FINE_WAVELENGTH`.

    Each fine sample is the mean of the piecewise-linear input over its 0.5 nm bin
    (exact integration of the linear interpolant), which works both for
    high-resolution libraries (averaging many points) and coarser ones. The input
    must cover 300-1100 nm.
    """
    lam = np.asarray(wavelength_nm, dtype=float)
    flux = np.asarray(flux, dtype=float)
    if lam.ndim != 1 or lam.size < 2 or np.any(np.diff(lam) <= 0):
        raise ValueError("wavelengths must be a strictly increasing 1-D array")
    half = 0.5 * (FINE_WAVELENGTH[1] - FINE_WAVELENGTH[0])
    edges = np.concatenate([FINE_WAVELENGTH - half, [FINE_WAVELENGTH[-1] + half]])
    if lam[0] > edges[0] or lam[-1] < edges[-1]:
        raise ValueError(
            f"SED covers {lam[0]:g}-{lam[-1]:g} nm; the instrument model needs {edges[0]:g}-{edges[-1]:g} nm"
        )
    # cumulative integral of the piecewise-linear interpolant, evaluated at the bin edges
    seg = 0.5 * (flux[..., 1:] + flux[..., :-1]) * np.diff(lam)
    cum = np.concatenate([np.zeros(flux.shape[:-1] + (1,)), np.cumsum(seg, axis=-1)], axis=-1)
    k = np.clip(np.searchsorted(lam, edges, side="right") - 1, 0, lam.size - 2)
    dx = edges - lam[k]
    slope = (flux[..., k + 1] - flux[..., k]) / (lam[k + 1] - lam[k])
    cum_edges = cum[..., k] + flux[..., k] * dx + 0.5 * slope * dx * dx
    return np.diff(cum_edges, axis=-1) / np.diff(edges)
