"""The real-star targets per Teff range and the cool-star table (xpcvae.validation.targets, .coolstars)."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from xpcvae import params
from xpcvae.data.realstars import RealStars
from xpcvae.validation.coolstars import cool_bins, cool_star_table
from xpcvae.validation.targets import evaluate_row, evaluate_targets, missed


def _row(teff=(100.0, 0.0, 0.68), logg=(0.1, 0.0, 0.68), mh=(0.05, 0.0, 0.68)):
    """A per-range row: (scatter, bias, coverage68) per parameter."""
    return {n: {"scatter": s, "bias": b, "coverage68": c} for n, (s, b, c) in
            (("teff", teff), ("logg", logg), ("mh", mh))}


def test_teff_scatter_limit_is_110_overall_and_120_per_range():
    row = _row(teff=(115.0, 0.0, 0.68))
    assert evaluate_row(row, "all")["teff"]["scatter_ok"] is False
    assert evaluate_row(row, "3000-4000 K")["teff"]["scatter_ok"] is True
    assert evaluate_row(_row(teff=(121.0, 0.0, 0.68)), "5000-6000 K")["teff"]["scatter_ok"] is False
    # log g and [M/H] have one limit everywhere
    for label in ("all", "4000-5000 K"):
        t = evaluate_row(_row(logg=(0.21, 0.0, 0.68), mh=(0.099, 0.0, 0.68)), label)
        assert t["logg"]["scatter_ok"] is False and t["mh"]["scatter_ok"] is True


@pytest.mark.parametrize("bias,ok", [(40.0, True), (-40.0, True), (40.5, False), (-41.0, False)])
def test_teff_bias_limit(bias, ok):
    assert evaluate_row(_row(teff=(100.0, bias, 0.68)), "all")["teff"]["bias_ok"] is ok


@pytest.mark.parametrize("cov,ok", [(0.59, False), (0.60, True), (0.68, True), (0.76, True), (0.77, False)])
def test_coverage_window_rejects_over_and_under_confidence(cov, ok):
    t = evaluate_row(_row(mh=(0.05, 0.0, cov)), "all")["mh"]
    assert t["coverage68_ok"] is ok and t["met"] is ok


def test_empty_ranges_are_not_evaluated_and_misses_are_listed():
    nan = (math.nan, math.nan, math.nan)
    table = evaluate_targets({"all": _row(logg=(0.3, 0.06, 0.5)), "3000-4000 K": _row(teff=nan, logg=nan, mh=nan)})
    assert all(t["met"] is None and t["scatter_ok"] is None for t in table["3000-4000 K"].values())
    assert missed(table) == [("all", "logg", ["scatter", "bias", "coverage68"])]


def _stars(teff, ref_offset=0.0):
    n = len(teff)
    z = np.zeros(n)
    return RealStars(source_id=np.arange(n) * 5, teff=np.asarray(teff, float), logg=z + 4.5, mh=z, fe_h=z,
                     a0_ref=z + 1.0 + ref_offset, g_mag=z + 12, flux=np.ones((n, 3)), flux_error=np.ones((n, 3)),
                     index=np.arange(n), a0_per_ak=8.9)


def test_cool_star_table_bins_and_statistics():
    assert [b[0] for b in cool_bins()] == ["3000-3250 K", "3250-3500 K", "3500-3750 K", "3750-4000 K",
                                           "4000-4250 K", "4250-4500 K", "3000-4500 K"]
    teff = np.array([3100.0, 3200.0, 3240.0, 3600.0, 4499.0, 4500.0, 5000.0])
    st = _stars(teff)
    med = np.column_stack([teff, st.logg, st.mh, np.full(7, -9.0), np.full(7, 0.1), np.full(7, 0.5), st.a0_ref])
    med[:, params.INDEX["teff"]] += [10.0, 30.0, 20.0, -50.0, 5.0, 999.0, 999.0]  # the last two are not cool
    q = {"median": med, "p16": med - 15.0, "p84": med + 15.0, "p2.5": med - 30.0, "p97.5": med + 30.0}
    table = cool_star_table(types.SimpleNamespace(stars=st, q=q))
    first = table["3000-3250 K"]
    assert first["n"] == 3
    assert first["teff"]["bias"] == pytest.approx(20.0)  # median of 10, 30, 20
    assert first["teff"]["scatter"] == pytest.approx(1.4826 * 10.0)  # MAD of (10, 30, 20) about 20
    assert first["teff"]["coverage68"] == pytest.approx(1 / 3)  # only the offset 10 is within ±15
    assert table["3250-3500 K"]["n"] == 0 and math.isnan(table["3250-3500 K"]["teff"]["bias"])
    assert table["4250-4500 K"]["n"] == 1  # 4500 K is outside the half-open bin
    assert table["3000-4500 K"]["n"] == 5
    assert table["3000-4500 K"]["logg"]["bias"] == 0.0 and table["3000-4500 K"]["a0"]["coverage68"] == 1.0
