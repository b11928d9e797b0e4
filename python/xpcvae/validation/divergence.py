"""Jensen-Shannon divergence between one-dimensional sample sets (weighted or not), in bits.

Estimator: both sample sets are binned on common bins -- ``bins`` equal-width bins spanning the
0.5-99.5 % (weighted) quantiles of all the sets being compared, plus one open bin below and one
above, so that no probability mass is dropped -- and the divergence of the two histograms is

    JS(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M),  M = (P + Q) / 2,  logarithms base 2,

which lies in [0, 1] bit: 0 for identical histograms, 1 for histograms without common support
(Lin 1991, IEEE Trans. Inf. Theory 37, 145). A finite sample biases the estimate upwards; the
divergence between two independent samples of one distribution (the "noise floor") measures it.
"""

from __future__ import annotations

import numpy as np

DEFAULT_BINS = 40
QUANTILES = (0.005, 0.995)


def weighted_quantile(x, q, weights=None) -> np.ndarray:
    """Quantiles ``q`` of samples ``x`` with importance ``weights`` (inverse of the weighted CDF)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(x)
    cdf = np.cumsum(w[order])
    cdf /= cdf[-1]
    return np.interp(q, cdf, x[order])


def common_edges(sets, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Edges of ``bins`` equal bins over the union of the sets' 0.5-99.5 % quantiles, with open
    outer bins (-inf, +inf). ``sets``: a list of ``(x, weights or None)``."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    lo = min(weighted_quantile(x, QUANTILES[0], w) for x, w in sets)
    hi = max(weighted_quantile(x, QUANTILES[1], w) for x, w in sets)
    if not hi > lo:  # all mass at one value: one bin around it
        lo, hi = lo - 0.5, hi + 0.5
    return np.concatenate([[-np.inf], np.linspace(lo, hi, bins + 1), [np.inf]])


def histogram(x, edges, weights=None) -> np.ndarray:
    """Normalised histogram of ``x`` (with ``weights``) on ``edges``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("samples must be a non-empty 1-D array of finite values")
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != x.shape or np.any(weights < 0) or not weights.sum() > 0:
            raise ValueError("weights must be >= 0, of the samples' shape and not all zero")
    h, _ = np.histogram(x, bins=edges, weights=weights)
    return h / h.sum()


def js_bits(p, q) -> float:
    """Jensen-Shannon divergence (bits) between two normalised histograms on the same bins."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    m = 0.5 * (p + q)

    def kl(a):
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))


def js_samples(x, y, wx=None, wy=None, edges=None, bins: int = DEFAULT_BINS) -> float:
    """JS divergence (bits) between samples ``x`` (weights ``wx``) and ``y`` (``wy``) on ``edges``
    (default: :func:`common_edges` of the two)."""
    if edges is None:
        edges = common_edges([(x, wx), (y, wy)], bins)
    return js_bits(histogram(x, edges, wx), histogram(y, edges, wy))
