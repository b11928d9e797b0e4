"""Reference posterior sampler on ONNX Runtime -- the algorithm of docs/sampling.md.

``org.xpcvae.PosteriorSampler`` implements the same steps in Java; with the same
bundle, spectra, seed and source ids both return the same draws (to float32
round-off of the network outputs).

Example::

    from xpcvae.infer.sampler import PosteriorSampler, percentiles
    with PosteriorSampler("export/default") as sampler:
        draws = sampler.sample(flux, flux_error, n_samples=1000, seed=42, source_ids=ids)  # (B, 1000, 7)
    table = percentiles(draws)                                                             # per-parameter percentiles
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xpcvae import rng
from xpcvae.bundle import ROLES, BundleError, ModelBundle
from xpcvae.data.spectra_csv import PERCENTILES
from xpcvae.forward.instrument import N_WAVE


class InvalidSpectrumError(ValueError):
    """A spectrum cannot be used: the message names the source and the problem."""


def check_spectrum(flux, flux_error, source_id, n_wave: int = N_WAVE) -> tuple[np.ndarray, np.ndarray]:
    """Validate one spectrum; return it as float32 arrays or raise :class:`InvalidSpectrumError`.

    The checks apply to the float32 values the graphs receive (as in Java, where a spectrum is
    float32): a value beyond float32's range is not finite there, an uncertainty below its
    smallest subnormal is zero.
    """
    where = f"source {source_id}"
    try:
        f = np.asarray(flux, dtype=np.float64)
        e = np.asarray(flux_error, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidSpectrumError(f"{where}: flux and flux_error must be numbers ({exc})") from None
    if f.shape != (n_wave,):
        raise InvalidSpectrumError(f"{where}: flux has {f.size} samples, expected {n_wave}")
    if e.shape != (n_wave,):
        raise InvalidSpectrumError(f"{where}: flux_error has {e.size} samples, expected {n_wave}")
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        f32, e32 = f.astype(np.float32), e.astype(np.float32)
    for name, arr, a32 in (("flux", f, f32), ("flux_error", e, e32)):
        bad = np.flatnonzero(~np.isfinite(a32))
        if bad.size:
            extra = " (beyond float32)" if np.isfinite(arr[bad[0]]) else ""
            raise InvalidSpectrumError(f"{where}: {name}[{bad[0]}] = {arr[bad[0]]} is not finite{extra}")
    bad = np.flatnonzero(~(e32 > 0))
    if bad.size:
        raise InvalidSpectrumError(f"{where}: flux_error[{bad[0]}] = {e[bad[0]]:g} is not positive")
    mean = f32.astype(np.float64).mean()
    if not mean > 0:
        raise InvalidSpectrumError(f"{where}: mean flux is {mean:g}; a spectrum needs a positive mean flux")
    return f32, e32


def percentiles(draws: np.ndarray) -> dict[str, np.ndarray]:
    """Summary percentiles over the draw axis (-2) of ``draws`` (..., N, P), NumPy 'linear' method."""
    q = np.percentile(draws, list(PERCENTILES.values()), axis=-2, method="linear")
    return {k: q[i] for i, k in enumerate(PERCENTILES)}


@dataclass
class _Outputs:
    logits: np.ndarray
    mean: np.ndarray
    log_std: np.ndarray
    context: np.ndarray


#: the inputs the sampler feeds each graph, by role
FEEDS = {"r1_encoder": ("flux", "flux_error"), "decoder_context": ("flux", "flux_error"),
         "decoder_sample": ("context", "z")}


class PosteriorSampler:
    """Samples posteriors from a model bundle with ONNX Runtime (one thread by default)."""

    def __init__(self, bundle, intra_op_threads: int = 1):
        self.bundle = bundle if isinstance(bundle, ModelBundle) else ModelBundle.load(bundle)
        self._sessions = {role: self.bundle.session(role, intra_op_threads) for role in ROLES}
        for role, names in FEEDS.items():
            self._check_inputs(role, names)

    def _check_inputs(self, role: str, names: tuple[str, ...]) -> None:
        """A graph that does not take what the sampler feeds it (a bundle's files swapped, a graph of
        another model) is refused naming the file, as org.xpcvae.PosteriorSampler words it."""
        have = [i.name for i in self._sessions[role].get_inputs()]
        for name in names:
            if name not in have:
                raise BundleError(f"bundle {self.bundle.root}: {self.bundle.path(role).name} has no input "
                                  f"'{name}' (it has [{', '.join(have)}])")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._sessions.clear()

    # -- network passes ----------------------------------------------------------
    def encode(self, flux: np.ndarray, flux_error: np.ndarray) -> _Outputs:
        feed = {"flux": np.ascontiguousarray(flux, dtype=np.float32),
                "flux_error": np.ascontiguousarray(flux_error, dtype=np.float32)}
        logits, mean, log_std = self._sessions["r1_encoder"].run(None, feed)
        (context,) = self._sessions["decoder_context"].run(None, feed)
        return _Outputs(logits, mean, log_std, context)

    def decode(self, context: np.ndarray, z: np.ndarray):
        return self._sessions["decoder_sample"].run(
            None, {"context": np.ascontiguousarray(context, dtype=np.float32),
                   "z": np.ascontiguousarray(z, dtype=np.float32)})

    # -- sampling ------------------------------------------------------------------
    @staticmethod
    def _keys(b: int, source_ids, source_keys) -> tuple[np.ndarray, list]:
        """(source keys (b,) uint64, ids naming the spectra) from the caller's ids or keys."""
        for name, given in (("source_ids", source_ids), ("source_keys", source_keys)):
            if isinstance(given, (str, bytes)) or (given is not None and np.ndim(given) != 1):
                raise TypeError(f"{name} must be a sequence with one entry per spectrum")
            if given is not None and len(given) != b:
                raise ValueError(f"{b} spectra but {len(given)} {name}")
        if source_keys is not None:
            keys = list(source_keys)
            bad = [k for k in keys if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer))
                   or not 0 <= int(k) <= rng.SEED_MAX]
            if bad:
                raise ValueError(f"source key {bad[0]} is not an integer in 0..{rng.SEED_MAX}")
            return np.array([int(k) for k in keys], dtype=np.uint64), list(source_ids if source_ids is not None
                                                                           else keys)
        if source_ids is None:
            raise ValueError("sample() needs the spectra's source_ids (or source_keys): a spectrum's random stream "
                             "is keyed by its source id (docs/sampling.md)")
        return rng.source_keys(source_ids), list(source_ids)

    def latent_draws(self, out: _Outputs, row: int, key: np.uint64, n: int) -> np.ndarray:
        """Latent draws z (n, L) of one spectrum: steps 1-2 of docs/sampling.md, in double."""
        L, D = self.bundle.latent_size, self.bundle.draws_per_sample
        base = np.arange(n, dtype=np.uint64) * np.uint64(D)
        logits = out.logits[row].astype(np.float64)
        w = np.exp(logits - logits.max())
        w /= w.sum()
        cum = np.cumsum(w)
        u = rng.uniform(key, base)
        k = np.searchsorted(cum, u, side="right")  # first k with u < cum[k]
        k = np.minimum(k, len(w) - 1)
        counters = base[:, None] + np.uint64(1) + np.arange(L, dtype=np.uint64)[None, :]
        eps = rng.normal(key, counters)
        mean = out.mean[row].astype(np.float64)[k]
        std = np.exp(out.log_std[row].astype(np.float64))[k]
        return mean + std * eps

    def parameter_draws(self, loc, log_scale, key: np.uint64, n: int) -> np.ndarray:
        """Step 3 of docs/sampling.md: decoder outputs -> physical parameters (n, P)."""
        L, D = self.bundle.latent_size, self.bundle.draws_per_sample
        P = loc.shape[1]
        base = np.arange(n, dtype=np.uint64) * np.uint64(D)
        counters = base[:, None] + np.uint64(1 + L) + np.arange(P, dtype=np.uint64)[None, :]
        eps = rng.normal(key, counters)
        w = loc.astype(np.float64) + np.exp(log_scale.astype(np.float64)) * eps
        u = 1.0 / (1.0 + np.exp(-w))
        low, high = self.bundle.low, self.bundle.high
        return low + (high - low) * u

    def sample(self, flux, flux_error, n_samples: int = 1000, seed: int = 42, source_ids=None,
               source_keys=None) -> np.ndarray:
        """Posterior draws (B, n_samples, 7) in physical units.

        ``source_ids`` (one per spectrum) select each spectrum's random stream through
        :func:`xpcvae.rng.source_key`, so a star gets the same draws whatever file, row or batch it
        comes in. ``source_keys`` (integers in 0 .. 2**64 - 1) give the keys directly instead (the
        ids then only name the spectra in error messages). ``seed``: an integer in 0 .. 2**64 - 1.
        """
        flux = np.atleast_2d(np.asarray(flux))
        flux_error = np.atleast_2d(np.asarray(flux_error))
        if flux.shape != flux_error.shape:
            raise InvalidSpectrumError(f"flux {flux.shape} and flux_error {flux_error.shape} differ in shape")
        b = flux.shape[0]
        seed = rng.check_seed(seed)
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        keys, ids = self._keys(b, source_ids, source_keys)
        checked = [check_spectrum(flux[i], flux_error[i], ids[i], len(self.bundle.wavelength)) for i in range(b)]
        f32 = np.stack([c[0] for c in checked])
        e32 = np.stack([c[1] for c in checked])
        keys = rng.stream_key(seed, keys)
        out = self.encode(f32, e32)
        draws = np.empty((b, n_samples, len(self.bundle.low)))
        for i in range(b):
            z = self.latent_draws(out, i, keys[i], n_samples).astype(np.float32)
            ctx = np.broadcast_to(out.context[i], (n_samples, out.context.shape[1]))
            loc, log_scale = self.decode(ctx, z)
            draws[i] = self.parameter_draws(loc, log_scale, keys[i], n_samples)
        return draws
