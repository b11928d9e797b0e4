"""The CVAE networks, loss terms, annealing schedule and training loop."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from xpcvae import params
from xpcvae.train.model import (CVAE, CVAEConfig, gaussian_log_prob, kl_annealing, logit_normal_log_prob,
                          mixture_log_prob)


def small_model(seed=0):
    torch.manual_seed(seed)
    return CVAE(CVAEConfig(mixture_components=3, trunk_widths=(64,), context_size=16, head_widths=(16,)))


def fake_spectra(b=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    flux = 1.0 + 0.1 * torch.rand(b, 343, generator=g)
    err = 0.01 + 0.01 * torch.rand(b, 343, generator=g)
    return flux, err


def test_sample_shapes_and_bounds():
    m = small_model()
    flux, err = fake_spectra(4)
    draws = m.sample(flux, err, 500, generator=torch.Generator().manual_seed(1)).numpy()
    assert draws.shape == (4, 500, params.NDIM)
    assert np.all(draws >= params.LOW) and np.all(draws <= params.HIGH)
    assert np.all(np.isfinite(draws))


def test_features_are_independent_of_flux_unit():
    m = small_model()
    flux, err = fake_spectra(3)
    a = m.features(flux, err)
    b = m.features(flux * 3.7e-16, err * 3.7e-16)
    assert torch.allclose(a, b, atol=1e-5)


def test_kl_of_identical_distributions_is_zero():
    torch.manual_seed(0)
    mean, log_std = torch.randn(6, 10), 0.3 * torch.randn(6, 10)
    z = mean + torch.exp(log_std) * torch.randn(6, 10)
    # a mixture whose three components all equal q is q itself
    k_mean = mean[:, None, :].expand(6, 3, 10)
    k_log_std = log_std[:, None, :].expand(6, 3, 10)
    kl = gaussian_log_prob(z, mean, log_std).sum(-1) - mixture_log_prob(z, torch.zeros(6, 3), k_mean, k_log_std)
    assert torch.allclose(kl, torch.zeros(6), atol=1e-5)


def test_mixture_log_prob_matches_scipy():
    torch.manual_seed(1)
    logits, mean, log_std = torch.randn(1, 4), torch.randn(1, 4, 2), 0.2 * torch.randn(1, 4, 2)
    z = torch.randn(1, 2)
    w = torch.softmax(logits, 1)[0].numpy()
    ref = sum(w[k] * stats.multivariate_normal(mean[0, k].numpy(), np.diag(np.exp(2 * log_std[0, k].numpy())))
              .pdf(z[0].numpy()) for k in range(4))
    assert float(mixture_log_prob(z, logits, mean, log_std)) == pytest.approx(math.log(ref), rel=1e-5)


def test_logit_normal_density_integrates_to_one():
    loc, log_scale = torch.tensor([[0.7]]), torch.tensor([[math.log(0.8)]])
    f = lambda u: math.exp(float(logit_normal_log_prob(torch.tensor([[u]], dtype=torch.float64),
                                                       loc.double(), log_scale.double())))
    total, _ = integrate.quad(f, 1e-4, 1 - 1e-4, limit=200)
    assert total == pytest.approx(1.0, abs=2e-3)


def test_annealing_schedule_at_its_knots():
    assert kl_annealing(0, 50, 150) == 0.0
    assert kl_annealing(50, 50, 150) == 0.0
    assert kl_annealing(150, 50, 150) == 1.0
    assert kl_annealing(3000, 50, 150) == 1.0
    # logarithmic: ln(1 + 50) / ln(1 + 100) at the midpoint
    assert kl_annealing(100, 50, 150) == pytest.approx(3.9318256 / 4.6151205, rel=1e-6)
    vals = [kl_annealing(e, 50, 150) for e in range(50, 151)]
    assert all(b > a for a, b in zip(vals, vals[1:]))


def test_tiny_model_beats_the_prior(tiny_run, tiny_grid, noise):
    from xpcvae.train.evaluate import posterior_draws
    from xpcvae.train.run import load_run_model

    model, _ = load_run_model(tiny_run)
    with np.load(tiny_run / "split.npz") as z:
        test = z["test"]
    truth = tiny_grid.parameters[test]
    clean = np.asarray(tiny_grid.flux, dtype=float)[test]
    sigma = np.asarray(noise.sigma(clean, 12.0))
    flux = clean + sigma * np.random.default_rng(0).standard_normal(clean.shape)
    draws = posterior_draws(model, flux, sigma, 200, seed=0)
    med = np.median(draws, axis=1)
    mae_teff = np.mean(np.abs(med[:, 0] - truth[:, 0]))
    prior_mae = np.mean(np.abs(truth[:, 0] - 5000.0))  # error of the prior median, ~1000 K
    assert mae_teff < 0.3 * prior_mae, (mae_teff, prior_mae)


def test_checkpoint_resumes_to_the_same_state(tiny_grid, noise, tmp_path):
    from xpcvae.train.training import Trainer, TrainConfig

    sub = type(tiny_grid)(parameters=tiny_grid.parameters[:600], flux=tiny_grid.flux[:600],
                          wavelength=tiny_grid.wavelength, norm=tiny_grid.norm[:600], attrs={})
    cfg = CVAEConfig(mixture_components=2, trunk_widths=(32,), context_size=8, head_widths=(8,))

    def make(run, epochs):
        return Trainer(sub, run, noise, cfg, TrainConfig(epochs=epochs, batch_size=64, kl_start=0, kl_end=1,
                                                          threads=1, seed=5))

    straight = make(tmp_path / "a", 3)
    straight.fit(progress=False)
    interrupted = make(tmp_path / "b", 3)
    interrupted.cfg.time_limit_s = 0.0  # stops after its first epoch, as if killed
    interrupted.fit(progress=False)
    assert interrupted.epoch == 1
    resumed = make(tmp_path / "b", 3)
    assert resumed.epoch == 1
    resumed.fit(progress=False)
    for (k, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), k
    assert [h["val_cost"] for h in straight.history] == [h["val_cost"] for h in resumed.history]
    assert (tmp_path / "b" / "log.csv").read_text().count("\n") == 4
    assert (tmp_path / "b" / "training.png").stat().st_size > 1000


def test_split_is_deterministic_and_disjoint():
    from xpcvae.train.training import split_indices

    a = split_indices(1000, 0.05, 0.05, 7)
    b = split_indices(1000, 0.05, 0.05, 7)
    for k in a:
        assert np.array_equal(a[k], b[k])
    allidx = np.concatenate([a["train"], a["val"], a["test"]])
    assert len(np.unique(allidx)) == 1000
    assert len(a["test"]) == 50 and len(a["val"]) == 50


def test_marginal_nll_is_the_mixture_of_the_decoder_densities_at_the_component_means():
    """With vanishing component widths every draw is a component mean, so the estimate is exact:
    p(x|y) = sum_k pi_k r2(x | y, mu_k), computed here component by component."""
    from xpcvae.train.model import LOG_STD_MIN, logit_normal_log_prob

    torch.manual_seed(0)
    model = CVAE(CVAEConfig(mixture_components=3, trunk_widths=(16,), context_size=8, head_widths=(8,)))
    last = model.r1.net[-1]
    k, l = 3, model.cfg.latent_size
    with torch.no_grad():  # log-std outputs pinned far below the clamp: sigma = exp(LOG_STD_MIN)
        last.weight[k * (1 + l):] = 0.0
        last.bias[k * (1 + l):] = -50.0
    flux = 1.0 + 0.1 * torch.rand(4, 343)
    err = 0.01 * torch.ones(4, 343)
    x = torch.rand(4, 7)
    got = model.marginal_nll(flux, err, x, samples=3)
    feats = model.features(flux, err)
    logits, mean, log_std = model.r1(feats)
    assert torch.all(log_std == LOG_STD_MIN)
    ctx = model.r2.context(feats)
    per_comp = torch.stack([logit_normal_log_prob(x, *model.r2.sample_head(ctx, mean[:, j])) for j in range(k)], 1)
    want = -torch.logsumexp(torch.log_softmax(logits, 1) + per_comp, 1)
    torch.testing.assert_close(got, want, rtol=0, atol=2e-4 * float(want.abs().max()) + 1e-4)
    got.sum().backward()  # differentiable in r1 and r2, and q takes no part
    assert model.r1.net[0].weight.grad is not None and model.r2.head[0].weight.grad is not None
    assert all(p.grad is None for p in model.q.parameters())
