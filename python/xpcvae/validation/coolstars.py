"""The cool stars (3000-4500 K, the mission's T Tauri regime): per-250-K statistics and their figure.

The real-data test set has few cool stars (APOGEE labels are sparse there, docs/science.md
section 2), so the table gives N beside every number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xpcvae import params
from xpcvae.validation.metrics import COMPARED, LABEL_NAMES, compared_stats
from xpcvae.validation.targets import BIAS_MAX, COVERAGE68_RANGE, scatter_max

#: the cool range (K) and its bin width
COOL_TEFF_MIN, COOL_TEFF_MAX, COOL_BIN = 3000.0, 4500.0, 250.0
#: bins with fewer stars are not drawn in the figure's binned statistics
MIN_PLOTTED = 5


def cool_bins() -> list[tuple[str, float, float]]:
    """(label, low, high) of the 250-K bins of the cool range, then the whole range."""
    edges = np.arange(COOL_TEFF_MIN, COOL_TEFF_MAX + 1e-9, COOL_BIN)
    rows = [(f"{a:.0f}-{b:.0f} K", float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]
    return rows + [(f"{COOL_TEFF_MIN:.0f}-{COOL_TEFF_MAX:.0f} K", COOL_TEFF_MIN, COOL_TEFF_MAX)]


def cool_star_table(res) -> dict:
    """``{bin label: compared_stats row}`` over :func:`cool_bins` (half-open bins [low, high))."""
    t = res.stars.teff
    return {lab: compared_stats(res, (t >= lo) & (t < hi)) for lab, lo, hi in cool_bins()}


def cool_star_figure(res, table: dict, out_dir) -> str:
    """``cool_stars.png``: residuals against APOGEE Teff in the cool range with the binned bias and
    scatter and the target limits, the 68 % coverage per bin with its target window, and N per bin."""
    import matplotlib  # lazy: matplotlib only when plotting

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xpcvae.validation.figures import save_figure

    st, q = res.stars, res.q
    cool = (st.teff >= COOL_TEFF_MIN) & (st.teff < COOL_TEFF_MAX)
    bins = cool_bins()[:-1]
    centres = np.array([(lo + hi) / 2 for _, lo, hi in bins])
    shown = np.array([table[lab]["n"] >= MIN_PLOTTED for lab, _, _ in bins])
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, name in zip(axes.flat, COMPARED):
        j = params.INDEX[name]
        ref = st.reference(name)
        ok = cool & np.isfinite(ref)
        d = q["median"][ok, j] - ref[ok]
        ax.errorbar(st.teff[ok], d, yerr=[q["median"][ok, j] - q["p16"][ok, j], q["p84"][ok, j] - q["median"][ok, j]],
                    fmt="o", ms=2.5, color="C0", ecolor="0.75", elinewidth=0.5, alpha=0.6, label="star (68 % interval)")
        bias = np.array([table[lab][name]["bias"] for lab, _, _ in bins])
        scat = np.array([table[lab][name]["scatter"] for lab, _, _ in bins])
        ax.errorbar(centres[shown], bias[shown], yerr=scat[shown], xerr=125, fmt="s", color="k", capsize=3,
                    label="bin bias ± robust scatter")
        ax.axhline(0, color="k", lw=0.6)
        if name in BIAS_MAX:
            for s in (-1, 1):
                ax.axhline(s * BIAS_MAX[name], color="r", ls="--", lw=0.8)
                ax.axhline(s * scatter_max(name, "range"), color="r", ls=":", lw=0.8)
        lim = max(np.percentile(np.abs(d), 98) if d.size else 1.0, 1.5 * np.nanmax(np.abs(bias[shown]) + scat[shown])
                  if shown.any() else 0.0)
        ax.set_ylim(-1.1 * lim, 1.1 * lim)
        ax.set_xlim(COOL_TEFF_MIN, COOL_TEFF_MAX)
        ax.set_xlabel("APOGEE Teff [K]")
        ax.set_ylabel(f"posterior median - {'8.9 A_K' if name == 'a0' else 'APOGEE'}: {LABEL_NAMES[name]}")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    axes[0, 0].set_title("dashed: |bias| target; dotted: scatter target", fontsize=9)
    ax = axes[1, 1]
    lo, hi = COVERAGE68_RANGE
    ax.axhspan(lo, hi, color="g", alpha=0.15, label=f"target {lo:.2f}-{hi:.2f}")
    for k, name in enumerate(COMPARED):
        cov = np.array([table[lab][name]["coverage68"] for lab, _, _ in bins])
        ax.plot(centres[shown] + (k - 1.5) * 12, cov[shown], "o-", color=f"C{k}", label=LABEL_NAMES[name])
    ax.set_ylim(0, 1)
    ax.set_xlim(COOL_TEFF_MIN, COOL_TEFF_MAX)
    ax.set_xlabel("APOGEE Teff [K]")
    ax.set_ylabel("68 % coverage")
    ax.legend(fontsize=7)
    ax = axes[1, 2]
    ns = [table[lab]["n"] for lab, _, _ in bins]
    ax.bar(centres, ns, width=COOL_BIN * 0.9, color="0.6")
    for c, n in zip(centres, ns):
        ax.text(c, n, str(n), ha="center", va="bottom", fontsize=8)
    ax.set_xlim(COOL_TEFF_MIN, COOL_TEFF_MAX)
    ax.set_xlabel("APOGEE Teff [K]")
    ax.set_ylabel("test stars per bin")
    fig.suptitle(f"Cool held-out stars ({int(cool.sum())} of {len(st)}, {COOL_TEFF_MIN:.0f}-{COOL_TEFF_MAX:.0f} K): "
                 f"binned statistics where a bin has >= {MIN_PLOTTED} stars")
    fig.tight_layout()
    return save_figure(fig, Path(out_dir) / "cool_stars.png")
