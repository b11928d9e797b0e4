"""Figures and Markdown report of ``xpcvae compare-reference`` (docs/validation/reference-posteriors.md)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from xpcvae import params
from xpcvae.cornerplot import axis_label

JS_FIGURE = "reference-js.png"
EXAMPLE_FIGURE = "reference-example.png"


def write_figures(out: Path, data, draws, runs, result) -> list[str]:
    import matplotlib  # lazy: only when plotting

    matplotlib.use("Agg")
    with matplotlib.rc_context({"text.usetex": False}):
        _js_figure(out / JS_FIGURE, result)
        _example_figure(out / EXAMPLE_FIGURE, data, draws, runs)
    return [JS_FIGURE, EXAMPLE_FIGURE]


def _js_figure(path: Path, result) -> None:
    """Per G: per-spectrum JS divergences, CVAE vs reference (colour) beside reference vs reference (grey)."""
    import matplotlib.pyplot as plt

    gs = sorted({s["g_mag"] for s in result["spectra"]})
    fig, axes = plt.subplots(1, len(gs), figsize=(5.5 * len(gs), 4.2), sharey=True, squeeze=False)
    x = np.arange(params.NDIM)
    for ax, g in zip(axes[0], gs):
        rows = [s for s in result["spectra"] if s["g_mag"] == g]
        for key, dx, colour, label in (("js_ref_ref", -0.15, "0.5", "reference run 1 vs run 2 (noise floor)"),
                                       ("js_cvae_ref", 0.15, "C3", "CVAE vs reference")):
            v = np.array([s[key] for s in rows])  # (n, 7)
            jitter = np.linspace(-0.06, 0.06, len(rows))
            for k in range(len(rows)):
                ax.scatter(x + dx + jitter[k], v[k], s=9, color=colour, alpha=0.5, lw=0)
            ax.scatter(x + dx, np.median(v, axis=0), marker="_", s=300, color=colour, lw=2.5, label=label)
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 1.2)
        ax.axhline(1.0, color="k", lw=0.5, ls=":")
        ax.set_xticks(x, [p.symbol for p in params.PARAMETERS])
        ax.set_title(f"G = {g:g} ({len(rows)} spectra)")
        ax.grid(alpha=0.3, which="both", axis="y")
    axes[0, 0].set_ylabel("Jensen-Shannon divergence [bit]")
    axes[0, 0].legend(loc="lower left", fontsize=8)
    fig.suptitle("Marginal posteriors: CVAE vs dynesty (bars: medians over spectra)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _example_figure(path: Path, data, draws, runs) -> None:
    """Marginals of the first spectrum at each G: CVAE draws, both reference runs, the truth."""
    import matplotlib.pyplot as plt

    gs = sorted(set(data.g_mag.tolist()))
    rows = [int(np.flatnonzero(data.g_mag == g)[0]) for g in gs]
    fig, axes = plt.subplots(len(rows), params.NDIM, figsize=(2.3 * params.NDIM, 2.3 * len(rows)), squeeze=False)
    for ax_row, i in zip(axes, rows):
        a, b = runs[i]
        for j, ax in enumerate(ax_row):
            ref = np.concatenate([a["samples"][:, j], b["samples"][:, j]])
            lo = min(np.percentile(draws[i][:, j], 0.5), ref.min())
            hi = max(np.percentile(draws[i][:, j], 99.5), ref.max())
            edges = np.linspace(lo, hi, 41)
            ax.hist(draws[i][:, j], bins=edges, density=True, histtype="stepfilled", color="C3", alpha=0.35,
                    label="CVAE")
            for run, style in ((a, "-"), (b, "--")):
                ax.hist(run["samples"][:, j], bins=edges, weights=run["weights"], density=True, histtype="step",
                        color="k", ls=style, lw=1, label="dynesty run " + ("1" if run is a else "2"))
            ax.axvline(data.theta[i, j], color="C0", lw=1.2, label="truth")
            ax.set_yticks([])
            ax.set_xlabel(axis_label(params.PARAMETERS[j]), fontsize=8)
            ax.tick_params(labelsize=7)
        ax_row[0].set_ylabel(f"G = {data.g_mag[i]:g}\nsource {data.source_id[i]}", fontsize=8)
    axes[0, 0].legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def evidence_agreement(result: dict) -> list[float]:
    """Per spectrum: |ln Z_1 - ln Z_2| of the two reference runs over their combined error."""
    out = []
    for sp in result["spectra"]:
        a, b = sp["runs"]
        out.append(abs(a["logz"] - b["logz"]) / float(np.hypot(a["logzerr"], b["logzerr"])))
    return out


def _headline(result: dict) -> list[str]:
    """One line per G: the JS divergences and widths relative to the reference, over all parameters."""
    lines = []
    for gkey, table in result["summary"]["per_g"].items():
        js = [t["js_cvae_ref"]["median"] for t in table.values()]
        floor = [t["js_ref_ref"]["median"] for t in table.values()]
        ratio = [t["sd_ratio_cvae_ref"]["median"] for t in table.values()]
        lines.append(f"- {gkey}: median JS CVAE vs reference {min(js):.3g}-{max(js):.3g} bit over the parameters "
                     f"(noise floor {min(floor):.3g}-{max(floor):.3g}); the CVAE's marginals are "
                     f"{min(ratio):.2g}-{max(ratio):.2g} times as wide as the reference's (medians over spectra).")
    return lines


def _fmt(s: dict) -> str:
    return f"{s['median']:.3g} [{s['p16']:.3g}–{s['p84']:.3g}]"


def write_markdown(path: Path, result: dict) -> None:
    s = result["summary"]
    obs = result["observation"]
    ref = result["reference"]
    cost = s["cost"]
    conv = s["convergence"]
    lines = [
        "# CVAE posteriors against converged nested-sampling posteriors",
        "",
        f"Generated by `{result['command']}` on {result.get('generated_utc') or _now()} "
        f"in {result['wall_seconds_total'] / 60:.1f} min wall time ({result['processes']} process(es), on a shared "
        "2-core machine loaded by other jobs); do not edit by hand (rerun the command). Method and choices: "
        "[reference-method.md](reference-method.md).",
        "",
        f"- Bundle: `{result['bundle']}` ({result['bundle_description']}; manifest sha256 "
        f"{(result['manifest_sha256'] or '?')[:12]}...).",
        f"- Spectra: {result['n_spectra']} simulated, {result['n_spectra'] // len(result['g_mags'])} at each of "
        f"G = {', '.join(f'{g:g}' for g in result['g_mags'])}; parameters uniform over the prior box "
        f"(`numpy.random.default_rng({result['seed']})`), observed with the bundle's observation model "
        f"(error shapes `{obs['simulated_with']['error_shapes']}`) without "
        f"{', '.join(obs['left_out']) or 'nothing'} (trained with: {obs['trained_with']}).",
        f"- Reference: two {ref['sampler']} runs per spectrum ({ref['bound']} bounds, `{ref['sample']}` sampling, "
        f"nlive = {ref['nlive']}, stop at dlogz < {ref['dlogz']}); Gaussian likelihood with the reported errors; "
        "uniform prior over the box.",
        f"- CVAE: {result['cvae_draws']} draws per spectrum (Python engine, seed {result['seed']}, keyed by "
        "source id).",
        f"- JS estimator: {result['js_estimator']}.",
        "",
        "## Summary",
        "",
        *_headline(result),
        "- The CVAE was trained on spectra with real stars' residual spectra (model mismatch) added; the "
        "reference knows there is none. Wider CVAE posteriors are therefore expected, most at high S/N; this "
        "comparison cannot separate that deliberate broadening from the network's amortisation error "
        "([reference-method.md](reference-method.md), 'Where this departs').",
        "",
        "## Jensen-Shannon divergence per parameter",
        "",
        "Median [16–84 % range] over spectra, in bits (0: identical, 1: disjoint). 'CVAE vs ref': mean of "
        "the CVAE's divergence from each of the two reference runs; 'ref vs ref': the two reference runs "
        "against each other (the estimator's noise floor). 'sd ratio': CVAE posterior standard deviation "
        "over the reference's.",
        "",
    ]
    for gkey, table in s["per_g"].items():
        lines += [f"### {gkey}", "", "| parameter | JS CVAE vs ref | JS ref vs ref | sd ratio CVAE / ref |",
                  "|---|---|---|---|"]
        for p in params.PARAMETERS:
            t = table[p.name]
            lines.append(f"| {p.symbol} | {_fmt(t['js_cvae_ref'])} | {_fmt(t['js_ref_ref'])} | "
                         f"{_fmt(t['sd_ratio_cvae_ref'])} |")
        lines.append("")
    lines += [
        f"![JS divergences]({JS_FIGURE})", "",
        f"![Example marginals]({EXAMPLE_FIGURE})", "",
        "## Convergence of the reference runs", "",
        f"- {conv['runs']} runs; all reached dlogz < {ref['dlogz']}: {'yes' if conv['all_reached_dlogz'] else 'NO'} "
        f"(largest final dlogz {conv['delta_logz_max']:.4f}).",
        f"- Kish effective sample size of the weighted samples: {_fmt(conv['ess'])}; likelihood calls per run "
        f"{_fmt(conv['ncall'])}.",
        "- Evidence of the two runs, |ln Z_1 - ln Z_2| over their combined error: median "
        f"{np.median(evidence_agreement(result)):.2g}, largest {max(evidence_agreement(result)):.2g} (the "
        "random-walk runs do not always agree within their quoted errors; the run-vs-run divergences are the "
        "measure of how much that matters for the marginals).",
        "",
        "| source id | G | median S/N | run | dlogz at stop | ESS | calls | seconds | ln Z |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sp in result["spectra"]:
        for k, run in enumerate(sp["runs"]):
            lines.append(f"| {sp['source_id']} | {sp['g_mag']:g} | {sp['median_snr']:.0f} | {k + 1} | "
                         f"{run['delta_logz']:.5f} | {run['ess']:.0f} | {run['ncall']} | {run['seconds']:.0f} | "
                         f"{run['logz']:.2f} ± {run['logzerr']:.2f} |")
    lines += [
        "", "## Cost", "",
        f"Wall times on the shared, loaded 2-core machine (other jobs running; {result['processes']} process(es)).",
        "",
        f"- dynesty: {_fmt(cost['dynesty_seconds_per_run'])} s per run, "
        f"{_fmt(cost['dynesty_seconds_per_effective_sample'])} s per effective sample (Kish ESS); the likelihood "
        "is evaluated in batches (one forward-model call per batch of proposals).",
        f"- CVAE: {cost['cvae_seconds_per_spectrum']:.3f} s per spectrum for {cost['cvae_draws']} independent draws "
        f"({cost['cvae_seconds_per_draw'] * 1e6:.1f} µs per draw; one ONNX Runtime thread).",
        f"- Ratio of the medians: {cost['speedup_per_spectrum_median']:.0f}× per spectrum, "
        f"{cost['speedup_per_effective_sample_median']:.0f}× per effective sample. The CVAE's posterior is not "
        "the reference's (the divergences above), so this is the speed-up for a posterior of that accuracy, "
        "not for the converged one.",
        "",
    ]
    Path(path).write_text("\n".join(lines))
