"""The classical baseline of ``make bench``: emcee on the same forward and noise model as the CVAE's training.

Walkers start near the truth (no search for the mode), so the figure favours emcee; the
effective sample size comes from emcee's integrated autocorrelation time.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from xpcvae import params
from xpcvae.forward import ForwardModel
from xpcvae.simulate.noise import NoiseModel


def bench_emcee(n_spectra: int, target_ess: int, max_seconds: float, walkers: int = 256, seed: int = 3) -> dict:
    """emcee on the default forward model and noise model; ESS from the integrated autocorrelation time."""
    import emcee  # lazy: an optional dependency (the bench extra)

    fm, noise = ForwardModel(), NoiseModel.default()
    r = np.random.default_rng(seed)
    truths = params.from_unit(0.25 + 0.5 * r.random((n_spectra, params.NDIM)))
    clean, _ = fm.spectra(truths)
    g_mag = 15.0
    sigma = np.asarray(noise.sigma(clean, g_mag))
    observed = clean + sigma * r.standard_normal(clean.shape)
    low, high = params.LOW, params.HIGH
    runs = []
    for s in range(n_spectra):
        y, sig = observed[s], sigma[s]

        def log_prob(theta, y=y, sig=sig):
            theta = np.atleast_2d(theta)
            lp = np.full(len(theta), -np.inf)
            inside = np.all((theta > low) & (theta < high), axis=1)
            if inside.any():
                model, _ = fm.spectra(theta[inside])
                lp[inside] = -0.5 * np.sum(((y - model) / sig) ** 2, axis=1)
            return lp

        # walkers start in a small ball around the truth (favours emcee: no search for the mode)
        p0 = truths[s] + 1e-3 * (high - low) * r.standard_normal((walkers, params.NDIM))
        p0 = np.clip(p0, low + 1e-6 * (high - low), high - 1e-6 * (high - low))
        sampler = emcee.EnsembleSampler(walkers, params.NDIM, log_prob, vectorize=True)
        t0 = time.perf_counter()
        state, steps, tau, ess = p0, 0, np.nan, 0.0
        chunk = 100
        while time.perf_counter() - t0 < max_seconds:
            state = sampler.run_mcmc(state, chunk, progress=False)
            steps += chunk
            tau_vec = sampler.get_autocorr_time(tol=0)
            tau = float(np.max(tau_vec))
            burn = min(int(2 * tau), steps // 2)
            ess = walkers * (steps - burn) / tau
            if ess >= target_ess and steps >= 50 * tau:
                break
        seconds = time.perf_counter() - t0
        runs.append({"steps": steps, "walkers": walkers, "evaluations": steps * walkers, "seconds": seconds,
                     "tau_max_steps": tau, "ess": ess, "reliable_tau": bool(steps >= 50 * tau),
                     "acceptance": float(np.mean(sampler.acceptance_fraction)),
                     "seconds_per_effective_sample": seconds / ess if ess > 0 else None})
        print(f"emcee spectrum {s}: {steps} steps, tau {tau:.1f}, ESS {ess:.0f}, {seconds:.0f} s", file=sys.stderr)
    return {"g_mag": g_mag, "target_ess": target_ess, "max_seconds_each": max_seconds, "runs": runs,
            "forward_model": "ForwardModel() (empirical photosphere), Gaussian likelihood with NoiseModel.default() "
                             "sigma, uniform prior over the box"}
