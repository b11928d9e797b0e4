"""Spectra, summary and samples CSV files (layouts in docs/formats.md).

Row-level problems (a NaN flux, a missing value) do not stop a file: the row is
returned with its error so that batch output keeps one row per input row. A file
without the header or the expected columns is rejected as a whole.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.forward.instrument import WAVELENGTH

FLUX_COLS = [f"flux_{i}" for i in range(len(WAVELENGTH))]
ERR_COLS = [f"flux_error_{i}" for i in range(len(WAVELENGTH))]
#: the posterior percentiles of a summary row (column suffix -> percent), in column order
PERCENTILES = {"median": 50.0, "p16": 16.0, "p84": 84.0, "p2.5": 2.5, "p97.5": 97.5}


class SpectraFileError(ValueError):
    """A spectra CSV is unusable as a whole (missing header or columns, another wavelength grid)."""


@dataclass(frozen=True)
class SpectrumRow:
    source_id: str
    flux: np.ndarray | None
    flux_error: np.ndarray | None
    error: str | None = None


#: a number as both readers accept it: decimal or scientific notation, or nan/inf/infinity (any
#: case, optional sign) -- Python's float() without its extras (underscores, non-ASCII digits),
#: exactly what org.xpcvae.Csv.parseNumber accepts
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)", re.IGNORECASE)
_INDEXED = re.compile(r"flux_(?:error_)?([0-9]{1,9})")


def _number(text: str) -> float:
    t = text.strip()
    if not _NUMBER.fullmatch(t):
        raise ValueError(t)
    return float(t)


def _split(line: str) -> list[str]:
    """Fields of one line (RFC 4180 quoting within the line; csv.Error for a pathological one)."""
    return next(csv.reader([line]), [])


def read_spectra_csv(path) -> list[SpectrumRow]:
    """Rows of a spectra CSV (docs/formats.md), one per non-blank line, in order.

    The file is read line by line (``\\n``, ``\\r\\n`` or ``\\r``; a quoted field never spans
    lines), as UTF-8 with undecodable bytes replaced by U+FFFD, like the Java reader
    (``org.xpcvae.SpectraCsv``): a row with another number of fields than the header, a value
    that is not a number, an empty value or an unparsable line gives an error row naming the
    source (or row) and the problem; a missing header, missing or duplicate columns, or flux
    columns beyond the samples of the model grid (spectra on another wavelength grid) raise
    :class:`SpectraFileError`. Errors of other types are not raised for any file content.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"spectra file {path} does not exist")
    if path.is_dir():
        raise SpectraFileError(f"{path}: is a directory, expected a spectra file")
    rows: list[SpectrumRow] = []
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        header = None
        line_no = 0
        for line in fh:
            line_no += 1
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            if header is None:
                try:
                    header = [c.strip() for c in _split(text.lstrip("\ufeff"))]
                except csv.Error as exc:
                    raise SpectraFileError(f"{path}: unreadable header line ({exc})") from None
                col = {}
                for i, name in enumerate(header):
                    if name in col and (name == "source_id" or name.startswith("flux_")):
                        raise SpectraFileError(f"{path}: header has column {name} more than once")
                    col[name] = i
                missing = [c for c in ["source_id", *FLUX_COLS, *ERR_COLS] if c not in col]
                if missing:
                    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
                    raise SpectraFileError(f"{path}: header lacks column(s) {shown} (layout: docs/formats.md)")
                top = max((int(m.group(1)) for m in map(_INDEXED.fullmatch, col) if m), default=-1)
                if top >= len(FLUX_COLS):
                    raise SpectraFileError(
                        f"{path}: header has flux columns up to index {top} ({top + 1} samples per spectrum), the "
                        f"model's wavelength grid has {len(FLUX_COLS)} (336-1020 nm in steps of 2 nm): the spectra are on "
                        f"another wavelength grid")
                id_col = col["source_id"]
                fi = [col[c] for c in FLUX_COLS]
                ei = [col[c] for c in ERR_COLS]
                continue
            index = len(rows)
            try:
                rec = _split(text)
            except csv.Error as exc:
                rows.append(SpectrumRow("", None, None, f"row {index} (line {line_no}) cannot be parsed ({exc})"))
                continue
            sid = rec[id_col].strip() if len(rec) > id_col else ""
            who = f"source {sid}" if sid else f"row {index}"
            if len(rec) != len(header):
                rows.append(SpectrumRow(sid, None, None, f"{who}: row {index} (line {line_no}) has {len(rec)} fields, "
                                                         f"the header has {len(header)}"))
                continue
            values, problem = [], None
            for names, cols in ((FLUX_COLS, fi), (ERR_COLS, ei)):
                out = np.empty(len(cols))
                for k, c in enumerate(cols):
                    field = rec[c]
                    if not field.strip():
                        problem = f"{who}: {names[k]} is empty"
                        break
                    try:
                        out[k] = _number(field)
                    except ValueError:
                        shown = field if len(field) <= 40 else field[:40] + "..."
                        problem = f"{who}: {names[k]} = {shown!r} is not a number"
                        break
                if problem:
                    break
                values.append(out)
            if problem:
                rows.append(SpectrumRow(sid, None, None, problem))
            else:
                rows.append(SpectrumRow(sid, values[0], values[1]))
    if header is None:
        raise SpectraFileError(f"{path}: empty file, expected a header line")
    return rows


def write_spectra_csv(path, source_ids, flux, flux_error) -> None:
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source_id", *FLUX_COLS, *ERR_COLS])
        for sid, f, e in zip(source_ids, flux, flux_error):
            w.writerow([sid, *[repr(float(v)) for v in f], *[repr(float(v)) for v in e]])


def summary_header() -> list[str]:
    cols = ["source_id", "status", "message", "n_samples"]
    for name in params.NAMES:
        cols += [f"{name}_{k}" for k in PERCENTILES]
    return cols


def summary_row(source_id, summary: dict | None, n_samples: int, error: str | None = None) -> list[str]:
    if error is not None:
        return [source_id, "error", error.replace("\n", " "), ""] + [""] * (len(params.NAMES) * len(PERCENTILES))
    row = [source_id, "ok", "", str(n_samples)]
    for j in range(len(params.NAMES)):
        row += [repr(float(summary[k][j])) for k in PERCENTILES]
    return row


def write_summary_csv(path, rows: list[list[str]]) -> None:
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(summary_header())
        w.writerows(rows)


def samples_header() -> list[str]:
    return ["source_id", "draw", *params.NAMES]


def samples_rows(source_id, draws) -> list[list]:
    """The samples CSV rows of one source's ``draws`` (N, 7), draw 0..N-1."""
    return [[source_id, j, *[repr(float(v)) for v in d]] for j, d in enumerate(draws)]


def write_samples_csv(path, items) -> None:
    """``items``: iterable of (source_id, draws (N, 7))."""
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(samples_header())
        for sid, draws in items:
            w.writerows(samples_rows(sid, draws))


def read_summary_csv(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
