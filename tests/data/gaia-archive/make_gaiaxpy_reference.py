"""Writes gaiaxpy_calibrate_reference.csv: GaiaXPy's calibrate of every XP continuous example file here.

The reference against which the Java port of GaiaXPy's calibration (org.xpcvae.gaiaxp) is
tested. Each file is calibrated with GaiaXPy's public ``calibrate`` onto the project's grid
(``sampling=numpy.arange(336, 1021, 2)``, ``truncation=False``), fed with the values the file
holds as float64:

* CSV: the file itself (GaiaXPy parses its decimal text as float64);
* ECSV and FITS: a DataFrame of the table as astropy reads it, with the declared column types
  (the archive's float32 columns stay float32 values), converted to float64 arrays. GaiaXPy's
  own file parsers are not used for these two formats: for ECSV it reads the body as plain CSV,
  ignoring the declared float32 types, and for FITS it computes the covariance scaling
  errors/standard_deviation in float32 arithmetic under NumPy 2 (both change flux_error by up to
  4e-8 relative, flux not at all; tests/test_java_gaiaxp.py measures it live).

Rows GaiaXPy returns for a source lacking a band keep its NaN samples (the Java reader makes
such a source an error row naming the band). Values are written with repr (round-trip exact).

Run from the repository root:  python tests/data/gaia-archive/make_gaiaxpy_reference.py
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "gaiaxpy_calibrate_reference.csv"
FILES = ["XP_CONTINUOUS_RAW.csv", "XP_CONTINUOUS_RAW_with_missing_BP.csv",
         "XP_CONTINUOUS_RAW.ecsv", "XP_CONTINUOUS_RAW.fits"]
GRID = np.arange(336.0, 1021.0, 2.0)


def typed_frame(path: Path):
    """The table as astropy reads it (declared types), array cells as float64 arrays, missing as NaN."""
    import pandas as pd
    from astropy.table import Table

    table = Table.read(path, format="ascii.ecsv" if path.suffix == ".ecsv" else "fits")
    data = {}
    for name in table.colnames:
        col = table[name]
        if col.dtype == object or len(col.shape) > 1:
            data[name] = [np.ma.filled(np.ma.asarray(v, dtype=np.float64), np.nan) for v in col]
        else:
            data[name] = np.ma.filled(np.ma.asarray(col), np.nan).tolist()
    return pd.DataFrame(data)


def calibrate(path: Path):
    import gaiaxpy

    source = str(path) if path.suffix == ".csv" else typed_frame(path)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        spectra, sampling = gaiaxpy.calibrate(source, sampling=GRID, truncation=False, save_file=False)
    assert np.array_equal(sampling, GRID)
    return spectra


def main() -> None:
    import gaiaxpy

    n = len(GRID)
    with open(OUT, "w", newline="") as fh:
        fh.write(f"# GaiaXPy {gaiaxpy.__version__} calibrate(sampling=numpy.arange(336, 1021, 2), truncation=False); "
                 f"written by make_gaiaxpy_reference.py\n")
        w = csv.writer(fh)
        w.writerow(["file", "source_id", *[f"flux_{i}" for i in range(n)], *[f"flux_error_{i}" for i in range(n)]])
        for name in FILES:
            for _, row in calibrate(HERE / name).iterrows():
                flux, error = np.asarray(row["flux"], float), np.asarray(row["flux_error"], float)
                assert len(flux) == len(error) == n
                w.writerow([name, str(row["source_id"]), *map(repr, flux.tolist()), *map(repr, error.tolist())])
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
