"""Counter-based random numbers shared bit for bit with the Java sampler.

Why counter-based: a posterior sample must not depend on batch size, thread
count or the order in which sources are processed, and Python and Java must draw
the same numbers for the same seed. Every random number is therefore a pure
function of ``(seed, source_index, counter)``, built on the SplitMix64 finaliser
(Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators",
OOPSLA '14; the constants are those of ``java.util.SplittableRandom``).

Specification (``splitmix64-counter-v1``; mirrored in ``org.xpcvae.CounterRng``
and in docs/sampling.md), all arithmetic modulo 2**64:

- ``mix64(z)``: ``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
  z *= 0x94D049BB133111EB; z ^= z >> 31``
- stream key of source ``i`` under ``seed``: ``key = mix64(mix64(seed) ^ (i * 0xD1B54A32D192ED03))``
- 64 random bits number ``n`` of a stream: ``bits = mix64(key + (n + 1) * 0x9E3779B97F4A7C15)``
- uniform on the open interval (0, 1): ``((bits >> 12) + 0.5) * 2**-52`` (52 bits, so that
  the largest value, 1 - 2**-53, is exactly representable and never rounds to 1)
- standard normal from counters ``(a, a + 1)`` (Box-Muller, cosine branch):
  ``sqrt(-2 ln u_a) * cos(2 pi u_{a+1})``

Seeds and indices are taken as unsigned 64-bit integers (a negative Java ``long``
maps to its two's complement).
"""

from __future__ import annotations

import numpy as np

ALGORITHM = "splitmix64-counter-v1"

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INDEX_MULT = np.uint64(0xD1B54A32D192ED03)
_TWO_PI = 2.0 * np.pi


def _u64(x) -> np.ndarray:
    """Integers (Python or NumPy, possibly negative) as uint64 arrays, two's complement."""
    arr = np.asarray(x)
    if arr.dtype == np.uint64:
        return arr
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64).view(np.uint64) if arr.dtype.kind == "i" else arr.astype(np.uint64)
    if arr.dtype == object or arr.dtype.kind == "O":
        return np.array([int(v) & 0xFFFFFFFFFFFFFFFF for v in arr.ravel()], dtype=np.uint64).reshape(arr.shape)
    raise TypeError(f"expected integers, got dtype {arr.dtype}")


def _as_u64(x) -> np.ndarray:
    if isinstance(x, (int, np.integer)):
        return np.array([int(x) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64).reshape(())
    return _u64(x)


def mix64(z) -> np.ndarray:
    """SplitMix64 finaliser, elementwise on uint64 arrays (wrapping arithmetic)."""
    z = np.array(z, dtype=np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    return z


def stream_key(seed, source_index) -> np.ndarray:
    """Key of the random stream of source ``source_index`` (array-like) under ``seed``."""
    s = _as_u64(seed)
    i = _as_u64(source_index)
    with np.errstate(over="ignore"):
        return mix64(mix64(s) ^ (i * _INDEX_MULT))


def bits(key, counter) -> np.ndarray:
    """64 random bits at ``counter`` of the stream ``key`` (broadcasting)."""
    k = _as_u64(key)
    c = _as_u64(counter)
    with np.errstate(over="ignore"):
        return mix64(k + (c + np.uint64(1)) * _GOLDEN)


def uniform(key, counter) -> np.ndarray:
    """Uniform doubles on the open interval (0, 1)."""
    b = bits(key, counter)
    return ((b >> np.uint64(12)).astype(np.float64) + 0.5) * (2.0 ** -52)


def normal(key, counter) -> np.ndarray:
    """Standard normal deviates from the uniforms at ``counter`` and ``counter + 1``."""
    c = _as_u64(counter)
    u1 = uniform(key, c)
    u2 = uniform(key, c + np.uint64(1))
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)
