"""The numbers of the real-data validation: robust statistics, coverage, PIT, accretion, per-Teff-range metrics.

Definitions (bias, robust scatter, coverage, visible accretion) are printed in the
generated docs/validation/README.md.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from xpcvae import params
from xpcvae.forward import constants as K
from xpcvae.forward.stellar import accretion_luminosity, stellar_radius
from xpcvae.forward.gof import GOF_SYSTEMATIC, GOF_THRESHOLD
from xpcvae.validation.targets import evaluate_targets

if TYPE_CHECKING:  # the results class lives one module up; only its attributes are read here
    from xpcvae.validation.posteriors import RealResults

#: APOGEE Teff ranges of the per-range statistics (K)
TEFF_BINS = ((3000.0, 4000.0), (4000.0, 5000.0), (5000.0, 6000.0), (6000.0, 7000.0))
#: the parameters compared with a reference, with the reference's name
COMPARED = ("teff", "logg", "mh", "a0")
#: "visible accretion" in a posterior draw: L_acc / L_* above this and ff above FF_VISIBLE
ACC_LUM_VISIBLE = 0.01
FF_VISIBLE = 0.01
#: axis and table labels of the compared parameters
LABEL_NAMES = {"teff": "Teff [K]", "logg": "log g [dex]", "mh": "[M/H] [dex]", "a0": "A0 [mag]"}


# -- per-star and per-draw statistics ------------------------------------------------------------
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


def teff_bin_masks(teff) -> list[tuple[str, np.ndarray]]:
    """("all", finite) then one (label, mask) per :data:`TEFF_BINS` range (the last one closed)."""
    t = np.asarray(teff, dtype=float)
    out = [("all", np.isfinite(t))]
    for lo, hi in TEFF_BINS:
        last = hi == TEFF_BINS[-1][1]
        out.append((f"{lo:.0f}-{hi:.0f} K", (t >= lo) & ((t <= hi) if last else (t < hi))))
    return out


def nanmedian(x) -> float:
    """Median of the finite values (NaN if none)."""
    x = np.asarray(x, dtype=float)
    return float(np.median(x[np.isfinite(x)])) if np.isfinite(x).any() else math.nan


def percentile_summary(x) -> dict:
    """n and the 16/50/84/95/99th percentiles of the finite values ({"n": 0} if none)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not x.size:
        return {"n": 0}
    p = np.percentile(x, [16, 50, 84, 95, 99])
    return {"n": int(x.size), "p16": float(p[0]), "median": float(p[1]), "p84": float(p[2]), "p95": float(p[3]),
            "p99": float(p[4])}


def flag_fraction(res: RealResults, mask) -> float:
    """Fraction of OOD-flagged stars in ``mask`` among those with a goodness of fit (NaN if none)."""
    m = np.asarray(mask, bool) & np.isfinite(res.gof_chi2)
    return float(res.ood_flag[m].mean()) if m.any() else math.nan


# -- the metrics of a run -----------------------------------------------------------------------
def compared_stats(res: RealResults, mask) -> dict:
    """n and, per compared parameter, :func:`robust_stats` of (posterior median - reference) with the
    68 / 95 % coverage and the median 68 % width, over the stars in ``mask``."""
    m = np.asarray(mask, bool)
    row: dict = {"n": int(m.sum())}
    for name in COMPARED:
        j = params.INDEX[name]
        ref = res.stars.reference(name)[m]
        r = robust_stats(res.q["median"][m, j] - ref)
        r["coverage68"] = coverage(ref, res.q["p16"][m, j], res.q["p84"][m, j])
        r["coverage95"] = coverage(ref, res.q["p2.5"][m, j], res.q["p97.5"][m, j])
        r["median_width68"] = float(np.median((res.q["p84"] - res.q["p16"])[m, j])) if m.any() else math.nan
        row[name] = r
    return row


def compute_metrics(res: RealResults) -> dict:
    """All numbers of the validation report (JSON-ready)."""
    st = res.stars
    out: dict = {"n_stars": len(st), "a0_per_ak": st.a0_per_ak, "photosphere": res.photosphere,
                 "by_teff": {}, "coverage": {}, "targets": {}}
    for label, m in teff_bin_masks(st.teff):
        row = compared_stats(res, m)
        row["gof_chi2_median"] = nanmedian(res.gof_chi2[m])
        row["gof_chi2_labels_median"] = nanmedian(res.gof_chi2_labels[m])
        row["gof_chi2_labels_a0fit_median"] = nanmedian(res.gof_chi2_labels_fit[m])
        row["ood_fraction"] = flag_fraction(res, m)
        row["p_accretion_gt_0.975_fraction"] = float((res.p_accretion[m] > 0.975).mean()) if m.any() else math.nan
        if res.resid_labels is not None and m.any():
            row["label_residual_rms_pct"] = nanmedian(np.asarray(res.rms["labels"])[m])
            row["label_a0fit_residual_rms_pct"] = nanmedian(np.asarray(res.rms["labels_a0fit"])[m])
            row["posterior_residual_rms_pct"] = nanmedian(np.asarray(res.rms["posterior"])[m])
            row["noise_rms_pct"] = nanmedian(np.asarray(res.rms["noise"])[m])
        out["by_teff"][label] = row
    allrow = out["by_teff"]["all"]
    for name in COMPARED:
        out["coverage"][name] = {"68": allrow[name]["coverage68"], "95": allrow[name]["coverage95"]}
    out["targets_by_teff"] = evaluate_targets(out["by_teff"])
    out["targets"] = out["targets_by_teff"]["all"]
    out["accretion"] = {
        "definition": f"visible accretion in a draw: L_acc/L_* > {ACC_LUM_VISIBLE:g} and ff > {FF_VISIBLE:g}",
        "median_p_visible": float(np.median(res.p_accretion)),
        "fraction_p_visible_gt_0.975": float((res.p_accretion > 0.975).mean()),
        "fraction_p_visible_lt_0.5": float((res.p_accretion < 0.5).mean()),
        "median_ff_median": float(np.median(res.q["median"][:, params.INDEX["ff"]])),
        "median_log_mdot_median": float(np.median(res.q["median"][:, params.INDEX["log_mdot"]])),
        "median_log_lacc_over_lstar": nanmedian(res.log_lacc_median),
        "fraction_ff_p2.5_below_0.01": float((res.q["p2.5"][:, params.INDEX["ff"]] < 0.01).mean()),
    }
    out["gof"] = {"systematic_floor": GOF_SYSTEMATIC, "threshold": GOF_THRESHOLD,
                  "posterior_median": percentile_summary(res.gof_chi2),
                  "apogee_labels": percentile_summary(res.gof_chi2_labels),
                  "apogee_labels_a0_fitted": percentile_summary(res.gof_chi2_labels_fit),
                  "a0_fitted_vs_ak": robust_stats(res.a0_fit - st.a0_ref),
                  "ood_fraction": flag_fraction(res, np.ones(len(st), bool))}
    out["timings"] = res.timings
    return out


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
        out[name] = {"n": int(m.sum()), "ood_fraction": flag_fraction(r, m),
                     "gof_chi2_median": nanmedian(r.gof_chi2[m])}
    return out


def gof_calibration_metrics(res_fit: RealResults) -> dict:
    """Goodness of fit of in-box library stars outside the test set: the check of the OOD threshold."""
    return {"stars": "in-box library stars with source_id % 5 != 0 (not the test set)",
            **percentile_summary(res_fit.gof_chi2),
            "flagged_fraction": flag_fraction(res_fit, np.ones(len(res_fit.stars), bool)),
            "labels_a0_fitted": percentile_summary(res_fit.gof_chi2_labels_fit)}
