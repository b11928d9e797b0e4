"""The talk's Figure 3: model spectra varying one parameter at a time around a reference star."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.forward.constants import BALMER_EDGE_NM
from xpcvae.forward.instrument import WAVELENGTH

#: the reference star: a K7-M0 classical T Tauri star with moderate accretion and extinction
REFERENCE = {"teff": 4000.0, "logg": 4.0, "mh": 0.0, "log_mdot": -8.0, "ff": 0.05, "mass": 0.7, "a0": 1.0}
N_VALUES = 6


def reference_theta(reference: dict | None = None) -> np.ndarray:
    ref = dict(REFERENCE)
    ref.update(reference or {})
    unknown = set(ref) - set(params.NAMES)
    if unknown:
        raise ValueError(f"unknown parameter(s) in the reference star: {sorted(unknown)}")
    return params.validate(np.array([ref[n] for n in params.NAMES]), what="reference star")[0]


def variations(reference: dict | None = None, n_values: int = N_VALUES):
    """For each parameter: (values, theta (n_values, 7)) varying it over its prior range."""
    base = reference_theta(reference)
    out = {}
    for j, p in enumerate(params.PARAMETERS):
        values = np.linspace(p.low, p.high, n_values)
        theta = np.repeat(base[None, :], n_values, axis=0)
        theta[:, j] = values
        out[p.name] = (values, theta)
    return out


def figure3(model, out_dir, reference: dict | None = None, n_values: int = N_VALUES) -> list[Path]:
    """Write ``figure3.png`` (all panels) and ``figure3_<parameter>.png`` (one per parameter) to
    ``out_dir``; returns the paths. Each file is written atomically."""
    matplotlib.use("Agg")
    # GaiaXPy switches matplotlib to LaTeX text on import; LaTeX is not needed here
    with matplotlib.rc_context({"text.usetex": False}):
        return _figure3(model, out_dir, reference, n_values)


def _figure3(model, out_dir, reference, n_values) -> list[Path]:
    out_dir = Path(out_dir)
    base = reference_theta(reference)
    ref_flux, _ = model.spectra(base[None, :])
    var = variations(reference, n_values)
    spectra = {name: model.spectra(theta)[0] for name, (_, theta) in var.items()}
    ref_text = ", ".join(f"{p.symbol}={base[j]:g}{(' ' + p.unit) if p.unit else ''}" for j, p in enumerate(params.PARAMETERS))
    photo = model.photosphere.spec()

    def draw(ax, j):
        p = params.PARAMETERS[j]
        values, _ = var[p.name]
        cmap = plt.get_cmap("viridis")
        norm = Normalize(p.low, p.high)
        for v, f in zip(values, spectra[p.name]):
            ax.plot(WAVELENGTH, f, color=cmap(norm(v)), lw=1.3)
        ax.plot(WAVELENGTH, ref_flux[0], color="k", lw=0.8, ls="--", label="reference")
        ax.axvline(BALMER_EDGE_NM, color="0.6", lw=0.6, ls=":")
        ax.set_yscale("log")
        ax.set_xlim(WAVELENGTH[0], WAVELENGTH[-1])
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel("flux / mean flux")
        unit = f" ({p.unit})" if p.unit else ""
        ax.set_title(f"varying {p.symbol}{unit}", fontsize=10)
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        cb = ax.figure.colorbar(sm, ax=ax, pad=0.01)
        cb.set_label(f"{p.symbol}{unit}")

    paths = []
    fig, axes = plt.subplots(4, 2, figsize=(13, 15))
    for j, ax in enumerate(axes.flat[: params.NDIM]):
        draw(ax, j)
    ax = axes.flat[-1]
    ax.axis("off")
    ax.text(0.0, 0.9, "Reference star (dashed):\n" + ref_text.replace(", ", "\n"), va="top", fontsize=10,
            transform=ax.transAxes)
    ax.text(0.0, 0.15, f"photosphere: {photo}\nextinction: {model.extinction.name} R_V={model.extinction.rv:g}\n"
                       f"dotted line: Balmer edge {BALMER_EDGE_NM:.1f} nm", va="top", fontsize=9, transform=ax.transAxes)
    fig.suptitle("xpcvae forward model: one parameter at a time around the reference star", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    paths.append(_save(fig, out_dir / "figure3.png"))
    plt.close(fig)
    for j, p in enumerate(params.PARAMETERS):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        draw(ax, j)
        fig.tight_layout()
        paths.append(_save(fig, out_dir / f"figure3_{p.name}.png"))
        plt.close(fig)
    return paths


def _save(fig, path: Path) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path
