"""Figures of the injection-recovery validation (PNG): recovery, detection and Teff shift, an example."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xpcvae import params
from xpcvae.forward.instrument import WAVELENGTH
from xpcvae.validation.figures import save_figure
from xpcvae.validation.injection import COOL_TEFF, InjectionSet
from xpcvae.validation.injection_metrics import (RECOVERED, RECOVERED_LABELS, TEFF_SHIFT_MAX, log_lacc_ratio,
                                                 range_masks)


def make_injection_figures(inj: InjectionSet, post: dict, metrics: dict, out_dir) -> list[str]:
    """The injection figures in ``out_dir``; returns their file names."""
    import matplotlib  # lazy: matplotlib only when plotting

    matplotlib.use("Agg")
    with matplotlib.rc_context({"text.usetex": False}):
        return [_recovery(inj, post, Path(out_dir)), _detection(inj, post, metrics, Path(out_dir))]


def _quantity(post_set: dict, truth: np.ndarray, name: str):
    """(truth, median, p16, p84) of a recovered quantity."""
    if name == "log_lacc":
        q = post_set["q_log_lacc"]
        return log_lacc_ratio(truth), q["median"], q["p16"], q["p84"]
    j = params.INDEX[name]
    q = post_set["q"]
    return truth[:, j], q["median"][:, j], q["p16"][:, j], q["p84"][:, j]


def _recovery(inj: InjectionSet, post: dict, out_dir: Path) -> str:
    import matplotlib.pyplot as plt  # lazy: matplotlib only when plotting

    fig, axes = plt.subplots(2, 2, figsize=(10, 9))
    cool = inj.stars.teff < COOL_TEFF
    for ax, name in zip(axes.flat, RECOVERED):
        for set_name, marker in (("prior", "o"), ("strong", "^")):
            t, med, lo, hi = _quantity(post[set_name], inj.truth[set_name], name)
            for m, colour, lab in ((~cool, "C0", f"Teff >= {COOL_TEFF:.0f} K"),
                                   (cool, "C3", f"Teff < {COOL_TEFF:.0f} K")):
                ax.errorbar(t[m], med[m], yerr=[med[m] - lo[m], hi[m] - med[m]], fmt=marker, ms=2.5, color=colour,
                            ecolor=colour, elinewidth=0.4, alpha=0.45 if set_name == "prior" else 0.8,
                            label=f"{set_name}, {lab}")
        lims = ax.get_xlim()
        ax.plot(lims, lims, "k-", lw=0.8)
        ax.set_xlabel(f"injected {RECOVERED_LABELS[name]}")
        ax.set_ylabel(f"posterior median {RECOVERED_LABELS[name]}")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Accretion injected into {len(inj.stars)} held-out real spectra: recovery "
                 "(circles: prior draws, triangles: strong grid; bars: 68 % intervals)", fontsize=10)
    return save_figure(fig, out_dir / "injection_recovery.png")


def _detection(inj: InjectionSet, post: dict, metrics: dict, out_dir: Path) -> str:
    import matplotlib.pyplot as plt  # lazy: matplotlib only when plotting

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    for k, (lab, m) in enumerate(range_masks(inj.stars.teff)):
        rows = [r for r in metrics["detection_curve_prior"][lab] if r["n"] >= 3]
        x = [(r["log_lacc_low"] + r["log_lacc_high"]) / 2 for r in rows]
        ax.plot(x, [r["detected"] for r in rows], "o-", color=f"C{k}", label=f"{lab} (N={int(m.sum())})")
        ax.axhline(metrics["by_range"][lab]["false_detection_rate_unveiled"], color=f"C{k}", ls=":", lw=0.8)
    ax.set_xlabel("injected log10(L_acc / L_*)")
    ax.set_ylabel(f"detected (p_visible > {metrics['detection_threshold_p_visible']:g})")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("prior draws; dotted: false detections on the unveiled stars", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1]
    j = params.INDEX["teff"]
    base = post["unveiled"]["q"]["median"][:, j]
    d = post["prior"]["q"]["median"][:, j] - base
    sc = ax.scatter(inj.stars.teff, d, s=7, c=np.clip(log_lacc_ratio(inj.truth["prior"]), -4, 1.5), cmap="viridis",
                    label="prior draws")
    fig.colorbar(sc, ax=ax, label="injected log L_acc/L_* (prior draws)")
    d = post["strong"]["q"]["median"][:, j] - base
    ax.scatter(inj.stars.teff, d, s=9, marker="^", facecolors="none", edgecolors="C3", lw=0.7, label="strong grid")
    ax.set_yscale("symlog", linthresh=100)
    ax.axhline(0, color="k", lw=0.6)
    for s in (-1, 1):
        ax.axhline(s * TEFF_SHIFT_MAX, color="r", ls="--", lw=0.7)
    ax.set_xlabel("APOGEE Teff [K]")
    ax.set_ylabel("posterior median Teff: veiled - unveiled [K]")
    ax.set_title(f"Teff shift caused by veiling (dashed: ±{TEFF_SHIFT_MAX:g} K)", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[2]
    strong = inj.truth["strong"]
    cool = np.flatnonzero(inj.stars.teff < COOL_TEFF)
    pick = cool if cool.size else np.arange(len(inj.stars))
    i = int(pick[np.argmax(log_lacc_ratio(strong[pick]))])
    for name, colour in (("unveiled", "k"), ("prior", "C0"), ("strong", "C3")):
        f, e = inj.spectra[name]
        norm = f[i].mean()
        th = inj.truth[name][i]
        ax.plot(WAVELENGTH, f[i] / norm, color=colour, lw=0.9,
                label=f"{name}: log Mdot {th[params.INDEX['log_mdot']]:.2f}, ff {th[params.INDEX['ff']]:.2f}")
        ax.fill_between(WAVELENGTH, (f[i] - e[i]) / norm, (f[i] + e[i]) / norm, color=colour, alpha=0.2, lw=0)
    ax.set_xlabel("wavelength [nm]")
    ax.set_ylabel("flux / mean flux")
    ax.set_title(f"Gaia DR3 {inj.stars.source_id[i]} (APOGEE Teff {inj.stars.teff[i]:.0f} K, "
                 f"G = {inj.stars.g_mag[i]:.1f}) and its veiled versions", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir / "injection_detection.png")
