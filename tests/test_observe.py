"""The observation model used in training and evaluation (xpcvae.simulate.observe)."""

import numpy as np
import torch
from scipy import stats

from xpcvae.simulate.observe import observe


def test_noise_matches_the_reported_uncertainty(noise, tiny_grid):
    clean = torch.as_tensor(np.asarray(tiny_grid.flux[:500], dtype=np.float64))
    g = torch.full((500,), 14.0, dtype=torch.float64)
    flux, sigma = observe(clean, noise, g, torch.Generator().manual_seed(1))
    pulls = ((flux - clean) / sigma).numpy().ravel()
    # the flux scatters around the clean spectrum exactly by the reported sigma: unit pulls
    assert abs(pulls.mean()) < 0.01 and abs(pulls.std() - 1) < 0.01
    assert stats.kstest(pulls[::37], "norm").pvalue > 1e-3
    assert torch.all(sigma > 0)


def test_uncertainties_are_not_a_function_of_the_clean_spectrum(noise, tiny_grid):
    one = torch.as_tensor(np.asarray(tiny_grid.flux[:1], dtype=np.float64)).repeat(200, 1)
    g = torch.full((200,), 13.0, dtype=torch.float64)
    _, sigma = observe(one, noise, g, torch.Generator().manual_seed(2))
    leaky = torch.as_tensor(np.asarray(noise.sigma(one.numpy(), 13.0)))
    # the same clean spectrum gets different reported errors, scattered around the noise model
    ratio = (sigma / leaky).numpy()
    assert ratio.std(axis=0).min() > 0.1
    assert 0.8 < np.median(ratio) < 1.2


def test_fainter_stars_get_larger_uncertainties(noise, tiny_grid):
    clean = torch.as_tensor(np.asarray(tiny_grid.flux[:300], dtype=np.float64))
    gen = torch.Generator().manual_seed(3)
    _, s12 = observe(clean, noise, torch.full((300,), 12.0, dtype=torch.float64), gen)
    _, s17 = observe(clean, noise, torch.full((300,), 17.0, dtype=torch.float64), gen)
    assert np.median((s17 / s12).numpy()) > 3


# -- error shapes from real stars and the model-error term -----------------------------------------
from xpcvae.simulate.observe import DONOR_NEIGHBOURS, ErrorShapeLibrary, ObservationModel, model_error_shape  # noqa: E402


def _synthetic_library(n_wave, n=1000, seed=0):
    """Donor ratios whose value encodes the donor's G, so draws can be traced back to their donor."""
    rng = np.random.default_rng(seed)
    g = rng.uniform(8.0, 15.0, n)
    ratio = np.repeat(g[:, None], n_wave, axis=1) / 10.0
    return ErrorShapeLibrary(ratio, g)


def test_donors_come_from_stars_of_similar_g(tiny_grid):
    n_wave = tiny_grid.flux.shape[1]
    lib = _synthetic_library(n_wave)
    g_sorted = np.sort(lib.g_mag.numpy())
    for g in (8.0, 11.3, 14.9, 17.5):
        d = lib.draw(torch.full((400,), g), torch.Generator().manual_seed(4))
        donor_g = d[:, 0].double().numpy() * 10.0
        # within the DONOR_NEIGHBOURS stars nearest in G (clamped at the library's ends)
        i = int(np.clip(np.searchsorted(g_sorted, g) - DONOR_NEIGHBOURS // 2, 0, len(g_sorted) - DONOR_NEIGHBOURS))
        lo, hi = g_sorted[i], g_sorted[i + DONOR_NEIGHBOURS - 1]
        assert np.all((donor_g >= lo - 1e-5) & (donor_g <= hi + 1e-5))
        assert len(np.unique(donor_g.round(6))) > 100  # many different donors, not one


def test_library_error_shapes_keep_the_noise_honest(noise, tiny_grid):
    n_wave = tiny_grid.flux.shape[1]
    rng = np.random.default_rng(5)
    ratio = np.exp(rng.normal(0.0, 0.3, (600, 1)) + rng.normal(0.0, 0.2, (600, n_wave)))
    lib = ErrorShapeLibrary(ratio, rng.uniform(10, 16, 600))
    clean = torch.as_tensor(np.asarray(tiny_grid.flux[:500], dtype=np.float64))
    flux, sigma = observe(clean, noise, torch.full((500,), 14.0, dtype=torch.float64),
                          torch.Generator().manual_seed(6), error_shapes=lib)
    pulls = ((flux - clean) / sigma).numpy().ravel()
    assert abs(pulls.std() - 1) < 0.01
    # the reported errors carry the donors' distortions (scatter about the noise model ~ 0.36 in log)
    leaky = np.asarray(noise.sigma(clean.numpy(), 14.0))
    assert 0.25 < np.log(sigma.numpy() / leaky).std() < 0.5


def test_model_error_is_unreported_extra_scatter(noise, tiny_grid):
    from xpcvae.simulate.observe import MODEL_ERROR_DEGREES

    clean = torch.as_tensor(np.asarray(tiny_grid.flux[:2000], dtype=np.float64))
    n = clean.shape[1]
    gen = torch.Generator().manual_seed(7)
    flux, sigma = observe(clean, noise, torch.full((2000,), 12.0, dtype=torch.float64), gen, model_error=0.03)
    # expected variance of the model-error curve per sample, from its definition: half white (1),
    # half an equal-weight sum of unit-rms Legendre polynomials of degrees 1..D
    x = np.linspace(-1.0, 1.0, n)
    p = np.stack([np.polynomial.legendre.Legendre.basis(k)(x) for k in range(1, MODEL_ERROR_DEGREES + 1)])
    v = 0.5 + 0.5 * np.mean(p ** 2 / np.mean(p ** 2, axis=1, keepdims=True), axis=0)
    resid = (flux - clean).numpy()
    total = np.sqrt(sigma.numpy() ** 2 + (0.03 * clean.numpy()) ** 2 * v)
    # the scatter is the reported noise and the 3 % model error in quadrature, not the noise alone
    assert abs((resid / total).std() - 1) < 0.02
    assert (resid / sigma.numpy()).std() > 1.2


def test_model_error_shape_has_unit_mean_square_and_a_smooth_half():
    s = model_error_shape(4000, 343, torch.Generator().manual_seed(8), torch.float64).numpy()
    assert abs(np.mean(s ** 2) - 1) < 0.02
    # neighbouring samples correlate through the smooth half: lag-1 correlation ~ 0.5
    lag1 = np.mean(s[:, 1:] * s[:, :-1])
    assert 0.4 < lag1 < 0.6


def test_observation_model_settings_round_trip_and_bad_settings(noise):
    obs = ObservationModel(noise, "family", 0.01)
    again = ObservationModel.from_settings(noise, obs.settings())
    assert again.settings() == {"error_shapes": "family", "model_error": 0.01, "residual_templates": False}
    assert ObservationModel.from_settings(noise, {}).settings() == {"error_shapes": "family", "model_error": 0.0,
                                                                   "residual_templates": False}
    try:
        ObservationModel.from_settings(noise, {"residual_templates": True})
    except ValueError as exc:
        assert "residual templates" in str(exc)
    else:
        raise AssertionError("residual templates without their file accepted")
    for kw, msg in (({"error_shapes": "gaussian"}, "error_shapes"), ({"model_error": -0.1}, "model_error"),
                    ({"model_error": float("nan")}, "model_error")):
        try:
            ObservationModel(noise, **kw)
        except ValueError as exc:
            assert msg in str(exc)
        else:
            raise AssertionError(f"{kw} accepted")


def test_error_shape_library_from_the_real_library_leaves_test_stars_out(noise):
    from xpcvae.data.library import is_test_star, load_library

    lib = load_library()
    shapes = ErrorShapeLibrary.from_library(noise, lib)
    train = ~is_test_star(lib.source_id)
    assert 0.9 * train.sum() < len(shapes.g_mag) <= train.sum()
    assert float(shapes.ratio.max()) <= 20.0 and float(shapes.ratio.min()) > 0
    # typical real errors are close to the noise model's: median ratio near 1
    assert 0.8 < float(shapes.ratio.median()) < 1.3


def test_a_run_records_its_observation_model_and_a_resumed_run_keeps_it(tiny_grid, noise, tmp_path):
    import json

    from xpcvae.train.model import CVAEConfig
    from xpcvae.train.training import Trainer, TrainConfig

    cfg = CVAEConfig(mixture_components=2, trunk_widths=(32,), context_size=8, head_widths=(8,))
    tcfg = TrainConfig(epochs=1, batch_size=256, g_mag_min=11, g_mag_max=15, threads=1, model_error=0.02)
    Trainer(tiny_grid, tmp_path / "run", noise, cfg, tcfg).fit(progress=False)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["training"]
    assert (saved["error_shapes"], saved["model_error"]) == ("family", 0.02)
    # resuming with other settings keeps the run's own (only the time limit may change)
    again = Trainer(tiny_grid, tmp_path / "run", noise, cfg, TrainConfig(epochs=2, model_error=0.0))
    assert again.noise.settings() == {"error_shapes": "family", "model_error": 0.02, "residual_templates": False}


def test_residual_templates_follow_the_simulated_teff_and_multiply_the_flux(noise, tiny_grid, tmp_path):
    from xpcvae.simulate.observe import RESIDUAL_NEIGHBOURS, ResidualTemplates

    n_wave = tiny_grid.flux.shape[1]
    rng = np.random.default_rng(9)
    teff = rng.uniform(3000, 7000, 800)
    # each template is a constant offset that encodes its star's Teff, so draws can be traced back
    templates = ResidualTemplates(np.repeat((teff / 1e5)[:, None], n_wave, axis=1), teff, {"note": "synthetic"})
    path = tmp_path / "templates.npz"
    templates.save(path)
    loaded = ResidualTemplates.load(path)
    assert loaded.meta == {"note": "synthetic"} and torch.equal(loaded.residual, templates.residual)
    t_sorted = np.sort(teff)
    clean = torch.ones((300, n_wave), dtype=torch.float64)
    for t in (3000.0, 4500.0, 6999.0):
        flux, sigma = observe(clean, noise, torch.full((300,), 12.0, dtype=torch.float64),
                              torch.Generator().manual_seed(10), residuals=loaded,
                              teff=torch.full((300,), t, dtype=torch.float64))
        # the flux scatters around clean * (1 + r) by sigma: recover r per spectrum, hence the donor's Teff
        r = ((flux - clean) / 1.0).mean(axis=1).numpy()
        donor_t = r * 1e5
        i = int(np.clip(np.searchsorted(t_sorted, t) - RESIDUAL_NEIGHBOURS // 2, 0, len(t_sorted) - RESIDUAL_NEIGHBOURS))
        lo, hi = t_sorted[i], t_sorted[i + RESIDUAL_NEIGHBOURS - 1]
        tol = 5 * float(sigma.mean()) / np.sqrt(n_wave) * 1e5
        assert np.all((donor_t > lo - tol) & (donor_t < hi + tol))


def test_residual_templates_need_teff_and_bad_files_are_named(noise, tiny_grid, tmp_path):
    from xpcvae.simulate.observe import ResidualTemplates

    n_wave = tiny_grid.flux.shape[1]
    templates = ResidualTemplates(np.zeros((200, n_wave)), np.linspace(3000, 7000, 200))
    clean = torch.ones((4, n_wave), dtype=torch.float64)
    try:
        observe(clean, noise, torch.full((4,), 12.0), torch.Generator().manual_seed(1), residuals=templates)
    except ValueError as exc:
        assert "Teff" in str(exc)
    else:
        raise AssertionError("templates without Teff accepted")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    try:
        ResidualTemplates.load(bad)
    except ValueError as exc:
        assert str(bad) in str(exc)
    else:
        raise AssertionError("a corrupt templates file was accepted")


def test_no_real_data_test_star_feeds_the_observation_model(noise):
    """Error shapes and residual templates come only from library stars outside the test set."""
    from xpcvae.data.library import is_test_star, load_library
    from xpcvae.forward.config import ForwardConfig
    from xpcvae.simulate.observe import ResidualTemplates

    lib = load_library()
    shapes = ErrorShapeLibrary.from_library(noise, lib)
    assert shapes.source_id is not None and len(shapes.source_id) == len(shapes.g_mag)
    assert not is_test_star(shapes.source_id).any()
    templates = ResidualTemplates.from_library(ForwardConfig())  # the default (empirical) forward model
    assert templates.source_id is not None and len(templates.source_id) == len(templates.teff) > 1000
    assert not is_test_star(templates.source_id).any()
    # the templates are what the real spectra show: a few per cent rms, not noise-dominated garbage
    rms = np.sqrt(np.mean(templates.residual.numpy() ** 2, axis=1))
    assert 0.01 < np.median(rms) < 0.06
