"""Readers of Gaia DR3 XP spectra as users have them, one entry point: :func:`load_spectra`.

Gaia archive XP continuous spectra (calibrated onto the model grid with GaiaXPy), XP sampled
spectra on GaiaXPy's default sampling, or the project CSV; every input row gives one
:class:`~xpcvae.data.spectra_csv.SpectrumRow`, an unusable one with its error, so batch output
keeps one row per input row (docs/formats.md, "Gaia archive XP inputs").
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from xpcvae.atomic import atomic_path
from xpcvae.data.csv_grammar import CONTROL, signature_problem
from xpcvae.data.spectra_csv import ERR_COLS, FLUX_COLS, SpectraCsvReader, SpectraFileError, SpectrumRow, read_header

from xpcvae.forward.instrument import WAVELENGTH  # GaiaXPy's default sampling, the model grid
#: two grids are the same when every sample agrees to this many nm
GRID_ATOL_NM = 1e-3
#: extra, trailing column of the project CSV carrying a row's read error
READ_ERROR_COL = "read_error"

CONTINUOUS_KEYS = ("bp_coefficients", "rp_coefficients")
SAMPLED_KEYS = ("flux", "flux_error")


# -- format detection -------------------------------------------------------------------
def detect_format(path) -> str:
    """``"csv"``, ``"ecsv"`` or ``"fits"`` from the extension, else from the first bytes."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".fits", ".fit", ".fits.gz", ".fit.gz")):
        return "fits"
    if name.endswith(".ecsv"):
        return "ecsv"
    with open(path, "rb") as fh:
        head = fh.read(80)
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if head.startswith(b"# %ECSV"):
        return "ecsv"
    problem = signature_problem(head)  # compressed or UTF-16: say so rather than guess
    if problem:
        raise SpectraFileError(f"{path}: {problem}")
    if name.endswith(".csv") or b"," in head:
        return "csv"
    raise SpectraFileError(
        f"{path}: cannot tell the file format from the name or content; "
        f"expected a .csv, .ecsv or .fits file (Gaia archive XP continuous or sampled, or the project CSV)")


def _kind(columns, what) -> str:
    cols = set(columns)
    if "source_id" in cols and FLUX_COLS[0] in cols:
        return "project"
    if any(k in cols for k in CONTINUOUS_KEYS):
        return "continuous"
    if all(k in cols for k in SAMPLED_KEYS):
        return "sampled"
    # a control character in a column name (a binary file) shown as \xNN, never sent to the terminal
    names = [CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(c)) for c in list(columns)[:8]]
    shown = ", ".join(names) + (", ..." if len(columns) > 8 else "")
    raise SpectraFileError(
        f"{what}: not a recognised XP spectra layout (columns: {shown}); expected Gaia archive XP continuous "
        f"(bp_coefficients, rp_coefficients, ...), XP sampled (flux, flux_error arrays) or the project CSV "
        f"(source_id, flux_0..flux_342, flux_error_0..flux_error_342; docs/formats.md)")


def is_project_csv(path, allow_read_error: bool = True) -> bool:
    """True when ``path`` is a CSV in the project layout (with a ``read_error`` column only if allowed)."""
    header = read_header(Path(path))
    if "source_id" not in header or FLUX_COLS[0] not in header:
        return False
    return allow_read_error or READ_ERROR_COL not in header


# -- entry point --------------------------------------------------------------------------
def load_spectra(source, wavelength=None, progress: bool = False) -> list[SpectrumRow]:
    """Read XP spectra from ``source`` (path, DataFrame or astropy Table): one row per input row.

    ``wavelength``: the model grid (default :data:`xpcvae.forward.instrument.WAVELENGTH`, GaiaXPy's
    default sampling). Continuous spectra are calibrated onto it; sampled spectra must be on it.
    ``progress``: a progress bar on stderr while GaiaXPy calibrates continuous spectra.
    """
    grid = WAVELENGTH if wavelength is None else np.asarray(wavelength, dtype=float)
    if not isinstance(source, (str, Path)):
        return _load_table(_to_pandas(source), grid, what="input table", sampling=None, progress=progress)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"spectra file {path} does not exist")
    if path.is_dir():
        raise SpectraFileError(f"{path}: is a directory, expected a spectra file")
    fmt = detect_format(path)
    if fmt == "csv":
        kind = _kind(read_header(path), str(path))
        if kind == "project":
            _require_default_grid(grid, f"{path} (project CSV)")
            return _read_project_csv(path)
        import pandas as pd

        table = pd.read_csv(path, dtype={"source_id": str}, keep_default_na=True)
        sampling = _sidecar_sampling(path) if kind == "sampled" else None
        return _load_table(table, grid, what=str(path), sampling=sampling, progress=progress)
    from astropy.table import Table  # lazy: astropy.table only for ECSV and FITS inputs

    try:
        table = Table.read(path, format="ascii.ecsv" if fmt == "ecsv" else "fits")
    except Exception as exc:  # astropy raises many types for malformed files
        raise SpectraFileError(f"{path}: cannot read as {fmt.upper()} ({exc})") from None
    sampling = _meta_sampling(table.meta)
    return _load_table(_to_pandas(table), grid, what=str(path), sampling=sampling, progress=progress)


def iter_spectra(source, wavelength=None, progress: bool = False) -> Iterator[SpectrumRow]:
    """:func:`load_spectra`'s rows one at a time, in order. A project CSV file is streamed (memory does
    not grow with its rows); any other input is read whole (an archive table must be) and each row let
    go once handed on. A file unusable as a whole fails at this call, before any row is asked for."""
    grid = WAVELENGTH if wavelength is None else np.asarray(wavelength, dtype=float)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_file() and detect_format(path) == "csv" and _kind(read_header(path), str(path)) == "project":
            _require_default_grid(grid, f"{path} (project CSV)")
            return _project_stream(SpectraCsvReader(path))  # the header is read here: a file error now
    rows = load_spectra(source, wavelength=wavelength, progress=progress)
    rows.reverse()

    def drain():
        while rows:
            yield rows.pop()

    return drain()


def _project_stream(reader: SpectraCsvReader) -> Iterator[SpectrumRow]:
    with reader:
        if READ_ERROR_COL not in reader.header:
            yield from reader
            return
        for row, (msg,) in reader.with_columns(READ_ERROR_COL):
            yield SpectrumRow(row.source_id, None, None, msg) if msg else row


def _to_pandas(obj):
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return obj
    try:
        from astropy.table import Table
    except ImportError:  # pragma: no cover - astropy is a dependency
        Table = ()
    if isinstance(obj, Table):
        names = [c for c in obj.colnames]
        data = {}
        for c in names:
            col = obj[c]
            if col.dtype == object or len(col.shape) > 1:
                data[c] = [_as_array(v) for v in col]
            else:
                data[c] = np.asarray(col.filled() if hasattr(col, "filled") else col).tolist()
        return pd.DataFrame(data, columns=names)
    raise TypeError(f"load_spectra: expected a path, pandas DataFrame or astropy Table, got {type(obj).__name__}")


def _load_table(df, grid, what: str, sampling, progress: bool = False) -> list[SpectrumRow]:
    kind = _kind([str(c) for c in df.columns], what)
    if kind == "project":
        _require_default_grid(grid, f"{what} (project layout)")
        return _project_rows_from_frame(df, what)
    if kind == "continuous":
        return _continuous_rows(df, grid, what, progress)
    if sampling is None:  # no explicit grid: the product is on GaiaXPy's default sampling
        _require_default_grid(grid, f"{what} (XP sampled, GaiaXPy's default sampling)")
    return _sampled_rows(df, grid, what, sampling)


def _require_default_grid(grid, what: str) -> None:
    """Spectra without a wavelength column are on GaiaXPy's default sampling; refuse a model on another grid."""
    g = np.asarray(grid, dtype=float)
    if g.shape != WAVELENGTH.shape or not np.allclose(g, WAVELENGTH, rtol=0.0, atol=GRID_ATOL_NM):
        raise SpectraFileError(
            f"{what}: these spectra are on GaiaXPy's default sampling ({_grid_text(WAVELENGTH)}), but the "
            f"model's wavelength grid is {_grid_text(g)}: the model bundle does not match XP spectra")


# -- project CSV -----------------------------------------------------------------------------
def _read_project_csv(path: Path) -> list[SpectrumRow]:
    return list(_project_stream(SpectraCsvReader(path)))


def _project_rows_from_frame(df, what) -> list[SpectrumRow]:
    missing = [c for c in ["source_id", *FLUX_COLS, *ERR_COLS] if c not in df.columns]
    if missing:
        raise SpectraFileError(f"{what}: lacks column(s) {', '.join(missing[:3])} (layout: docs/formats.md)")
    f = df[FLUX_COLS].to_numpy(dtype=float)
    e = df[ERR_COLS].to_numpy(dtype=float)
    msgs = df[READ_ERROR_COL].fillna("").astype(str).tolist() if READ_ERROR_COL in df.columns else [""] * len(df)
    return [SpectrumRow(str(s), None, None, m) if m else SpectrumRow(str(s), f[i], e[i])
            for i, (s, m) in enumerate(zip(df["source_id"].tolist(), msgs))]


# -- helpers for array cells --------------------------------------------------------------------
_SPLIT = re.compile(r"[\s,]+")


def _as_array(value) -> np.ndarray | None:
    """An array cell (string "(a, b, ...)"/"[a,b,...]", sequence, masked array) as float64; None if missing."""
    if value is None:
        return None
    if isinstance(value, (bytes, str)):
        s = value.decode() if isinstance(value, bytes) else value
        s = s.strip().strip("()[]").strip()
        if not s or s.lower() in ("nan", "null", "none", "--"):
            return None
        parts = [p for p in _SPLIT.split(s) if p]
        out = np.empty(len(parts))
        for k, p in enumerate(parts):
            try:
                out[k] = float(p)
            except ValueError:
                out[k] = np.nan  # "null", "--", ... inside an array: a missing sample
        return out
    if isinstance(value, float) and not np.isfinite(value):
        return None  # pandas NaN for an empty cell
    if np.ma.isMaskedArray(value):
        if value.size and np.all(np.ma.getmaskarray(value)):
            return None
        value = np.ma.filled(value.astype(float), np.nan)
    if np.ma.is_masked(value):
        return None
    arr = np.asarray(value, dtype=float).ravel()
    return arr if arr.size else None


def _grid_text(w: np.ndarray) -> str:
    if len(w) > 1 and np.allclose(np.diff(w), w[1] - w[0]):
        return f"{len(w)} points {w[0]:g}-{w[-1]:g} nm in steps of {w[1] - w[0]:g} nm"
    return f"{len(w)} points {w.min():g}-{w.max():g} nm (irregular)"


def _check_grid(sampling, grid, what, where) -> None:
    w = np.asarray(sampling, dtype=float).ravel()
    if w.shape == grid.shape and np.allclose(w, grid, rtol=0.0, atol=GRID_ATOL_NM):
        return
    raise SpectraFileError(
        f"{what}: spectra are sampled on another wavelength grid ({_grid_text(w)}, from {where}); the model needs "
        f"{_grid_text(grid)} (GaiaXPy's default sampling). Use the XP continuous spectra (they are calibrated onto "
        f"the model grid here) or resample with GaiaXPy's calibrate(sampling=numpy.arange(336, 1021, 2)).")


def _meta_sampling(meta):
    for key in ("sampling", "SAMPLING", "Sampling", "pos", "wavelength"):
        if meta and key in meta:
            v = meta[key]
            arr = _as_array(v) if isinstance(v, str) else np.asarray(v, dtype=float)
            if arr is not None:
                return arr, f"the {key!r} header entry"
    return None


def _sidecar_sampling(path: Path):
    """GaiaXPy writes the sampling of a CSV output to ``<stem>_sampling.csv`` (column ``pos``)."""
    side = path.with_name(f"{path.stem}_sampling.csv")
    if not side.exists():
        return None
    import pandas as pd

    df = pd.read_csv(side)
    if "pos" not in df.columns or not len(df):
        return None
    arr = _as_array(df["pos"].iloc[0])
    return (arr, side.name) if arr is not None else None


def _source_ids(df) -> list[str]:
    if "source_id" not in df.columns:
        return [f"row{i}" for i in range(len(df))]
    out = []
    for i, v in enumerate(df["source_id"].tolist()):
        s = str(v).strip()
        if isinstance(v, float) and np.isfinite(v) and v == int(v):
            s = str(int(v))
        out.append(s if s and s.lower() != "nan" else f"row{i}")
    return out


# -- sampled product ---------------------------------------------------------------------------
def _sampled_rows(df, grid, what, sampling) -> list[SpectrumRow]:
    for col in ("wavelength", "sampling"):
        if col in df.columns and len(df):
            w = _as_array(df[col].iloc[0])
            if w is not None:
                sampling = (w, f"column {col!r}")
    if sampling is not None:
        _check_grid(sampling[0], grid, what, sampling[1])
    ids = _source_ids(df)
    fluxes = [_as_array(v) for v in df["flux"].tolist()]
    errors = [_as_array(v) for v in df["flux_error"].tolist()]
    lengths = {len(f) for f in fluxes if f is not None}
    if len(lengths) == 1 and (n := lengths.pop()) != len(grid):
        first = next(i for i, f in enumerate(fluxes) if f is not None)
        raise SpectraFileError(
            f"{what}: source {ids[first]} has a flux array of {n} samples, the model grid {_grid_text(grid)} "
            f"(GaiaXPy's default sampling) has {len(grid)}: the spectra are on another wavelength grid. Use the "
            f"XP continuous spectra or resample with GaiaXPy's calibrate(sampling=numpy.arange(336, 1021, 2)).")
    rows = []
    for sid, f, e in zip(ids, fluxes, errors):
        err = None
        if f is None or e is None:
            err = f"source {sid}: {'flux' if f is None else 'flux_error'} is missing"
        elif len(f) != len(grid) or len(e) != len(grid):
            err = (f"source {sid}: flux has {len(f)} and flux_error {len(e)} samples, the model grid "
                   f"{len(grid)} (another wavelength grid)")
        else:
            err = _nonfinite_message(sid, f, e, grid)
        rows.append(SpectrumRow(sid, None, None, err) if err else SpectrumRow(sid, f, e))
    return rows


def _nonfinite_message(sid, f, e, grid) -> str | None:
    bad = ~(np.isfinite(f) & np.isfinite(e))
    if not bad.any():
        return None
    lo, hi = grid[bad].min(), grid[bad].max()
    band = ""
    if hi < 700:
        band = " (BP missing?)"
    elif lo > 600:
        band = " (RP missing?)"
    return f"source {sid}: {int(bad.sum())} samples between {lo:g} and {hi:g} nm are not finite{band}"


# -- continuous product -------------------------------------------------------------------------
def _band_present(row: dict, band: str) -> bool:
    c = _as_array(row.get(f"{band}_coefficients"))
    if c is None or not np.isfinite(c).any():
        return False
    n = row.get(f"{band}_n_parameters")
    try:
        return not (n is None or not np.isfinite(float(n)) or int(n) <= 0)
    except (TypeError, ValueError):
        return True


def _gaiaxpy_calibrate():
    """GaiaXPy's calibrate function and its quiet-mode keyword arguments.

    Importing GaiaXPy sets matplotlib's global ``text.usetex`` to True (gaiaxpy/plotter),
    which breaks every later figure of the process on machines without LaTeX; the
    setting is restored here.
    """
    import matplotlib

    usetex = matplotlib.rcParams["text.usetex"]
    try:
        try:  # the private entry point lets us switch GaiaXPy's progress bars off
            from gaiaxpy.calibrator.calibrator import _calibrate as cal

            return cal, {"disable_info": True}
        except ImportError:  # pragma: no cover - other GaiaXPy versions
            from gaiaxpy import calibrate as cal

            return cal, {}
    finally:
        matplotlib.rcParams["text.usetex"] = usetex


#: sources per GaiaXPy ``calibrate`` call (the progress bar advances by this many; each source is
#: calibrated on its own, so the split does not change the result)
CALIBRATION_CHUNK = 256


def calibrate_frame(df, grid, progress: bool = False):
    """GaiaXPy ``calibrate`` of a continuous-product DataFrame onto ``grid``, its own output silenced, with
    a progress bar on stderr if ``progress``; (flux, flux_error) lists."""
    from tqdm.auto import tqdm  # lazy: only for continuous spectra

    _cal, kwargs = _gaiaxpy_calibrate()
    fluxes, errors = [], []
    with tqdm(total=len(df), desc="calibrating XP continuous spectra (GaiaXPy)", unit="src",
              disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(df), CALIBRATION_CHUNK):
            part = df.iloc[start:start + CALIBRATION_CHUNK].reset_index(drop=True)
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                out, positions = _cal(part, sampling=np.asarray(grid, dtype=float), truncation=False,
                                      save_file=False, **kwargs)
            _check_grid(positions, grid, "GaiaXPy calibrate", "its returned sampling")
            fluxes += [np.asarray(v, dtype=float) for v in out["flux"]]
            errors += [np.asarray(v, dtype=float) for v in out["flux_error"]]
            bar.update(len(part))
    return fluxes, errors


def _continuous_rows(df, grid, what, progress: bool = False) -> list[SpectrumRow]:
    ids = _source_ids(df)
    records = df.to_dict("records")
    rows: list[SpectrumRow | None] = [None] * len(df)
    usable = []
    for i, rec in enumerate(records):
        missing = [b.upper() for b in ("bp", "rp") if not _band_present(rec, b)]
        if missing:
            rows[i] = SpectrumRow(ids[i], None, None,
                                  f"source {ids[i]}: XP continuous spectrum has no {' and no '.join(missing)} "
                                  f"coefficients ({' and '.join(missing)} missing); the model needs the whole "
                                  f"{grid[0]:g}-{grid[-1]:g} nm range")
        else:
            usable.append(i)
    if usable:
        sub = df.iloc[usable].reset_index(drop=True).copy()
        sub["source_id"] = np.arange(len(sub), dtype=np.int64)  # GaiaXPy wants integer ids; ours are kept aside
        try:
            fluxes, errors = calibrate_frame(sub, grid, progress)
        except SpectraFileError:
            raise
        except Exception as exc:  # GaiaXPy raises assorted types on malformed columns
            raise SpectraFileError(f"{what}: GaiaXPy could not calibrate the XP continuous spectra ({exc})") from None
        if len(fluxes) != len(usable):
            raise SpectraFileError(f"{what}: GaiaXPy returned {len(fluxes)} spectra for {len(usable)} sources")
        for i, f, e in zip(usable, fluxes, errors):
            err = _nonfinite_message(ids[i], f, e, grid)
            if err is None and not (e > 0).all():
                k = int(np.argmax(~(e > 0)))
                err = f"source {ids[i]}: calibrated flux_error at {grid[k]:g} nm is {e[k]:g}, not positive"
            rows[i] = SpectrumRow(ids[i], None, None, err) if err else SpectrumRow(ids[i], f, e)
    return rows


# -- writer -------------------------------------------------------------------------------------
def write_project_csv(path, rows: list[SpectrumRow]) -> None:
    """Write ``rows`` in the project's CSV layout (docs/formats.md), one line per row, in order.

    An error row is written with empty flux fields (both the Python and the Java reader
    turn it into an error row, keeping the row count) and its message in the trailing
    ``read_error`` column (which :func:`load_spectra` restores; readers that do not know
    it ignore it).
    """
    n = len(FLUX_COLS)
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source_id", *FLUX_COLS, *ERR_COLS, READ_ERROR_COL])
        for r in rows:
            sid = str(r.source_id).replace(",", ";")
            if r.error is not None or r.flux is None:
                w.writerow([sid, *([""] * (2 * n)), (r.error or "no spectrum").replace("\n", " ")])
                continue
            if len(r.flux) != n or len(r.flux_error) != n:
                raise SpectraFileError(f"source {sid}: {len(r.flux)} samples cannot be written in the "
                                       f"{n}-sample project layout")
            w.writerow([sid, *[repr(float(v)) for v in r.flux], *[repr(float(v)) for v in r.flux_error], ""])
