"""Injection-recovery of accretion on real photospheres (xpcvae.validation.injection*, `xpcvae validate-accretion`)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from xpcvae import params
from xpcvae.data.library import is_test_star, load_library
from xpcvae.data.realstars import select_test_set
from xpcvae.validation.injection import (COOL_TEFF, STRONG_FF, STRONG_LOG_LACC, select_injection_stars,
                                         strong_accretion)
from xpcvae.validation.injection_metrics import (detection_curve, injection_targets, recovery_stats, teff_shift)

I = params.INDEX


@pytest.fixture(scope="module")
def library():
    return load_library()


def _q(median, half_width):
    """Percentile dict (N, 7) with the given medians and symmetric 68 % / 95 % half widths."""
    m = np.asarray(median, dtype=float)
    return {"median": m, "p16": m - half_width, "p84": m + half_width, "p2.5": m - 2 * half_width,
            "p97.5": m + 2 * half_width}


def test_injection_stars_are_held_out_and_include_every_cool_one(library):
    test = select_test_set(library)
    n_cool = int((test.teff < COOL_TEFF).sum())
    st = select_injection_stars(n_cool + 30, library)
    assert len(st) == n_cool + 30
    assert is_test_star(st.source_id).all()
    assert set(test.source_id[test.teff < COOL_TEFF]) <= set(st.source_id)
    few = select_injection_stars(5, library)
    assert len(few) == 5 and np.all(few.teff < COOL_TEFF)
    with pytest.raises(ValueError, match=">= 1"):
        select_injection_stars(0, library)


def test_strong_grid_gives_the_nominal_accretion_luminosity(library):
    from astropy import constants as c, units as u

    st = select_injection_stars(12, library)
    log_mdot, ff, mass = strong_accretion(st, np.random.default_rng(0))
    grid = [(la, f) for la in STRONG_LOG_LACC for f in STRONG_FF]
    for k in range(len(st)):
        la, f = grid[k % 9]
        assert ff[k] == f
        # by hand: R = sqrt(G M / g), L_acc = (1 - R/5R) G M Mdot / R, L_* = 4 pi R^2 sigma Teff^4
        m = mass[k] * c.M_sun
        r = np.sqrt(c.G * m / (10 ** st.logg[k] * u.cm / u.s**2))
        l_acc = 0.8 * c.G * m * (10 ** log_mdot[k] * c.M_sun / u.yr) / r
        l_star = 4 * np.pi * r**2 * c.sigma_sb * (st.teff[k] * u.K) ** 4
        assert math.log10(float((l_acc / l_star).decompose())) == pytest.approx(la, abs=1e-6)


def test_recovery_statistics_on_hand_made_posteriors():
    n = 8
    truth = np.tile([4000.0, 4.5, 0.0, -8.0, 0.1, 0.5, 1.0], (n, 1))
    med = truth.copy()
    med[:, I["log_mdot"]] += np.array([0.1, 0.1, 0.1, 0.1, 0.3, 0.3, 0.3, 0.3])  # median offset 0.2
    med[:, I["ff"]] += 0.01
    post = {"q": _q(med, 0.2), "q_log_lacc": _q(np.zeros(n), 0.05)}
    r = recovery_stats(post, truth, np.ones(n, bool))
    assert r["log_mdot"]["bias"] == pytest.approx(0.2) and r["log_mdot"]["scatter"] == pytest.approx(1.4826 * 0.1)
    assert r["log_mdot"]["coverage68"] == 0.5 and r["log_mdot"]["coverage95"] == 1.0  # |0.3| > 0.2 half width
    assert r["ff"]["bias"] == pytest.approx(0.01) and r["ff"]["coverage68"] == 1.0
    # truth log L_acc/L_* of these stars is far from 0 (a 0.5 Msun 4000 K dwarf accreting 1e-8 Msun/yr: +0.28)
    assert r["log_lacc"]["coverage68"] == 0.0 and r["log_lacc"]["n"] == n
    sub = recovery_stats(post, truth, np.arange(n) < 4)
    assert sub["log_mdot"]["bias"] == pytest.approx(0.1) and sub["log_mdot"]["coverage68"] == 1.0


def test_teff_shift_and_detection_curve():
    j = I["teff"]
    base = np.full((4, 7), 1.0)
    base[:, j] = [4000, 4100, 4200, 4300]
    veiled = base.copy()
    veiled[:, j] += [10, 30, 200, -20]
    s = teff_shift({"q": {"median": veiled}}, {"q": {"median": base}}, np.ones(4, bool))
    assert s["n"] == 4 and s["median"] == pytest.approx(20.0)
    assert teff_shift({"q": {"median": veiled}}, {"q": {"median": base}}, np.zeros(4, bool))["n"] == 0
    # two strong and two weak accretors: truths from the strong grid's own solution (checked above by hand)
    truth = np.tile([4000.0, 4.5, 0.0, -8.0, 0.1, 0.5, 1.0], (4, 1))
    truth[:, I["log_mdot"]] = [-11.0, -11.0, -7.0, -6.0]
    rows = detection_curve(np.array([0.99, 0.1, 0.99, 0.5]), truth, teff_shift_k=np.array([1.0, 3.0, 5.0, 7.0]),
                           edges=np.array([-10.0, -2.0, 3.0]))
    assert [r["n"] for r in rows] == [2, 2]
    assert rows[0]["detected"] == 0.5 and rows[1]["detected"] == 0.5
    assert rows[0]["median_teff_shift"] == 2.0 and rows[1]["median_teff_shift"] == 6.0


def test_injection_targets_window_and_shift():
    def row(c_mdot, c_ff, shift):
        rec = {"log_mdot": {"coverage68": c_mdot}, "ff": {"coverage68": c_ff}}
        return {"recovery": rec, "teff_shift": {"median": shift}}

    by_range = {"all": {"prior": row(0.60, 0.76, -50.0), "strong": row(0.59, 0.77, 50.5)},
                "cool": {"prior": row(math.nan, 0.7, math.nan), "strong": row(0.7, 0.7, 0.0)}}
    t = injection_targets(by_range)
    assert [t["all / prior"][k]["ok"] for k in ("coverage68_log_mdot", "coverage68_ff", "teff_shift")] == [True] * 3
    assert [t["all / strong"][k]["ok"] for k in ("coverage68_log_mdot", "coverage68_ff", "teff_shift")] == [False] * 3
    assert t["cool / prior"]["coverage68_log_mdot"]["ok"] is None and t["cool / prior"]["teff_shift"]["ok"] is None


def test_validate_accretion_end_to_end(tiny_bundle, tmp_path):
    from xpcvae.cli import main

    out = tmp_path / "inj"
    rc = main(["validate-accretion", "--bundle", str(tiny_bundle.root), "--out", str(out), "--stars", "9",
               "--samples", "30", "--seed", "5"])
    assert rc == 0
    m = json.loads((out / "accretion_injection.json").read_text())
    assert m["n_stars"] == 9 and m["seed"] == 5 and m["n_samples"] == 30
    assert m["by_range"]["3000-4500 K"]["n"] == 9 and m["by_range"]["4500-7000 K"]["n"] == 0
    rec = m["by_range"]["all"]["prior"]["recovery"]
    assert set(rec) == {"log_mdot", "ff", "mass", "log_lacc"} and 0 <= rec["ff"]["coverage68"] <= 1
    assert sum(r["all"]["n"] for r in m["strong_grid"]) == 9
    assert 0 <= m["by_range"]["all"]["false_detection_rate_unveiled"] <= 1
    text = (out / "accretion_injection.md").read_text()
    assert "## Targets" in text and "no stars" in text  # the empty hot range is not called a miss
    for fig in ("injection_recovery.png", "injection_detection.png"):
        assert (out / fig).stat().st_size > 10_000
    with open(out / "injection_stars.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 9 and all(is_test_star(np.array([int(r["source_id"])]))[0] for r in rows)
    # the unveiled version has no accretion injected; the veiled ones have the drawn one
    assert all(float(r["prior_true_ff"]) <= 0.3 and float(r["strong_true_ff"]) in STRONG_FF for r in rows)
    # deterministic: the same seed gives the same numbers
    out2 = tmp_path / "inj2"
    main(["validate-accretion", "--bundle", str(tiny_bundle.root), "--out", str(out2), "--stars", "9",
          "--samples", "30", "--seed", "5"])
    assert (out2 / "injection_stars.csv").read_text() == (out / "injection_stars.csv").read_text()
