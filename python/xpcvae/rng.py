"""Counter-based random numbers shared bit for bit with the Java sampler (``splitmix64-counter-v3``).

A star's posterior sample must not depend on the file it is in, its row, the batch size, thread
count or processing order, and Python and Java must draw the same numbers for the same seed: every
number is a pure function of ``(seed, source_key(source_id), counter)``, built on the SplitMix64
finaliser, and a normal deviate is AS241's quantile of one uniform. The specification, operation
order included, is in docs/sampling.md ("Random numbers"); ``org.xpcvae.CounterRng`` implements the
same.
"""

from __future__ import annotations

import re

import numpy as np

ALGORITHM = "splitmix64-counter-v3"
"""Name of the scheme, as written in a bundle's manifest (``"rng"``)."""
PREVIOUS_ALGORITHMS = ("splitmix64-counter-v1",)
"""Older schemes that need a re-export (another counter layout); they are refused with that hint."""
ROW_KEYED_ALGORITHM = "splitmix64-counter-v2"
"""v3's generator with streams keyed by row number: format-1 bundles, which ``xpcvae upgrade-bundle`` upgrades."""

SEED_MAX = (1 << 64) - 1
"""Seeds are unsigned 64-bit integers, 0 .. 2**64 - 1 (a Java ``long`` seed is its two's complement)."""
INTEGER_KEY_MAX = (1 << 63) - 1
"""Largest source id keyed by its own value (Java's ``Long.MAX_VALUE``); larger ones are hashed."""
FNV_OFFSET_BASIS = 0xCBF29CE484222325
"""64-bit FNV-1a offset basis (Fowler, Noll & Vo; IETF draft-eastlake-fnv)."""
FNV_PRIME = 0x100000001B3
"""64-bit FNV prime."""
_CANONICAL_INTEGER = re.compile(r"[0-9]{1,19}", re.ASCII)
_MASK = (1 << 64) - 1

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_KEY_MULT = np.uint64(0xD1B54A32D192ED03)

# AS241 (PPND16) coefficients, Wichura (1988), lowest degree first; the constant terms
# of B, D and F are 1.
_A = (3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
      1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
      3.3430575583588128105e+4, 2.5090809287301226727e+3)
_B = (1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
      2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
      5.2264952788528545610e+3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
      3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
      2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)
_SPLIT1 = 0.425
_SPLIT2 = 5.0
_CONST1 = 0.180625
_CONST2 = 1.6


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


def seed_error(seed) -> str:
    """The message refusing ``seed`` (one wording in both engines: ``CounterRng.seedError``)."""
    return f"seed {seed} is not an integer in 0..{SEED_MAX} (seeds are unsigned 64-bit integers)"


def check_seed(seed) -> int:
    """``seed`` as a Python int, or :class:`ValueError` unless it is an integer in 0 .. 2**64 - 1."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= SEED_MAX:
        raise ValueError(seed_error(seed))
    return int(seed)


def parse_seed(text: str) -> int:
    """A seed given as text (the CLIs' ``--seed``): decimal digits only, value in 0 .. 2**64 - 1."""
    if not (isinstance(text, str) and text.isascii() and text.isdigit() and int(text) <= SEED_MAX):
        raise ValueError(seed_error(text))
    return int(text)


class SourceIdError(ValueError):
    """A source id that has no key: it is not valid Unicode text."""


def fnv1a64(data: bytes) -> int:
    """The 64-bit FNV-1a hash of ``data``: per byte, ``h ^= byte; h *= FNV_PRIME`` (mod 2**64)."""
    h = FNV_OFFSET_BASIS
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & _MASK
    return h


def source_key(source_id) -> np.uint64:
    """The key of a source's random stream (docs/sampling.md, "Random numbers").

    An id that is a canonical unsigned decimal integer fitting a signed 64-bit integer (1 to 19 ASCII
    digits, value <= 2**63 - 1; leading zeros allowed: ``"007"`` keys as 7) keys as that value; any
    other id as the 64-bit FNV-1a hash of its UTF-8 bytes. An integer id is keyed as its decimal text.
    Raises :class:`SourceIdError` for text that has no UTF-8 encoding (a lone surrogate).
    """
    if isinstance(source_id, (bool, np.bool_)) or not isinstance(source_id, (str, int, np.integer)):
        raise TypeError(f"a source id is text or an integer, got {type(source_id).__name__}")
    text = source_id if isinstance(source_id, str) else str(int(source_id))
    if _CANONICAL_INTEGER.fullmatch(text) and int(text) <= INTEGER_KEY_MAX:
        return np.uint64(int(text))
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SourceIdError(f"source id is not valid Unicode text: it contains a lone surrogate "
                            f"(U+{ord(text[exc.start]):04X}), so it has no UTF-8 bytes to key its random stream "
                            f"with") from None
    return np.uint64(fnv1a64(data))


def source_keys(source_ids) -> np.ndarray:
    """:func:`source_key` of each id of a sequence (or array), as a uint64 array."""
    if isinstance(source_ids, (str, bytes)):
        raise TypeError("source_keys takes a sequence of source ids, not a single id")
    return np.array([source_key(s) for s in np.asarray(source_ids, dtype=object).ravel()],
                    dtype=np.uint64).reshape(np.shape(source_ids))


def stream_key(seed, key) -> np.ndarray:
    """Key of the random stream of the source whose :func:`source_key` is ``key`` (array-like) under
    ``seed`` (an integer in 0 .. 2**64 - 1, :func:`check_seed`)."""
    s = np.uint64(check_seed(seed))
    k = _as_u64(key)
    with np.errstate(over="ignore"):
        return mix64(mix64(s) ^ (k * _KEY_MULT))


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


def _horner(coef, r: np.ndarray) -> np.ndarray:
    """``(((c7*r + c6)*r + c5)...)*r + c0``, one rounding per operation (the Java order)."""
    acc = r * coef[-1]  # == coef[-1] * r: IEEE multiplication is commutative
    for c in coef[-2:0:-1]:
        acc += c
        acc *= r
    acc += coef[0]
    return acc


def inverse_normal_cdf(u, log=np.log) -> np.ndarray:
    """Standard normal quantile ``Phi^-1(u)`` for ``u`` strictly inside (0, 1).

    Algorithm AS241 (PPND16) of M. J. Wichura (1988), "Algorithm AS 241: The percentage
    points of the normal distribution", Applied Statistics 37(3), 477-484; relative
    accuracy about 1e-16. Evaluated in the operation order of docs/sampling.md, which
    ``org.xpcvae.CounterRng.inverseNormalCdf`` repeats, so that both give the same bits
    for ``|u - 0.5| <= 0.425``. Values of ``u`` outside (0, 1) give NaN or infinities.
    ``log`` is the logarithm used in the tails (the parity tests pass Java's to show that it
    accounts for every difference there).
    """
    u = np.asarray(u, dtype=np.float64)
    shape = u.shape
    u = u.reshape(-1)
    q = u - 0.5
    # the central branch for every element (no gathers over the 85 % that need it), then
    # the tails where |q| > 0.425; its values there are discarded
    with np.errstate(all="ignore"):
        r = _CONST1 - q * q
        out = q * _horner(_A, r)
        out /= _horner(_B, r)
    tail = np.flatnonzero(np.abs(q) > _SPLIT1)  # indices: faster than boolean masks
    if tail.size:
        qt = q[tail]
        ut = u[tail]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.sqrt(-log(np.where(qt < 0, ut, 1.0 - ut)))
        near = r <= _SPLIT2
        v = np.empty_like(r)
        rn = r[near] - _CONST2
        v[near] = _horner(_C, rn) / _horner(_D, rn)
        rf = r[~near] - _SPLIT2
        v[~near] = _horner(_E, rf) / _horner(_F, rf)
        out[tail] = np.where(qt < 0, -v, v)
    return out.reshape(shape)


def normal(key, counter) -> np.ndarray:
    """Standard normal deviates, one per counter: AS241 of the uniform at ``counter``."""
    return inverse_normal_cdf(uniform(key, counter))
