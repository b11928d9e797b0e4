"""The counter-based generator shared with Java (splitmix64-counter-v3): source keys, seeds, streams."""

import numpy as np
import pytest
from scipy import special, stats

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


def test_stream_key_formula():
    seed, key = 42, 7
    want = mix64_reference(mix64_reference(seed) ^ ((key * 0xD1B54A32D192ED03) & MASK))
    assert int(rng.stream_key(seed, key)) == want
    assert int(rng.stream_key(MASK, 2**63 + 1)) == mix64_reference(
        mix64_reference(MASK) ^ (((2**63 + 1) * 0xD1B54A32D192ED03) & MASK))


@pytest.mark.parametrize("seed", [-1, 2**64, 2**70, 1.5, "3", True, None])
def test_seeds_outside_the_unsigned_64_bit_range_are_refused(seed):
    with pytest.raises(ValueError, match=r"^seed .* is not an integer in 0\.\.18446744073709551615 \(seeds are "
                                         r"unsigned 64-bit integers\)$"):
        rng.stream_key(seed, 0)


def test_seed_range_and_text():
    assert rng.check_seed(0) == 0 and rng.check_seed(MASK) == MASK and rng.check_seed(np.uint64(MASK)) == MASK
    assert rng.parse_seed("18446744073709551615") == MASK and rng.parse_seed("042") == 42
    for text in ("18446744073709551616", "-1", "+1", " 1", "1.0", "", "x", "\u0663"):
        with pytest.raises(ValueError) as err:
            rng.parse_seed(text)
        assert str(err.value) == f"seed {text} is not an integer in 0..18446744073709551615 (seeds are unsigned " \
                                 f"64-bit integers)"


def fnv1a64_reference(data: bytes) -> int:
    """FNV-1a 64 as its authors define it (isthe.com/chongo/tech/comp/fnv): offset basis, then per octet
    XOR and multiply by the FNV prime, modulo 2**64."""
    h = 14695981039346656037
    for octet in data:
        h = ((h ^ octet) * 1099511628211) % 2**64
    return h


def test_fnv1a_published_vectors():
    # test vectors of the FNV reference code (Fowler/Noll/Vo): "", "a", "foobar"
    assert rng.fnv1a64(b"") == 0xCBF29CE484222325 == rng.source_key("")
    assert rng.fnv1a64(b"a") == 0xAF63DC4C8601EC8C == rng.source_key("a")
    assert rng.fnv1a64(b"foobar") == 0x85944171F73967E8 == rng.source_key("foobar")


def test_source_keys():
    # canonical unsigned decimal integers that fit a signed 64-bit integer key as their value
    for text, value in [("0", 0), ("7", 7), ("007", 7), ("0000000000000000007", 7),
                        ("5280437616401936512", 5280437616401936512), ("9223372036854775807", 2**63 - 1)]:
        assert rng.source_key(text) == value and rng.source_key(text).dtype == np.uint64
    # everything else is the FNV-1a hash of the UTF-8 bytes
    for text in ("9223372036854775808", "18446744073709551615", "00000000000000000007", "-1", "+1", " 1", "1 ",
                 "1.0", "\u0663", "\uff11", "Gaia DR3 5280437616401936512", "\u00e9", "\U0001f600", "star \u2605"):
        assert rng.source_key(text) == fnv1a64_reference(text.encode("utf-8")), text
    assert rng.source_key("\u00e9") == fnv1a64_reference(b"\xc3\xa9")
    # integers key as their decimal text
    assert rng.source_key(5280437616401936512) == 5280437616401936512
    assert rng.source_key(np.int64(42)) == 42 and rng.source_key(-3) == rng.source_key("-3")
    assert rng.source_key(2**63) == rng.source_key("9223372036854775808")
    keys = rng.source_keys(["007", "a", np.int64(5)])
    assert keys.dtype == np.uint64 and keys.tolist() == [7, 0xAF63DC4C8601EC8C, 5]
    assert rng.source_keys(np.array([1, 2, 3])).tolist() == [1, 2, 3]
    with pytest.raises(TypeError):
        rng.source_keys("abc")
    with pytest.raises(TypeError):
        rng.source_key(1.0)
    with pytest.raises(rng.SourceIdError, match=r"lone surrogate \(U\+D800\)"):
        rng.source_key("x\ud800")


def test_uniform_open_interval_and_distribution():
    u = rng.uniform(rng.stream_key(3, 0), np.arange(200_000))
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_normal_moments_and_shape():
    key = rng.stream_key(9, 4)
    z = rng.normal(key, np.arange(100_000))
    assert abs(z.mean()) < 5 / np.sqrt(len(z))
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / len(z))
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_streams_of_different_sources_differ():
    a = rng.uniform(rng.stream_key(5, rng.source_key("star-1")), np.arange(1000))
    b = rng.uniform(rng.stream_key(5, rng.source_key("star-2")), np.arange(1000))
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.15
    assert not np.any(a == b)


def _grid_uniforms(n, seed):
    """n uniforms on the generator's grid (odd multiples of 2**-53), independent of rng.uniform."""
    k = np.random.default_rng(seed).integers(0, 2**52, n, dtype=np.int64)
    return (2 * k + 1).astype(np.float64) * 2.0**-53


def _extreme_uniforms():
    """Both ends of the grid (2**-53 .. 1 - 2**-53), the branch boundaries and powers of two
    (multiples of 2**-53, as uniforms are)."""
    lo = np.concatenate([np.arange(1, 2000, dtype=np.float64) * 2.0**-53,
                         2.0 ** -np.arange(2, 54, dtype=np.float64),
                         np.round(np.exp(-25.0) * 2**53 + np.arange(-5, 6)) * 2.0**-53,
                         np.round(0.075 * 2**53 + np.arange(-5, 6)) * 2.0**-53,
                         np.exp(-np.linspace(0.1, 36.7, 2000))])
    lo = np.unique(np.round(lo * 2.0**53)) * 2.0**-53  # onto the grid, where 1 - u is exact
    lo = lo[lo >= 2.0**-53]
    return np.concatenate([lo, 1.0 - lo])


def test_as241_matches_high_precision_quantiles():
    """Wichura's AS241 is good to ~1e-16 relative; reference: mpmath at 40 digits."""
    import mpmath

    u = np.concatenate([_grid_uniforms(3000, 1), _extreme_uniforms()])
    u = u[u != 0.5]
    with mpmath.workdps(40):
        ref = np.array([float(-mpmath.sqrt(2) * mpmath.erfinv(1 - 2 * mpmath.mpf(float(x)))) for x in u])
    got = rng.inverse_normal_cdf(u)
    rel = np.abs(got - ref) / np.abs(ref)
    assert rel.max() <= 1e-15, (rel.max(), u[rel.argmax()])


def test_as241_matches_scipy_ndtri_on_a_million_uniforms():
    # ndtri (Cephes) carries its own ~6e-16 error, so the two differ by up to ~1.3e-15
    u = np.concatenate([_grid_uniforms(1_000_000, 2), _extreme_uniforms()])
    u = u[u != 0.5]
    got, ref = rng.inverse_normal_cdf(u), special.ndtri(u)
    rel = np.abs(got - ref) / np.abs(ref)
    assert rel.max() <= 2e-15, (rel.max(), u[rel.argmax()])
    assert np.median(rel) <= 2e-16
    assert rng.inverse_normal_cdf(0.5) == 0.0


def test_normal_is_one_uniform_through_as241():
    key = rng.stream_key(17, 5)
    c = np.arange(50_000)
    assert np.array_equal(rng.normal(key, c), rng.inverse_normal_cdf(rng.uniform(key, c)))
    # scalars and arrays agree
    assert float(rng.normal(key, 123)) == rng.normal(key, c)[123]
    assert rng.normal(key, 7).shape == () and rng.inverse_normal_cdf(0.3).shape == ()


def test_normal_deviates_are_normal_in_the_bulk_and_both_tails():
    z = rng.normal(rng.stream_key(2024, 3), np.arange(1_000_000))
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # each tail beyond 2 sigma against the normal's conditional distribution there
    for sign in (-1, 1):
        t = -np.abs(z[sign * z > 2.0])  # mirrored onto the lower tail
        assert abs(len(t) - len(z) * special.ndtr(-2.0)) < 5 * np.sqrt(len(z) * special.ndtr(-2.0))
        assert stats.kstest(t, lambda x: special.ndtr(x) / special.ndtr(-2.0)).pvalue > 1e-3
    far = np.abs(z) > 4.0
    expected = 2 * len(z) * special.ndtr(-4.0)  # 63
    assert abs(far.sum() - expected) < 5 * np.sqrt(expected)


def test_as241_is_monotone_and_odd_on_the_uniform_grid():
    u = np.sort(np.concatenate([_grid_uniforms(1_000_000, 3), _extreme_uniforms()]))
    u = np.unique(u)
    z = rng.inverse_normal_cdf(u)
    assert np.all(np.diff(z) > 0)
    # 1 - u is exact on the grid, and AS241 is odd in q = u - 0.5 in both branches
    assert np.array_equal(rng.inverse_normal_cdf(1.0 - u), -z)
    # continuous across the branch boundaries: neighbouring grid points differ by the slope
    # du / phi(z) (~8e-16 at |q| = 0.425, a few ulps of z, 1.2e-6 at exp(-25)) and rounding only
    for edge in (0.075, 0.925, np.exp(-25.0), -np.expm1(-25.0)):
        k = np.round(edge * 2**53) + np.arange(-50, 51)
        zz = rng.inverse_normal_cdf(k * 2.0**-53)
        step = np.diff(zz)
        slope = 2.0**-53 / stats.norm.pdf(zz[1:])
        assert np.all(step > 0)
        assert np.all(np.abs(step - slope) <= 4 * np.spacing(np.abs(zz[1:])) + 1e-3 * slope)
