"""Posteriors of the injected stars and the numbers of the injection-recovery validation.

Recovered quantities: log Mdot, ff, M and log10(L_acc/L_*) (per draw, with the forward model's
relations as validate-real's accretion section, :func:`~xpcvae.validation.metrics.accretion_luminosity_ratio`).
A detection is p_visible > :data:`DETECTION_P` with validate-real's p_visible
(:func:`~xpcvae.validation.metrics.visible_accretion_probability`).
"""

from __future__ import annotations

import math

import numpy as np
from tqdm.auto import tqdm

from xpcvae import params
from xpcvae.infer.sampler import PosteriorSampler, percentiles
from xpcvae.validation.injection import (COOL_TEFF, SETS, STRONG_FF, STRONG_LACC_MIN, STRONG_LOG_LACC,
                                        InjectionSet)
from xpcvae.validation.metrics import (accretion_luminosity_ratio, coverage, robust_stats,
                                       visible_accretion_probability)
from xpcvae.validation.targets import COVERAGE68_RANGE

#: a star is "detected" as accreting when its p_visible exceeds this (validate-real's spurious-detection threshold)
DETECTION_P = 0.975
#: the quantities recovered: the three injected parameters and the accretion luminosity ratio
RECOVERED = ("log_mdot", "ff", "mass", "log_lacc")
RECOVERED_LABELS = {"log_mdot": "log Mdot [Msun/yr]", "ff": "ff", "mass": "M [Msun]", "log_lacc": "log L_acc/L_*"}
#: targets: 68 % coverage of these within COVERAGE68_RANGE (validate-real's window), and |median Teff shift|
#: under veiling
COVERAGE_TARGETED = ("log_mdot", "ff")
TEFF_SHIFT_MAX = 50.0
#: APOGEE Teff ranges of the injection statistics (K; the last closed)
#: bins of injected log10(L_acc/L_*) of the detection curve (the end bins take what lies beyond)
DETECTION_EDGES = np.arange(-4.0, 1.51, 0.5)
INJECTION_RANGES = (("all", 3000.0, 7000.0), ("3000-4500 K", 3000.0, COOL_TEFF), ("4500-7000 K", COOL_TEFF, 7000.0))


def log_lacc_ratio(theta) -> np.ndarray:
    """log10(L_acc / L_*) of parameter vectors (..., 7); -inf never occurs (Mdot > 0 in the box)."""
    return np.log10(accretion_luminosity_ratio(theta))


def sample_sets(bundle, inj: InjectionSet, n_samples: int, seed: int, chunk: int = 64,
                progress: bool = True) -> dict:
    """Per set: posterior percentiles (name -> (N, 7)), those of log L_acc/L_* (name -> (N,)) and p_visible (N,).

    The sampler's random streams are keyed by source id, so the three versions of a star share
    their draws' random numbers: the veiled - unveiled differences carry no sampling noise of their own.
    """
    out = {}
    n = len(inj.stars)
    with PosteriorSampler(bundle) as sampler:
        for name in SETS:
            flux, err = inj.spectra[name]
            q = {k: np.empty((n, params.NDIM)) for k in ("median", "p16", "p84", "p2.5", "p97.5")}
            ql = {k: np.empty(n) for k in q}
            pv = np.empty(n)
            for s in tqdm(range(0, n, chunk), desc=f"posteriors ({name})", unit="chunk", disable=not progress):
                e = min(s + chunk, n)
                draws = sampler.sample(flux[s:e], err[s:e], n_samples, seed, source_ids=inj.stars.source_id[s:e])
                for k, v in percentiles(draws).items():
                    q[k][s:e] = v
                ll = log_lacc_ratio(draws)[..., None]
                for k, v in percentiles(ll).items():
                    ql[k][s:e] = v[..., 0]
                pv[s:e] = visible_accretion_probability(draws)
            out[name] = {"q": q, "q_log_lacc": ql, "p_visible": pv}
    return out


def range_masks(teff) -> list[tuple[str, np.ndarray]]:
    """(label, mask) of :data:`INJECTION_RANGES` over the APOGEE Teff."""
    t = np.asarray(teff, dtype=float)
    return [(lab, (t >= lo) & ((t <= hi) if hi == 7000.0 else (t < hi))) for lab, lo, hi in INJECTION_RANGES]


def recovery_stats(post: dict, truth: np.ndarray, mask: np.ndarray) -> dict:
    """Per recovered quantity: bias and robust scatter of (posterior median - truth), 68/95 % coverage."""
    out = {}
    true_ll = log_lacc_ratio(truth)
    for name in RECOVERED:
        if name == "log_lacc":
            q, ref = post["q_log_lacc"], true_ll
        else:
            j = params.INDEX[name]
            q, ref = {k: v[:, j] for k, v in post["q"].items()}, truth[:, params.INDEX[name]]
        r = robust_stats(q["median"][mask] - ref[mask])
        r["coverage68"] = coverage(ref[mask], q["p16"][mask], q["p84"][mask])
        r["coverage95"] = coverage(ref[mask], q["p2.5"][mask], q["p97.5"][mask])
        out[name] = r
    return out


def teff_shift(post_veiled: dict, post_unveiled: dict, mask: np.ndarray) -> dict:
    """Veiled minus unveiled posterior median Teff per star: n, median, 16/84th percentiles (K)."""
    j = params.INDEX["teff"]
    d = post_veiled["q"]["median"][mask, j] - post_unveiled["q"]["median"][mask, j]
    if d.size == 0:
        return {"n": 0, "median": math.nan, "p16": math.nan, "p84": math.nan}
    p16, med, p84 = np.percentile(d, [16, 50, 84])
    return {"n": int(d.size), "median": float(med), "p16": float(p16), "p84": float(p84)}


def is_strong(truth: np.ndarray) -> np.ndarray:
    """Injected accretion that counts as strong: L_acc/L_* >= :data:`STRONG_LACC_MIN` and ff >= the grid's lowest ff."""
    return (accretion_luminosity_ratio(truth) >= STRONG_LACC_MIN) & (truth[:, params.INDEX["ff"]] >= STRONG_FF[0])


def detection_curve(p_visible, truth: np.ndarray, teff_shift_k=None, edges=DETECTION_EDGES) -> list[dict]:
    """Detected fraction (and, given ``teff_shift_k`` (N,), the median Teff shift) of injected stars by
    true log L_acc/L_* in the bins of ``edges`` (values beyond the ends counted in the end bins)."""
    ll = np.clip(log_lacc_ratio(truth), edges[0], edges[-1] - 1e-9)
    det = np.asarray(p_visible) > DETECTION_P
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (ll >= lo) & (ll < hi)
        row = {"log_lacc_low": float(lo), "log_lacc_high": float(hi), "n": int(m.sum()),
               "detected": float(det[m].mean()) if m.any() else math.nan}
        if teff_shift_k is not None:
            row["median_teff_shift"] = float(np.median(np.asarray(teff_shift_k)[m])) if m.any() else math.nan
        rows.append(row)
    return rows


def injection_metrics(inj: InjectionSet, post: dict) -> dict:
    """All numbers of the injection-recovery report (JSON-ready)."""
    st = inj.stars
    un = post["unveiled"]
    out: dict = {"n_stars": len(st), "detection_threshold_p_visible": DETECTION_P, "by_range": {}}
    for label, m in range_masks(st.teff):
        row: dict = {"n": int(m.sum())}
        for name in ("prior", "strong"):
            truth = inj.truth[name]
            strong = is_strong(truth) & m
            row[name] = {"recovery": recovery_stats(post[name], truth, m),
                         "teff_shift": teff_shift(post[name], un, m),
                         "n_strong": int(strong.sum()),
                         "detection_rate_strong": float((post[name]["p_visible"][strong] > DETECTION_P).mean())
                         if strong.any() else math.nan}
        row["false_detection_rate_unveiled"] = float((un["p_visible"][m] > DETECTION_P).mean()) if m.any() \
            else math.nan
        row["median_p_visible_unveiled"] = float(np.median(un["p_visible"][m])) if m.any() else math.nan
        out["by_range"][label] = row
    j = params.INDEX["teff"]
    shift = post["prior"]["q"]["median"][:, j] - un["q"]["median"][:, j]
    out["detection_curve_prior"] = {lab: detection_curve(post["prior"]["p_visible"][m], inj.truth["prior"][m],
                                                         shift[m]) for lab, m in range_masks(st.teff)}
    out["strong_grid"] = strong_grid_table(inj, post, shift_strong=post["strong"]["q"]["median"][:, j]
                                           - un["q"]["median"][:, j])
    jm = params.INDEX["mass"]
    out["mass_posterior_median_spread"] = robust_stats(post["prior"]["q"]["median"][:, jm])["scatter"]
    out["mass_prior_sd"] = float((params.HIGH[jm] - params.LOW[jm]) / np.sqrt(12.0))
    out["targets"] = injection_targets(out["by_range"])
    return out


def strong_grid_table(inj: InjectionSet, post: dict, shift_strong: np.ndarray) -> list[dict]:
    """Per point of the strong-accretor grid (nominal log L_acc/L_*, ff), over all stars and the cool
    ones: N, detected fraction and median Teff shift."""
    truth = inj.truth["strong"]
    ff = truth[:, params.INDEX["ff"]]
    nominal = np.round(np.array(inj.nominal_log_lacc), 6)
    det = post["strong"]["p_visible"] > DETECTION_P
    cool = inj.stars.teff < COOL_TEFF
    rows = []
    for la in STRONG_LOG_LACC:
        for f in STRONG_FF:
            m = (nominal == round(la, 6)) & np.isclose(ff, f)
            row = {"log_lacc": la, "ff": f}
            for lab, mm in (("all", m), ("cool", m & cool)):
                row[lab] = {"n": int(mm.sum()), "detected": float(det[mm].mean()) if mm.any() else math.nan,
                            "median_teff_shift": float(np.median(shift_strong[mm])) if mm.any() else math.nan}
            rows.append(row)
    return rows


def injection_targets(by_range: dict) -> dict:
    """Met / not met per Teff range and set: 68 % coverage of log Mdot and ff within
    :data:`COVERAGE68_RANGE`; |median Teff shift| <= :data:`TEFF_SHIFT_MAX`."""
    lo, hi = COVERAGE68_RANGE
    out = {}
    for label, row in by_range.items():
        for name in ("prior", "strong"):
            r = row[name]
            t = {f"coverage68_{p}": _target(r["recovery"][p]["coverage68"], lambda v: lo <= v <= hi)
                 for p in COVERAGE_TARGETED}
            t["teff_shift"] = _target(r["teff_shift"]["median"], lambda v: abs(v) <= TEFF_SHIFT_MAX)
            out[f"{label} / {name}"] = t
    return out


def _target(value: float, test) -> dict:
    """{"value", "ok"}: ok is None where there is no value (no stars in the range)."""
    return {"value": value, "ok": bool(test(value)) if math.isfinite(value) else None}
