"""``xpcvae validate-accretion``: injection-recovery of accretion on held-out real photospheres, end to end.

What is measured and how is described in the report it writes (accretion_injection.md).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from xpcvae.bundle import ModelBundle
from xpcvae.data.library import load_library
from xpcvae.infer.batch import bundle_forward_config
from xpcvae.validation.injection import build_injection_set, select_injection_stars
from xpcvae.validation.injection_figures import make_injection_figures
from xpcvae.validation.injection_metrics import injection_metrics, sample_sets
from xpcvae.validation.injection_report import METRICS, STARS, write_injection_report, write_injection_stars
from xpcvae.validation.report import write_metrics

#: default number of injection stars: all cool held-out stars (251 below 4500 K) and hotter ones up to this
DEFAULT_STARS = 400


def validate_accretion(bundle_dir, out_dir, n_stars: int = DEFAULT_STARS, n_samples: int = 1000, seed: int = 42,
                       progress: bool = True, command: str = "xpcvae validate-accretion") -> dict:
    """Select, veil, sample, measure, plot and write ``out_dir``; returns the metrics."""
    t0 = time.time()
    bundle = ModelBundle.load(bundle_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stars = select_injection_stars(n_stars, load_library())
    inj = build_injection_set(stars, bundle_forward_config(bundle), seed=seed)
    t1 = time.time()
    post = sample_sets(bundle, inj, n_samples=n_samples, seed=seed, progress=progress)
    t_sample = time.time() - t1
    metrics = injection_metrics(inj, post)
    metrics.update({"n_samples": n_samples, "seed": seed, "command": command})
    figures = make_injection_figures(inj, post, metrics, out_dir)
    write_injection_stars(out_dir / STARS, inj, post)
    manifest = (bundle.root / "manifest.json").read_bytes()
    info = {"path": str(bundle_dir), "description": bundle.manifest.get("description", ""),
            "manifest_sha256": hashlib.sha256(manifest).hexdigest()}
    metrics["bundle"] = info
    metrics["timings"] = {"sampling_s": t_sample, "total_s": time.time() - t0}
    write_metrics(out_dir / METRICS, metrics)
    write_injection_report(out_dir, metrics, figures, command, info)
    return metrics
