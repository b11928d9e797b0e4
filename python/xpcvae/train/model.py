"""The conditional VAE of Gabbard et al. (2022, Nature Physics 18, 112; "VItamin").

Three networks, all conditioned on a spectrum ``y`` (flux and its uncertainties):

- ``r1(z | y)``    -- :class:`MixtureEncoder`: Gaussian mixture over the latent space;
  the "prior" used at inference time.
- ``q(z | x, y)``  -- :class:`RecognitionEncoder`: diagonal Gaussian, training only.
- ``r2(x | y, z)`` -- :class:`Decoder`: an independent logit-normal per parameter on
  the unit box (see docs/sampling.md for why not a truncated normal).

The decoder is split so that everything that depends on ``y`` alone runs once per
spectrum (:meth:`Decoder.context`) and only a small latent-dependent head runs per
posterior draw (:meth:`Decoder.sample_head`): the first per-draw layer is
``act(c(y) + W_z z)`` with ``c(y) = LayerNorm(W_y h(y) + b)`` the exported "context".

Inputs are the spectrum as observed (any flux unit): :class:`SpectrumFeatures`
divides flux and uncertainty by the mean flux and standardises them with statistics
stored as buffers, so the exported ONNX graphs carry their own preprocessing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from xpcvae import params
from xpcvae.forward.instrument import WAVELENGTH

LOG_2PI = math.log(2.0 * math.pi)

#: Unit-box targets are kept this far from the bounds before the logit transform, so
#: that a grid point exactly on a bound (e.g. ff = 0) has a finite logit.
UNIT_EPS = 1e-4

LOG_STD_MIN, LOG_STD_MAX = -7.0, 2.0


@dataclass
class CVAEConfig:
    """Architecture hyper-parameters (stored with every run and bundle)."""

    n_wave: int = len(WAVELENGTH)
    n_params: int = params.NDIM
    latent_size: int = 10
    mixture_components: int = 8
    trunk_widths: tuple = (512, 256)
    context_size: int = 128
    head_widths: tuple = (128,)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["trunk_widths"] = list(self.trunk_widths)
        d["head_widths"] = list(self.head_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CVAEConfig":
        d = dict(d)
        d["trunk_widths"] = tuple(d["trunk_widths"])
        d["head_widths"] = tuple(d["head_widths"])
        return cls(**d)


class SpectrumFeatures(nn.Module):
    """Spectrum (flux, flux_error) in any unit -> standardised feature vector.

    Both are divided by the mean flux (distance is unknown, shapes are compared);
    the flux is standardised per wavelength and the uncertainty enters as a
    standardised logarithm, so one network serves bright and faint stars.
    """

    def __init__(self, n_wave: int = len(WAVELENGTH)):
        super().__init__()
        self.register_buffer("flux_mean", torch.zeros(n_wave))
        self.register_buffer("flux_std", torch.ones(n_wave))
        self.register_buffer("log_err_mean", torch.zeros(n_wave))
        self.register_buffer("log_err_std", torch.ones(n_wave))

    @property
    def size(self) -> int:
        return 2 * self.flux_mean.shape[0]

    @staticmethod
    def normalise(flux: torch.Tensor, flux_error: torch.Tensor):
        scale = flux.mean(dim=1, keepdim=True)
        return flux / scale, flux_error / scale

    def fit(self, flux: torch.Tensor, flux_error: torch.Tensor) -> None:
        """Set the standardisation from a representative sample of training inputs."""
        f, e = self.normalise(flux.double(), flux_error.double())
        le = torch.log(e)
        self.flux_mean.copy_(f.mean(0).float())
        self.flux_std.copy_(f.std(0).clamp_min(1e-6).float())
        self.log_err_mean.copy_(le.mean(0).float())
        self.log_err_std.copy_(le.std(0).clamp_min(1e-6).float())

    def forward(self, flux: torch.Tensor, flux_error: torch.Tensor) -> torch.Tensor:
        # In double precision, then rounded once to float32: the features are then the same
        # float32 numbers in PyTorch, ONNX Runtime (Python and Java) whatever order their
        # reductions and logarithms evaluate in, so only the matrix products can differ.
        f, e = self.normalise(flux.double(), flux_error.double())
        f = (f - self.flux_mean.double()) / self.flux_std.double()
        le = (torch.log(e) - self.log_err_mean.double()) / self.log_err_std.double()
        return torch.cat([f, le], dim=1).to(self.flux_mean.dtype)


def mlp(n_in: int, widths, n_out: int | None = None, norm: bool = True) -> nn.Sequential:
    """Linear -> [LayerNorm] -> SiLU blocks, then an optional linear output layer.

    LayerNorm keeps hidden activations at unit scale, which both steadies training and
    keeps float32 round-off of the exported graphs (ONNX Runtime vs PyTorch) near 1e-6.
    """
    layers: list[nn.Module] = []
    for w in widths:
        layers += [nn.Linear(n_in, w)] + ([nn.LayerNorm(w)] if norm else []) + [nn.SiLU()]
        n_in = w
    if n_out is not None:
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class MixtureEncoder(nn.Module):
    """r1(z | y): a K-component diagonal Gaussian mixture in the latent space."""

    def __init__(self, cfg: CVAEConfig, n_features: int):
        super().__init__()
        self.k, self.l = cfg.mixture_components, cfg.latent_size
        self.net = mlp(n_features, cfg.trunk_widths, self.k * (1 + 2 * self.l))

    def forward(self, features: torch.Tensor):
        out = self.net(features)
        b = out.shape[0]
        logits = out[:, : self.k]
        mean = out[:, self.k : self.k * (1 + self.l)].reshape(b, self.k, self.l)
        log_std = out[:, self.k * (1 + self.l) :].reshape(b, self.k, self.l)
        return logits, mean, torch.clamp(log_std, LOG_STD_MIN, LOG_STD_MAX)


class RecognitionEncoder(nn.Module):
    """q(z | x, y): diagonal Gaussian, used only in training."""

    def __init__(self, cfg: CVAEConfig, n_features: int):
        super().__init__()
        self.l = cfg.latent_size
        self.net = mlp(n_features + cfg.n_params, cfg.trunk_widths, 2 * self.l)

    def forward(self, features: torch.Tensor, x_unit: torch.Tensor):
        out = self.net(torch.cat([features, x_unit], dim=1))
        return out[:, : self.l], torch.clamp(out[:, self.l :], LOG_STD_MIN, LOG_STD_MAX)


class Decoder(nn.Module):
    """r2(x | y, z): independent logit-normal per parameter on the unit box."""

    def __init__(self, cfg: CVAEConfig, n_features: int):
        super().__init__()
        self.trunk = mlp(n_features, cfg.trunk_widths)
        self.context_proj = nn.Linear(cfg.trunk_widths[-1], cfg.context_size)
        # Unit-scale context: keeps the exported float32 graphs within 1e-5 of PyTorch in
        # absolute terms (rounding error grows with the magnitude of the activations).
        self.context_norm = nn.LayerNorm(cfg.context_size, elementwise_affine=False)
        self.latent_proj = nn.Linear(cfg.latent_size, cfg.context_size, bias=False)
        self.head = mlp(cfg.context_size, cfg.head_widths, 2 * cfg.n_params, norm=False)  # per-draw: kept lean
        self.n_params = cfg.n_params

    def context(self, features: torch.Tensor) -> torch.Tensor:
        """Spectrum-dependent part: the spectrum's share of the first per-draw layer."""
        return self.context_norm(self.context_proj(self.trunk(features)))

    def sample_head(self, context: torch.Tensor, z: torch.Tensor):
        """Latent-dependent part: (loc, log_scale) of the logit-normal per parameter."""
        out = self.head(torch.nn.functional.silu(context + self.latent_proj(z)))
        loc = out[:, : self.n_params]
        log_scale = torch.clamp(out[:, self.n_params :], LOG_STD_MIN, LOG_STD_MAX)
        return loc, log_scale


def gaussian_log_prob(x, mean, log_std):
    return -0.5 * (((x - mean) * torch.exp(-log_std)) ** 2 + 2.0 * log_std + LOG_2PI)


def mixture_log_prob(z, logits, mean, log_std):
    """log of a diagonal Gaussian mixture at z (B, L); mixture tensors (B, K[, L])."""
    comp = gaussian_log_prob(z[:, None, :], mean, log_std).sum(-1)  # (B, K)
    return torch.logsumexp(torch.log_softmax(logits, dim=1) + comp, dim=1)


def logit_normal_log_density(x_unit, loc, log_scale):
    """log density on the unit box of a logit-normal per parameter (not summed): w = logit(u) is
    N(loc, exp(log_scale)^2), and dw/du = 1 / (u (1 - u)) is the Jacobian to the unit box."""
    u = x_unit.clamp(UNIT_EPS, 1.0 - UNIT_EPS)
    w = torch.log(u) - torch.log1p(-u)
    return gaussian_log_prob(w, loc, log_scale) - torch.log(u) - torch.log1p(-u)


def logit_normal_log_prob(x_unit, loc, log_scale):
    """log density on the unit box of independent logit-normals, summed over parameters."""
    return logit_normal_log_density(x_unit, loc, log_scale).sum(-1)


#: Gauss-Hermite nodes of the label-error convolution (odd: the middle node is the observed label)
LABEL_NOISE_NODES = 21
_GH_T, _GH_W = np.polynomial.hermite.hermgauss(LABEL_NOISE_NODES)


def convolved_logit_normal_log_prob(x_unit, loc, log_scale, x_error_unit):
    """log density of an observed label ``x_unit`` = true label + N(0, ``x_error_unit``^2) noise
    (independent per parameter, unit-box units), the true label distributed as r2's logit-normal:
    the decoder density convolved with each label's error distribution, summed over parameters,

        p_obs(x) = int r2(t) N(x - t; 0, s^2) dt.

    This is deconvolution of the label noise (the approach of Bovy, Hogg & Roweis 2011, AnnApSt 5,
    1657, for Gaussian mixtures): the network is fitted to the noise-free label distribution and is
    not widened by the errors. r2 is logit-normal on a bounded box, where a Gaussian convolution has
    no closed form and the linearised one (variance + (s dw/du)^2 in logit space) fails at the
    bounds (A0 ~ 0: dw/du -> infinity), so the integral is done by Gauss-Hermite quadrature
    (Abramowitz & Stegun 1964, 25.4.46) over whichever factor is the wider (the other then varies
    slowly across the nodes), per parameter:

    - r2 wider than the error (scale * u(1-u) >= s at u = sigmoid(loc)): over the noise,
      p_obs(x) = E_eps r2(x - s eps) ~ sum_k w_k / sqrt(pi) r2(x - sqrt(2) s t_k), nodes outside
      the box (where r2 = 0) dropping out;
    - r2 narrower: over r2's own Gaussian in logit space, t_k = sigmoid(loc + sqrt(2) scale t_k'),
      p_obs(x) ~ sum_k w_k / sqrt(pi) N(x; t_k, s^2).

    Against a brute-force convolution the result is within 3e-4 in log density where r2 is
    symmetric enough in u and 0.03 for a skewed r2 at a bound (tests/test_label_noise.py).
    Parameters with error 0 take :func:`logit_normal_log_density` itself, so zero errors give
    exactly the unconvolved cost.
    """
    t = torch.as_tensor(_GH_T, dtype=x_unit.dtype, device=x_unit.device)
    log_w = torch.as_tensor(np.log(_GH_W / math.sqrt(math.pi)), dtype=x_unit.dtype, device=x_unit.device)
    err = x_error_unit
    safe_err = torch.where(err > 0, err, torch.ones_like(err))  # keeps the unused branches finite
    # over the noise: r2 at the shifted labels
    shifted = x_unit[..., None] - math.sqrt(2.0) * safe_err[..., None] * t  # (..., P, K)
    inside = (shifted >= 0.0) & (shifted <= 1.0)
    lp = logit_normal_log_density(shifted, loc[..., None], log_scale[..., None])
    over_noise = torch.logsumexp(torch.where(inside, lp + log_w, torch.full_like(lp, -math.inf)), dim=-1)
    # over r2: the error's Gaussian at r2's quadrature points
    true = torch.sigmoid(loc[..., None] + math.sqrt(2.0) * torch.exp(log_scale)[..., None] * t)
    over_r2 = torch.logsumexp(gaussian_log_prob(x_unit[..., None], true, torch.log(safe_err)[..., None]) + log_w,
                              dim=-1)
    centre = torch.sigmoid(loc)
    r2_wider = torch.exp(log_scale) * centre * (1.0 - centre) >= safe_err
    convolved = torch.where(r2_wider, over_noise, over_r2)
    exact = logit_normal_log_density(x_unit, loc, log_scale)
    return torch.where(err > 0, convolved, exact).sum(-1)


def decoder_log_prob(x_unit, loc, log_scale, x_error_unit=None):
    """log r2(x | y, z) of the labels ``x_unit``; with ``x_error_unit`` (label errors, unit box) of
    the labels as observed with those errors (:func:`convolved_logit_normal_log_prob`)."""
    if x_error_unit is None:
        return logit_normal_log_prob(x_unit, loc, log_scale)
    return convolved_logit_normal_log_prob(x_unit, loc, log_scale, x_error_unit)


def kl_annealing(epoch: float, start: float, end: float) -> float:
    """KL weight: 0 before ``start``, logarithmic rise to 1 at ``end``, 1 after.

    beta(e) = ln(1 + e - start) / ln(1 + end - start) between the knots, as in the
    talk (KL ignored for 50 epochs, then raised logarithmically to 1 at epoch 150).
    """
    if epoch <= start:
        return 0.0
    if epoch >= end:
        return 1.0
    return math.log1p(epoch - start) / math.log1p(end - start)


class CVAE(nn.Module):
    """The three networks plus the shared input standardisation."""

    def __init__(self, cfg: CVAEConfig | None = None):
        super().__init__()
        self.cfg = cfg or CVAEConfig()
        self.features = SpectrumFeatures(self.cfg.n_wave)
        nf = self.features.size
        self.r1 = MixtureEncoder(self.cfg, nf)
        self.q = RecognitionEncoder(self.cfg, nf)
        self.r2 = Decoder(self.cfg, nf)

    def loss_terms(self, flux, flux_error, x_unit, x_error_unit=None):
        """Per-example reconstruction cost -log r2(x|y,z) and single-sample KL(q || r1); ``x_error_unit``:
        the labels' errors (unit box, 0 where exact), r2 then convolved with them (:func:`decoder_log_prob`)."""
        feats = self.features(flux, flux_error)
        q_mean, q_log_std = self.q(feats, x_unit)
        z = q_mean + torch.exp(q_log_std) * torch.randn_like(q_mean)
        logits, m_mean, m_log_std = self.r1(feats)
        kl = gaussian_log_prob(z, q_mean, q_log_std).sum(-1) - mixture_log_prob(z, logits, m_mean, m_log_std)
        loc, log_scale = self.r2.sample_head(self.r2.context(feats), z)
        recon = -decoder_log_prob(x_unit, loc, log_scale, x_error_unit)
        return recon, kl

    def marginal_nll(self, flux, flux_error, x_unit, samples: int = 2, x_error_unit=None):
        """Per-example -log p(x | y) of the inference model itself, p(x|y) = int r1(z|y) r2(x|y,z) dz,
        estimated with ``samples`` reparameterised draws from *each* mixture component:
        p(x|y) ~ sum_k pi_k (1/S) sum_s r2(x | y, mu_k + sigma_k eps_ks).

        The importance-weighted estimate with r1 as proposal (Burda et al. 2016, ICLR, "Importance
        Weighted Autoencoders"): its expectation bounds log p(x|y) from below and tightens with S.
        Unlike the ELBO it needs no recognition encoder q, so a model rebuilt from a bundle
        (:mod:`xpcvae.train.import_bundle`, q not exported) can be fine-tuned on the very density
        that inference samples. Per-draw cost is the small head only (8 x S draws per example).
        ``x_error_unit``: the labels' errors (unit box, 0 where exact); r2 is then convolved with them
        (:func:`decoder_log_prob`), i.e. the cost is -log p(x_observed | y).
        """
        feats = self.features(flux, flux_error)
        logits, mean, log_std = self.r1(feats)
        ctx = self.r2.context(feats)
        b, k, l = mean.shape
        eps = torch.randn(b, k, samples, l, dtype=mean.dtype, device=mean.device)
        z = mean[:, :, None, :] + torch.exp(log_std)[:, :, None, :] * eps
        ctx_rep = ctx[:, None, None, :].expand(b, k, samples, ctx.shape[1]).reshape(b * k * samples, -1)
        loc, log_scale = self.r2.sample_head(ctx_rep, z.reshape(b * k * samples, l))
        x_rep = x_unit[:, None, None, :].expand(b, k, samples, x_unit.shape[1]).reshape(b * k * samples, -1)
        err_rep = None if x_error_unit is None else \
            x_error_unit[:, None, None, :].expand(b, k, samples, x_unit.shape[1]).reshape(b * k * samples, -1)
        lp = decoder_log_prob(x_rep, loc, log_scale, err_rep).reshape(b, k, samples)
        log_w = torch.log_softmax(logits, dim=1)[:, :, None] + lp - math.log(samples)
        return -torch.logsumexp(log_w.reshape(b, -1), dim=1)

    @torch.no_grad()
    def sample(self, flux, flux_error, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Posterior draws in physical units, shape (B, n, 7), with torch's own RNG.

        This is the eager PyTorch path (training diagnostics, benchmarks); the
        reference sampler shared with Java is :mod:`xpcvae.infer.sampler`.
        """
        feats = self.features(flux, flux_error)
        b = feats.shape[0]
        logits, m_mean, m_log_std = self.r1(feats)
        ctx = self.r2.context(feats)
        comp = torch.multinomial(torch.softmax(logits, 1), n, replacement=True, generator=generator)  # (B, n)
        idx = comp[..., None].expand(b, n, self.cfg.latent_size)
        mu = torch.gather(m_mean, 1, idx)
        sd = torch.exp(torch.gather(m_log_std, 1, idx))
        z = mu + sd * torch.randn(mu.shape, generator=generator)
        ctx_rep = ctx[:, None, :].expand(b, n, ctx.shape[1]).reshape(b * n, -1)
        loc, log_scale = self.r2.sample_head(ctx_rep, z.reshape(b * n, -1))
        w = loc + torch.exp(log_scale) * torch.randn(loc.shape, generator=generator)
        u = torch.sigmoid(w).reshape(b, n, -1).double()
        low = torch.as_tensor(params.LOW)
        high = torch.as_tensor(params.HIGH)
        return low + (high - low) * u
