"""Selections of real library stars with their label references (APOGEE Teff, log g, [M/H], A0).

The real-data test set (held-out stars whose labels lie in the prior box), its out-of-box
complement and the in-box stars outside the test set. Training (residual templates) and the
real-star validation select stars here, so both apply the same box and the same held-out rule.
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


def labels_in_box(teff, logg, mh, a0_ref=None) -> np.ndarray:
    """True where Teff, log g and [M/H] are finite and inside the prior box and, where ``a0_ref``
    (the A_K-based A0) is finite, it does not exceed the box's upper bound."""
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
    """True for real-data test stars: held out (:func:`~xpcvae.data.library.is_test_star`) and
    labels inside the prior box (:func:`labels_in_box`)."""
    return is_test_star(source_id) & labels_in_box(teff, logg, mh, a0_ref)


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
    """The real-data test set: held-out stars with labels in the prior box (:func:`real_test_mask`);
    ``max_stars``: an evenly spaced subset in source_id order.

    ``in_box=False`` gives instead the held-out stars with valid labels *outside* the box --
    spectra the model was not trained for, used to check the out-of-distribution flag.
    ``held_out=False`` gives the in-box stars that are *not* held out (those the photosphere
    emulator was fitted on), used for the OOD threshold and the residual templates without
    touching the test set. Stars whose A_K is unknown stay in, without an A0 reference.
    """
    if not (in_box or held_out):
        raise ValueError("select_test_set: in_box=False selects held-out stars; held_out must be True")
    lib = load_library() if lib is None else lib
    k = a0_per_ak()
    a0 = k * np.asarray(lib.ak, dtype=float)
    test = is_test_star(lib.source_id)
    box = labels_in_box(lib.teff, lib.logg, lib.mh, a0)
    mask = box & (test if held_out else ~test)
    if not in_box:
        held = test & np.isfinite(lib.teff) & np.isfinite(lib.logg) & np.isfinite(lib.mh)
        mask = held & ~mask
    idx = np.flatnonzero(mask)
    idx = idx[np.argsort(np.asarray(lib.source_id)[idx], kind="stable")]
    if max_stars is not None and 0 < max_stars < idx.size:
        idx = idx[np.unique(np.linspace(0, idx.size - 1, max_stars).round().astype(int))]
    return RealStars(source_id=np.asarray(lib.source_id)[idx], teff=np.asarray(lib.teff, float)[idx],
                     logg=np.asarray(lib.logg, float)[idx], mh=np.asarray(lib.mh, float)[idx],
                     fe_h=np.asarray(lib.fe_h, float)[idx], a0_ref=a0[idx], g_mag=np.asarray(lib.g_mag, float)[idx],
                     flux=np.asarray(lib.flux, float)[idx], flux_error=np.asarray(lib.flux_error, float)[idx],
                     index=idx, a0_per_ak=k)


def label_theta(stars: RealStars) -> np.ndarray:
    """Parameter vectors at the APOGEE labels with no accretion (ff = 0, log Mdot = -11, M = 1 Msun,
    which do not matter when ff = 0) and A0 from A_K (0 where unknown)."""
    th = np.empty((len(stars), params.NDIM))
    i = params.INDEX
    th[:, i["teff"]], th[:, i["logg"]], th[:, i["mh"]] = stars.teff, stars.logg, stars.mh
    th[:, i["log_mdot"]], th[:, i["ff"]], th[:, i["mass"]] = -11.0, 0.0, 1.0
    th[:, i["a0"]] = np.clip(np.nan_to_num(stars.a0_ref, nan=0.0), 0.0, params.HIGH[i["a0"]])
    return th
