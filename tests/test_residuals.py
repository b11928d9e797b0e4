"""The held-out rule, and the forward model against real spectra (xpcvae.simulate.residuals)."""

from __future__ import annotations

import numpy as np
import pytest

from xpcvae import params
from xpcvae.data.library import is_test_star
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.extinction import ExtinctionCurve
from xpcvae.forward.instrument import WAVELENGTH
from xpcvae.simulate.residuals import fit_a0, relative_residual


def test_the_held_out_rule_is_source_id_modulo_5():
    # Gaia DR3 source ids exceed 2**32: the rule must hold in 64-bit integers
    ids = np.array([0, 5, 4295806720, 5 * 1234567890123456, 1, 4, 4295806721, 5 * 1234567890123456 + 3])
    assert is_test_star(ids).tolist() == [True] * 4 + [False] * 4
    assert is_test_star(ids.astype(object)).tolist() == [True] * 4 + [False] * 4


def _smooth_model(n: int) -> np.ndarray:
    """(n, 343) positive spectra of different slopes (stand-ins for the forward model at A0 = 0)."""
    x = np.linspace(-1.0, 1.0, WAVELENGTH.size)
    slopes = np.linspace(-0.5, 0.5, n)[:, None]
    return 1.0 + 0.3 * np.exp(-x**2 / 0.1)[None, :] + slopes * x[None, :] + 0.6


def test_fit_a0_recovers_the_extinction_of_a_reddened_model():
    fwd = ForwardConfig(extinction_curve="F99", rv=3.1)
    k = ExtinctionCurve("F99", 3.1).relative(WAVELENGTH)
    model0 = _smooth_model(4)
    a0_true = np.array([0.0, 1.3, 4.7, 9.95])
    # the observed spectra: reddened, in other flux units (the fit compares shapes), with 0.2 % noise
    flux = 7.0 * model0 * 10.0 ** (-0.4 * a0_true[:, None] * k[None, :])
    err = 0.002 * flux
    flux = flux + err * np.random.default_rng(3).standard_normal(flux.shape)
    m_fit, a0, chi2 = fit_a0(flux, err, model0, fwd)
    assert a0 == pytest.approx(a0_true, abs=0.05)  # the grid step
    assert np.all(a0 >= 0) and np.all(a0 <= params.HIGH[params.INDEX["a0"]])
    # the returned model is the zero-extinction model reddened by the returned A0
    np.testing.assert_allclose(m_fit, model0 * 10.0 ** (-0.4 * a0[:, None] * k[None, :]), rtol=1e-12)
    assert np.all(chi2 < 2.0)


def test_relative_residual_compares_shapes_only():
    model = _smooth_model(3)
    bump = 0.01 * np.sin(np.linspace(0, 20, WAVELENGTH.size))
    flux = 5.0 * model * (1.0 + bump)          # another flux scale, a 1 % ripple
    err = 1e-6 * flux                           # noise negligible: the least-squares scale is exact
    resid, rel_err, scaled = relative_residual(flux, err, model)
    # the residual is the ripple up to the (mean-normalised) scale of the fit
    np.testing.assert_allclose(resid - resid.mean(axis=1, keepdims=True),
                               np.broadcast_to(bump - bump.mean(), resid.shape), atol=2e-4)
    np.testing.assert_allclose(rel_err, err / (flux.mean(axis=1, keepdims=True) * scaled), rtol=1e-12)
    np.testing.assert_allclose(scaled.mean(axis=1), 1.0, atol=2e-3)
