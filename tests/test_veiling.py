"""Veiling real photospheres with the forward model's accretion component (xpcvae.simulate.veiling)."""

from __future__ import annotations

import numpy as np
import pytest

from xpcvae import params
from xpcvae.forward.instrument import FINE_WAVELENGTH, WAVELENGTH
from xpcvae.forward.model import ForwardModel
from xpcvae.forward.stellar import planck_surface_flux
from xpcvae.simulate.noise import NoiseModel
from xpcvae.simulate.veiling import photosphere_scale, veil

I = params.INDEX


@pytest.fixture(scope="module")
def model():
    return ForwardModel()  # the default (empirical) photosphere, as the validation uses


def _theta(teff, logg, mh, log_mdot, ff, mass, a0):
    return np.array([[teff, logg, mh, log_mdot, ff, mass, a0]], dtype=float)


def _model_star(model, theta, dilution):
    """A 'real' star that is exactly the model photosphere (ff = 0) at ``theta``, diluted by ``dilution``."""
    quiet = theta.copy()
    quiet[:, I["ff"]] = 0.0
    obs = dilution * model.components(quiet)["observed"]
    return obs, 0.01 * obs  # 1 % errors


def _flat_noise(a=0.0, b=0.0, c=0.0):
    n = WAVELENGTH.size
    return NoiseModel(np.full(n, a), np.full(n, b), np.full(n, c))


def test_photosphere_scale_recovers_a_dilution():
    rng = np.random.default_rng(0)
    m = 1.0 + rng.random((3, WAVELENGTH.size))
    s_true = np.array([1e-20, 3.5e-19, 2.0])
    o = s_true[:, None] * m
    np.testing.assert_allclose(photosphere_scale(o, 0.02 * o, m), s_true, rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        photosphere_scale(o[:, :-1], o[:, :-1], m)
    with pytest.raises(ValueError, match="row 1"):
        photosphere_scale(o * np.array([[1.0], [-1.0], [1.0]]), 0.02 * o, m)


def test_veiling_a_model_star_gives_the_forward_model_at_the_injected_parameters(model):
    # when the real star *is* the model photosphere, the veiled star is the forward model's
    # whole spectrum (step 5 and 6 of docs/science.md) times the same dilution
    theta = np.vstack([_theta(3800, 4.5, 0.0, -7.5, 0.1, 0.6, 1.2), _theta(4300, 4.0, 0.2, -8.5, 0.02, 1.0, 3.0)])
    dilution = 2.7e-19
    o, e = _model_star(model, theta, dilution)
    v = veil(o, e, np.array([12.0, 14.0]), theta, model, NoiseModel.default(), rng=None)
    np.testing.assert_allclose(v.scale, dilution, rtol=1e-10)
    np.testing.assert_allclose(v.flux, dilution * model.components(theta)["observed"], rtol=1e-10)
    # the added flux: the forward model's accretion component, extinguished, times the scale
    comp = model.components(theta)
    ff = theta[:, I["ff"]][:, None]
    np.testing.assert_allclose(v.added_flux, dilution * ff * comp["accretion"] * comp["attenuation"], rtol=1e-10)
    assert np.all(v.added_flux > 0)
    # accretion veils the blue more than the red
    r = v.added_flux / ((1 - ff) * o)
    blue, red = WAVELENGTH < 400, WAVELENGTH > 800
    assert np.all(r[:, blue].mean(axis=1) > 3 * r[:, red].mean(axis=1))


def test_no_filling_factor_gives_back_the_star(model):
    rng = np.random.default_rng(1)
    o = 1e-17 * (1.0 + rng.random((2, WAVELENGTH.size)))
    e = 0.03 * o
    theta = np.vstack([_theta(4000, 4.5, 0.0, -5.0, 0.0, 0.5, 1.0), _theta(5000, 4.0, 0.0, -11.0, 0.0, 1.0, 0.0)])
    v = veil(o, e, np.array([11.0, 13.0]), theta, model, NoiseModel.default(), rng=np.random.default_rng(2))
    np.testing.assert_array_equal(v.flux, o)
    np.testing.assert_array_equal(v.flux_error, e)
    assert np.all(v.added_flux == 0) and np.all(v.added_variance == 0)


def test_negligible_accretion_replaces_the_columns_by_a_blackbody_at_teff(model):
    # log Mdot at the prior's floor: the spot is barely heated, so the star becomes
    # (1 - ff) O + ff s pi B(Teff) x attenuation -- not the star itself
    theta = _theta(4000, 4.5, 0.0, params.LOW[I["log_mdot"]], 0.2, 1.0, 2.0)
    o, e = _model_star(model, theta, 1e-18)
    v = veil(o, e, np.array([12.0]), theta, model, NoiseModel.default(), rng=None)
    bb = model.instrument.apply(planck_surface_flux(FINE_WAVELENGTH[None, :], np.array([[4000.0]])))
    att = 10.0 ** (-0.4 * 2.0 * model.extinction.relative(WAVELENGTH))
    # (at the floor the spot is 5 K above Teff and the slab still adds ~6 % of B(Teff) at 340 nm,
    # where a 4000 K photosphere is faint: compare redwards of 450 nm)
    red = WAVELENGTH > 450
    np.testing.assert_allclose(v.added_flux[:, red], (1e-18 * 0.2 * bb * att)[:, red], rtol=0.015)
    assert np.all(v.added_flux >= 1e-18 * 0.2 * bb * att)
    np.testing.assert_allclose(v.flux - v.added_flux, 0.8 * o, rtol=1e-12)


def test_added_noise_is_the_noise_models_variance_increase(model):
    theta = _theta(3800, 4.5, 0.0, -7.0, 0.1, 0.6, 0.5)
    dilution, g = 5e-19, 13.0
    o, e = _model_star(model, theta, dilution)
    a, c = 2e-4, 0.01
    v = veil(o, e, np.array([g]), theta, model, _flat_noise(a=a, b=1e-6, c=c), rng=None)
    # photon noise of the added flux in absolute units: a t <O> A (the background cancels), plus the
    # growth of the calibration floor c^2 (F_v^2 - F_kept^2)
    t = 10.0 ** (0.4 * (g - 15.0))
    mean = o.mean()
    kept = 0.9 * o
    expected = a * t * mean * v.added_flux + c**2 * ((kept + v.added_flux) ** 2 - kept**2)
    np.testing.assert_allclose(v.added_variance, expected, rtol=1e-9)
    np.testing.assert_allclose(v.flux_error, np.sqrt((0.9 * e) ** 2 + expected), rtol=1e-12)
    # the drawn noise has that variance
    many = np.repeat(o, 400, axis=0)
    vn = veil(many, np.repeat(e, 400, axis=0), np.full(400, g), np.repeat(theta, 400, axis=0), model,
              _flat_noise(a=a, c=c), rng=np.random.default_rng(3))
    z = (vn.flux - (0.9 * many + vn.added_flux)) / np.sqrt(vn.added_variance)
    assert z.std() == pytest.approx(1.0, abs=0.01) and abs(z.mean()) < 0.01


def test_bad_inputs_are_named(model):
    theta = _theta(4000, 4.5, 0.0, -7.0, 0.1, 0.6, 0.5)
    o, e = _model_star(model, theta, 1e-18)
    nm = NoiseModel.default()
    with pytest.raises(ValueError, match="flux_error"):
        veil(o, -e, np.array([12.0]), theta, model, nm, rng=None)
    with pytest.raises(ValueError, match="G magnitudes"):
        veil(o, e, np.array([12.0, 13.0]), theta, model, nm, rng=None)
    with pytest.raises(params.ParameterError):
        veil(o, e, np.array([12.0]), _theta(4000, 4.5, 0.0, -7.0, 0.5, 0.6, 0.5), model, nm, rng=None)  # ff > 0.3
    with pytest.raises(ValueError, match="non-positive mean"):
        veil(-o, e, np.array([12.0]), theta, model, nm, rng=None)
