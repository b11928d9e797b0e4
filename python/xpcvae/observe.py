"""Simulated observations: a noiseless model spectrum -> (noisy flux, reported uncertainty).

The uncertainties a network sees must carry no more information about the spectrum
than the noisy flux does. Computing them from the *noiseless* spectrum (the obvious
``sigma = noise.sigma(clean, G)``) leaks the clean spectral shape through the error
input, and a network learns to read parameters from it; on real spectra, whose archive
uncertainties do not follow our noise model exactly, that shortcut fails
(docs/validation/README.md measured it). So:

1. a first noise realisation ``y0 = clean + sigma(clean) eps`` stands for the observed
   spectrum from which a pipeline would derive its errors;
2. the reported uncertainty is ``sigma = noise.sigma(max(y0, 0), G) * s * d(lambda)`` with a
   per-spectrum scale ``s`` (log-normal, 20 % scatter) and a smooth random tilt/curvature
   ``d(lambda) = exp(a1 P1(x) + a2 P2(x))`` (Legendre polynomials over the wavelength range,
   ``a ~ N(0, 0.15)``), covering the star-to-star spread of real ``flux_error`` arrays around
   the noise model (docs/grid.md, section 5);
3. the returned flux ``clean + sigma eps`` (the same deviates) has exactly the reported
   uncertainty, so the posteriors stay calibrated with respect to ``sigma``.
"""

from __future__ import annotations

import torch

SCALE_SCATTER = 0.20
SHAPE_SCATTER = 0.15


def observe(clean: torch.Tensor, noise, g_mag: torch.Tensor, generator: torch.Generator,
            jitter: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy flux and its reported 1-sigma uncertainty for spectra ``clean`` (B, 343) at ``g_mag`` (B,)."""
    g = g_mag.reshape(-1, 1).to(clean.dtype)
    eps = torch.randn(clean.shape, generator=generator, dtype=clean.dtype)
    sigma0 = torch.as_tensor(noise.sigma(clean, g), dtype=clean.dtype)
    first = clean + sigma0 * eps
    sigma = torch.as_tensor(noise.sigma(torch.clamp(first, min=0.0), g), dtype=clean.dtype)
    if jitter:
        b, n = clean.shape
        x = torch.linspace(-1.0, 1.0, n, dtype=clean.dtype)
        legendre = torch.stack([x, 1.5 * x * x - 0.5])                      # (2, n)
        a = SHAPE_SCATTER * torch.randn(b, 2, generator=generator, dtype=clean.dtype)
        log_s = SCALE_SCATTER * torch.randn(b, 1, generator=generator, dtype=clean.dtype)
        sigma = sigma * torch.exp(log_s + a @ legendre)
    sigma = torch.clamp(sigma, min=1e-8)
    return clean + sigma * eps, sigma
