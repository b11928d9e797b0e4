"""The forward model against real XP spectra: best-fit A0 and relative residuals.

One implementation for the residual templates of the training observation model
(:mod:`xpcvae.simulate.observe`) and for the real-star validation
(:mod:`xpcvae.validation.posteriors`), so that both measure the simulation-to-real mismatch
the same way: the model at a star's APOGEE Teff, log g, [M/H], no accretion, A0 fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xpcvae import params
from xpcvae.data.library import load_library
from xpcvae.data.realstars import label_theta, select_test_set
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.extinction import ExtinctionCurve
from xpcvae.forward.gof import GOF_SYSTEMATIC, reduced_chi2
from xpcvae.forward.instrument import WAVELENGTH
from xpcvae.forward.model import model_spectra

#: residual templates: only stars brighter than this (their own noise stays small) ...
RESIDUAL_MAX_G = 12.0
#: ... whose |observed / model - 1| stays below this everywhere (no broken spectra)
RESIDUAL_MAX_ABS = 2.0


def fit_a0(flux, flux_error, model_a0_zero, fwd: ForwardConfig, step: float = 0.05):
    """Best A0 (grid search, ``step`` mag over the prior range, lowest ``gof_chi2``) of the forward
    model without extinction ``model_a0_zero`` (N, 343): extinction multiplies the model at XP
    sampling, so ``model(A0) = model(0) x 10^(-0.4 A0 k(lambda)/k(541.4 nm))``. Returns (model at
    the best A0, best A0, its gof_chi2)."""
    k = ExtinctionCurve(fwd.extinction_curve, fwd.rv).relative(WAVELENGTH)
    hi = params.HIGH[params.INDEX["a0"]]
    n = len(model_a0_zero)
    best, best_a = np.full(n, np.inf), np.zeros(n)
    for a in np.arange(0.0, hi + 1e-9, step):
        c = reduced_chi2(flux, flux_error, model_a0_zero * 10.0 ** (-0.4 * a * k))
        better = c < best
        best[better], best_a[better] = c[better], a
    return model_a0_zero * 10.0 ** (-0.4 * best_a[:, None] * k[None, :]), best_a, best


def a0_uncertainty(flux, flux_error, model_a0_zero, a0, fwd: ForwardConfig, step: float = 0.05) -> np.ndarray:
    """1-sigma uncertainty (N,) of the A0 found by :func:`fit_a0` (grid ``step``), NaN where the
    chi^2 curve is not convex there.

    The chi^2 = (W - 1) * gof_chi2 curve is approximated by a parabola through three grid points
    around the best A0 (shifted inwards at the prior bounds): sigma_fit = sqrt(2 / chi2''), the
    Delta chi^2 = 1 interval (Press et al., Numerical Recipes, section 15.6). It is scaled by
    sqrt(max(gof_chi2, 1)) -- the Birge ratio: where the model misfits the spectrum (the emulator's
    error, absorbed partly by A0) the formal interval is too narrow by that factor -- and the
    rounding of the best A0 to the grid (uniform, variance step^2 / 12) is added in quadrature.
    """
    k = ExtinctionCurve(fwd.extinction_curve, fwd.rv).relative(WAVELENGTH)
    hi = params.HIGH[params.INDEX["a0"]]
    a = np.asarray(a0, dtype=float)
    centre = np.clip(a, step, hi - step)[:, None]
    dof = np.shape(flux)[1] - 1
    chi2 = [dof * reduced_chi2(flux, flux_error, model_a0_zero * 10.0 ** (-0.4 * (centre + d) * k))
            for d in (-step, 0.0, step)]
    curvature = (chi2[0] - 2.0 * chi2[1] + chi2[2]) / step**2
    best = reduced_chi2(flux, flux_error, model_a0_zero * 10.0 ** (-0.4 * a[:, None] * k))
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma_fit = np.where(curvature > 0, np.sqrt(2.0 / curvature), np.nan)
    return np.sqrt(sigma_fit**2 * np.maximum(best, 1.0) + step**2 / 12.0)


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


def library_residuals(forward_config: ForwardConfig, lib=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative residuals (M, 343) against the forward model ``forward_config`` at their labels
    (A0 fitted) of the in-box library stars outside the test set brighter than
    :data:`RESIDUAL_MAX_G`, without broken spectra; with their Teff (M,) and source ids (M,)."""
    lib = load_library() if lib is None else lib
    stars = select_test_set(lib, held_out=False)  # in-box stars outside the test set
    bright = np.flatnonzero(np.isfinite(stars.g_mag) & (stars.g_mag < RESIDUAL_MAX_G))
    stars = stars.subset(bright)
    fit = fit_at_labels(stars, forward_config)
    ok = fit.ok
    return fit.residual[ok], stars.teff[ok], np.asarray(stars.source_id, dtype=np.int64)[ok]


@dataclass(frozen=True)
class LabelFit:
    """The forward model at real stars' labels with A0 fitted (:func:`fit_at_labels`)."""

    theta: np.ndarray  # (M, 7) the labels, A0 column = the fitted A0
    model_a0_zero: np.ndarray  # (M, 343) the model at the labels with A0 = 0
    a0: np.ndarray  # (M,) the fitted A0
    residual: np.ndarray  # (M, 343) relative residual of the spectra against the fitted model
    ok: np.ndarray  # (M,) bool: finite residuals, none beyond RESIDUAL_MAX_ABS (not a broken spectrum)


def fit_at_labels(stars, forward_config: ForwardConfig) -> LabelFit:
    """The forward model at ``stars``' APOGEE labels, A0 fitted on the grid (:func:`fit_a0`), and
    the relative residuals that decide which spectra are usable: the one place the residual
    templates and the real-photosphere pool take their stars' model from."""
    theta = label_theta(stars)
    theta[:, params.INDEX["a0"]] = 0.0
    model0 = model_spectra(theta, forward_config)
    m_fit, a0_fit, _ = fit_a0(stars.flux, stars.flux_error, model0, forward_config)
    resid, _, _ = relative_residual(stars.flux, stars.flux_error, m_fit)
    ok = np.all(np.isfinite(resid), axis=1) & np.all(np.abs(resid) <= RESIDUAL_MAX_ABS, axis=1)
    theta[:, params.INDEX["a0"]] = a0_fit
    return LabelFit(theta, model0, a0_fit, resid, ok)
