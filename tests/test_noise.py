"""The XP noise model: closed form, NumPy/torch agreement, draws, and fit quality on the
held-out real stars."""

from __future__ import annotations

import numpy as np
import pytest

from xpcvae.forward import WAVELENGTH
from xpcvae.simulate.noise import NoiseModel, fit_report


@pytest.fixture(scope="module")
def model():
    return NoiseModel.default()


def test_default_coefficients(model):
    for name in ("a", "b", "c"):
        v = getattr(model, name)
        assert v.dtype == np.float64 and v.shape == (343,) and np.all(v >= 0)
    assert "5 == 0" in model.meta["held_out"]
    np.testing.assert_array_equal(model.wavelength, WAVELENGTH)


def test_sigma_is_the_closed_form(model):
    rng = np.random.default_rng(1)
    flux = rng.uniform(-0.2, 2.0, size=(4, 343))
    g = np.array([9.0, 12.0, 15.0, 17.5])
    t = 10 ** (0.4 * (g[:, None] - 15.0))
    f = np.maximum(flux, 0.0)
    expected = np.sqrt(model.a * f * t + model.b * t**2 + (model.c * f) ** 2)
    np.testing.assert_allclose(model.sigma(flux, g), expected, rtol=1e-12)
    # scalar magnitude and a single spectrum
    np.testing.assert_allclose(model.sigma(flux[1], 12.0), expected[1], rtol=1e-12)
    # negative flux is clipped at 0 inside the formula only
    np.testing.assert_allclose(model.sigma(-np.ones(343), 13.0), model.sigma(np.zeros(343), 13.0))


def test_sigma_on_torch_tensors(model):
    import torch
    rng = np.random.default_rng(2)
    flux = rng.uniform(0.0, 2.0, size=(3, 343))
    g = np.array([10.0, 13.0, 16.0])
    ref = model.sigma(flux, g)
    out64 = model.sigma(torch.tensor(flux), torch.tensor(g))
    assert isinstance(out64, torch.Tensor) and out64.dtype == torch.float64
    np.testing.assert_allclose(out64.numpy(), ref, rtol=1e-12)
    out32 = model.sigma(torch.tensor(flux, dtype=torch.float32), torch.tensor(g, dtype=torch.float32))
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), ref, rtol=1e-5)
    # magnitudes as a NumPy array or a Python float with tensor fluxes
    np.testing.assert_allclose(model.sigma(torch.tensor(flux), g).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(model.sigma(torch.tensor(flux), 13.0).numpy()[1], ref[1], rtol=1e-12)


def test_noise_grows_with_magnitude_and_in_the_blue(model):
    flat = np.ones(343)
    s = model.sigma(np.stack([flat, flat, flat]), np.array([10.0, 13.0, 16.0]))
    assert np.all(s[1] > s[0]) and np.all(s[2] > s[1])
    blue = WAVELENGTH < 400
    mid = (WAVELENGTH > 600) & (WAVELENGTH < 900)
    assert s[1, blue].mean() > 3 * s[1, mid].mean()


def test_draw(model):
    flux = np.tile(np.linspace(0.5, 1.5, 343), (2000, 1))
    g = np.full(2000, 13.0)
    noisy, sigma = model.draw(flux, g, np.random.default_rng(7))
    np.testing.assert_allclose(sigma, model.sigma(flux, g))
    z = (noisy - flux) / sigma
    assert abs(z.mean()) < 0.01 and z.std() == pytest.approx(1.0, abs=0.01)
    again, _ = model.draw(flux, g, np.random.default_rng(7))
    np.testing.assert_array_equal(noisy, again)
    with pytest.raises(TypeError):
        model.draw(flux, g, 7)
    with pytest.raises(ValueError):
        model.draw(flux, np.full(2000, np.nan), np.random.default_rng(0))


def test_reproduces_real_flux_errors_of_held_out_stars(model):
    # the held-out test stars were not used in the fit
    report = fit_report(model)
    assert report["n_test_stars"] > 7000
    assert 0.85 < report["overall_median"] < 1.15
    for row in report["median_ratio"]:
        for region, value in row.items():
            if region not in ("g_bin", "n"):
                assert 0.6 < value < 1.5, (row["g_bin"], region, value)


def test_bad_coefficients():
    with pytest.raises(ValueError):
        NoiseModel(-np.ones(343), np.ones(343), np.ones(343))
    with pytest.raises(FileNotFoundError):
        NoiseModel.load("/nonexistent/noise.npz")
