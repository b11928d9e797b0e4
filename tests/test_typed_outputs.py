"""Summaries astronomers load in one line: ECSV and FITS by extension, typed columns with units and descriptions."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "export" / "default"


def _error_only_rows(n=3):
    from xpcvae.data.spectra_csv import summary_row

    return [summary_row(f"s{i}", None, 10, f"source s{i}: broken") + [""] * 4 for i in range(n)]


def test_column_definitions_follow_the_csv_header_and_the_manifest():
    from xpcvae import params
    from xpcvae.bundle import ModelBundle
    from xpcvae.data.spectra_csv import summary_header
    from xpcvae.forward.gof import COLUMNS
    from xpcvae.infer.table import summary_columns

    manifest_params = ModelBundle.load(DEFAULT_BUNDLE).manifest["parameters"]
    cols = summary_columns(manifest_params)
    assert [c.name for c in cols] == summary_header() + list(COLUMNS)
    by_name = {c.name: c for c in cols}
    for p in params.PARAMETERS:
        assert by_name[f"{p.name}_p97.5"].unit == p.unit and p.description in by_name[f"{p.name}_median"].description
    assert {c.dtype for c in cols} == {"str", "int32", "int16", "float64"}
    assert all(c.description for c in cols)


@pytest.mark.parametrize("suffix", [".ecsv", ".fits"])
def test_all_empty_columns_keep_their_type(tmp_path, suffix):
    """No row ok: the percentile and goodness-of-fit columns stay float (masked), ood_flag int16 -- not object."""
    from astropy.table import Table

    from xpcvae import params
    from xpcvae.infer.batch import write_summary

    out = tmp_path / f"s{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. astropy's warning about units FITS cannot hold
        write_summary(out, _error_only_rows(), params.as_dicts())
        t = Table.read(out)
    kinds = {c: t[c].dtype.str[1:] for c in ("gof_chi2", "teff_median", "ood_flag", "n_samples")}  # FITS: big-endian
    assert kinds == {"gof_chi2": "f8", "teff_median": "f8", "ood_flag": "i2", "n_samples": "i4"}
    assert bool(np.all(t["gof_chi2"].mask)) and bool(np.all(t["ood_flag"].mask)) and bool(np.all(t["mass_p16"].mask))
    assert len(t) == 3


def test_python_engine_writes_fits_and_ecsv_with_units(tmp_path):
    from astropy import units as u
    from astropy.table import Table

    from xpcvae.cli import main

    base = ["infer", "--bundle", str(DEFAULT_BUNDLE), "--input", str(ROOT / "examples" / "spectra.csv"),
            "--samples", "100", "--seed", "4"]
    for name in ("s.csv", "s.ecsv", "s.fits", "s.txt"):
        assert main(base + ["--out", str(tmp_path / name)]) == 0
    ecsv = Table.read(tmp_path / "s.ecsv")
    assert ecsv["teff_median"].unit == u.K and ecsv["a0_p84"].unit == u.mag
    assert ecsv["ff_median"].description == "filling factor of the accretion columns on the stellar surface: " \
                                            "posterior median"
    fits = Table.read(tmp_path / "s.fits")
    assert fits["teff_median"].unit == u.K and fits["mass_median"].unit == u.Msun
    # FITS has no dex: the unit moves into the description
    assert fits["logg_median"].unit is None and "[unit: dex]" in fits["logg_median"].description
    np.testing.assert_array_equal(fits["teff_median"], ecsv["teff_median"])
    with open(tmp_path / "s.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["teff_median"]) for r in rows] == list(ecsv["teff_median"])
    assert (tmp_path / "s.txt").read_text() == (tmp_path / "s.csv").read_text()  # another extension: CSV


def test_fits_text_is_ascii_with_escapes(tmp_path):
    from astropy.table import Table

    from xpcvae import params
    from xpcvae.infer.batch import write_summary

    rows = _error_only_rows(1)
    rows[0][2] = "source s0: flux_error at 500 nm is \u2264 0"
    write_summary(tmp_path / "s.fits", rows, params.as_dicts())
    msg = Table.read(tmp_path / "s.fits")["message"][0]
    assert (msg.decode() if isinstance(msg, bytes) else msg) == "source s0: flux_error at 500 nm is \\u2264 0"


def test_infer_help_documents_every_option(capsys):
    from xpcvae.cli import main

    with pytest.raises(SystemExit):
        main(["infer", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--bundle", "--input", "--out", "--samples", "--seed", "--samples-out", "--engine", "--threads"):
        assert option in text
    for default in ("(default: 1000)", "(default: 42)", "(default: python)", "(default: 1)", ".ecsv", ".fits"):
        assert default in text


def test_java_command_line_passes_threads_and_progress():
    import argparse

    from xpcvae.commands.export_cmds import _java_command

    args = argparse.Namespace(bundle="b", out="o.ecsv", samples=10, seed=3, threads=4, samples_out=None)
    cmd = _java_command(args, "in.csv")
    assert cmd[cmd.index("--threads") + 1] == "4" and cmd[cmd.index("--out") + 1] == "o.ecsv"
    assert "--no-progress" in cmd  # stderr is not a terminal under pytest


def test_engine_java_refuses_fits_before_running(tmp_path, capsys):
    from xpcvae.cli import main

    rc = main(["infer", "--engine", "java", "--bundle", str(DEFAULT_BUNDLE), "--input",
               str(ROOT / "examples" / "spectra.csv"), "--out", str(tmp_path / "s.fits")])
    assert rc == 2 and "use --engine python" in capsys.readouterr().err
    assert not (tmp_path / "s.fits").exists()
