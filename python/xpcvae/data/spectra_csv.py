"""Spectra, summary and samples CSV files (layouts in docs/formats.md).

The spectra CSV is read by :class:`SpectraCsvReader` exactly as docs/formats.md ("Spectra CSV
grammar") says, the same as the Java reader (``org.xpcvae.SpectraCsv``): rows are streamed, a
problem in one row gives an error row naming the source (or row) and the problem, so that batch
output keeps one row per input row, and a file unusable as a whole raises
:class:`SpectraFileError` naming the file, before any row is read.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.data import csv_grammar as g
from xpcvae.forward.instrument import N_WAVE

#: the posterior percentiles of a summary row (column suffix -> percent), in column order
PERCENTILES = {"median": 50.0, "p16": 16.0, "p84": 84.0, "p2.5": 2.5, "p97.5": 97.5}
FLUX_COLS = [f"flux_{i}" for i in range(N_WAVE)]
ERR_COLS = [f"flux_error_{i}" for i in range(N_WAVE)]


class SpectraFileError(ValueError):
    """A spectra CSV is unusable as a whole (missing header or columns, another wavelength grid)."""


@dataclass(frozen=True)
class SpectrumRow:
    source_id: str
    flux: np.ndarray | None
    flux_error: np.ndarray | None
    error: str | None = None


_INDEXED = re.compile(r"flux_(?:error_)?([0-9]+)")


@dataclass(frozen=True)
class Layout:
    """Where a file's columns are (from its header) and how many samples a spectrum has."""

    n_wave: int
    n_fields: int
    id_col: int
    flux_cols: tuple[int, ...]
    err_cols: tuple[int, ...]
    names: tuple[str, ...]

    @property
    def value_cols(self) -> tuple[int, ...]:
        """The value columns in the order they are checked: flux_0 ... then flux_error_0 ..."""
        return self.flux_cols + self.err_cols

    def column(self, name: str) -> int | None:
        return self.names.index(name) if name in self.names else None


def _layout(path: Path, names: list[str], n_wave: int) -> Layout:
    """The header's columns, or the file error of rule 11."""
    flux, err = [f"flux_{i}" for i in range(n_wave)], [f"flux_error_{i}" for i in range(n_wave)]
    col: dict[str, int] = {}
    for i, name in enumerate(names):
        col.setdefault(name, i)
    missing = [c for c in ["source_id", *flux, *err] if c not in col]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise SpectraFileError(f"{path}: header lacks column{'s' if len(missing) > 1 else ''} {shown} (expected "
                               f"source_id,flux_0,...,flux_{n_wave - 1},flux_error_0,...,flux_error_{n_wave - 1}; "
                               f"docs/formats.md)")
    required = {"source_id", *flux, *err}
    seen = set()
    for name in names:
        if name in seen and name in required:
            raise SpectraFileError(f"{path}: header has column {name} more than once")
        seen.add(name)
    top = max((int(m.group(1)) for m in map(_INDEXED.fullmatch, names) if m), default=-1)
    if top >= n_wave:
        raise SpectraFileError(
            f"{path}: header has flux columns up to index {top} ({top + 1} samples per spectrum), the model's "
            f"wavelength grid has {n_wave} (336-1020 nm in steps of 2 nm): the spectra are on another wavelength grid")
    return Layout(n_wave, len(names), col["source_id"], tuple(col[c] for c in flux), tuple(col[c] for c in err),
                  tuple(names))


class SpectraCsvReader:
    """A spectra CSV read as a stream of :class:`SpectrumRow` (docs/formats.md, "Spectra CSV grammar").

    ::

        with SpectraCsvReader(path) as reader:   # reads the header: SpectraFileError here or never
            for row in reader:                   # one row per non-blank data line, in file order
                ...

    Memory is bounded by a few blocks of about 16 MB, whatever the file's size. Rows come in
    order; a row's index in the iteration is its row number (its random stream). ``n_wave``:
    samples per spectrum (343; the shared grammar cases use fewer). :meth:`with_columns` also
    gives the text of extra columns.
    """

    def __init__(self, path, n_wave: int = N_WAVE):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"spectra file {self.path} does not exist")
        if self.path.is_dir():
            raise SpectraFileError(f"{self.path}: is a directory, expected a spectra file")
        self._fh = open(self.path, "rb")
        try:
            self._row = 0  # rows yielded so far
            self.layout = self._read_header(n_wave)  # also sets the lines consumed so far, self._line
        except BaseException:
            self._fh.close()
            raise
        self.header = list(self.layout.names)

    def _read_header(self, n_wave: int) -> Layout:
        names, self._line, self._pending, self._blocks = _find_header(self.path, self._fh)
        if names is None:
            raise SpectraFileError(f"{self.path}: no header line (the file is empty or blank; expected source_id,"
                                   f"flux_0,...,flux_{n_wave - 1},flux_error_0,...,flux_error_{n_wave - 1})")
        return _layout(self.path, names, n_wave)

    # -- rows ---------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[SpectrumRow]:
        for row, _ in self._rows(()):
            yield row

    def with_columns(self, *names: str) -> Iterator[tuple[SpectrumRow, tuple[str, ...]]]:
        """Each row with the (trimmed) text of the columns ``names`` ("" where the row has no such
        value: no such column, or a line that could not be split or decoded)."""
        cols = tuple(self.layout.column(n) for n in names)
        return self._rows(cols)

    def _rows(self, extra: tuple[int | None, ...]) -> Iterator[tuple[SpectrumRow, tuple[str, ...]]]:
        from xpcvae.data import spectra_fast

        blocks = self._blocks
        if self._pending:
            blocks = _chain(self._pending, blocks)
            self._pending = None
        for block in blocks:
            if isinstance(block, g.LongLine):
                self._line += 1
                if not block.blank:
                    yield self._error(None, f"the line {g.TOO_LONG}"), ("",) * len(extra)
                continue
            fast = spectra_fast.parse_block(*block, self.layout, extra)
            data, start, end = block
            if fast is not None:
                lines = data[start:end].splitlines() if fast.suspect.any() else None
                for i, sid in enumerate(fast.ids):
                    self._line += 1
                    if fast.suspect[i]:  # a value may overflow or underflow float32: the exact path says
                        yield self._parse_line(lines[i], extra)
                        continue
                    self._row += 1
                    yield SpectrumRow(sid, fast.flux[i], fast.flux_error[i]), tuple(e[i] for e in fast.extra)
                continue
            for line in data[start:end].splitlines():
                self._line += 1
                if not g.is_blank(line):
                    yield self._parse_line(line, extra)

    def _error(self, sid: str | None, problem: str) -> SpectrumRow:
        """An error row; ``sid``: the source_id when it is known (rule 13)."""
        r, line = self._row, self._line
        self._row += 1
        if sid is None:
            return SpectrumRow("", None, None, f"row {r} (line {line}): {problem}")
        return SpectrumRow(sid, None, None, f"source {sid}: {problem} (row {r}, line {line})")

    def _parse_line(self, line: bytes, extra: tuple[int | None, ...] = ()) -> tuple[SpectrumRow, tuple[str, ...]]:
        """One non-blank data line (its terminator removed) as the next row (rule 12)."""
        lay = self.layout
        none = ("",) * len(extra)
        if len(line) > g.MAX_LINE_BYTES:
            return self._error(None, f"the line {g.TOO_LONG}"), none
        try:
            fields = g.split_fields(line)
        except g.LineSyntaxError as exc:
            return self._error(None, str(exc)), none
        sid = None
        if lay.id_col < len(fields):
            try:
                candidate = g.trim(fields[lay.id_col]).decode("utf-8")
            except UnicodeDecodeError:
                candidate = ""
            if g.source_id_problem(candidate) is None:
                sid = candidate
        problem = g.utf8_problem(line)
        if problem:
            return self._error(sid, f"the line {problem}"), none
        texts = tuple("" if c is None or c >= len(fields) else g.trim(fields[c]).decode("utf-8") for c in extra)
        if len(fields) != lay.n_fields:
            return self._error(sid, f"the row has {len(fields)} field{'s' if len(fields) != 1 else ''}, the "
                                    f"header has {lay.n_fields}"), texts
        if sid is None:
            return self._error(None, g.source_id_problem(g.trim(fields[lay.id_col]).decode("utf-8"))), texts
        if b" " in line or b"\t" in line:
            values = [g.trim(fields[c]) for c in lay.value_cols]
        else:
            values = [fields[c] for c in lay.value_cols]
        values, bad, problem = g.read_values(values)
        if problem:
            column = f"flux_{bad}" if bad < lay.n_wave else f"flux_error_{bad - lay.n_wave}"
            return self._error(sid, f"{column} {problem}"), texts
        self._row += 1
        return SpectrumRow(sid, values[:lay.n_wave], values[lay.n_wave:]), texts

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "SpectraCsvReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _chain(first: bytes, rest):
    yield first
    yield from rest


def iter_spectra_csv(path, n_wave: int = N_WAVE) -> Iterator[SpectrumRow]:
    """The rows of a spectra CSV, streamed (the header is read, and a file error raised, at the
    first ``next()``); the file is closed when the iteration ends or the generator is closed."""
    with SpectraCsvReader(path, n_wave) as reader:
        yield from reader


def read_spectra_csv(path, n_wave: int = N_WAVE) -> list[SpectrumRow]:
    """All rows of a spectra CSV (:class:`SpectraCsvReader`), one per non-blank data line, in order.

    A file unusable as a whole raises :class:`SpectraFileError` naming the file (no other
    exception for any file content); every other problem is an error row.
    """
    with SpectraCsvReader(path, n_wave) as reader:
        return list(reader)


def read_header(path) -> list[str]:
    """The column names of a CSV file's header line under the spectra-CSV grammar (rules 1-10:
    signatures, byte-order mark, blank lines, line length, quoting, UTF-8)."""
    path = Path(path)
    with open(path, "rb") as fh:
        names = _find_header(path, fh, first_read=1 << 16)[0]
    if names is None:
        raise SpectraFileError(f"{path}: no header line (the file is empty or blank)")
    return names


def _find_header(path: Path, fh, first_read: int = g.READ_SIZE):
    """(column names or None if the file has no non-blank line, the header's line number, the span
    of the lines after it in its block, the blocks after that) of the binary file ``fh`` (rules 1-10)."""
    first = fh.read(first_read)
    problem = g.signature_problem(first)
    if problem:
        raise SpectraFileError(f"{path}: {problem}")
    blocks = g.blocks(fh, first[len(g.BOM):] if first.startswith(g.BOM) else first)
    line_no = 0
    for block in blocks:
        if isinstance(block, g.LongLine):
            line_no += 1
            if block.blank:
                continue
            raise SpectraFileError(f"{path}: the header (line {line_no}) {g.TOO_LONG}")
        data, pos, end = block
        while pos < end:
            line, pos = g.next_line(data, pos, end)
            line_no += 1
            if g.is_blank(line):
                continue
            where = f"{path}: the header (line {line_no})"
            if len(line) > g.MAX_LINE_BYTES:
                raise SpectraFileError(f"{where} {g.TOO_LONG}")
            try:
                fields = g.split_fields(line)
            except g.LineSyntaxError as exc:
                raise SpectraFileError(f"{where}: {exc}") from None
            problem = g.utf8_problem(line)
            if problem:
                raise SpectraFileError(f"{where} {problem}")
            return [g.trim(f).decode("utf-8") for f in fields], line_no, (data, pos, end), blocks
    return None, line_no, None, blocks


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
