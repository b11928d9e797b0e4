"""The reference-posterior comparison's pieces: the JS estimator, the batched likelihood pool, the
Gaussian likelihood, a small dynesty run with a known posterior, and the simulated observations."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import norm

from xpcvae import params
from xpcvae.cli import main
from xpcvae.validation import divergence
from xpcvae.validation.nested import BatchingPool, GaussianLikelihood, kish_ess, run_nested

BUNDLE = Path(__file__).resolve().parents[1] / "export" / "default"


# -- Jensen-Shannon estimator --------------------------------------------------------------------
def test_js_identical_histograms_is_zero_and_disjoint_is_one_bit():
    p = np.array([0.2, 0.3, 0.5, 0.0])
    assert divergence.js_bits(p, p) == 0.0
    assert divergence.js_bits([0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.3, 0.7]) == pytest.approx(1.0, abs=1e-12)


def test_js_matches_scipy_on_random_histograms():
    r = np.random.default_rng(0)
    for _ in range(20):
        p, q = r.random(12), r.random(12)
        p, q = p / p.sum(), q / q.sum()
        # scipy returns the Jensen-Shannon *distance*, the square root of the divergence
        assert divergence.js_bits(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, rel=1e-10)


def test_js_of_samples_disjoint_one_bit_same_distribution_small():
    r = np.random.default_rng(1)
    a, b = r.normal(0, 1, 20000), r.normal(100, 1, 20000)
    assert divergence.js_samples(a, b) == pytest.approx(1.0, abs=1e-12)
    c = r.normal(0, 1, 20000)
    assert divergence.js_samples(a, c) < 0.005


def test_js_of_two_gaussians_matches_numerical_integral():
    # JS of N(0,1) and N(1,1) by quadrature on a fine grid; the 40-bin estimate from large samples agrees
    x = np.linspace(-10, 11, 200001)
    p, q = norm.pdf(x), norm.pdf(x, 1.0)
    m = 0.5 * (p + q)
    exact = 0.5 * np.trapezoid(p * np.log2(p / m), x) + 0.5 * np.trapezoid(q * np.log2(q / m), x)
    r = np.random.default_rng(2)
    est = divergence.js_samples(r.normal(0, 1, 400000), r.normal(1, 1, 400000))
    assert est == pytest.approx(exact, rel=0.05)


def test_weights_act_like_repeated_samples():
    x = np.array([0.1, 0.4, 0.4, 0.9])
    edges = divergence.common_edges([(x, None)], bins=5)
    np.testing.assert_allclose(divergence.histogram(np.array([0.1, 0.4, 0.9]), edges, np.array([1, 2, 1.0])),
                               divergence.histogram(x, edges))
    assert np.isinf(edges[0]) and np.isinf(edges[-1])  # open outer bins: no mass is dropped


def test_histogram_refuses_bad_input():
    edges = divergence.common_edges([(np.arange(5.0), None)])
    with pytest.raises(ValueError, match="finite"):
        divergence.histogram(np.array([0.0, np.nan]), edges)
    with pytest.raises(ValueError, match="weights"):
        divergence.histogram(np.array([0.0, 1.0]), edges, np.array([-1.0, 1.0]))


def test_kish_ess():
    assert kish_ess(np.ones(50)) == pytest.approx(50)
    assert kish_ess(np.r_[1.0, np.zeros(9)]) == pytest.approx(1)


# -- likelihood and batching ----------------------------------------------------------------------
def test_gaussian_likelihood_equals_scipy_logpdf_on_the_forward_model():
    from xpcvae.forward import ForwardModel

    fm = ForwardModel()
    r = np.random.default_rng(3)
    theta = params.from_unit(0.2 + 0.6 * r.random((2, params.NDIM)))
    model = fm.spectra(theta)[0]
    sigma = 0.01 + 0.02 * r.random(model.shape[1])
    y = model[0] + sigma * r.standard_normal(model.shape[1])
    like = GaussianLikelihood(lambda th: fm.spectra(th)[0], y, sigma)
    expected = [float(np.sum(norm.logpdf(y, loc=m, scale=sigma))) for m in model]
    np.testing.assert_allclose(like.batch(theta), expected, rtol=1e-12)
    assert like(theta[1]) == pytest.approx(expected[1], rel=1e-12)


def test_gaussian_likelihood_refuses_bad_errors():
    with pytest.raises(ValueError, match="sigma"):
        GaussianLikelihood(lambda t: t, np.ones(3), np.array([1.0, 0.0, 1.0]))


def test_pool_batches_in_lockstep_and_returns_each_task_its_own_value():
    seen = []

    def batch(x):
        seen.append(len(x))
        return x[:, 0] * 10.0

    pool = BatchingPool(batch, size=4)

    def task(item):  # a task asking for `item` likelihood values, like a sampler's proposal loop
        return [pool.loglikelihood(np.array([item + k / 100.0])) for k in range(item)]

    out = pool.map(task, [1, 3, 2, 3])
    assert out == [[10.0 * (i + k / 100.0) for k in range(i)] for i in (1, 3, 2, 3)]
    assert seen == [4, 3, 2]  # every running task contributes one point per batch
    assert pool.points == 9 and pool.batches == 3


def test_pool_passes_a_batch_error_to_every_task():
    def batch(x):
        raise FloatingPointError("bad spectrum")

    pool = BatchingPool(batch, size=2)
    with pytest.raises((FloatingPointError, RuntimeError)):
        pool.map(lambda item: pool.loglikelihood(np.array([item])), [1.0, 2.0])


# -- a small nested-sampling run with a known answer -----------------------------------------------
def test_dynesty_on_a_gaussian_recovers_mean_sd_and_evidence():
    mu, sd = np.array([0.4, 0.55]), np.array([0.04, 0.02])

    def batch(x):
        return np.sum(norm.logpdf(x, mu, sd), axis=1)

    run = run_nested(batch, 2, lambda u: np.asarray(u), seed=5, nlive=150, dlogz=0.01, queue_size=8)
    w, x = run["weights"], run["samples"]
    mean = np.sum(w[:, None] * x, axis=0)
    std = np.sqrt(np.sum(w[:, None] * (x - mean) ** 2, axis=0))
    assert run["converged"] and run["delta_logz"] < 0.01
    # the posterior is N(mu, sd) (the box holds all its mass), the evidence the prior density 1 times 1
    assert np.all(np.abs(mean - mu) < 5 * sd / math.sqrt(run["ess"])), (mean, mu, run["ess"])
    np.testing.assert_allclose(std, sd, rtol=0.12)
    assert abs(run["logz"] - 0.0) < 4 * run["logzerr"] + 0.05
    again = run_nested(batch, 2, lambda u: np.asarray(u), seed=5, nlive=150, dlogz=0.01, queue_size=8)
    np.testing.assert_array_equal(again["samples"], x)  # deterministic for a seed


# -- simulated observations -----------------------------------------------------------------------
def test_simulated_spectra_are_model_plus_reported_gaussian_noise():
    from xpcvae.forward.config import ForwardConfig
    from xpcvae.forward.model import cached_model
    from xpcvae.validation.reference_data import simulate

    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    manifest["provenance"]["training"].update(error_shapes="family", residual_templates=True)
    d = simulate(manifest, np.full(400, 14.0), seed=4)
    clean = cached_model(ForwardConfig.from_manifest(manifest)).spectra(d.theta)[0]
    z = (d.flux - clean) / d.sigma
    assert abs(z.mean()) < 0.01 and z.std() == pytest.approx(1.0, abs=0.01)
    assert d.observation["left_out"] == ["residual_templates"]
    assert np.all((d.theta >= params.LOW) & (d.theta <= params.HIGH))
    again = simulate(manifest, np.full(400, 14.0), seed=4)
    np.testing.assert_array_equal(again.flux, d.flux)


def test_cli_refuses_uneven_split_over_g(capsys):
    assert main(["compare-reference", "--bundle", str(BUNDLE), "--out", "/nonexistent/x", "--n-spectra", "3"]) == 2
    assert "multiple" in capsys.readouterr().err


def test_compare_spectrum_cvae_like_the_reference_sits_at_the_floor_and_a_wide_one_above():
    from xpcvae.validation.reference import compare_spectrum

    r = np.random.default_rng(6)
    mid, sd = 0.5 * (params.LOW + params.HIGH), 0.02 * (params.HIGH - params.LOW)

    def run(n):  # an importance-weighted "reference run": uniform weights over normal draws
        return {"samples": mid + sd * r.standard_normal((n, params.NDIM)), "weights": np.full(n, 1.0 / n)}

    runs = [run(3000), run(3000)]
    same = compare_spectrum(mid + sd * r.standard_normal((5000, params.NDIM)), runs)
    wide = compare_spectrum(mid + 4 * sd * r.standard_normal((5000, params.NDIM)), runs)
    np.testing.assert_allclose(same["sd_cvae"], np.array(same["sd_ref"]), rtol=0.05)
    assert max(same["js_cvae_ref"]) < 2 * max(same["js_ref_ref"]) + 0.005
    np.testing.assert_allclose(np.array(wide["sd_cvae"]) / np.array(wide["sd_ref"]), 4.0, rtol=0.06)
    assert min(wide["js_cvae_ref"]) > 10 * max(wide["js_ref_ref"])
