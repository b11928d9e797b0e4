"""``make demo``: posterior inference in Java (the built CLI) on the bundled example spectra.

Prints truth against posterior median and 68 % interval, and writes ``posteriors.png``
(intervals per example and parameter), ``corner_<source>.png`` (the first example's full
posterior) and ``spectra.png`` (the inputs) to the output directory.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from xpcvae import javadist, params
from xpcvae.bundle import ModelBundle
from xpcvae.cornerplot import DPI, axis_label
from xpcvae.cornerplot import plot_corner as corner_plot
from xpcvae.data.spectra_csv import read_spectra_csv, read_summary_csv

ROOT = javadist.CHECKOUT


def run_java(launcher: Path, bundle, spectra, out_dir, n_samples, seed) -> tuple[Path, Path, float]:
    """``xpcvae infer`` on ``spectra``; (summary CSV, samples CSV, wall seconds)."""
    if not launcher.exists():
        raise SystemExit(f"the Java CLI is not built ({launcher}); run `make java`")
    summary, samples = out_dir / "summary.csv", out_dir / "samples.csv"
    cmd = [str(launcher), "infer", "--bundle", str(bundle), "--input", str(spectra), "--out", str(summary),
           "--samples", str(n_samples), "--seed", str(seed), "--samples-out", str(samples)]
    print("$", " ".join(cmd))
    t0 = time.time()
    proc = subprocess.run(cmd)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"Java inference failed with exit code {proc.returncode}")
    return summary, samples, time.time() - t0


def fmt(v, name):
    """A parameter value at the precision the table prints it."""
    return f"{v:.0f}" if name == "teff" else f"{v:.2f}" if name != "ff" else f"{v:.3f}"


def print_table(summary_rows, truth: dict) -> None:
    """Per example: known value, posterior median and 68 % interval of each parameter, and the gof verdict."""
    for row in summary_rows:
        sid = row["source_id"]
        t = truth.get(sid, {})
        print(f"\n{sid}  ({t.get('kind', 'no reference values')}, G = {t.get('g_mag', '?')})")
        if row["status"] != "ok":
            print(f"  ERROR: {row['message']}")
            continue
        print(f"  {'parameter':<26}{'truth/ref':>10}{'median':>11}{'68% interval':>22}  inside?")
        for p in params.PARAMETERS:
            med, lo, hi = (float(row[f"{p.name}_{k}"]) for k in ("median", "p16", "p84"))
            ref = t.get(p.name, "")
            inside = ""
            if ref != "":
                inside = "yes" if lo <= float(ref) <= hi else "no"
                ref = fmt(float(ref), p.name)
            unit = f" [{p.unit}]" if p.unit else ""
            print(f"  {(p.symbol + unit):<26}{ref:>10}{fmt(med, p.name):>11}"
                  f"{'[' + fmt(lo, p.name) + ', ' + fmt(hi, p.name) + ']':>22}  {inside}")
        # the goodness-of-fit columns (bundle's forward_model graph), when the summary has them
        if row.get("gof_chi2"):
            verdict = ("OUT OF DISTRIBUTION: " + row.get("ood_reason", "")) if row.get("ood_flag") == "1" \
                else "fits (not flagged)"
            bound = f"; median at a prior bound: {row['at_bound']}" if row.get("at_bound") else ""
            print(f"  goodness of fit: gof_chi2 = {float(row['gof_chi2']):.2f}, {verdict}{bound}")
        elif row.get("ood_reason"):
            print(f"  goodness of fit: {row['ood_reason']}")


def plot_posteriors(summary_rows, truth, path):
    """Per example and parameter: median, 68 % and 95 % intervals, and the known value."""
    import matplotlib  # lazy: matplotlib only when plotting, with the Agg backend chosen before pyplot loads
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in summary_rows if r["status"] == "ok"]
    fig, axes = plt.subplots(1, 7, figsize=(18, 0.45 * len(ok) + 2), sharey=True)
    y = np.arange(len(ok))
    for ax, p in zip(axes, params.PARAMETERS):
        for i, r in enumerate(ok):
            q = {k: float(r[f"{p.name}_{k}"]) for k in ("median", "p16", "p84", "p2.5", "p97.5")}
            ax.plot([q["p2.5"], q["p97.5"]], [i, i], color="C0", lw=1)
            ax.plot([q["p16"], q["p84"]], [i, i], color="C0", lw=4, alpha=0.6)
            ax.plot(q["median"], i, "o", color="C0", ms=4)
            ref = truth.get(r["source_id"], {}).get(p.name, "")
            if ref != "":
                ax.plot(float(ref), i, "x", color="C3", ms=8, mew=2)
        ax.set_xlim(p.low, p.high)
        ax.set_title(axis_label(p), fontsize=12)
        ax.grid(alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels([r["source_id"] for r in ok], fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle("posterior median (dot), 68 % (thick) and 95 % (thin) intervals; red x: known value; "
                 "x axes span the prior", fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_spectra(spectra_path, path):
    """The example spectra (mean-normalised) with their uncertainties."""
    import matplotlib  # lazy: matplotlib only when plotting, with the Agg backend chosen before pyplot loads
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wl = np.arange(336.0, 1021.0, 2.0)
    fig, ax = plt.subplots(figsize=(10, 5))
    for r in read_spectra_csv(spectra_path):
        if r.flux is None:
            continue
        s = r.flux.mean()
        ax.plot(wl, r.flux / s, lw=1, label=r.source_id)
        ax.fill_between(wl, (r.flux - r.flux_error) / s, (r.flux + r.flux_error) / s, alpha=0.2)
    ax.set_xlabel("wavelength [nm]")
    ax.set_ylabel("flux / mean flux")
    ax.set_title("example spectra (band: 1-sigma uncertainty)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_corner(samples_path, source_id, truth, path):
    """Corner plot of one source's posterior draws from the Java samples file."""
    import matplotlib  # lazy: matplotlib only when plotting, with the Agg backend chosen before pyplot loads
    matplotlib.use("Agg")
    with open(samples_path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["source_id"] == source_id]
    draws = np.array([[float(r[n]) for n in params.NAMES] for r in rows])
    t = truth.get(source_id, {})
    ref = [float(t[n]) if t.get(n, "") != "" else None for n in params.NAMES]
    corner_plot(draws, ref, path, title=f"{source_id}: posterior from the Java sampler")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Java posterior inference on the bundled examples")
    ap.add_argument("--bundle", default=str(ROOT / "export" / "default"))
    ap.add_argument("--examples", default=str(ROOT / "examples"))
    ap.add_argument("--out", default="demo-out")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--java-dist", default=None,
                    help=f"the Java distribution (default: ${javadist.ENV}, else java/build/install/xpcvae of the "
                         "checkout or the current directory)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spectra = Path(args.examples) / "spectra.csv"
    with open(Path(args.examples) / "truth.csv", newline="") as fh:
        truth = {r["source_id"]: r for r in csv.DictReader(fh)}
    bundle = ModelBundle.load(args.bundle)
    print(f"model bundle: {bundle.root} — {bundle.manifest.get('description', '')}")
    launcher = javadist.launcher(Path(args.java_dist) if args.java_dist else None)
    summary, samples, dt = run_java(launcher, bundle.root, spectra, out, args.samples, args.seed)
    rows = read_summary_csv(summary)
    print_table(rows, truth)
    plot_posteriors(rows, truth, out / "posteriors.png")
    plot_spectra(spectra, out / "spectra.png")
    first = rows[0]["source_id"]
    plot_corner(samples, first, truth, out / f"corner_{first}.png")
    print(f"\n{len(rows)} sources, {args.samples} posterior samples each, Java wall time {dt:.2f} s "
          f"(JVM start-up and model loading included)")
    print(f"wrote {summary}, {samples}, {out / 'posteriors.png'}, {out / 'spectra.png'}, "
          f"{out / ('corner_' + first + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
