"""Validation on real stars (xpcvae.validation, `xpcvae validate-real`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xpcvae import params
from xpcvae.data.library import is_test_star, load_library
from xpcvae.data.realstars import a0_per_ak, labels_in_box, real_test_mask, select_test_set
from xpcvae.validation.metrics import accretion_luminosity_ratio, coverage, pit, robust_stats


@pytest.fixture(scope="module")
def library():
    return load_library()


def test_a0_per_ak_from_the_forward_model_curve():
    from dust_extinction.parameter_averages import F99

    # F99 is defined for 0.3-10 micron^-1: the 2MASS Ks band (2.159 micron, 0.463 micron^-1) is inside
    assert F99.x_range[0] <= 1 / 2.159 <= F99.x_range[1]
    k = a0_per_ak()
    assert 7.0 <= k <= 10.0  # docs/science.md: A0 is roughly 8-9 A_K
    assert a0_per_ak("G23") != pytest.approx(k)  # the curve matters (it is really evaluated)


def test_test_set_mask_on_hand_made_labels():
    sid = np.array([5, 6, 10, 15, 20, 25, 30, 35])
    teff = np.array([5000, 5000, 7100, 5000, 5000, np.nan, 3000, 5000])
    logg = np.array([4.0, 4.0, 4.0, 2.4, 4.0, 4.0, 5.0, 4.0])
    mh = np.array([0.0, 0.0, 0.0, 0.0, -0.6, 0.0, 1.0, 0.0])
    a0 = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, np.nan, 10.5])
    m = real_test_mask(sid, teff, logg, mh, a0)
    # 5: ok; 6: not %5; 10: Teff out; 15: logg out; 20: [M/H] out; 25: NaN; 30: edges + unknown A0 ok; 35: A0 > 10
    assert m.tolist() == [True, False, False, False, False, False, True, False]


def test_real_test_set_selection(library):
    st = select_test_set(library)
    assert len(st) > 2000  # "we validate on thousands"
    assert is_test_star(st.source_id).all()
    for name in ("teff", "logg", "mh"):
        p = params.PARAMETERS[params.INDEX[name]]
        v = st.reference(name)
        assert np.all((v >= p.low) & (v <= p.high))
    a0 = st.a0_ref[np.isfinite(st.a0_ref)]
    assert np.all((a0 >= 0) & (a0 <= 10))
    # nothing of the training part of the library leaks in, and every eligible star is there
    lib_sid = np.asarray(library.source_id)
    eligible = real_test_mask(lib_sid, library.teff, library.logg, library.mh, st.a0_per_ak * library.ak)
    assert set(st.source_id.tolist()) == set(lib_sid[eligible].tolist())
    assert not np.any(np.isin(st.source_id, lib_sid[~is_test_star(lib_sid)]))
    np.testing.assert_array_equal(st.flux, np.asarray(library.flux)[st.index])
    sub = select_test_set(library, max_stars=50)
    assert len(sub) == 50 and set(sub.source_id) <= set(st.source_id)
    out = select_test_set(library, max_stars=100, in_box=False)
    assert np.all(is_test_star(out.source_id)) and not np.any(np.isin(out.source_id, st.source_id))
    assert not np.any(labels_in_box(out.teff, out.logg, out.mh, out.a0_ref))  # each misses the box somewhere
    fit = select_test_set(library, max_stars=100, held_out=False)  # for the OOD threshold: never test stars
    assert len(fit) == 100 and not np.any(is_test_star(fit.source_id))
    assert np.all((fit.teff >= 3000) & (fit.teff <= 7000) & (fit.logg >= 2.5) & (fit.mh >= -0.5))


def test_robust_statistics_and_coverage():
    rng = np.random.default_rng(1)
    r = 3.0 + 2.0 * rng.standard_normal(20000)
    r[:500] = 1e4  # 2.5 % outliers barely move robust statistics
    s = robust_stats(r)
    assert s["bias"] == pytest.approx(3.0, abs=0.1) and s["scatter"] == pytest.approx(2.0, rel=0.06)
    assert robust_stats([np.nan])["n"] == 0
    ref = np.array([0.0, 1.0, 2.0, np.nan])
    assert coverage(ref, np.array([-1, 1.5, 1.9, 0]), np.array([1, 2, 2.1, 1])) == pytest.approx(2 / 3)
    draws = np.tile(np.arange(100.0), (2, 1))
    np.testing.assert_allclose(pit(draws, np.array([25.5, np.nan])), [0.26, np.nan])


def test_accretion_luminosity_ratio_by_hand():
    from astropy import constants as c, units as u

    th = np.array([[5772.0, 4.438, 0.0, -8.0, 0.1, 1.0, 0.0]])
    r = np.sqrt(c.G * c.M_sun / (10**4.438 * u.cm / u.s**2)).to(u.m)
    l_acc = 0.8 * c.G * c.M_sun * (1e-8 * c.M_sun / u.yr) / r
    l_star = 4 * np.pi * r**2 * c.sigma_sb * (5772 * u.K) ** 4
    assert accretion_luminosity_ratio(th)[0] == pytest.approx(float((l_acc / l_star).decompose()), rel=1e-6)


def test_validate_real_end_to_end(tiny_bundle, tmp_path):
    from xpcvae.cli import main

    out = tmp_path / "validation"
    rc = main(["validate-real", "--bundle", str(tiny_bundle.root), "--out", str(out), "--max-stars", "40",
               "--samples", "40", "--ood-check", "20", "--gof-calibration", "20"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_stars"] == 40
    for name in ("teff", "logg", "mh"):
        t = m["targets"][name]
        assert t["scatter"] >= 0 and 0 <= t["coverage68"] <= 1
        assert t["scatter_ok"] == (t["scatter"] <= t["scatter_target"])
    assert set(m["targets_by_teff"]) == set(m["by_teff"])
    assert m["targets_by_teff"]["all"]["teff"]["scatter_target"] == 110
    assert m["targets_by_teff"]["3000-4000 K"]["teff"]["scatter_target"] == 120
    assert list(m["cool_stars"])[-1] == "3000-4500 K"
    assert m["cool_stars"]["3000-4500 K"]["n"] == sum(r["n"] for k, r in m["cool_stars"].items() if k != "3000-4500 K")
    assert set(m["by_teff"]) >= {"all", "3000-4000 K", "6000-7000 K"}
    assert 0 <= m["accretion"]["median_p_visible"] <= 1
    assert m["gof"]["posterior_median"]["n"] == 40
    readme = (out / "README.md").read_text()
    assert "## Targets" in readme and "comparison.png" in readme and "## Cool stars" in readme
    for fig in ("cool_stars.png", "comparison.png", "residuals_vs_teff.png", "mismatch_spectra.png", "goodness_of_fit.png",
                "accretion_coverage.png"):
        assert (out / fig).stat().st_size > 10_000
    lines = (out / "stars.csv").read_text().splitlines()
    assert len(lines) == 41 and lines[0].startswith("source_id,")
