"""Running a bundle over real stars: posterior summaries, PIT, accretion and goodness of fit per star."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from xpcvae import params
from xpcvae.forward.gof import GOF_THRESHOLD, reduced_chi2
from xpcvae.forward.model import model_spectra
from xpcvae.infer.batch import bundle_forward_config
from xpcvae.infer.sampler import PosteriorSampler, percentiles
from xpcvae.validation.metrics import COMPARED, accretion_luminosity_ratio, pit, visible_accretion_probability
from xpcvae.data.realstars import RealStars, label_theta
from xpcvae.simulate.residuals import fit_a0, relative_residual
from xpcvae.validation.mismatch import rms_of_mean


@dataclass
class RealResults:
    """Posterior summaries of a set of real stars, and the goodness of fit."""

    stars: RealStars
    q: dict  # percentile name -> (N, 7)
    pit: dict  # parameter -> (N,)
    p_accretion: np.ndarray
    log_lacc_median: np.ndarray
    gof_chi2: np.ndarray  # at the posterior median (NaN when not available)
    gof_chi2_labels: np.ndarray  # forward model at the APOGEE labels, A0 from A_K (NaN where A_K unknown)
    gof_chi2_labels_fit: np.ndarray  # forward model at the APOGEE Teff, log g, [M/H] with A0 fitted
    a0_fit: np.ndarray  # that best-fit A0
    ood_flag: np.ndarray
    resid_post: np.ndarray | None = None  # (N, 343) relative residual at the posterior median
    resid_labels: np.ndarray | None = None  # (N, 343) relative residual at the APOGEE labels (A0 from A_K)
    resid_labels_fit: np.ndarray | None = None  # (N, 343) same with A0 fitted
    rel_noise: np.ndarray | None = None  # (N, 343) flux_error relative to the model at the posterior median
    rms: dict = field(default_factory=dict)  # per-star rms residual/noise in % of the mean flux
    model_fit: np.ndarray | None = None  # (N, 343) forward model at the labels with A0 fitted, star's flux units
    photosphere: str = "empirical"
    timings: dict = field(default_factory=dict)


def run_posteriors(bundle, stars: RealStars, n_samples: int = 1000, seed: int = 42, chunk: int = 128,
                   progress: bool = True, keep_residuals: bool = True) -> RealResults:
    """Sample the posteriors of ``stars`` (Python engine) and compute the goodness of fit.

    ``keep_residuals`` also evaluates the forward model at the APOGEE labels (A0 from A_K,
    and A0 fitted) and keeps the relative residual spectra that the mismatch analysis needs.
    """
    t0 = time.time()
    n = len(stars)
    q = {k: np.empty((n, params.NDIM)) for k in ("median", "p16", "p84", "p2.5", "p97.5")}
    pits = {name: np.empty(n) for name in COMPARED}
    p_acc, log_lacc = np.empty(n), np.empty(n)
    with PosteriorSampler(bundle) as sampler:
        wl = sampler.bundle.wavelength
        fwd = bundle_forward_config(sampler.bundle)
        photosphere = fwd.photosphere
        for s in tqdm(range(0, n, chunk), desc="stars", unit="chunk", disable=not progress):
            e = min(s + chunk, n)
            draws = sampler.sample(stars.flux[s:e], stars.flux_error[s:e], n_samples, seed,
                                   source_ids=stars.source_id[s:e])
            qq = percentiles(draws)
            for k in q:
                q[k][s:e] = qq[k]
            for name in COMPARED:
                pits[name][s:e] = pit(draws[..., params.INDEX[name]], stars.reference(name)[s:e])
            p_acc[s:e] = visible_accretion_probability(draws)
            with np.errstate(divide="ignore"):
                log_lacc[s:e] = np.median(np.log10(accretion_luminosity_ratio(draws)), axis=1)
        t_sample = time.time() - t0
    t1 = time.time()
    gof, gof_lab, gof_fit, a0_fit = (np.full(n, np.nan) for _ in range(4))
    resid_post = resid_lab = resid_fit = rel_noise = model_fit = None
    rms: dict = {}
    try:
        m_post = model_spectra(q["median"], fwd, wl)
    except (ImportError, OSError, ValueError, FloatingPointError) as exc:
        print(f"warning: goodness of fit not computed: {exc}")
    else:
        gof = reduced_chi2(stars.flux, stars.flux_error, m_post)
        if keep_residuals:  # the forward model at the APOGEE labels too (labels inside the box)
            resid_post, rel_noise, ms = relative_residual(stars.flux, stars.flux_error, m_post)
            rms["posterior"], rms["noise"] = rms_of_mean(resid_post, ms), rms_of_mean(rel_noise, ms)
            theta = label_theta(stars)
            m_lab = model_spectra(theta, fwd, wl)
            known = np.isfinite(stars.a0_ref)
            gof_lab = np.where(known, reduced_chi2(stars.flux, stars.flux_error, m_lab), np.nan)
            resid_lab, _, ms = relative_residual(stars.flux, stars.flux_error, m_lab)
            resid_lab[~known] = np.nan
            rms["labels"] = rms_of_mean(resid_lab, ms)
            theta[:, params.INDEX["a0"]] = 0.0
            m_fit, a0_fit, gof_fit = fit_a0(stars.flux, stars.flux_error, model_spectra(theta, fwd, wl), fwd)
            resid_fit, _, ms = relative_residual(stars.flux, stars.flux_error, m_fit)
            rms["labels_a0fit"] = rms_of_mean(resid_fit, ms)
            model_fit = ms * stars.flux.mean(axis=1, keepdims=True)  # in the star's flux units
    ood = np.where(np.isfinite(gof), gof > GOF_THRESHOLD, False)
    return RealResults(stars=stars, q=q, pit=pits, p_accretion=p_acc, log_lacc_median=log_lacc, gof_chi2=gof,
                       gof_chi2_labels=gof_lab, gof_chi2_labels_fit=gof_fit, a0_fit=a0_fit, ood_flag=ood,
                       resid_post=resid_post, resid_labels=resid_lab, resid_labels_fit=resid_fit, rel_noise=rel_noise,
                       rms=rms, model_fit=model_fit,
                       photosphere=photosphere,
                       timings={"sampling_s": t_sample, "forward_s": time.time() - t1, "n_samples": n_samples})
