"""Written outputs of the injection-recovery validation: accretion_injection.md, .json and injection_stars.csv."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.validation.formatting import cell, csv_number
from xpcvae.validation.injection import (COOL_TEFF, STRONG_FF, STRONG_LACC_MIN, STRONG_LOG_LACC, InjectionSet)
from xpcvae.validation.injection_metrics import (DETECTION_P, RECOVERED, RECOVERED_LABELS, TEFF_SHIFT_MAX,
                                                 log_lacc_ratio)
from xpcvae.validation.targets import COVERAGE68_RANGE

REPORT = "accretion_injection.md"
METRICS = "accretion_injection.json"
STARS = "injection_stars.csv"
SET_TITLES = {"prior": "prior draws", "strong": "strong-accretor grid"}


def write_injection_stars(path, inj: InjectionSet, post: dict) -> None:
    """Per star: labels, fitted A0, photosphere scale; per set the injected accretion and the posterior."""
    st = inj.stars
    cols = ["source_id", "g_mag", "teff_apogee", "logg_apogee", "mh_apogee", "a0_fit"]
    for s in ("prior", "strong"):
        cols += [f"{s}_scale", f"{s}_true_log_mdot", f"{s}_true_ff", f"{s}_true_mass", f"{s}_true_log_lacc"]
    for s in ("unveiled", "prior", "strong"):
        for name in ("teff", "logg", "mh", "a0", "log_mdot", "ff", "mass", "log_lacc"):
            cols += [f"{s}_{name}_{k}" for k in ("median", "p16", "p84")]
        cols.append(f"{s}_p_visible")
    i = params.INDEX
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in range(len(st)):
            row = [str(st.source_id[r])] + [csv_number(v) for v in (st.g_mag[r], st.teff[r], st.logg[r], st.mh[r],
                                                                   inj.a0_fit[r])]
            for s in ("prior", "strong"):
                th = inj.truth[s][r]
                row += [csv_number(inj.veiled[s].scale[r])] + [csv_number(th[i[n]]) for n in ("log_mdot", "ff", "mass")]
                row.append(csv_number(log_lacc_ratio(th[None, :])[0]))
            for s in ("unveiled", "prior", "strong"):
                p = post[s]
                for name in ("teff", "logg", "mh", "a0", "log_mdot", "ff", "mass", "log_lacc"):
                    for k in ("median", "p16", "p84"):
                        row.append(csv_number(p["q_log_lacc"][k][r] if name == "log_lacc" else p["q"][k][r, i[name]]))
                row.append(csv_number(p["p_visible"][r]))
            w.writerow(row)


def _ok(b: bool | None) -> str:
    return "no stars" if b is None else "met" if b else "**not met**"


def summary_lines(metrics: dict) -> list[str]:
    """Data-driven sentences: where detection starts, where veiling shifts Teff, what is not constrained."""
    out = []
    curve = metrics["detection_curve_prior"]["all"]
    det = [r for r in curve if r["n"] >= 5 and r["detected"] >= 0.9]
    if det:
        out.append(f"- Detection: 90 % or more of the prior draws are detected from log L_acc/L_* = "
                   f"{det[0]['log_lacc_low']:g} upward (bins of >= 5 stars); false detections on the unveiled "
                   f"stars: {cell(metrics['by_range']['all']['false_detection_rate_unveiled'], 3)}.")
    shifted = [r for r in curve if r["n"] >= 5 and abs(r["median_teff_shift"]) > TEFF_SHIFT_MAX]
    if shifted:
        out.append(f"- Teff under veiling: the median shift exceeds {TEFF_SHIFT_MAX:g} K in the prior draws' bins "
                   + ", ".join(f"{r['log_lacc_low']:g} to {r['log_lacc_high']:g} ({cell(r['median_teff_shift'])} K)"
                               for r in shifted)
                   + " of log L_acc/L_*: the median over all draws hides that the strongest veiling moves Teff "
                     "by hundreds of K (the 84th percentile in the table below).")
    spread, prior_sd = metrics["mass_posterior_median_spread"], metrics["mass_prior_sd"]
    if spread < 0.5 * prior_sd:
        out.append(f"- M is not constrained by the spectra: the posterior medians of M spread by {cell(spread)} "
                   f"Msun (robust scatter) against the prior's standard deviation {cell(prior_sd)} Msun, so its "
                   "coverage is the prior's; log Mdot is recovered through L_acc/L_* (which the spectrum "
                   "constrains) and the stellar relations.")
    wide = [(lab, row[s]["recovery"]["log_lacc"]["coverage68"]) for lab, row in metrics["by_range"].items()
            for s in ("prior",) if row[s]["recovery"]["log_lacc"]["coverage68"] > COVERAGE68_RANGE[1]]
    if wide:
        out.append("- The 68 % intervals of log L_acc/L_* are too wide (coverage " + ", ".join(
            f"{lab} {cell(c, 2)}" for lab, c in wide) + " on the prior draws): under-confident.")
    return (["## Summary", ""] + out) if out else []


def write_injection_report(out_dir, metrics: dict, figures: list[str], command: str, bundle_info: dict) -> Path:
    """``accretion_injection.md``: the numbers of ``metrics`` in tables and prose, and the figures."""
    br = metrics["by_range"]
    lo, hi = COVERAGE68_RANGE
    L = ["# Injection-recovery of accretion on real photospheres", "",
         f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; do not edit by hand "
         "(rerun the command). Deterministic for a given bundle, star count and seed.", "",
         f"- Bundle: `{bundle_info.get('path')}` (manifest sha256 {bundle_info.get('manifest_sha256', '')[:12]}...).",
         f"- Stars: {metrics['n_stars']} held-out real-data test stars (`gaiaedr3_source_id % 5 == 0`, labels in the "
         f"prior box, as validate-real): every one cooler than {COOL_TEFF:.0f} K and an evenly spaced selection of "
         f"the others. {metrics['n_samples']} posterior draws per star and version (Python engine, seed "
         f"{metrics['seed']}).",
         "- Each star's real Gaia XP spectrum O is veiled with the forward model's accretion component "
         "(`xpcvae.simulate.veiling.veil`): O_veiled = (1 - ff) O + s ff F_acc(Teff, Mdot, M, R) x attenuation(A0), "
         "F_acc the shock's surface flux at the star's APOGEE Teff and log g (R = sqrt(G M / g)), A0 fitted to the "
         "spectrum with the forward model at the APOGEE Teff, log g, [M/H], and s the weighted least-squares "
         "factor mapping that model photosphere (surface flux) onto the real spectrum -- so the accretion flux "
         "has the forward model's ratio to *this* star's photosphere. Errors: the real ones times (1 - ff), plus "
         "the noise model's variance increase from the added flux (photon term and calibration floor, at the "
         "star's G), which is also drawn and added.",
         f"- Versions of each star: *unveiled* (the real spectrum); *prior draws*: log Mdot, ff, M uniform over "
         f"the prior box; *strong-accretor grid*: log L_acc/L_* in {list(STRONG_LOG_LACC)} x ff in "
         f"{list(STRONG_FF)} (star k gets point k mod 9), M uniform, Mdot solved for (clipped to the prior).",
         "- L_acc/L_* from the forward model's relations (validate-real's accretion section, R_in = 5 R); truth at "
         "the APOGEE Teff, log g and the injected Mdot, M. A detection: p_visible > "
         f"{DETECTION_P:g}, p_visible as in validate-real (fraction of draws with L_acc/L_* > 0.01 and ff > 0.01). "
         f"Strong: injected L_acc/L_* >= {STRONG_LACC_MIN:g} and ff >= {STRONG_FF[0]:g}.",
         "- Bias: median of (posterior median - truth); scatter: 1.4826 x MAD; coverage: fraction of truths "
         "inside the posterior 68 % (p16-p84) / 95 % intervals. Teff shift: per star, posterior median Teff of "
         "the veiled minus the unveiled version (same random draws: the difference is veiling's alone).", "",
         "## Targets", "",
         f"68 % coverage of log Mdot and ff within [{lo:.2f}, {hi:.2f}]; |median Teff shift| under veiling "
         f"<= {TEFF_SHIFT_MAX:g} K.", "",
         "| Teff range / injection | N | 68 % cov. log Mdot | 68 % cov. ff | median Teff shift [K] |",
         "|---|---|---|---|---|"]
    for key, t in metrics["targets"].items():
        rng_label = key.split(" / ")[0]
        L.append(f"| {key.replace('prior', SET_TITLES['prior']).replace('strong', SET_TITLES['strong'])} | "
                 f"{br[rng_label]['n']} | {cell(t['coverage68_log_mdot']['value'], 2)} "
                 f"({_ok(t['coverage68_log_mdot']['ok'])}) | {cell(t['coverage68_ff']['value'], 2)} "
                 f"({_ok(t['coverage68_ff']['ok'])}) | {cell(t['teff_shift']['value'])} "
                 f"({_ok(t['teff_shift']['ok'])}) |")
    L += [""] + summary_lines(metrics)
    L += ["", "## Recovery", "", "bias / robust scatter (68 % coverage, 95 % coverage) of the posterior median "
          "against the injected value.", ""]
    for s in ("prior", "strong"):
        L += [f"### {SET_TITLES[s]}", "",
              "| Teff range | N | " + " | ".join(RECOVERED_LABELS[n] for n in RECOVERED) + " |",
              "|---|---|" + "---|" * len(RECOVERED)]
        for lab, row in br.items():
            rec = row[s]["recovery"]
            L.append(f"| {lab} | {row['n']} | " + " | ".join(
                f"{cell(rec[n]['bias'])} / {cell(rec[n]['scatter'])} ({cell(rec[n]['coverage68'], 2)}, "
                f"{cell(rec[n]['coverage95'], 2)})" for n in RECOVERED) + " |")
        L.append("")
    L += ["## Detection and Teff shift", "",
          "| Teff range | N | strong accretors detected (prior draws) | strong accretors detected (grid) | "
          "false detections (unveiled) | median p_visible (unveiled) | Teff shift, prior draws: median "
          "(16-84 %) [K] | Teff shift, strong grid [K] |", "|---|---|---|---|---|---|---|---|"]
    for lab, row in br.items():
        sp, ss = row["prior"]["teff_shift"], row["strong"]["teff_shift"]
        L.append(f"| {lab} | {row['n']} | {cell(row['prior']['detection_rate_strong'], 3)} "
                 f"(N={row['prior']['n_strong']}) | {cell(row['strong']['detection_rate_strong'], 3)} "
                 f"(N={row['strong']['n_strong']}) | {cell(row['false_detection_rate_unveiled'], 3)} | "
                 f"{cell(row['median_p_visible_unveiled'], 2)} | {cell(sp['median'])} ({cell(sp['p16'])} to "
                 f"{cell(sp['p84'])}) | {cell(ss['median'])} ({cell(ss['p16'])} to {cell(ss['p84'])}) |")
    L += ["", "Prior draws by injected log L_acc/L_* (end bins include what lies beyond): detected fraction, "
          "median Teff shift [K] and N:", "",
          "| log L_acc/L_* | " + " | ".join(metrics["detection_curve_prior"]) + " |",
          "|---|" + "---|" * len(metrics["detection_curve_prior"])]
    curves = list(metrics["detection_curve_prior"].values())
    for k, r in enumerate(curves[0]):
        L.append(f"| {r['log_lacc_low']:g} to {r['log_lacc_high']:g} | " + " | ".join(
            f"{cell(c[k]['detected'], 2)}, {cell(c[k]['median_teff_shift'])} (N={c[k]['n']})" for c in curves) + " |")
    L += ["", "Strong-accretor grid, per point: detected fraction, median Teff shift [K] and N, all stars / "
          f"cooler than {COOL_TEFF:.0f} K:", "", "| log L_acc/L_* | ff | all stars | cool stars |", "|---|---|---|---|"]
    for r in metrics["strong_grid"]:
        L.append(f"| {r['log_lacc']:g} | {r['ff']:g} | " + " | ".join(
            f"{cell(r[k]['detected'], 2)}, {cell(r[k]['median_teff_shift'])} (N={r[k]['n']})" for k in ("all", "cool"))
            + " |")
    L += ["", "## Figures", ""]
    captions = {"injection_recovery.png": "Posterior median against the injected log Mdot, ff, M and "
                                          "log L_acc/L_* (68 % intervals), cool stars in red.",
                "injection_detection.png": "Left: detected fraction of the prior draws by injected L_acc/L_* "
                                           "(dotted: false detections on the same stars unveiled). Middle: Teff "
                                           "shift caused by veiling, per star. Right: a cool star and its veiled "
                                           "versions (bands: reported 1-sigma errors)."}
    for name in figures:
        L += [f"### {name}", "", captions.get(name, ""), "", f"![{name}]({name})", ""]
    L += ["## Files", "", f"- `{METRICS}`: all numbers above.",
          f"- `{STARS}`: per star, the labels, fitted A0, photosphere scale, injected accretion and posterior "
          "summaries of the three versions.",
          f"- Run time: {metrics['timings']['total_s']:.0f} s wall clock on the machine that generated this page, "
          f"which other jobs may have shared (sampling {metrics['timings']['sampling_s']:.0f} s).", ""]
    path = Path(out_dir) / REPORT
    with atomic_path(path, suffix=".md") as tmp:
        tmp.write_text("\n".join(L))
    return path
