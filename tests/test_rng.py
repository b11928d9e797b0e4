"""The counter-based generator shared with Java (splitmix64-counter-v1)."""

import numpy as np
from scipy import stats

from xpcvae import rng

MASK = (1 << 64) - 1


def splitmix64_reference(state: int, n: int) -> list[int]:
    """Independent pure-Python SplitMix64 (Steele et al. 2014 / Vigna's splitmix64.c)."""
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def test_published_splitmix64_vector():
    # First outputs of splitmix64.c seeded with 0 (published test vector).
    assert int(rng.bits(0, 0)) == 0xE220A8397B1DCDAF
    assert int(rng.bits(0, 1)) == 0x6E789E6AA1B965F4
    assert int(rng.bits(0, 2)) == 0x06C45D188009454F


def test_bits_are_a_splitmix64_stream_for_any_key():
    for key in (1, 12345, 2**63 + 17, MASK):
        got = [int(v) for v in rng.bits(key, np.arange(50))]
        assert got == splitmix64_reference(key, 50)


def mix64_reference(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def test_stream_key_formula_and_negative_seeds():
    seed, idx = 42, 7
    want = mix64_reference(mix64_reference(seed) ^ ((idx * 0xD1B54A32D192ED03) & MASK))
    assert int(rng.stream_key(seed, idx)) == want
    # a negative (Java long) seed is its two's complement
    assert int(rng.stream_key(-1, 0)) == int(rng.stream_key(MASK, 0))


def test_uniform_open_interval_and_distribution():
    u = rng.uniform(rng.stream_key(3, 0), np.arange(200_000))
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_normal_moments_and_shape():
    key = rng.stream_key(9, 4)
    z = rng.normal(key, 2 * np.arange(100_000))
    assert abs(z.mean()) < 5 / np.sqrt(len(z))
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / len(z))
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_streams_of_different_sources_differ():
    a = rng.uniform(rng.stream_key(5, 0), np.arange(1000))
    b = rng.uniform(rng.stream_key(5, 1), np.arange(1000))
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.15
    assert not np.any(a == b)
