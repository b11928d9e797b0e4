"""Spectra, summary and samples CSV files (layouts in docs/formats.md).

Row-level problems (a NaN flux, a missing value) do not stop a file: the row is
returned with its error so that batch output keeps one row per input row. A file
without the header or the expected columns is rejected as a whole.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import params
from .atomic import atomic_path
from .sampler import PERCENTILES

N_WAVE = 343
FLUX_COLS = [f"flux_{i}" for i in range(N_WAVE)]
ERR_COLS = [f"flux_error_{i}" for i in range(N_WAVE)]


class SpectraFileError(ValueError):
    """A spectra CSV is unusable as a whole (missing header or columns)."""


@dataclass(frozen=True)
class SpectrumRow:
    source_id: str
    flux: np.ndarray | None
    flux_error: np.ndarray | None
    error: str | None = None


def read_spectra_csv(path) -> list[SpectrumRow]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"spectra file {path} does not exist")
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise SpectraFileError(f"{path}: empty file, expected a header line")
        col = {name.strip(): i for i, name in enumerate(header)}
        missing = [c for c in ["source_id", *FLUX_COLS, *ERR_COLS] if c not in col]
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise SpectraFileError(f"{path}: header lacks column(s) {shown} (layout: docs/formats.md)")
        fi = [col[c] for c in FLUX_COLS]
        ei = [col[c] for c in ERR_COLS]
        rows = []
        for line_no, rec in enumerate(reader, start=2):
            if not rec or all(not c.strip() for c in rec):
                continue
            sid = rec[col["source_id"]].strip() if len(rec) > col["source_id"] else f"line{line_no}"
            if len(rec) != len(header):
                rows.append(SpectrumRow(sid, None, None,
                                        f"line {line_no} has {len(rec)} fields, header has {len(header)}"))
                continue
            try:
                flux = np.array([float(rec[i]) for i in fi])
                err = np.array([float(rec[i]) for i in ei])
            except ValueError as exc:
                rows.append(SpectrumRow(sid, None, None, f"line {line_no}: not a number ({exc})"))
                continue
            rows.append(SpectrumRow(sid, flux, err))
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


def write_samples_csv(path, items) -> None:
    """``items``: iterable of (source_id, draws (N, 7))."""
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source_id", "draw", *params.NAMES])
        for sid, draws in items:
            for j, d in enumerate(draws):
                w.writerow([sid, j, *[repr(float(v)) for v in d]])


def read_summary_csv(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))
