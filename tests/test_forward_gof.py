"""The goodness of fit (xpcvae.forward.gof): reduced chi^2, the out-of-distribution columns and
the settings a bundle's manifest carries."""

from __future__ import annotations

import numpy as np
import pytest

from xpcvae import params
from xpcvae.forward.gof import (BOUND_FRACTION, COLUMNS, GOF_SYSTEMATIC, GOF_THRESHOLD, GofSettings, at_bound,
                                ood_columns, reduced_chi2)
from xpcvae.forward.instrument import N_WAVE, WAVELENGTH


def test_reduced_chi2():
    rng = np.random.default_rng(2)
    model = 1.0 + 0.3 * np.sin(np.linspace(0, 6, N_WAVE))[None].repeat(400, 0)
    err = 0.01 * np.ones_like(model)
    obs = 7.0 * (model + err * rng.standard_normal(model.shape))  # any flux unit
    chi = reduced_chi2(obs, 7.0 * err, model, systematic=0.0)
    assert np.median(chi) == pytest.approx(1.0, abs=0.05)
    bad = reduced_chi2(obs, 7.0 * err, model[:, ::-1], systematic=0.0)
    assert np.all(bad > 50)
    # the floor lowers chi^2 of a model mismatch
    assert np.all(reduced_chi2(obs, 7.0 * err, model[:, ::-1], systematic=0.05) < bad)


def test_reduced_chi2_by_hand():
    """One spectrum written out: scaled model, variance with the floor, sum over dof."""
    rng = np.random.default_rng(5)
    model = 1.0 + 0.2 * rng.random(N_WAVE)
    obs = 3.0 * model * (1.0 + 0.02 * rng.standard_normal(N_WAVE))
    err = 0.03 * obs
    o, s, m = obs / obs.mean(), err / obs.mean(), model / model.mean()
    var = s**2 + (GOF_SYSTEMATIC * m) ** 2
    a = np.sum(o * m / var) / np.sum(m * m / var)
    want = np.sum((o - a * m) ** 2 / var) / (N_WAVE - 1)
    assert reduced_chi2(obs, err, model)[0] == pytest.approx(want, rel=1e-12)
    assert reduced_chi2(obs, err, model, dof=100)[0] == pytest.approx(want * (N_WAVE - 1) / 100, rel=1e-12)


def test_ood_columns_and_at_bound():
    low, high = params.LOW, params.HIGH
    mid = (low + high) / 2
    chi, flag, reason, bound = ood_columns(2 * GOF_THRESHOLD, mid, low, high)
    assert flag == "1" and "gof_chi2" in reason and bound == ""
    edge = mid.copy()
    edge[params.INDEX["ff"]] = 0.001  # within 1 % of the box of ff = 0: reported, not flagged
    edge[params.INDEX["a0"]] = 9.95
    chi, flag, reason, bound = ood_columns(0.5 * GOF_THRESHOLD, edge, low, high)
    assert (flag, reason, bound) == ("0", "", "ff;a0") and float(chi) == pytest.approx(0.5 * GOF_THRESHOLD)
    assert ood_columns(None, mid, low, high)[:2] == ["", ""]
    assert len(ood_columns(1.0, mid, low, high)) == len(COLUMNS)


def test_at_bound_uses_the_fraction_of_the_box():
    low, high = params.LOW, params.HIGH
    med = (low + high) / 2
    j = params.INDEX["teff"]
    med[j] = low[j] + 0.5 * BOUND_FRACTION * (high[j] - low[j])
    assert at_bound(med, low, high) == "teff"
    assert at_bound(med, low, high, fraction=0.1 * BOUND_FRACTION) == ""


def test_settings_defaults_and_manifest():
    manifest = {"wavelength_nm": WAVELENGTH.tolist()}
    default = GofSettings.from_manifest(manifest)
    assert default == GofSettings.default(N_WAVE)
    assert (default.systematic, default.threshold, default.dof, default.bound_fraction) == (
        GOF_SYSTEMATIC, GOF_THRESHOLD, len(WAVELENGTH) - 1, BOUND_FRACTION)
    # what the exporter writes reads back as the same settings
    section = default.manifest_section()
    assert "definition" in section
    assert GofSettings.from_manifest({**manifest, "goodness_of_fit": section}) == default
    given = GofSettings.from_manifest({**manifest, "goodness_of_fit": {"threshold": 9, "dof": 100.0}})
    assert given == GofSettings(dof=100, threshold=9.0) and isinstance(given.dof, int)


@pytest.mark.parametrize("gof, message", [
    ({"dof": 0}, "goodness_of_fit.dof = 0"),
    ({"dof": N_WAVE + 1}, "goodness_of_fit.dof"),
    ({"threshold": 0}, "goodness_of_fit.threshold"),
    ({"bound_fraction": 1.0}, "goodness_of_fit.bound_fraction"),
    ({"systematic": True}, "goodness_of_fit.systematic"),
    ({"systematic": float("nan")}, "goodness_of_fit.systematic"),
    ("x", "goodness_of_fit is not an object"),
])
def test_invalid_settings_name_the_key(gof, message):
    with pytest.raises(ValueError, match=message):
        GofSettings.from_manifest({"wavelength_nm": WAVELENGTH.tolist(), "goodness_of_fit": gof})


def test_a_rows_gof_chi2_does_not_depend_on_the_other_rows(tmp_path):
    """``xpcvae infer`` (Python engine) on the first 9 and the first 10 rows of a file, on 33 rows
    and on row 8 alone: row 8's gof_chi2 (its whole summary row) is the same text in every run. (The
    forward model's BLAS products round a row differently in products of another number of rows --
    with this BLAS, of 1, 2..32 and 33..64 rows -- so a product over all of a run's rows gave row 8
    a gof_chi2 some ulps apart in the run of 1 or 33 rows.)"""
    from pathlib import Path

    from xpcvae.data.spectra_csv import read_summary_csv
    from xpcvae.infer.batch import infer_csv

    root = Path(__file__).resolve().parents[1]
    lines = (root / "examples" / "spectra.csv").read_text().splitlines()
    header, body = lines[0], lines[1:]
    body = [line if k < len(body) else f"copy{k}-{line}" for k, line in
            ((k, body[k % len(body)]) for k in range(33))]  # 33 rows, each with its own source id
    runs = {}
    for name, keep in (("nine", body[:9]), ("ten", body[:10]), ("33", body), ("alone", [body[8]])):
        src = tmp_path / f"{name}.csv"
        src.write_text("\n".join([header, *keep]) + "\n")
        infer_csv(root / "export" / "default", src, tmp_path / f"{name}-out.csv", n_samples=50, seed=3,
                  progress=False)
        runs[name] = read_summary_csv(tmp_path / f"{name}-out.csv")
    row8 = runs["nine"][8]
    assert row8["status"] == "ok" and row8["gof_chi2"]
    assert runs["ten"][8] == runs["33"][8] == runs["alone"][0] == row8
