"""The Java reader of Gaia archive XP files (org.xpcvae.gaiaxp) against GaiaXPy, live.

* Every source of every XP continuous example file (tests/data/gaia-archive) is calibrated
  by the Java port of GaiaXPy's ``calibrate`` (driven through JPype on the jars of the Gradle
  distribution, ``make java``) and by GaiaXPy itself, onto 336-1020 nm in 2 nm steps with
  ``truncation=False``: flux and flux_error must agree to 1e-9 relative.
* The XP sampled example files, and GaiaXPy's own sampled output, read the same in Java as
  in the Python reader; GaiaXPy output on another grid is refused by both.
* The Java CLI ``infer`` on an archive continuous file writes the summary that
  ``xpcvae infer --engine python`` writes for the same file (1e-9 relative on numbers).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "tests" / "data" / "gaia-archive"
DIST = ROOT / "java" / "build" / "install" / "xpcvae"
LAUNCHER = DIST / "bin" / "xpcvae"
BUNDLE = ROOT / "export" / "default"
CONTINUOUS = ["XP_CONTINUOUS_RAW.csv", "XP_CONTINUOUS_RAW_with_missing_BP.csv", "XP_CONTINUOUS_RAW.ecsv",
              "XP_CONTINUOUS_RAW.fits"]
SAMPLED = ["XP_SAMPLED_RAW_dr3int6.csv", "XP_SAMPLED_RAW_dr3int6.ecsv"]
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def gaiaxpy_reference():
    """tests/data/gaia-archive/make_gaiaxpy_reference.py as a module: GaiaXPy's calibrate of a file.

    Importing GaiaXPy switches matplotlib's ``text.usetex`` on for the whole process (its
    plotter module); it is restored so that later tests' figures do not need LaTeX.
    """
    import matplotlib

    usetex = matplotlib.rcParams["text.usetex"]
    spec = importlib.util.spec_from_file_location("make_gaiaxpy_reference", ARCHIVE / "make_gaiaxpy_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import gaiaxpy  # noqa: F401  (imported here, under the restoration below)

    matplotlib.rcParams["text.usetex"] = usetex
    yield module
    matplotlib.rcParams["text.usetex"] = usetex


@pytest.fixture(scope="module")
def gaiaxp():
    import jpype

    jars = sorted(str(p) for p in (DIST / "lib").glob("*.jar"))
    assert jars, f"no jars in {DIST / 'lib'}: build the Java module with `make java`"
    if not jpype.isJVMStarted():
        jpype.startJVM(classpath=jars, convertStrings=True)
    return jpype.JPackage("org").xpcvae.gaiaxp


def java_path(path: Path):
    import jpype

    return jpype.JClass("java.io.File")(str(path)).toPath()


def java_calibrated(gaiaxp, path: Path):
    """{source_id: (flux, flux_error) or the list of missing bands} from the Java reader and calibrator."""
    calibrator = gaiaxp.XpCalibrator.onDefaultSampling()
    out = {}
    reader = gaiaxp.SpectrumSources.openContinuous(java_path(path))
    try:
        while (rec := reader.next()) is not None:
            assert rec.error() is None, rec.error()
            if rec.ok():
                c = calibrator.calibrate(rec)
                out[str(rec.sourceId())] = (np.array(c.flux()), np.array(c.fluxError()))
            else:
                out[str(rec.sourceId())] = [str(b.name()) for b in rec.missingBands()]
    finally:
        reader.close()
    return out


def java_rows(gaiaxp, path: Path) -> list:
    reader = gaiaxp.SpectrumSources.open(java_path(path), 343)
    rows = []
    try:
        while (row := reader.next()) is not None:
            rows.append(row)
    finally:
        reader.close()
    return rows


def relative(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b))))


@pytest.mark.parametrize("name", CONTINUOUS)
def test_java_calibration_agrees_with_gaiaxpy(gaiaxp, gaiaxpy_reference, name):
    want = gaiaxpy_reference.calibrate(ARCHIVE / name)
    got = java_calibrated(gaiaxp, ARCHIVE / name)
    assert [str(s) for s in want["source_id"]] == list(got)
    for _, row in want.iterrows():
        flux, error = np.asarray(row["flux"], float), np.asarray(row["flux_error"], float)
        mine = got[str(row["source_id"])]
        if isinstance(mine, list):
            # GaiaXPy leaves the missing band's wavelengths NaN; Java names the band instead
            assert mine == ["BP"]
            assert np.isnan(flux[:140]).all() and np.isfinite(flux[-150:]).all()
            continue
        assert np.isfinite(flux).all() and np.isfinite(error).all()
        assert relative(mine[0], flux) <= TOLERANCE, (name, row["source_id"], relative(mine[0], flux))
        assert relative(mine[1], error) <= TOLERANCE, (name, row["source_id"], relative(mine[1], error))


@pytest.mark.parametrize("name", ["XP_CONTINUOUS_RAW.ecsv", "XP_CONTINUOUS_RAW.fits"])
def test_gaiaxpy_file_parsers_differ_by_float32_rounding_only(gaiaxp, gaiaxpy_reference, name):
    """Why the reference feeds ECSV and FITS to GaiaXPy as typed tables, not as paths.

    Given the path, GaiaXPy reads an ECSV body as plain CSV (its float32 columns as float64
    text) and, for FITS, scales the float32 coefficient errors by the standard deviation in
    float32 arithmetic (NumPy 2). Both change flux_error in the 8th digit and flux not at all;
    the Java reader, like the Python one, keeps the declared types and computes in float64.
    """
    from gaiaxpy import calibrate

    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            by_path, _ = calibrate(str(ARCHIVE / name), sampling=np.arange(336.0, 1021.0, 2.0), truncation=False,
                                   save_file=False)
        finally:
            sys.stdout = stdout
    got = java_calibrated(gaiaxp, ARCHIVE / name)
    for _, row in by_path.iterrows():
        flux, error = got[str(row["source_id"])]
        assert relative(flux, np.asarray(row["flux"], float)) <= TOLERANCE
        assert 0 < relative(error, np.asarray(row["flux_error"], float)) < 1e-7


@pytest.mark.parametrize("name", SAMPLED + CONTINUOUS)
def test_java_reader_gives_the_python_readers_spectra(gaiaxp, gaiaxpy_reference, name):
    """Through the entry point the CLI uses: the same sources, errors and float32 spectra as load_spectra."""
    from xpcvae.data.gaia_xp import load_spectra

    want = load_spectra(ARCHIVE / name)
    rows = java_rows(gaiaxp, ARCHIVE / name)
    assert [str(r.sourceId()) for r in rows] == [w.source_id for w in want]
    for r, w in zip(rows, want):
        assert (None if r.ok() else str(r.error())) == w.error
        if r.ok():
            flux = np.array(r.spectrum().flux(), dtype=np.float32)
            error = np.array(r.spectrum().fluxError(), dtype=np.float32)
            # float32 roundings of values that agree to 1e-12 may still differ by one ulp
            assert np.max(np.abs(flux - w.flux.astype(np.float32)) / np.abs(w.flux)) <= 1.2e-7
            assert np.max(np.abs(error - w.flux_error.astype(np.float32)) / w.flux_error) <= 1.2e-7


@pytest.mark.parametrize("fmt", ["ecsv", "fits", "csv"])
def test_java_reads_gaiaxpy_output_and_refuses_it_on_another_grid(gaiaxp, gaiaxpy_reference, tmp_path, fmt):
    """GaiaXPy's sampled output, which records its sampling (ECSV meta, FITS keyword, CSV sidecar file)."""
    import jpype
    from gaiaxpy import calibrate

    from xpcvae.data.gaia_xp import load_spectra

    src = str(ARCHIVE / "XP_CONTINUOUS_RAW_with_missing_BP.csv")
    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            for name, grid in (("default_grid", np.arange(336.0, 1021.0, 2.0)), ("other_grid", np.arange(400.0, 900.0, 5.0))):
                calibrate(src, sampling=grid, truncation=False, save_file=True, output_path=str(tmp_path),
                          output_file=name, output_format=fmt)
        finally:
            sys.stdout = stdout
    with pytest.raises(jpype.JException, match="another wavelength grid .100 points 400-895 nm in steps of 5 nm"):
        java_rows(gaiaxp, tmp_path / f"other_grid.{fmt}")
    want = load_spectra(tmp_path / f"default_grid.{fmt}")
    rows = java_rows(gaiaxp, tmp_path / f"default_grid.{fmt}")
    assert [str(r.sourceId()) for r in rows] == [w.source_id for w in want]
    assert [None if r.ok() else str(r.error()) for r in rows] == [w.error for w in want]
    assert "(BP missing?)" in str(rows[1].error())  # GaiaXPy left BP's wavelengths NaN
    for r, w in zip(rows, want):
        if r.ok():
            assert np.array_equal(np.array(r.spectrum().flux(), dtype=np.float32), w.flux.astype(np.float32))
            assert np.array_equal(np.array(r.spectrum().fluxError(), dtype=np.float32),
                                  w.flux_error.astype(np.float32))


def read_summary(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", ["XP_CONTINUOUS_RAW_with_missing_BP.csv", "XP_CONTINUOUS_RAW.fits"])
def test_java_cli_on_an_archive_file_writes_what_python_writes(tmp_path, name):
    assert LAUNCHER.exists(), f"{LAUNCHER} missing: build the Java module with `make java`"
    assert (BUNDLE / "manifest.json").exists(), "the shipped bundle export/default is missing"
    src = ARCHIVE / name
    j_out, p_out = tmp_path / "java.csv", tmp_path / "python.csv"
    args = ["infer", "--bundle", str(BUNDLE), "--input", str(src), "--samples", "300", "--seed", "11"]
    java = subprocess.run([str(LAUNCHER), *args, "--out", str(j_out)], capture_output=True, text=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), os.environ.get("PYTHONPATH", "")]))
    python = subprocess.run([sys.executable, "-m", "xpcvae.cli", *args, "--engine", "python", "--out", str(p_out)],
                            capture_output=True, text=True, env=env)
    missing_bp = "missing_BP" in name
    assert java.returncode == python.returncode == (1 if missing_bp else 0), (java.stderr, python.stderr)
    jr, pr = read_summary(j_out), read_summary(p_out)
    assert list(jr[0]) == list(pr[0])
    assert [r["source_id"] for r in jr] == [r["source_id"] for r in pr]
    assert [r["status"] for r in jr] == [r["status"] for r in pr]
    assert [r["message"] for r in jr] == [r["message"] for r in pr]
    assert [r["status"] for r in jr] == (["ok", "error", "ok"] if missing_bp else ["ok", "ok"])
    compared = 0
    for a, b in zip(jr, pr):
        for column in a:
            if a[column] == b[column]:
                compared += a[column] not in ("", "ok", "error")
                continue
            x, y = float(a[column]), float(b[column])  # text columns must have been equal
            assert abs(x - y) <= TOLERANCE * max(abs(x), abs(y)), (a["source_id"], column, x, y)
            compared += 1
    assert compared >= 2 * 36  # the draws' quantiles and gof_chi2 of each ok source
