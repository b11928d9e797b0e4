"""The summary and the draws as typed tables: units and descriptions, ECSV and FITS output.

The column definitions of the Python engine, once: their names follow the summary CSV
(:func:`xpcvae.data.spectra_csv.summary_header`, then :data:`xpcvae.forward.gof.COLUMNS`), their
units and descriptions come from the bundle manifest's parameters and :mod:`xpcvae.forward.gof`.
The Java engine defines the same columns in ``org.xpcvae.SummaryColumns``. A missing number is
masked (NaN underneath in float columns), missing text an empty string, so an all-empty column
keeps its type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xpcvae.atomic import atomic_path
from xpcvae.data.spectra_csv import PERCENTILES
from xpcvae.forward import gof

#: output formats by file extension; any other extension is CSV
FORMATS = {".csv": "csv", ".ecsv": "ecsv", ".fits": "fits", ".fit": "fits"}
#: what each summary percentile column holds
PERCENTILE_TEXT = {"median": "posterior median", "p16": "posterior 16th percentile",
                   "p84": "posterior 84th percentile", "p2.5": "posterior 2.5th percentile",
                   "p97.5": "posterior 97.5th percentile"}


@dataclass(frozen=True)
class ColumnDef:
    """One column of a typed output: name, NumPy type (``str``, ``int16``, ``int32`` or ``float64``),
    unit (astropy string, empty when dimensionless) and description."""

    name: str
    dtype: str
    unit: str
    description: str


FIXED = (
    ColumnDef("source_id", "str", "", "source identifier, as in the input"),
    ColumnDef("status", "str", "", "ok, or error when the row could not be used (see message)"),
    ColumnDef("message", "str", "", "why the row failed; empty for ok rows"),
    ColumnDef("n_samples", "int32", "", "posterior draws summarised in the row"),
)


def summary_columns(parameters) -> list[ColumnDef]:
    """The summary's columns for the manifest's ``parameters`` (dicts with name, unit, description)."""
    cols = list(FIXED)
    for p in parameters:
        cols += [ColumnDef(f"{p['name']}_{k}", "float64", p["unit"], f"{p['description']}: {PERCENTILE_TEXT[k]}")
                 for k in PERCENTILES]
    return cols + [ColumnDef(n, gof.COLUMN_TYPES[n], "", gof.DESCRIPTIONS[n]) for n in gof.COLUMNS]


def output_format(path) -> str:
    """``csv``, ``ecsv`` or ``fits`` from the extension of ``path`` (CSV for any other extension)."""
    return FORMATS.get(Path(path).suffix.lower(), "csv")


def _column(c: ColumnDef, values):
    from astropy.table import Column, MaskedColumn  # lazy: astropy.table only for typed outputs

    unit = c.unit or None
    if c.dtype == "str":
        return Column(np.array(list(values), dtype=str), name=c.name, unit=unit, description=c.description)
    mask = np.array([v == "" for v in values], dtype=bool)
    empty = np.nan if c.dtype == "float64" else 0
    data = np.array([empty if v == "" else (float(v) if c.dtype == "float64" else int(v)) for v in values],
                    dtype=c.dtype)
    return MaskedColumn(data, mask=mask, name=c.name, unit=unit, description=c.description)


def summary_table(rows, parameters, meta: dict | None = None):
    """The summary rows (lists of strings, as written to the summary CSV) as an astropy Table."""
    from astropy.table import Table  # lazy: astropy.table only for typed outputs

    cols = summary_columns(parameters)
    for i, r in enumerate(rows):
        if len(r) != len(cols):
            raise ValueError(f"summary row {i} has {len(r)} values, the summary has {len(cols)} columns")
    data = list(zip(*rows)) if rows else [()] * len(cols)
    return Table([_column(c, v) for c, v in zip(cols, data)], meta=dict(meta or {}))


def draws_table(draws, parameters):
    """One source's posterior draws (N, P) as an astropy Table, a column per parameter with its unit."""
    from astropy.table import Column, Table  # lazy: astropy.table only for typed outputs

    draws = np.asarray(draws, dtype=np.float64)
    return Table([Column(draws[:, j], name=p["name"], unit=p["unit"] or None, description=p["description"])
                  for j, p in enumerate(parameters)])


def _fits_ready(table):
    """A copy FITS can hold: text in ASCII (other characters as ``\\uXXXX`` escapes: a FITS table
    holds ASCII only) and units FITS knows (another, such as dex or dex(Msun/yr), moves into the
    description)."""
    out = table.copy(copy_data=True)
    for col in out.itercols():
        if col.dtype.kind == "U" and any(not v.isascii() for v in col):
            escaped = [v.encode("ascii", "backslashreplace").decode("ascii") for v in col]
            out.replace_column(col.name, type(col)(np.array(escaped, dtype=str), name=col.name, unit=col.unit,
                                                   description=col.description))
    for col in out.itercols():
        if col.unit is None:
            continue
        try:
            col.unit.to_string("fits")
        except (ValueError, TypeError):
            col.description = f"{col.description} [unit: {col.unit.to_string()}]"
            col.unit = None
    return out


def write_table(table, path, fmt: str | None = None) -> None:
    """Write ``table`` to ``path`` atomically as ECSV or FITS (``fmt``, default from the extension)."""
    fmt = fmt or output_format(path)
    if fmt not in ("ecsv", "fits"):
        raise ValueError(f"{path}: write_table writes ECSV or FITS, not {fmt}")
    path = Path(path)
    with atomic_path(path, suffix=path.suffix) as tmp:
        write_table_file(table, tmp, fmt, path)


def write_table_file(table, file, fmt: str, target) -> None:
    """Write ``table`` as ``fmt`` (ecsv or fits) into ``file``, the temporary file of the output
    ``target``; a failure of the file system is an :class:`~xpcvae.atomic.OutputError` naming ``target``."""
    from xpcvae.atomic import OutputError, reason

    try:
        if fmt == "ecsv":
            table.write(file, format="ascii.ecsv", overwrite=True)
        else:
            _fits_ready(table).write(file, format="fits", overwrite=True)
    except OSError as exc:
        raise OutputError(f"cannot write the summary {fmt.upper()} {target}: {reason(exc)}") from exc
