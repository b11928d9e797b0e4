"""The validation figures (PNG): comparison with APOGEE, residuals vs Teff, mismatch spectra, gof, coverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.forward.gof import GOF_THRESHOLD
from xpcvae.forward.instrument import WAVELENGTH
from xpcvae.validation.metrics import ACC_LUM_VISIBLE, COMPARED, LABEL_NAMES, robust_stats, teff_bin_masks
from xpcvae.validation.targets import BIAS_MAX, scatter_max
from xpcvae.validation.posteriors import RealResults


def make_figures(res: RealResults, out_dir) -> list[str]:
    """The validation figures (PNG) in ``out_dir``; returns their file names."""
    import matplotlib  # lazy: matplotlib only when plotting

    matplotlib.use("Agg")
    with matplotlib.rc_context({"text.usetex": False}):
        return _make_figures(res, out_dir)


def _make_figures(res: RealResults, out_dir) -> list[str]:
    import matplotlib.pyplot as plt  # lazy: matplotlib only when plotting

    out_dir = Path(out_dir)
    st, q = res.stars, res.q
    names = []

    # 1. posterior median vs APOGEE with 68 % intervals (a comparison-with-literature plot)
    fig, axes = plt.subplots(2, 2, figsize=(10, 9))
    for ax, name in zip(axes.flat, COMPARED):
        j = params.INDEX[name]
        ref = st.reference(name)
        ok = np.isfinite(ref)
        med = q["median"][ok, j]
        yerr = np.vstack([med - q["p16"][ok, j], q["p84"][ok, j] - med])
        ax.errorbar(ref[ok], med, yerr=yerr, fmt="none", ecolor="0.7", elinewidth=0.5, alpha=0.5, zorder=1)
        sc = ax.scatter(ref[ok], med, c=st.teff[ok], s=4, cmap="coolwarm", vmin=3000, vmax=7000, zorder=2)
        p = params.PARAMETERS[j]
        lo = min(np.nanmin(ref[ok]) if ok.any() else p.low, p.low)
        hi = max(np.nanmax(ref[ok]) if ok.any() else p.high, p.high) if name != "a0" else \
            max(np.nanpercentile(ref[ok], 99.5) if ok.any() else 1, np.nanpercentile(med, 99.5) if ok.any() else 1)
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.axhline(p.low, color="0.5", ls=":", lw=0.6)
        ax.axhline(p.high, color="0.5", ls=":", lw=0.6)
        r = robust_stats(med - ref[ok])
        ax.set_title(f"{LABEL_NAMES[name]}: bias {r['bias']:.3g}, scatter {r['scatter']:.3g} (N={r['n']})",
                     fontsize=9)
        ax.set_xlabel(f"APOGEE {LABEL_NAMES[name]}" if name != "a0" else f"{st.a0_per_ak:.2f} x A_K [mag]")
        ax.set_ylabel(f"posterior median {LABEL_NAMES[name]}")
        if name == "a0":
            ax.set_xlim(-0.2, hi)
            ax.set_ylim(-0.2, hi)
    fig.colorbar(sc, ax=axes, label="APOGEE Teff [K]", shrink=0.6)
    fig.suptitle(f"Real Gaia XP spectra vs APOGEE DR17 ({len(st)} held-out stars; bars: 68 % intervals)")
    names.append(save_figure(fig, out_dir / "comparison.png"))

    # 2. residuals vs Teff
    fig, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    for ax, name in zip(axes, COMPARED):
        j = params.INDEX[name]
        ref = st.reference(name)
        ok = np.isfinite(ref)
        d = q["median"][ok, j] - ref[ok]
        ax.scatter(st.teff[ok], d, s=3, c="C0", alpha=0.4)
        edges = np.arange(3000, 7001, 250)
        cen, med, lo, hi = [], [], [], []
        for a, b in zip(edges[:-1], edges[1:]):
            m = (st.teff[ok] >= a) & (st.teff[ok] < b)
            if m.sum() >= 5:
                cen.append((a + b) / 2)
                med.append(np.median(d[m]))
                lo.append(np.percentile(d[m], 16))
                hi.append(np.percentile(d[m], 84))
        ax.plot(cen, med, "k-", lw=1.5, label="running median")
        ax.fill_between(cen, lo, hi, color="k", alpha=0.15, label="16-84 %")
        ax.axhline(0, color="r", lw=0.8)
        if name in BIAS_MAX:
            for s in (-1, 1):
                ax.axhline(s * BIAS_MAX[name], color="r", ls="--", lw=0.6)
                ax.axhline(s * scatter_max(name, "range"), color="r", ls=":", lw=0.6)
        lim = np.nanpercentile(np.abs(d), 99) if d.size else 1
        ax.set_ylim(-1.1 * lim, 1.1 * lim)
        ax.set_ylabel(f"Δ{LABEL_NAMES[name]}")
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("APOGEE Teff [K]")
    fig.suptitle("Posterior median minus reference vs Teff (dashed: |bias| target; dotted: scatter target "
                 "per 1000-K range)")
    names.append(save_figure(fig, out_dir / "residuals_vs_teff.png"))

    # 3. simulation-to-real mismatch: median relative residual spectra by Teff range
    if res.resid_labels is not None:
        fig, axes = plt.subplots(3, 1, figsize=(10, 11), sharex=True)
        panels = ((axes[0], res.resid_labels,
                   f"forward model at the APOGEE labels, ff = 0, A0 = {st.a0_per_ak:.2f} A_K"),
                  (axes[1], res.resid_labels_fit, "forward model at the APOGEE Teff, log g, [M/H], ff = 0, A0 fitted"),
                  (axes[2], res.resid_post, "forward model at the posterior median"))
        for ax, resid, title in panels:
            for k, (label, m) in enumerate(teff_bin_masks(st.teff)[1:]):
                if m.sum() < 3:
                    continue
                r = resid[m]
                good = np.isfinite(r).all(axis=1)
                if good.sum() < 3:
                    continue
                med = np.median(r[good], axis=0) * 100
                lo, hi = np.percentile(r[good], [16, 84], axis=0) * 100
                ax.plot(WAVELENGTH, med, color=f"C{k}", label=f"{label} (N={int(good.sum())})")
                ax.fill_between(WAVELENGTH, lo, hi, color=f"C{k}", alpha=0.12)
            noise = np.median(res.rel_noise, axis=0) * 100
            ax.plot(WAVELENGTH, noise, "k:", lw=0.8, label="median noise (±)")
            ax.plot(WAVELENGTH, -noise, "k:", lw=0.8)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_ylim(-15, 15)
            ax.set_ylabel("observed / model - 1 [%]")
            ax.set_title(title, fontsize=10)
        axes[0].legend(fontsize=8, ncol=2)
        axes[2].set_xlabel("wavelength [nm]")
        fig.suptitle("Simulation-to-real mismatch by APOGEE Teff range (median, band: 16-84 %)")
        names.append(save_figure(fig, out_dir / "mismatch_spectra.png"))

    # 4. goodness of fit
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.logspace(-1, 3, 60)
    for x, lab in ((res.gof_chi2, "at posterior median"), (res.gof_chi2_labels, "at APOGEE labels, A0 from A_K"),
                   (res.gof_chi2_labels_fit, "at APOGEE labels, A0 fitted")):
        x = x[np.isfinite(x)]
        if x.size:
            axes[0].hist(np.clip(x, bins[0], bins[-1]), bins=bins, histtype="step", label=lab)
    axes[0].axvline(GOF_THRESHOLD, color="r", ls="--", label=f"OOD threshold {GOF_THRESHOLD:g}")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("gof_chi2 (reduced χ², with model floor)")
    axes[0].legend(fontsize=8)
    axes[1].scatter(st.teff, res.gof_chi2, s=3, alpha=0.5, label="at posterior median")
    axes[1].scatter(st.teff, res.gof_chi2_labels_fit, s=3, alpha=0.5, color="C2", label="at APOGEE labels, A0 fitted")
    axes[1].axhline(GOF_THRESHOLD, color="r", ls="--")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("APOGEE Teff [K]")
    axes[1].set_ylabel("gof_chi2")
    axes[1].legend(fontsize=8)
    names.append(save_figure(fig, out_dir / "goodness_of_fit.png"))

    # 5. accretion and coverage (PIT)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    axes[0].hist(q["median"][:, params.INDEX["ff"]], bins=40, color="C0")
    axes[0].set_xlabel("posterior median ff")
    axes[1].hist(np.clip(res.log_lacc_median, -6, 1), bins=40, color="C1")
    axes[1].axvline(np.log10(ACC_LUM_VISIBLE), color="r", ls="--")
    axes[1].set_xlabel("posterior median log10(L_acc / L_*)")
    axes[1].set_title("non-accreting stars: should sit left of the line", fontsize=9)
    levels = np.linspace(0, 1, 41)
    for name in COMPARED:
        u = res.pit[name][np.isfinite(res.pit[name])]
        if u.size:
            cov = [(np.abs(u - 0.5) <= lv / 2).mean() for lv in levels]
            axes[2].plot(levels, cov, label=LABEL_NAMES[name])
    axes[2].plot([0, 1], [0, 1], "k--", lw=0.8)
    axes[2].set_xlabel("credible level of the central interval")
    axes[2].set_ylabel("fraction of references inside")
    axes[2].legend(fontsize=8)
    axes[2].set_title("coverage on real data", fontsize=9)
    names.append(save_figure(fig, out_dir / "accretion_coverage.png"))
    return names


def save_figure(fig, path) -> str:
    import matplotlib.pyplot as plt  # lazy: matplotlib only when plotting

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path).name
