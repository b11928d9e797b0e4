"""Readers of Gaia archive XP products (xpcvae.data.gaia_xp) and `xpcvae infer` on archive files.

Real files: tests/data/gaia-archive/ (Gaia DR3 XP spectra in the archive's CSV, ECSV
and FITS layouts, from GaiaXPy's test data). Fixtures of our own (a sampled file on
another grid, a truncated sampled file) are built here in tmp_path from those files
with GaiaXPy.
"""

from __future__ import annotations

import csv
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from xpcvae.data.spectra_csv import SpectraFileError, SpectrumRow, read_spectra_csv, summary_header
from xpcvae.data.gaia_xp import detect_format, load_spectra, write_project_csv
from xpcvae.forward.instrument import WAVELENGTH

ARCHIVE = Path(__file__).resolve().parent / "data" / "gaia-archive"
MISSING_BP_SOURCE = "5405570973190252288"
SOURCES = ["5853498713190525696", "5762406957886626816"]


@pytest.fixture(scope="module")
def archive():
    return ARCHIVE


@pytest.fixture(scope="module")
def continuous(archive):
    return {ext: load_spectra(archive / f"XP_CONTINUOUS_RAW.{ext}") for ext in ("csv", "ecsv", "fits")}


def test_model_grid_is_gaiaxpy_default_sampling():
    # GaiaXPy's default sampling: 336 to 1020 nm in steps of 2 nm
    np.testing.assert_array_equal(WAVELENGTH, np.arange(336.0, 1020.0 + 1.0, 2.0))


def test_format_detection(archive, tmp_path):
    assert detect_format(archive / "XP_CONTINUOUS_RAW.fits") == "fits"
    assert detect_format(archive / "XP_CONTINUOUS_RAW.ecsv") == "ecsv"
    assert detect_format(archive / "XP_SAMPLED_RAW_dr3int6.csv") == "csv"
    # content sniffing when the extension says nothing
    odd = tmp_path / "spectra.dat"
    odd.write_bytes((archive / "XP_CONTINUOUS_RAW.ecsv").read_bytes())
    assert detect_format(odd) == "ecsv"
    assert [r.source_id for r in load_spectra(odd)] == SOURCES


def test_continuous_csv_ecsv_fits_give_the_same_spectra(continuous):
    ref = continuous["csv"]
    assert [r.source_id for r in ref] == SOURCES
    for ext in ("ecsv", "fits"):
        rows = continuous[ext]
        assert [r.source_id for r in rows] == SOURCES
        for a, b in zip(ref, rows):
            assert a.error is None and b.error is None
            np.testing.assert_allclose(b.flux, a.flux, rtol=1e-6)
            # the FITS layout stores coefficient errors as float32
            np.testing.assert_allclose(b.flux_error, a.flux_error, rtol=1e-6)
    for r in ref:
        assert r.flux.shape == (343,) and r.flux_error.shape == (343,)
        assert np.all(r.flux_error > 0)
        assert np.all(np.isfinite(r.flux)) and r.flux.mean() > 0


def test_sampled_csv_and_ecsv(archive, continuous):
    csv_rows = load_spectra(archive / "XP_SAMPLED_RAW_dr3int6.csv")
    ecsv_rows = load_spectra(archive / "XP_SAMPLED_RAW_dr3int6.ecsv")
    assert [r.source_id for r in csv_rows] == [r.source_id for r in ecsv_rows] == ["6", "4"]
    for a, b in zip(csv_rows, ecsv_rows):
        assert a.error is None and a.flux.shape == (343,) and a.flux_error.shape == (343,)
        assert np.all(a.flux_error > 0)
        np.testing.assert_allclose(b.flux, a.flux, rtol=1e-6)
        np.testing.assert_allclose(b.flux_error, a.flux_error, rtol=1e-6)
    # the archive's sampled spectra are the untruncated calibration of the continuous ones on the
    # default grid (to float32 storage: within 0.05 sigma, errors within 0.1 %): this is what makes
    # "sampled = on the model grid" a sound assumption
    for s, c in zip(csv_rows, continuous["csv"]):
        assert np.all(np.abs(s.flux - c.flux) <= 0.05 * c.flux_error)
        np.testing.assert_allclose(s.flux_error, c.flux_error, rtol=1e-3)


def test_reading_archive_files_leaves_matplotlib_settings_alone(archive):
    # importing GaiaXPy switches matplotlib's text.usetex on, which breaks later figures without LaTeX;
    # checked in a fresh interpreter, where nothing has imported GaiaXPy yet
    import subprocess

    code = ("import matplotlib; from xpcvae.data.gaia_xp import load_spectra; "
            f"load_spectra({str(archive / 'XP_CONTINUOUS_RAW.csv')!r}); print(matplotlib.rcParams['text.usetex'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_missing_bp_becomes_an_error_row_naming_it(archive, continuous):
    rows = load_spectra(archive / "XP_CONTINUOUS_RAW_with_missing_BP.csv")
    assert [r.source_id for r in rows] == [SOURCES[0], MISSING_BP_SOURCE, SOURCES[1]]
    bad = rows[1]
    assert bad.flux is None and bad.error is not None
    assert MISSING_BP_SOURCE in bad.error and "BP" in bad.error
    for r, ref in zip((rows[0], rows[2]), continuous["csv"]):
        assert r.error is None
        np.testing.assert_allclose(r.flux, ref.flux, rtol=1e-9)


def test_sampled_file_with_wrong_length_is_rejected(archive, tmp_path):
    # our own fixture: the archive sampled CSV with the last sample of every array dropped
    src = archive / "XP_SAMPLED_RAW_dr3int6.csv"
    with open(src, newline="") as fh:
        table = list(csv.reader(fh))
    head, body = table[0], table[1:]
    fi, ei = head.index("flux"), head.index("flux_error")
    for rec in body:
        for i in (fi, ei):
            rec[i] = "(" + ", ".join(rec[i].strip("()").split(",")[:-1]) + ")"
    bad = tmp_path / "sampled_342.csv"
    with open(bad, "w", newline="") as fh:
        csv.writer(fh).writerows([head, *body])
    with pytest.raises(SpectraFileError) as exc:
        load_spectra(bad)
    msg = str(exc.value)
    assert "source 6" in msg and "342" in msg and "343" in msg


def test_dataframe_with_wrong_length_is_rejected():
    import pandas as pd

    df = pd.DataFrame({"source_id": [11, 12], "flux": [np.ones(100), np.ones(100)],
                       "flux_error": [np.full(100, 0.1), np.full(100, 0.1)]})
    with pytest.raises(SpectraFileError, match=r"source 11 .*100 samples"):
        load_spectra(df)
    ok = pd.DataFrame({"source_id": [11], "flux": [np.ones(343)], "flux_error": [np.full(343, 0.1)]})
    (row,) = load_spectra(ok)
    assert row.error is None and row.flux.shape == (343,)


@pytest.mark.parametrize("fmt", ["ecsv", "fits", "csv"])
def test_gaiaxpy_output_on_another_grid_is_rejected(archive, tmp_path, fmt):
    # our own fixture: GaiaXPy's calibrate output for the archive continuous file on a 5 nm grid
    from gaiaxpy import calibrate

    calibrate(str(archive / "XP_CONTINUOUS_RAW.csv"), sampling=np.arange(400.0, 900.0, 5.0), save_file=True,
              output_path=str(tmp_path), output_file="other_grid", output_format=fmt)
    with pytest.raises(SpectraFileError, match="another wavelength grid.*100 points 400-895 nm"):
        load_spectra(tmp_path / f"other_grid.{fmt}")


def test_unrecognised_layout_is_rejected(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(SpectraFileError, match="not a recognised XP spectra layout"):
        load_spectra(p)


def test_a_binary_file_is_refused_without_control_characters_in_the_message(tmp_path):
    p = tmp_path / "in.csv"
    p.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(SpectraFileError, match="not a recognised XP spectra layout") as info:
        load_spectra(p)
    assert "columns: \\x00\\x01\\x02" in str(info.value)
    assert all(c.isprintable() for c in str(info.value))


def test_project_csv_round_trip_keeps_rows_and_errors(archive, tmp_path):
    rows = load_spectra(archive / "XP_CONTINUOUS_RAW_with_missing_BP.csv")
    out = tmp_path / "project.csv"
    write_project_csv(out, rows)
    back = load_spectra(out)
    assert [r.source_id for r in back] == [r.source_id for r in rows]
    assert back[1].error == rows[1].error
    for a, b in zip((rows[0], rows[2]), (back[0], back[2])):
        np.testing.assert_array_equal(a.flux, b.flux)
        np.testing.assert_array_equal(a.flux_error, b.flux_error)
    # a reader that does not know the read_error column still keeps the row, as an error
    plain = read_spectra_csv(out)
    assert len(plain) == 3 and plain[1].error is not None and plain[0].error is None


def _summary(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh)), next(csv.reader(open(path, newline="")))


def test_infer_python_engine_on_an_archive_file(archive, tiny_bundle, tmp_path, capsys):
    from xpcvae.cli import main
    from xpcvae.forward.gof import COLUMNS

    out = tmp_path / "summary.csv"
    rc = main(["infer", "--bundle", str(tiny_bundle.root), "--input",
               str(archive / "XP_CONTINUOUS_RAW_with_missing_BP.csv"), "--out", str(out), "--samples", "64"])
    assert rc == 1  # one source failed
    rows, header = _summary(out)
    assert header == summary_header() + list(COLUMNS)  # the Java CLI's columns stay a prefix
    assert [r["source_id"] for r in rows] == [SOURCES[0], MISSING_BP_SOURCE, SOURCES[1]]
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert "BP" in rows[1]["message"] and rows[1]["gof_chi2"] == ""
    for r in (rows[0], rows[2]):
        assert float(r["gof_chi2"]) > 0
        assert r["ood_flag"] in ("0", "1")
        assert (r["ood_flag"] == "1") == bool(r["ood_reason"])
        lo, hi = float(r["teff_p16"]), float(r["teff_p84"])
        assert 3000 <= lo <= float(r["teff_median"]) <= hi <= 7000


def test_infer_sampled_archive_file_matches_the_converted_csv(archive, tiny_bundle, tmp_path):
    """Same spectra, same row numbers -> identical posteriors whether read from the archive file or our CSV."""
    from xpcvae.cli import main

    src = archive / "XP_SAMPLED_RAW_dr3int6.ecsv"
    conv = tmp_path / "conv.csv"
    write_project_csv(conv, load_spectra(src))
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["infer", "--bundle", str(tiny_bundle.root), "--input", str(src), "--out", str(a),
                 "--samples", "32"]) == 0
    assert main(["infer", "--bundle", str(tiny_bundle.root), "--input", str(conv), "--out", str(b),
                 "--samples", "32"]) == 0
    assert a.read_text() == b.read_text()


FAKE_JAVA = textwrap.dedent("""\
    import csv, sys
    from xpcvae.data.spectra_csv import read_spectra_csv, summary_header
    a = dict(zip(sys.argv[2::2], sys.argv[3::2]))
    rows = read_spectra_csv(a["--input"])
    n = len(summary_header()) - 4
    with open(a["--out"], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(summary_header())
        for r in rows:
            if r.error:
                w.writerow([r.source_id, "error", "source " + r.source_id + ": flux_0 is empty", ""] + [""] * n)
            else:
                w.writerow([r.source_id, "ok", "", a["--samples"]] + ["1.0"] * n)
    sys.exit(1 if any(r.error for r in rows) else 0)
""")


def test_infer_java_engine_converts_archive_files(archive, tmp_path, monkeypatch):
    """`--engine java` on an archive file: the Java CLI gets a project CSV and the read errors come back."""
    from xpcvae.cli import main
    from xpcvae.commands import export_cmds

    script = tmp_path / "fake_java.py"
    script.write_text(FAKE_JAVA)
    launcher = tmp_path / "xpcvae-java"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n")
    launcher.chmod(0o755)
    monkeypatch.setattr(export_cmds, "JAVA_LAUNCHER", launcher)
    out = tmp_path / "summary.csv"
    rc = main(["infer", "--engine", "java", "--bundle", "unused", "--input",
               str(archive / "XP_CONTINUOUS_RAW_with_missing_BP.csv"), "--out", str(out), "--samples", "10"])
    assert rc == 1
    rows, header = _summary(out)
    assert header == summary_header()
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert "BP" in rows[1]["message"] and MISSING_BP_SOURCE in rows[1]["message"]
    assert rows[0]["n_samples"] == "10"


def test_a_model_on_another_grid_refuses_default_grid_inputs(tmp_path):
    """Project CSVs and XP sampled spectra carry GaiaXPy's default sampling: a model on another grid refuses them."""
    import pandas as pd

    f = np.ones((1, 343))
    write_project_csv(tmp_path / "p.csv", [SpectrumRow("a", f[0], 0.1 * f[0])])
    assert load_spectra(tmp_path / "p.csv")[0].error is None
    with pytest.raises(SpectraFileError, match="default sampling"):
        load_spectra(tmp_path / "p.csv", wavelength=WAVELENGTH + 6.0)
    df = pd.DataFrame({"source_id": [1], "flux": [f[0]], "flux_error": [0.1 * f[0]]})
    with pytest.raises(SpectraFileError, match="default sampling"):
        load_spectra(df, wavelength=WAVELENGTH + 6.0)
