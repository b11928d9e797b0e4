"""Data-driven prose for the validation report: where the model misses its targets on real stars, and why."""

from __future__ import annotations

import math

from xpcvae.validation.formatting import cell
from xpcvae.validation.metrics import LABEL_NAMES
from xpcvae.validation.targets import BIAS_MAX, COVERAGE68_RANGE, TARGETED, missed, scatter_max


def shortfall_analysis(metrics: dict) -> list[str]:
    """Data-driven sentences on where and why the model misses its targets."""
    lines = []
    bt = metrics["by_teff"]
    units = {"teff": "K", "logg": "dex", "mh": "dex"}
    misses = missed(metrics["targets_by_teff"])
    missed_names = [n for n in TARGETED if any(m[1] == n for m in misses)]
    if not misses:
        lines.append("All targets are met, overall and in every Teff range.")
    lo, hi = COVERAGE68_RANGE
    for name in missed_names:
        parts = []
        for label, n, what in misses:
            if n != name:
                continue
            t = metrics["targets_by_teff"][label][name]
            why = []
            if "scatter" in what:
                why.append(f"scatter {t['scatter']:.4g} > {t['scatter_target']:g}")
            if "bias" in what:
                why.append(f"bias {t['bias']:+.4g} beyond ±{t['bias_target']:g}")
            if "coverage68" in what:
                why.append(f"68 % coverage {t['coverage68']:.2f} outside [{lo:.2f}, {hi:.2f}]")
            parts.append(f"{label} (N={bt[label]['n']}): {', '.join(why)}")
        lines.append(f"- **{LABEL_NAMES[name]}**: " + "; ".join(parts) + ".")
    lines.append("")
    lines.append("Simulation-to-real mismatch by Teff range: median over the stars of the rms over the 343 "
                 "samples of observed - model, both normalised to mean flux 1 (model scaled as in gof_chi2), "
                 "in % of the mean flux; noise: the same rms of the flux errors:")
    lines.append("")
    lines.append("| Teff range | N | model at labels (A0 = 8.9 A_K) | model at labels, A0 fitted | "
                 "model at posterior median | noise | gof_chi2 at labels (A_K / A0 fitted) | gof_chi2 at posterior |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for k, v in bt.items():
        lines.append(f"| {k} | {v['n']} | {cell(v.get('label_residual_rms_pct'))} % | "
                     f"{cell(v.get('label_a0fit_residual_rms_pct'))} % | "
                     f"{cell(v.get('posterior_residual_rms_pct'))} % | {cell(v.get('noise_rms_pct'))} % | "
                     f"{cell(v['gof_chi2_labels_median'])} / {cell(v['gof_chi2_labels_a0fit_median'])} | "
                     f"{cell(v['gof_chi2_median'])} |")
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
                and post < 0.7 * lab and any(abs(v[n]["bias"]) > BIAS_MAX[n] for n in BIAS_MAX)):
            needs.append(f"- {k}: the posterior median fits the spectrum better ({post:.2g} % rms) than the "
                         f"APOGEE labels do ({lab:.2g} %) while the labels are biased: the model trades "
                         f"Teff/log g/[M/H]/A0 against each other (or against ff, Mdot) to absorb the mismatch "
                         f"-- a degeneracy that a better photosphere, not a better network, removes.")
    var = metrics.get("variants") or {}
    leak = metrics.get("error_leak_test") or {}
    if {"real_noise_model_errors", "twin_noise_model", "twin_real_errors"} <= set(var):
        for name in missed_names:
            s_real = metrics["targets"][name]["scatter"]
            s_spec = var["real_noise_model_errors"]["targets"][name]["scatter"]
            s_errs = var["twin_real_errors"]["targets"][name]["scatter"]
            s_twin = var["twin_noise_model"]["targets"][name]["scatter"]
            target = scatter_max(name, "all")
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
    narrow = [n for n in TARGETED if math.isfinite(metrics["coverage"][n]["68"]) and metrics["coverage"][n]["68"] < lo]
    wide = [n for n in TARGETED if math.isfinite(metrics["coverage"][n]["68"]) and metrics["coverage"][n]["68"] > hi]
    if wide:
        needs.append("- Intervals too wide (68 % coverage " + ", ".join(
            f"{LABEL_NAMES[n]} {metrics['coverage'][n]['68']:.2f}" for n in wide) + f" > {hi:.2f}): the "
            "posteriors are under-confident on real stars: the training observation model (model error, residual "
            "templates) adds more than the real mismatch of these stars.")
    if narrow:
        cov = ", ".join(f"{LABEL_NAMES[n]} {metrics['coverage'][n]['68']:.2f}" for n in narrow)
        twin_cov = [var["twin_noise_model"]["coverage"][n]["68"] for n in narrow] if "twin_noise_model" in var \
            else []
        if twin_cov and all(math.isfinite(c) and c < lo for c in twin_cov):
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
