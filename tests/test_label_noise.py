"""Label-noise-aware cost of the real rows (xpcvae.train.model.convolved_logit_normal_log_prob) and the
label errors it uses: the Salaris [M/H] error (xpcvae.data.library) and the A0 fit's (xpcvae.simulate.residuals)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from xpcvae.data.library import salaris_mh, salaris_mh_error
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.extinction import ExtinctionCurve
from xpcvae.forward.instrument import WAVELENGTH
from xpcvae.simulate.residuals import a0_uncertainty, fit_a0
from xpcvae.train.model import CVAE, convolved_logit_normal_log_prob, logit_normal_log_prob


def _brute_force_log_density(x, loc, log_scale, s):
    """log of int r2(t) N(x - t; 0, s^2) dt on a dense grid of the true label t (trapezoid rule),
    r2 the logit-normal written out here independently of the model code."""
    t = np.linspace(1e-8, 1.0 - 1e-8, 800001)
    w = np.log(t) - np.log1p(-t)
    scale = math.exp(log_scale)
    r2 = np.exp(-0.5 * ((w - loc) / scale) ** 2) / (scale * math.sqrt(2 * math.pi) * t * (1 - t))
    kernel = np.exp(-0.5 * ((x - t) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    return math.log(np.trapezoid(r2 * kernel, t))


def _conv(x, loc, log_scale, s):
    as_t = lambda v: torch.tensor([[v]], dtype=torch.float64)  # noqa: E731
    return float(convolved_logit_normal_log_prob(as_t(x), as_t(loc), as_t(log_scale), as_t(s)))


def test_zero_label_errors_give_exactly_the_unconvolved_cost():
    torch.manual_seed(0)
    model = CVAE()
    flux = 1.0 + torch.rand(9, 343)
    x = torch.rand(9, 7)
    torch.manual_seed(1)
    plain = model.marginal_nll(flux, 0.01 * flux, x, 3)
    torch.manual_seed(1)
    zero = model.marginal_nll(flux, 0.01 * flux, x, 3, torch.zeros(9, 7))
    assert torch.equal(plain, zero)
    torch.manual_seed(2)
    recon, kl = model.loss_terms(flux, 0.01 * flux, x)
    torch.manual_seed(2)
    recon0, kl0 = model.loss_terms(flux, 0.01 * flux, x, torch.zeros(9, 7))
    assert torch.equal(recon, recon0) and torch.equal(kl, kl0)
    # errors on some rows change exactly those rows
    err = torch.zeros(9, 7)
    err[6:, :4] = 0.02
    torch.manual_seed(1)
    some = model.marginal_nll(flux, 0.01 * flux, x, 3, err)
    assert torch.equal(some[:6], plain[:6]) and not torch.equal(some[6:], plain[6:])


@pytest.mark.parametrize("x, loc, log_scale, s, tol", [
    (0.5, 0.1, -1.0, 0.01, 3e-4),    # r2 much wider than the error: barely changed
    (0.5, 0.0, -3.0, 0.01, 3e-4),    # comparable widths
    (0.5, 0.0, -3.5, 0.01, 3e-4),
    (0.5, 0.0, -4.5, 0.01, 3e-4),    # r2 narrower than the error
    (0.6, 0.0, -7.0, 0.02, 3e-4),    # r2 at its narrowest (LOG_STD_MIN), off its peak
    (0.3, -0.8, -2.5, 0.003, 3e-4),
    (0.02, -4.0, -0.5, 0.005, 3e-4),  # near the lower bound (A0 ~ 0.2 mag)
    (0.0, -4.0, -0.5, 0.005, 3e-3),   # on the bound: part of the kernel falls outside the box
    (0.0, -6.0, 0.0, 0.01, 3e-3),     # on the bound, r2 piled up against it
    (1.0, 5.0, 0.3, 0.01, 3e-3),      # the upper bound
    (0.005, -5.0, 0.5, 0.005, 0.05),  # skewed r2 next to a bound: the worst case found
])
def test_the_convolved_density_matches_a_brute_force_convolution(x, loc, log_scale, s, tol):
    want = _brute_force_log_density(x, loc, log_scale, s)
    assert _conv(x, loc, log_scale, s) == pytest.approx(want, abs=tol)


def test_the_convolved_density_integrates_to_the_probability_that_the_observed_label_is_in_the_box():
    """int_0^1 p_obs(x) dx = E_t[Phi((1 - t) / s) - Phi(-t / s)], t ~ r2: 1 for r2 away from the bounds,
    less when r2 lies against one (labels pushed outside by the noise)."""
    from scipy.stats import norm

    xs = np.linspace(0.0, 1.0, 20001)
    for loc, log_scale, s in ((0.2, -1.5, 0.02), (-5.0, 0.0, 0.01)):
        p = np.array([math.exp(_conv(x, loc, log_scale, s)) for x in xs])
        mass = np.trapezoid(p, xs)
        t = 1.0 / (1.0 + np.exp(-(loc + math.exp(log_scale) * norm.ppf(np.linspace(1e-6, 1 - 1e-6, 200001)))))
        want = np.mean(norm.cdf((1.0 - t) / s) - norm.cdf(-t / s))
        assert mass == pytest.approx(want, abs=2e-3)
    assert want < 0.8  # the second case really loses mass outside the box


def test_fitting_the_convolved_density_recovers_the_noise_free_width():
    """Labels drawn from a logit-normal and observed with noise: maximising the convolved likelihood
    gives back the noise-free scale, the plain likelihood a wider one (what widens the posteriors)."""
    g = torch.Generator().manual_seed(3)
    true_loc, true_log_scale, s = 0.3, math.log(0.2), 0.04
    t = torch.sigmoid(true_loc + math.exp(true_log_scale) * torch.randn(20000, 1, generator=g, dtype=torch.float64))
    x = t + s * torch.randn(t.shape, generator=g, dtype=torch.float64)
    err = torch.full_like(x, s)

    def fit(convolved: bool):
        p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([p], max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loc, ls = p[0].expand_as(x), p[1].expand_as(x)
            lp = convolved_logit_normal_log_prob(x, loc, ls, err) if convolved else logit_normal_log_prob(x, loc, ls)
            cost = -lp.mean()
            cost.backward()
            return cost

        opt.step(closure)
        return p.detach().numpy()

    loc, log_scale = fit(True)
    assert loc == pytest.approx(true_loc, abs=0.02)
    assert math.exp(log_scale) == pytest.approx(0.2, rel=0.05)
    plain_scale = math.exp(fit(False)[1])
    # linearised: sqrt(0.2^2 + (s / (u (1 - u)))^2) at u = sigmoid(0.3)
    u = 1.0 / (1.0 + math.exp(-true_loc))
    assert plain_scale == pytest.approx(math.hypot(0.2, s / (u * (1 - u))), rel=0.05)


def test_the_salaris_mh_error_is_the_first_order_propagation_of_fe_h_and_alpha_m_errors():
    fe_h = np.array([-0.3, 0.0, 0.2, 0.1])
    alpha = np.array([0.25, 0.0, -0.05, np.nan])
    fe_err = np.array([0.01, 0.02, 0.005, 0.03])
    alpha_err = np.array([0.02, 0.01, 0.04, 0.05])
    h = 1e-6
    d_fe = (salaris_mh(fe_h + h, alpha) - salaris_mh(fe_h - h, alpha)) / (2 * h)
    d_alpha = (salaris_mh(fe_h, alpha + h) - salaris_mh(fe_h, alpha - h)) / (2 * h)
    want = np.sqrt((d_fe * fe_err) ** 2 + (np.nan_to_num(d_alpha) * alpha_err) ** 2)
    got = salaris_mh_error(fe_err, alpha, alpha_err)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got[3] == fe_err[3]  # no [alpha/M]: [M/H] is [Fe/H], its error fe_h_err
    assert np.isnan(salaris_mh_error(0.01, 0.1, np.nan))  # an unknown alpha error is not guessed


def test_the_a0_uncertainty_matches_the_scatter_of_repeated_fits():
    fwd = ForwardConfig(extinction_curve="F99", rv=3.1)
    k = ExtinctionCurve("F99", 3.1).relative(WAVELENGTH)
    x = np.linspace(-1.0, 1.0, WAVELENGTH.size)
    model0 = np.broadcast_to(1.6 + 0.3 * np.exp(-x**2 / 0.1) + 0.2 * x, (400, WAVELENGTH.size))
    a0_true = 1.2
    clean = 3.0 * model0 * 10.0 ** (-0.4 * a0_true * k)
    err = 0.3 * clean  # large errors: the 1 % systematic of the gof is negligible beside them
    flux = clean + err * np.random.default_rng(5).standard_normal(clean.shape)
    step = 0.005
    _, a0, _ = fit_a0(flux, err, model0, fwd, step=step)
    sigma = a0_uncertainty(flux, err, model0, a0, fwd, step=step)
    assert np.std(a0) > 6 * step  # the test resolves the scatter, not the grid
    assert np.median(sigma) == pytest.approx(np.std(a0), rel=0.15)
    # reported errors half the true ones (gof_chi2 ~ 4): the formal interval halves, the Birge ratio
    # (sqrt(gof_chi2) ~ 2) gives it back -- underestimated errors do not make A0 look better known
    half = a0_uncertainty(flux, err / 2, model0, a0, fwd, step=step)
    np.testing.assert_allclose(np.median(half), np.median(sigma), rtol=0.05)
