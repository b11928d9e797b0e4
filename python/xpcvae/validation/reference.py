"""CVAE posteriors against converged nested-sampling reference posteriors (``xpcvae compare-reference``).

The test of Gabbard et al. 2022 (Nature Physics 18, 112, "VItamin"): on simulated spectra, the
amortised posterior should agree with a classical sampler's on the same likelihood and prior.
Per spectrum: two independent dynesty runs (:func:`xpcvae.validation.nested.run_nested`, different
seeds) and the bundle's CVAE draws (Python engine); per parameter, the Jensen-Shannon divergence
(:mod:`xpcvae.validation.divergence`) of the CVAE's marginal from each reference run's, next to the
divergence of the two reference runs from each other (the noise floor of the estimate).
"""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import numpy as np

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.validation import divergence
from xpcvae.validation.nested import GaussianLikelihood, run_nested, unit_box_transform
from xpcvae.validation.reference_data import ReferenceSpectra, simulate

RUNS_PER_SPECTRUM = 2


def reference_settings(nlive: int = 200, dlogz: float = 0.01, sample: str = "rwalk", queue_size: int = 64) -> dict:
    return {"sampler": "dynesty.NestedSampler (static)", "bound": "multi", "sample": sample, "nlive": nlive,
            "dlogz": dlogz, "queue_size": queue_size}


def _run_task(task):
    """One dynesty run (a process-pool task): ``(spectrum, run, seed, forward_config, flux, sigma, settings)``."""
    from xpcvae.forward.model import cached_model

    i, r, seed, config, flux, sigma, s = task
    fm = cached_model(config)
    like = GaussianLikelihood(lambda th: fm.spectra(th)[0], flux, sigma)
    out = run_nested(like.batch, params.NDIM, unit_box_transform, seed=seed, nlive=s["nlive"], dlogz=s["dlogz"],
                     queue_size=s["queue_size"], sample=s["sample"])
    return i, r, out


def reference_runs(data: ReferenceSpectra, manifest: dict, seed: int, settings: dict, processes: int = 1,
                   progress: bool = True) -> list[list[dict]]:
    """``runs[i][r]``: dynesty run ``r`` of spectrum ``i``, seeded ``seed * 1000 + 2 i + r`` (deterministic)."""
    from tqdm import tqdm

    from xpcvae.forward.config import ForwardConfig

    config = ForwardConfig.from_manifest(manifest)
    tasks = [(i, r, seed * 1000 + RUNS_PER_SPECTRUM * i + r, config, data.flux[i], data.sigma[i], settings)
             for i in range(len(data.g_mag)) for r in range(RUNS_PER_SPECTRUM)]
    runs = [[None] * RUNS_PER_SPECTRUM for _ in data.g_mag]
    bar = tqdm(total=len(tasks), desc="dynesty runs", disable=not progress, unit="run")
    if processes > 1:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            for i, r, out in pool.imap_unordered(_run_task, tasks):
                runs[i][r] = out
                bar.update()
    else:
        for task in tasks:
            i, r, out = _run_task(task)
            runs[i][r] = out
            bar.update()
    bar.close()
    return runs


def cvae_draws(bundle, data: ReferenceSpectra, n_draws: int, seed: int) -> tuple[np.ndarray, float]:
    """The bundle's posterior draws (N, n_draws, 7), keyed by the spectra's source ids, and the wall
    seconds per spectrum (one batch, one ONNX Runtime thread)."""
    from xpcvae.infer.sampler import PosteriorSampler

    with PosteriorSampler(bundle) as sampler:
        t0 = time.perf_counter()
        draws = sampler.sample(data.flux, data.sigma, n_samples=n_draws, seed=seed,
                               source_ids=[int(s) for s in data.source_id])
        seconds = time.perf_counter() - t0
    return draws, seconds / len(data.g_mag)


def _weighted_moments(x, w):
    m = np.sum(w[:, None] * x, axis=0)
    return m, np.sqrt(np.sum(w[:, None] * (x - m) ** 2, axis=0))


def compare_spectrum(draws: np.ndarray, runs: list[dict], bins: int = divergence.DEFAULT_BINS) -> dict:
    """Per parameter: JS(CVAE, ref run r) for each r, JS(ref 0, ref 1), and the CVAE / reference widths."""
    a, b = runs
    out = {"js_cvae_ref": [], "js_ref_ref": [], "sd_cvae": [], "sd_ref": [], "mean_cvae": [], "mean_ref": []}
    ref_mean, ref_sd = _weighted_moments(np.concatenate([a["samples"], b["samples"]]),
                                         np.concatenate([a["weights"], b["weights"]]) / 2.0)
    for j in range(params.NDIM):
        sets = [(a["samples"][:, j], a["weights"]), (b["samples"][:, j], b["weights"]), (draws[:, j], None)]
        edges = divergence.common_edges(sets, bins)
        h_a, h_b, h_c = (divergence.histogram(x, edges, w) for x, w in sets)
        out["js_cvae_ref"].append(0.5 * (divergence.js_bits(h_c, h_a) + divergence.js_bits(h_c, h_b)))
        out["js_ref_ref"].append(divergence.js_bits(h_a, h_b))
    out["sd_cvae"] = draws.std(axis=0).tolist()
    out["mean_cvae"] = draws.mean(axis=0).tolist()
    out["sd_ref"] = ref_sd.tolist()
    out["mean_ref"] = ref_mean.tolist()
    return out


def _spread(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(v)), "p16": float(np.percentile(v, 16)), "p84": float(np.percentile(v, 84)),
            "max": float(v.max()), "n": int(v.size)}


def summarise(data: ReferenceSpectra, runs, comparisons, cvae_seconds: float, n_draws: int) -> dict:
    """Median and 16-84 % spread over spectra, per G and parameter; convergence and cost figures."""
    per_g = {}
    for g in sorted(set(data.g_mag.tolist())):
        rows = np.flatnonzero(data.g_mag == g)
        table = {}
        for j, name in enumerate(params.NAMES):
            c = [comparisons[i]["js_cvae_ref"][j] for i in rows]
            f = [comparisons[i]["js_ref_ref"][j] for i in rows]
            w = [comparisons[i]["sd_cvae"][j] / comparisons[i]["sd_ref"][j] for i in rows]
            table[name] = {"js_cvae_ref": _spread(c), "js_ref_ref": _spread(f), "sd_ratio_cvae_ref": _spread(w)}
        per_g[f"G={g:g}"] = table
    flat = [run for pair in runs for run in pair]
    ess = np.array([run["ess"] for run in flat])
    secs = np.array([run["seconds"] for run in flat])
    dyn_per_ess = secs / ess
    cvae_per_draw = cvae_seconds / n_draws
    return {"per_g": per_g,
            "convergence": {"runs": len(flat), "all_reached_dlogz": bool(all(run["converged"] for run in flat)),
                            "delta_logz_max": float(max(run["delta_logz"] for run in flat)),
                            "ess": _spread(ess), "ncall": _spread([run["ncall"] for run in flat])},
            "cost": {"dynesty_seconds_per_run": _spread(secs),
                     "dynesty_seconds_per_effective_sample": _spread(dyn_per_ess),
                     "cvae_seconds_per_spectrum": cvae_seconds, "cvae_draws": n_draws,
                     "cvae_seconds_per_draw": cvae_per_draw,
                     "speedup_per_effective_sample_median": float(np.median(dyn_per_ess) / cvae_per_draw),
                     "speedup_per_spectrum_median": float(np.median(secs) / cvae_seconds)}}


def compare_reference(bundle_dir, out_dir, n_spectra: int = 20, g_mags=(12.0, 15.0), seed: int = 2026,
                      n_draws: int = 5000, nlive: int = 200, dlogz: float = 0.01, processes: int = 1,
                      progress: bool = True, command: str | None = None) -> dict:
    """Simulate, sample (dynesty x2, CVAE), compare; write reference-posteriors.{json,md} and the figures
    into ``out_dir``; return the summary."""
    from xpcvae.bundle import ModelBundle
    from xpcvae.validation import reference_report

    if n_spectra < len(g_mags) or n_spectra % len(g_mags):
        raise ValueError(f"n_spectra ({n_spectra}) must be a positive multiple of the number of G values "
                         f"({len(g_mags)}): the same number of spectra at each G")
    if n_draws < 100:
        raise ValueError(f"n_draws must be >= 100, got {n_draws}")
    t_start = time.perf_counter()
    bundle = ModelBundle.load(bundle_dir)
    g = np.repeat(np.asarray(g_mags, dtype=np.float64), n_spectra // len(g_mags))
    data = simulate(bundle.manifest, g, seed)
    draws, cvae_seconds = cvae_draws(bundle, data, n_draws, seed)
    settings = reference_settings(nlive, dlogz)
    runs = reference_runs(data, bundle.manifest, seed, settings, processes, progress)
    comparisons = [compare_spectrum(draws[i], runs[i]) for i in range(len(g))]
    summary = summarise(data, runs, comparisons, cvae_seconds, n_draws)
    result = {
        "command": command, "bundle": str(bundle_dir),
        "bundle_description": bundle.manifest.get("description"),
        "manifest_sha256": (Path(bundle_dir) / "manifest.json.sha256").read_text().split()[0]
        if (Path(bundle_dir) / "manifest.json.sha256").exists() else None,
        "seed": seed, "n_spectra": n_spectra, "g_mags": list(map(float, g_mags)), "cvae_draws": n_draws,
        "reference": settings, "observation": data.observation,
        "js_estimator": f"histograms on {divergence.DEFAULT_BINS} common equal-width bins over the 0.5-99.5 % "
                        "quantile range of the three sample sets (CVAE, reference run 1, run 2) plus two open "
                        "outer bins; reference samples weighted by their importance weights; bits",
        "processes": processes, "wall_seconds_total": None,
        "summary": summary,
        "spectra": [{"source_id": int(data.source_id[i]), "g_mag": float(g[i]),
                     "truth": data.theta[i].tolist(),
                     "median_snr": float(np.median(data.flux[i] / data.sigma[i])),
                     "runs": [{k: v for k, v in run.items() if k not in ("samples", "weights")} for run in runs[i]],
                     **comparisons[i]} for i in range(len(g))],
    }
    result["wall_seconds_total"] = time.perf_counter() - t_start
    result["generated_utc"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reference_report.write_figures(out, data, draws, runs, result)
    with atomic_path(out / "reference-posteriors.json", suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(result, indent=1) + "\n")
    reference_report.write_markdown(out / "reference-posteriors.md", result)
    return result
