"""Corner plot of one source's posterior draws: axes in physical units, ranges fitted to the posterior.

Shared by the evaluation of a run (:mod:`xpcvae.train.evaluate`) and ``make demo``; needs only
matplotlib and ``corner`` (no PyTorch), so it works in the inference-only install.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xpcvae import params
from xpcvae.atomic import atomic_path

#: resolution of the saved figures
DPI = 130
#: axis labels (mathtext) of the parameters and of their units
TEX_SYMBOL = {"teff": r"$T_{\rm eff}$", "logg": r"$\log g$", "mh": r"[M/H]", "log_mdot": r"$\log \dot{M}$",
              "ff": r"$f\!f$", "mass": r"$M$", "a0": r"$A_0$"}
TEX_UNIT = {"Msun": r"$M_\odot$", "dex(Msun/yr)": r"$M_\odot\,{\rm yr}^{-1}$"}
#: central fraction of the draws an axis shows, its padding and its smallest width (fraction of the prior box)
SHOWN_QUANTILES = (0.5, 99.5)
PAD = 0.12
MIN_WIDTH = 0.002


def axis_label(p: params.Parameter) -> str:
    """``symbol [unit]`` for an axis (dimensionless: the symbol alone)."""
    unit = TEX_UNIT.get(p.unit, p.unit)
    return TEX_SYMBOL.get(p.name, p.symbol) + (f" [{unit}]" if unit else "")


def posterior_ranges(draws: np.ndarray, truth=None, low=params.LOW, high=params.HIGH) -> list[tuple[float, float]]:
    """Per parameter, the axis range: the central :data:`SHOWN_QUANTILES` of the draws and the truth
    (when given), padded, at least :data:`MIN_WIDTH` of the prior box wide, inside the box."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    lo, hi = np.percentile(draws, SHOWN_QUANTILES, axis=0)
    if truth is not None:
        t = np.array([np.nan if v is None else v for v in truth], dtype=float)
        lo, hi = np.fmin(lo, t), np.fmax(hi, t)
    width = np.maximum(hi - lo, MIN_WIDTH * (high - low))
    centre = 0.5 * (lo + hi)
    lo, hi = centre - (0.5 + PAD) * width, centre + (0.5 + PAD) * width
    # keep the width when a bound cuts the range (a posterior piled against A0 = 0)
    lo, hi = np.where(lo < low, low, lo), np.where(hi > high, high, hi)
    hi = np.where(hi - lo < MIN_WIDTH * (high - low), np.minimum(high, lo + MIN_WIDTH * (high - low)), hi)
    lo = np.where(hi - lo < MIN_WIDTH * (high - low), hi - MIN_WIDTH * (high - low), lo)
    return [(float(a), float(b)) for a, b in zip(lo, hi)]


def _decimals(uncertainty: float) -> int:
    """Decimals that show two significant digits of ``uncertainty``."""
    if not (np.isfinite(uncertainty) and uncertainty > 0):
        return 2
    return int(max(0, 1 - np.floor(np.log10(uncertainty))))


def panel_title(p: params.Parameter, column: np.ndarray) -> str:
    """``symbol = median +up -down unit`` (16th to 84th percentile), two significant digits of the error."""
    q16, q50, q84 = np.percentile(column, [16, 50, 84])
    d = _decimals(min(q84 - q50, q50 - q16) if min(q84 - q50, q50 - q16) > 0 else max(q84 - q50, q50 - q16))
    unit = TEX_UNIT.get(p.unit, p.unit)
    return (f"{TEX_SYMBOL.get(p.name, p.symbol)} = ${q50:.{d}f}^{{+{q84 - q50:.{d}f}}}_{{-{q50 - q16:.{d}f}}}$"
            + (f" {unit}" if unit else ""))


def plot_corner(draws: np.ndarray, truth, path, title: str = "", dpi: int = DPI) -> Path:
    """Corner plot of ``draws`` (N, 7) with the ``truth`` (7 values or None each, or None) marked; written to
    ``path`` (PNG) atomically."""
    import matplotlib  # lazy: the Agg backend is chosen before pyplot loads, only when a figure is drawn

    matplotlib.use("Agg")
    import corner
    import matplotlib.pyplot as plt

    draws = np.asarray(draws, dtype=float)
    truths = None if truth is None else [None if v is None else float(v) for v in truth]
    fig = plt.figure(figsize=(14, 14))
    corner.corner(draws, fig=fig, labels=[axis_label(p) for p in params.PARAMETERS], truths=truths,
                  range=posterior_ranges(draws, truths), bins=30, smooth=1.0, quantiles=[0.16, 0.5, 0.84],
                  show_titles=False, max_n_ticks=4, label_kwargs={"fontsize": 13}, truth_color="C3",
                  labelpad=0.08)
    axes = np.array(fig.axes).reshape(params.NDIM, params.NDIM)
    for j, p in enumerate(params.PARAMETERS):
        axes[j, j].set_title(panel_title(p, draws[:, j]), fontsize=10)
    for ax in fig.axes:
        ax.tick_params(labelsize=9)
    if title:
        fig.suptitle(title + ("\nred: true value" if truths is not None and any(v is not None for v in truths) else ""),
                     fontsize=15, y=0.995)
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight")
    plt.close(fig)
    return path
