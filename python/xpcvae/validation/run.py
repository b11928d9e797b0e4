"""``xpcvae validate-real``: the whole validation on held-out real stars, from selection to report.

What is measured and how is described in the report it writes (docs/validation/README.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from xpcvae.bundle import ModelBundle
from xpcvae.validation.coolstars import cool_star_figure, cool_star_table
from xpcvae.validation.diagnostics import diagnostic_variants, error_input_mismatch, error_leak_test
from xpcvae.validation.figures import make_figures
from xpcvae.validation.metrics import compute_metrics, gof_calibration_metrics, ood_check_metrics
from xpcvae.validation.posteriors import run_posteriors
from xpcvae.validation.report import write_metrics, write_report, write_star_table
from xpcvae.data.library import load_library
from xpcvae.data.realstars import select_test_set

#: posterior draws per star of the secondary runs (OOD check, threshold check, variants, leak test)
SECONDARY_SAMPLES = 300


def validate_real(bundle_dir, out_dir, max_stars: int | None = None, n_samples: int = 1000, seed: int = 42,
                  progress: bool = True, command: str = "xpcvae validate-real", ood_check: int = 600,
                  gof_calibration: int = 1000) -> dict:
    """The whole validation: select, sample, measure, plot, write ``out_dir``; returns the metrics.

    ``ood_check``: up to that many held-out stars outside the box, to measure the OOD flag
    rate; ``gof_calibration``: up to that many in-box stars outside the test set, to check
    the OOD threshold (0 skips either).
    """
    bundle = ModelBundle.load(bundle_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = load_library()
    stars = select_test_set(lib, max_stars=max_stars)
    if len(stars) == 0:
        raise ValueError("the real-data test set is empty")
    n_secondary = min(n_samples, SECONDARY_SAMPLES)
    res = run_posteriors(bundle, stars, n_samples=n_samples, seed=seed, progress=progress)
    metrics = compute_metrics(res)
    metrics["cool_stars"] = cool_star_table(res)
    training = (bundle.manifest.get("provenance") or {}).get("training") or {}
    metrics["training_observation"] = {"error_shapes": training.get("error_shapes", "family"),
                                       "model_error": float(training.get("model_error", 0.0))}
    ood_metrics = None
    if ood_check:
        outside = select_test_set(lib, max_stars=ood_check, in_box=False)
        if len(outside):
            res_out = run_posteriors(bundle, outside, n_samples=n_secondary, seed=seed, progress=progress,
                                     keep_residuals=False)
            ood_metrics = ood_check_metrics(res_out, res)
            metrics["ood_check"] = ood_metrics
    if gof_calibration:
        fit = select_test_set(lib, max_stars=gof_calibration, held_out=False)
        res_fit = run_posteriors(bundle, fit, n_samples=n_secondary, seed=seed, progress=progress,
                                 keep_residuals=True)
        metrics["gof"]["calibration"] = gof_calibration_metrics(res_fit)
    if res.model_fit is not None:
        variants = {}
        for name, stars_v in diagnostic_variants(res, seed=seed).items():
            res_v = run_posteriors(bundle, stars_v, n_samples=n_secondary, seed=seed, progress=progress,
                                   keep_residuals=False)
            variants[name] = compute_metrics(res_v)
        metrics["variants"] = {k: {kk: v[kk] for kk in ("by_teff", "coverage", "targets", "gof")}
                               for k, v in variants.items()}
        metrics["error_input_mismatch"] = error_input_mismatch(stars)
        metrics["error_leak_test"] = error_leak_test(bundle, res, n_samples=n_secondary, seed=seed,
                                                     progress=progress)
    figures = make_figures(res, out_dir)
    figures.insert(2, cool_star_figure(res, metrics["cool_stars"], out_dir))
    write_star_table(out_dir / "stars.csv", res)
    manifest = (bundle.root / "manifest.json").read_bytes()
    info = {"path": str(bundle_dir), "description": bundle.manifest.get("description", ""),
            "manifest_sha256": hashlib.sha256(manifest).hexdigest()}
    metrics["bundle"] = info
    metrics["command"] = command
    write_metrics(out_dir / "metrics.json", metrics)
    write_report(out_dir, metrics, figures, command, info, ood_metrics)
    return metrics
