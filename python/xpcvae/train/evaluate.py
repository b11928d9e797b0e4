"""Evaluation of a trained run on its held-out test split: recovery and calibration.

Test spectra come from the run's own observation model (:func:`observe_test_split`, shared
with the export's ONNX check); metrics and figures are described in docs/training.md
("Evaluation").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.cornerplot import DPI, plot_corner
from xpcvae.simulate.observe import ObservationModel
from xpcvae.train.run import Run

LEVELS = np.linspace(0.01, 0.99, 99)


def posterior_draws(model, flux, sigma, n_samples: int, seed: int, batch: int = 256) -> np.ndarray:
    """Draws (B, n, 7) from the eager PyTorch model in batches."""
    g = torch.Generator().manual_seed(seed)
    out = []
    with torch.no_grad():
        for s in range(0, len(flux), batch):
            f = torch.as_tensor(flux[s : s + batch], dtype=torch.float32)
            e = torch.as_tensor(sigma[s : s + batch], dtype=torch.float32)
            out.append(model.sample(f, e, n_samples, generator=g).numpy())
    return np.concatenate(out)


def truth_ranks(draws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Fraction of draws below the truth, per source and parameter (B, P), ties split."""
    below = (draws < truth[:, None, :]).mean(1)
    equal = (draws == truth[:, None, :]).mean(1)
    return below + 0.5 * equal


def coverage_curve(ranks: np.ndarray, levels=LEVELS) -> np.ndarray:
    """Empirical coverage (len(levels), P) of central credible intervals at ``levels``."""
    dist = np.abs(ranks - 0.5) * 2.0  # smallest central level that contains the truth
    return np.stack([(dist <= lv).mean(0) for lv in levels])


def parameter_metrics(draws: np.ndarray, truth: np.ndarray) -> dict:
    q = np.percentile(draws, [2.5, 16, 50, 84, 97.5], axis=1)
    med = q[2]
    resid = med - truth
    ranks = truth_ranks(draws, truth)
    cov = coverage_curve(ranks)
    result = {}
    for j, p in enumerate(params.PARAMETERS):
        r = resid[:, j]
        result[p.name] = {
            "unit": p.unit,
            "bias": float(np.mean(r)),
            "mae": float(np.mean(np.abs(r))),
            "robust_scatter": float(1.4826 * np.median(np.abs(r - np.median(r)))),
            "prior_std": float((p.high - p.low) / np.sqrt(12.0)),
            "median_interval_68": float(np.median(q[3][:, j] - q[1][:, j])),
            "coverage_68": float(np.mean((truth[:, j] >= q[1][:, j]) & (truth[:, j] <= q[3][:, j]))),
            "coverage_95": float(np.mean((truth[:, j] >= q[0][:, j]) & (truth[:, j] <= q[4][:, j]))),
            "ks_pvalue": float(stats.kstest(ranks[:, j], "uniform").pvalue),
            "max_coverage_deviation": float(np.max(np.abs(cov[:, j] - LEVELS))),
        }
    return result


def observe_test_split(run: Run, grid, obs: ObservationModel, g_mag, seed: int, n_test: int | None = None):
    """Simulated observations of the first ``n_test`` spectra of ``run``'s test split: ``(truth,
    flux, sigma)``, NumPy, from the observation model ``obs`` (the run's own, as in training:
    uncertainties derived from a noisy spectrum, never from the noiseless one). ``g_mag``: one G
    magnitude for all, or one per spectrum; ``seed``: of the noise."""
    test = run.test_indices(n_test)
    truth = np.asarray(grid.parameters)[test]
    clean = np.asarray(grid.flux, dtype=np.float64)[test]
    if np.ndim(g_mag) == 0:
        g = torch.full((len(test),), float(g_mag))
    else:
        g = torch.as_tensor(np.asarray(g_mag, dtype=np.float64))
        if g.shape != (len(test),):
            raise ValueError(f"g_mag: expected {len(test)} magnitudes, one per test spectrum, got {tuple(g.shape)}")
    flux, sigma = obs(torch.as_tensor(clean), g, torch.Generator().manual_seed(seed),
                      teff=torch.as_tensor(truth[:, params.INDEX["teff"]]))
    return truth, flux.numpy(), sigma.numpy()


def evaluate_run(run_dir, out_dir=None, g_mags=(12.0, 15.0, 17.0), n_test: int = 2000, n_samples: int = 1000,
                 seed: int = 7, grid=None, noise=None, progress: bool = True, observation: dict | None = None) -> dict:
    """Evaluate ``run_dir`` on its test split; write figures and ``metrics.json`` to ``out_dir``
    (default: the run's eval directory).

    The test spectra are simulated with the run's own observation model (``config.json``'s
    ``error_shapes`` and ``model_error``); ``observation`` overrides some of those settings,
    e.g. ``{"model_error": 0.0}`` to measure the precision on spectra without model error.
    """
    run = Run(run_dir)
    out_dir = run.eval_dir if out_dir is None else Path(out_dir)
    model, cfg = run.load_model()
    grid = run.grid(grid)
    obs = run.observation_model(noise, observation)
    n = len(run.test_indices(n_test))
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = {"run": str(run), "checkpoint": cfg["checkpoint"], "n_test": int(n),
               "n_samples": n_samples, "seed": seed, "observation": obs.settings(), "noise_levels": {}}
    figures = {}
    for gi, g in enumerate(tqdm(list(g_mags), desc="evaluating", unit="G level", disable=not progress)):
        truth, flux, sigma = observe_test_split(run, grid, obs, g, seed + gi, n_test)
        draws = posterior_draws(model, flux, sigma, n_samples, seed + 100 + gi)
        m = parameter_metrics(draws, truth)
        metrics["noise_levels"][f"G={g:g}"] = m
        figures[g] = (draws, truth, flux, sigma)
    plot_recovery(figures, out_dir / "recovery.png")
    plot_pp(figures, out_dir / "calibration_pp.png")
    g0 = g_mags[0]
    plot_corner(figures[g0][0][0], figures[g0][1][0], out_dir / "corner_example.png",
                title=f"test spectrum 0 at G = {g0:g}")
    with atomic_path(out_dir / "metrics.json", suffix=".json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    write_table(metrics, out_dir / "metrics.md")
    return metrics


def write_table(metrics: dict, path) -> str:
    lines = ["| G | parameter | bias | MAE | robust scatter | 68% cov. | 95% cov. | max cov. dev. | KS p |",
             "|---|---|---|---|---|---|---|---|---|"]
    for lvl, per in metrics["noise_levels"].items():
        for name, m in per.items():
            lines.append(f"| {lvl[2:]} | {name} [{m['unit']}] | {m['bias']:.3g} | {m['mae']:.3g} | "
                         f"{m['robust_scatter']:.3g} | {m['coverage_68']:.3f} | {m['coverage_95']:.3f} | "
                         f"{m['max_coverage_deviation']:.3f} | {m['ks_pvalue']:.2g} |")
    text = "\n".join(lines) + "\n"
    with atomic_path(Path(path), suffix=".md") as tmp:
        tmp.write_text(text)
    return text


def _plt():
    # lazy: selecting the Agg backend is a process-wide side effect, made only when a figure is drawn
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path, dpi=DPI):
    with atomic_path(Path(path), suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")


def plot_recovery(figures: dict, path, n_show: int = 300):
    """Posterior median vs truth with 68 % intervals, one panel per parameter (talk's test plots)."""
    plt = _plt()
    g = min(figures)  # brightest level
    draws, truth = figures[g][0][:n_show], figures[g][1][:n_show]
    q = np.percentile(draws, [16, 50, 84], axis=1)
    fig, axes = plt.subplots(2, 4, figsize=(15, 7.2))
    for j, (ax, p) in enumerate(zip(axes.flat, params.PARAMETERS)):
        ax.errorbar(truth[:, j], q[1][:, j], yerr=[q[1][:, j] - q[0][:, j], q[2][:, j] - q[1][:, j]],
                    fmt="o", ms=2, lw=0.5, alpha=0.5)
        ax.plot([p.low, p.high], [p.low, p.high], "k--", lw=1)
        ax.set_xlim(p.low, p.high)
        ax.set_ylim(p.low, p.high)
        unit = f" [{p.unit}]" if p.unit else ""
        ax.set_xlabel(f"true {p.symbol}{unit}")
        ax.set_ylabel(f"posterior {p.symbol}")
    axes.flat[-1].axis("off")
    axes.flat[-1].text(0.05, 0.5, f"test split, G = {g:g}\nmedian and 68 % interval\n{len(truth)} spectra",
                       fontsize=12)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_pp(figures: dict, path):
    """P-P plot: empirical coverage of central credible intervals vs nominal, per parameter."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(figures), figsize=(5 * len(figures), 4.6), squeeze=False)
    for ax, (g, (draws, truth, _, _)) in zip(axes[0], sorted(figures.items())):
        cov = coverage_curve(truth_ranks(draws, truth))
        n = len(truth)
        band = 1.96 * np.sqrt(LEVELS * (1 - LEVELS) / n)
        ax.fill_between(LEVELS, LEVELS - band, LEVELS + band, color="0.85", label="95 % binomial band")
        for j, p in enumerate(params.PARAMETERS):
            ax.plot(LEVELS, cov[:, j], label=p.symbol)
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set_xlabel("credible level")
        ax.set_ylabel("fraction of truths inside")
        ax.set_title(f"G = {g:g}, {n} test spectra")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
