"""The forward model against real spectra: model at the APOGEE labels, best-fit A0, relative residuals.

These measure the simulation-to-real mismatch independently of the network: how well the
forward model itself reproduces a real star at its true labels.
"""

from __future__ import annotations

import numpy as np

from xpcvae import params
from xpcvae.forward import WAVELENGTH
from xpcvae.forward.extinction import ExtinctionCurve
from xpcvae.forward.gof import GOF_SYSTEMATIC, reduced_chi2
from xpcvae.validation.selection import RealStars


def label_theta(stars: RealStars) -> np.ndarray:
    """Parameter vectors at the APOGEE labels with no accretion (ff = 0, log Mdot = -11, M = 1 Msun,
    which do not matter when ff = 0) and A0 from A_K (0 where unknown)."""
    th = np.empty((len(stars), params.NDIM))
    i = params.INDEX
    th[:, i["teff"]], th[:, i["logg"]], th[:, i["mh"]] = stars.teff, stars.logg, stars.mh
    th[:, i["log_mdot"]], th[:, i["ff"]], th[:, i["mass"]] = -11.0, 0.0, 1.0
    th[:, i["a0"]] = np.clip(np.nan_to_num(stars.a0_ref, nan=0.0), 0.0, params.HIGH[i["a0"]])
    return th


def fit_a0(flux, flux_error, model_a0_zero, fwd, step: float = 0.05):
    """Best A0 (grid search, ``step`` mag over the prior range) of the forward model without
    extinction ``model_a0_zero`` (N, 343): extinction multiplies the model at XP sampling, so
    ``model(A0) = model(0) x 10^(-0.4 A0 k(lambda)/k(541.4 nm))``. Returns (model at the best
    A0, best A0, its gof_chi2)."""
    k = ExtinctionCurve(fwd.extinction_curve, fwd.rv).relative(WAVELENGTH)
    hi = params.HIGH[params.INDEX["a0"]]
    n = len(model_a0_zero)
    best, best_a = np.full(n, np.inf), np.zeros(n)
    for a in np.arange(0.0, hi + 1e-9, step):
        c = reduced_chi2(flux, flux_error, model_a0_zero * 10.0 ** (-0.4 * a * k))
        better = c < best
        best[better], best_a[better] = c[better], a
    return model_a0_zero * 10.0 ** (-0.4 * best_a[:, None] * k[None, :]), best_a, best


def relative_residual(flux, flux_error, model):
    """(observed / scaled model - 1, flux_error / scaled model, scaled model), (N, 343) each: both
    spectra mean-normalised, the model scaled by the weighted least-squares factor of the gof."""
    f = np.asarray(flux, dtype=float)
    e = np.asarray(flux_error, dtype=float)
    m = np.asarray(model, dtype=float)
    o, s = f / f.mean(axis=1, keepdims=True), e / f.mean(axis=1, keepdims=True)
    m = m / m.mean(axis=1, keepdims=True)
    var = s**2 + (GOF_SYSTEMATIC * m) ** 2
    scale = (o * m / var).sum(axis=1, keepdims=True) / (m * m / var).sum(axis=1, keepdims=True)
    return o / (scale * m) - 1.0, s / (scale * m), scale * m


def rms_of_mean(rel, model_scaled) -> np.ndarray:
    """Per star, the rms over wavelength of ``rel x model`` (a residual or noise in units of the
    mean flux), in % -- the weighting of gof_chi2."""
    return np.sqrt(np.mean((rel * model_scaled) ** 2, axis=1)) * 100
