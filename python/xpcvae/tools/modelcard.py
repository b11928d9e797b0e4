"""Write a bundle's ``MODEL_CARD.md`` from its run, evaluation and manifest.

``python -m xpcvae.tools.modelcard --bundle export/default --run runs/default --eval runs/default/eval
--commands FILE`` copies the evaluation figures (small PNGs) next to the bundle and
writes the card: the commands that made grid, model and bundle, training time and
hardware, the metrics table per parameter and noise level, the targets met or missed,
and the known limits.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from pathlib import Path

from xpcvae.atomic import atomic_path
from xpcvae.tools.machine import cpu_model as _cpu
from xpcvae.train.evaluate import write_table

TARGETS = {"teff": 100.0, "logg": 0.2, "a0": 0.15}  # the CVAE estimator's MAE targets at G = 12
MAX_COVERAGE_DEVIATION = 0.05


def target_lines(metrics: dict) -> list[str]:
    lines = []
    g12 = metrics["noise_levels"].get("G=12")
    if g12:
        for name, limit in TARGETS.items():
            got = g12[name]["mae"]
            lines.append(f"- {name} MAE at G = 12: {got:.3g} (target <= {limit:g}): "
                         f"{'met' if got <= limit else 'MISSED'}")
    for lvl, per in metrics["noise_levels"].items():
        worst = max(per.items(), key=lambda kv: kv[1]["max_coverage_deviation"])
        ok = worst[1]["max_coverage_deviation"] <= MAX_COVERAGE_DEVIATION
        lines.append(f"- calibration at {lvl.replace('=', ' = ')}: largest coverage deviation "
                     f"{worst[1]['max_coverage_deviation']:.3f} ({worst[0]}; target <= {MAX_COVERAGE_DEVIATION}): "
                     f"{'met' if ok else 'MISSED'}")
    return lines


def _objective_line(tcfg: dict) -> str:
    """The cost and the data mix of a run that is not the plain CVAE on the grid ("" for one that is)."""
    parts = []
    if tcfg.get("objective", "elbo") == "marginal":
        parts.append(f"cost -log p(x|y) of r1 and r2 (`--objective marginal`, {tcfg.get('marginal_samples', 2)} draws "
                     "per mixture component; the KL settings do not apply)")
    if tcfg.get("real_fraction", 0.0) > 0:
        parts.append(f"{100 * tcfg['real_fraction']:g} % of each batch veiled real training-library photospheres "
                     "(xpcvae.train.real_photospheres)")
    if tcfg.get("label_noise"):
        parts.append("the real rows' cost convolves r2 with their label errors (`--label-noise`, "
                     "xpcvae.train.model.convolved_logit_normal_log_prob)")
    if tcfg.get("epoch_batches"):
        parts.append(f"epochs of {tcfg['epoch_batches']} batches")
    return f"- Objective and data: {'; '.join(parts)}.\n" if parts else ""


def write_card(bundle: Path, run: Path, eval_dir: Path, commands: str, notes: str = "") -> Path:
    """Copy the evaluation figures next to ``bundle`` and write its MODEL_CARD.md; returns the card's path."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    cfg = json.loads((run / "config.json").read_text())
    with open(run / "log.csv", newline="") as fh:
        log = list(csv.DictReader(fh))
    train_s = sum(float(r["seconds"]) for r in log)
    for fig in ("recovery.png", "calibration_pp.png", "corner_example.png"):
        if (eval_dir / fig).exists():
            shutil.copyfile(eval_dir / fig, bundle / fig)
    if (run / "training.png").exists():
        shutil.copyfile(run / "training.png", bundle / "training.png")
    table = write_table(metrics, eval_dir / "metrics.md")
    size = sum(f.stat().st_size for f in bundle.iterdir() if f.suffix == ".onnx")
    arch = manifest["architecture"]
    tcfg = cfg["training"]
    last = log[-1]
    text = f"""# Model card: `{bundle.name}`

{manifest.get('description', '')}

Conditional VAE (Gabbard et al. 2022) estimating the posterior of Teff, log g, [M/H],
log Mdot, ff, M and A0 from a Gaia XP sampled spectrum and its uncertainties. Bundle
format {manifest['format_version']} (docs/sampling.md); ONNX opset {manifest['onnx_opset']};
ONNX files {size / 1e6:.1f} MB in all.

## How it was made

```
{commands.strip()}
```

- Grid: {cfg.get('grid_size')} spectra from `{cfg.get('grid_path')}`, photosphere
  `{cfg.get('grid_attrs', {}).get('photosphere')}`, extinction `{cfg.get('grid_attrs', {}).get('extinction_curve')}`;
  split {1 - tcfg['val_fraction'] - tcfg['test_fraction']:.0%} / {tcfg['val_fraction']:.0%} / {tcfg['test_fraction']:.0%}
  (train / validation / test, seed {tcfg['split_seed']}); the test split was never used in training or model selection.
- Noise augmentation: G uniform in [{tcfg['g_mag_min']}, {tcfg['g_mag_max']}] with the package's noise model, a
  new realisation every batch; reported errors distorted by `{tcfg.get('error_shapes', 'family')}` error shapes,
  unreported model error {100 * tcfg.get('model_error', 0.0):g} % of the flux (xpcvae.simulate.observe).
- Architecture: latent size {arch['latent_size']}, {arch['mixture_components']}-component Gaussian-mixture r1(z|y),
  trunks {arch['trunk_widths']}, context {arch['context_size']}, per-draw head {arch['head_widths']};
  logit-normal r2(x|y,z).
- Training: Adam, learning rate {tcfg['lr']:g} with cosine decay to {tcfg['lr_min']:g} over {tcfg['epochs']} epochs,
  batch {tcfg['batch_size']}, KL weight 0 until epoch {tcfg['kl_start']:g} then logarithmic to 1 at epoch
  {tcfg['kl_end']:g}; {len(log)} epochs run, best validation cost at epoch {manifest['provenance']['checkpoint']['epoch']}
  (val cost {float(last['val_cost']):.3f} at the last epoch).
{_objective_line(tcfg)}- Hardware: {os.cpu_count()} CPU cores ({_cpu()}), no GPU; training wall time {train_s / 60:.1f} min
  ({train_s / max(1, len(log)):.1f} s per epoch on average, other jobs sharing the machine at times).
- Export check: ONNX Runtime vs PyTorch max |difference| over {manifest['export_check']['n_check']} test spectra:
  {', '.join(f"{k} {v:.1e}" for k, v in manifest['export_check']['max_abs_diff'].items())}.

## Evaluation on the held-out test split

`xpcvae evaluate`: {metrics['n_test']} test spectra per noise level, {metrics['n_samples']} posterior draws each.
MAE and robust scatter (1.4826 MAD) of the posterior median; coverage of the central 68 % and 95 %
intervals; the maximum deviation of the coverage of central credible intervals (1-99 %) from
nominal; KS p-value of the truth's rank within its posterior (uniform if calibrated).

{table}
Targets (issue "CVAE posterior estimator"):

{chr(10).join(target_lines(metrics))}

![training](training.png)
![recovery](recovery.png)
![calibration](calibration_pp.png)
![posterior of one test spectrum](corner_example.png)

## Known limits

{notes.strip()}
"""
    with atomic_path(bundle / "MODEL_CARD.md", suffix=".md") as tmp:
        tmp.write_text(text)
    return bundle / "MODEL_CARD.md"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--commands", required=True, help="text file with the commands that made the bundle")
    ap.add_argument("--notes", default=None, help="markdown file with the known limits")
    args = ap.parse_args(argv)
    notes = Path(args.notes).read_text() if args.notes else ""
    out = write_card(Path(args.bundle), Path(args.run), Path(args.eval), Path(args.commands).read_text(), notes)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
