"""NumPy evaluation of the empirical photosphere emulator (no torch at grid time).

The emulator is a small multilayer perceptron (tanh hidden layers) mapping
(Teff, log g, [M/H]) to the natural log of the dereddened XP spectrum on the
343-point grid, normalised to median 1. It is fitted by :mod:`xpcvae.calibrate.emulator_fit`
on real Gaia XP spectra with APOGEE labels and stored as an ``.npz`` of weights in
``xpcvae/forward/photosphere_emulator.npz``.

Edges (documented behaviour outside the labels' support): before the network, each
label passes through a *soft clamp*, identity inside ``[low_knot, high_knot]`` and
``knot ± scale * tanh(distance / scale)`` beyond it (continuous with its first and
second derivative), so that an input far beyond the data moves the network input at
most ``scale`` past the knot. The tanh hidden layers themselves saturate, so the
output stays bounded and smooth everywhere. The knots are stored in the file (see
``docs/grid.md``: [M/H] above +0.45 and Teff beyond 3100/6900 K are compressed).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

import numpy as np

LABELS = ("teff", "logg", "mh")
DEFAULT_FILE = "photosphere_emulator.npz"


def default_path() -> Path:
    return Path(str(resources.files("xpcvae.forward") / DEFAULT_FILE))


def soft_clamp(x, low_knot, high_knot, scale):
    """Identity in [low_knot, high_knot]; beyond, ``knot ± scale*tanh(excess/scale)``."""
    x = np.asarray(x, dtype=float)
    above = np.maximum(x - high_knot, 0.0)
    below = np.maximum(low_knot - x, 0.0)
    return x - above + scale * np.tanh(above / scale) + below - scale * np.tanh(below / scale)


def input_features(teff, logg, mh, clamp) -> np.ndarray:
    """The network's standardised inputs (N, 3) from physical labels.

    ``clamp`` is an array (3, 3) of (low_knot, high_knot, scale) per label. Features:
    ``(5040/Teff - 1.0)/0.25``, ``(logg - 3.0)/1.5``, ``([M/H] + 0.3)/0.4``.
    """
    cols = []
    for value, (lo, hi, s) in zip((teff, logg, mh), np.asarray(clamp, dtype=float)):
        cols.append(soft_clamp(np.asarray(value, dtype=float), lo, hi, s))
    t, g, m = cols
    return np.stack([(5040.0 / t - 1.0) / 0.25, (g - 3.0) / 1.5, (m + 0.3) / 0.4], axis=-1)


class PhotosphereEmulator:
    """Evaluates the stored MLP in NumPy. ``log_shape(teff, logg, mh)`` -> (N, 343)."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray], clamp: np.ndarray,
                 wavelength: np.ndarray, meta: dict, path: str | None = None):
        self.weights = [np.asarray(w, dtype=float) for w in weights]
        self.biases = [np.asarray(b, dtype=float) for b in biases]
        self.clamp = np.asarray(clamp, dtype=float)
        self.wavelength = np.asarray(wavelength, dtype=float)
        self.meta = meta
        self.path = path
        if self.weights[-1].shape[1] != self.wavelength.size:
            raise ValueError("emulator output size does not match its wavelength grid")

    @classmethod
    def load(cls, path=None) -> "PhotosphereEmulator":
        path = Path(path) if path is not None else default_path()
        if not path.exists():
            raise FileNotFoundError(
                f"photosphere emulator {path} not found; run `xpcvae photosphere-fit` to create it"
            )
        try:
            with np.load(path, allow_pickle=False) as z:
                n_layers = int(z["n_layers"])
                weights = [z[f"w{i}"] for i in range(n_layers)]
                biases = [z[f"b{i}"] for i in range(n_layers)]
                meta = json.loads(str(z["meta"]))
                return cls(weights, biases, z["clamp"], z["wavelength"], meta, str(path))
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"photosphere emulator {path} is malformed: {exc}") from exc

    def save(self, path) -> None:
        """Write atomically (float32 weights)."""
        from xpcvae.atomic import atomic_path

        arrays = {"n_layers": np.array(len(self.weights)), "clamp": self.clamp, "wavelength": self.wavelength,
                  "meta": np.array(json.dumps(self.meta))}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"w{i}"] = w.astype(np.float32)
            arrays[f"b{i}"] = b.astype(np.float32)
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
            from xpcvae.atomic import make_readable

            make_readable(tmp)

    def log_shape(self, teff, logg, mh) -> np.ndarray:
        """Natural log of the dereddened XP spectrum (median-normalised scale), (N, 343)."""
        h = input_features(np.atleast_1d(teff), np.atleast_1d(logg), np.atleast_1d(mh), self.clamp)
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = np.tanh(h @ w + b)
        return h @ self.weights[-1] + self.biases[-1]

    def shape(self, teff, logg, mh) -> np.ndarray:
        """The dereddened XP spectrum normalised to mean 1 over the 343 samples."""
        s = np.exp(self.log_shape(teff, logg, mh))
        return s / s.mean(axis=1, keepdims=True)


@functools.lru_cache(maxsize=4)
def load_default(path: str | None = None) -> PhotosphereEmulator:
    return PhotosphereEmulator.load(path)
