"""The shared spectra-CSV grammar cases (tests/data/csv-grammar/cases.json) through the Python reader.

``CsvGrammarTest`` runs the same cases through the Java reader; both must give exactly the
outcome written in the file (docs/formats.md, "Spectra CSV grammar"). Each case is read twice:
line by line, and with the block fast path tried on every block (:mod:`xpcvae.data.spectra_fast`,
normally only for blocks of 1 MiB or more), so both paths are held to the grammar.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xpcvae.data import spectra_fast
from xpcvae.data.spectra_csv import SpectraFileError, read_spectra_csv

CORPUS = json.loads((Path(__file__).parent / "data" / "csv-grammar" / "cases.json").read_text(encoding="ascii"))
_TOKEN = re.compile(r"\\x([0-9a-fA-F]{2})|\\\\|\{H\}|\{repeat:([0-9]+):(.)\}", re.S)


def case_bytes(text: str, header: str) -> bytes:
    """A case's file (the corpus' "format.file" notation)."""
    out, pos = bytearray(), 0
    for m in _TOKEN.finditer(text):
        out += text[pos:m.start()].encode("utf-8")
        if m.group(1):
            out.append(int(m.group(1), 16))
        elif m.group(0) == "\\\\":
            out += b"\\"
        elif m.group(0) == "{H}":
            out += header.encode("utf-8")
        else:
            out += m.group(3).encode("utf-8") * int(m.group(2))
        pos = m.end()
    return bytes(out + text[pos:].encode("utf-8"))


def expected_float32(text: str) -> np.float32:
    """A value as the corpus writes it: hex float, nan, inf, or a decimal exact in float32."""
    value = float.fromhex(text) if "0x" in text else float(text)
    f = np.float32(value)
    assert np.isnan(f) or float(f) == value, f"corpus value {text} is not exact in float32"
    return f


def same_float32(got: np.ndarray, want: list[str]) -> bool:
    """Bit for bit, NaN included (every nan is the one quiet NaN, rule 14)."""
    g = np.asarray(got, dtype=np.float64).astype(np.float32)
    w = np.array([expected_float32(t) for t in want], dtype=np.float32)
    return bool(np.array_equal(g.view(np.uint32), w.view(np.uint32)))


def test_corpus_is_large_and_covers_each_outcome():
    cases = CORPUS["cases"]
    assert len(cases) >= 60
    rows = [r for c in cases for r in c.get("rows", [])]
    assert sum("file_error" in c for c in cases) >= 10
    assert sum("error" in r for r in rows) >= 40 and sum("flux" in r for r in rows) >= 30


@pytest.fixture(params=["lines", "blocks"])
def reading(request, monkeypatch):
    if request.param == "lines":
        monkeypatch.setattr(spectra_fast, "parse_block", lambda *a: None)
    else:
        monkeypatch.setattr(spectra_fast, "MIN_BYTES", 0)
    return request.param


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[c["name"] for c in CORPUS["cases"]])
def test_case(case, reading, tmp_path):
    f = tmp_path / "spectra.csv"
    f.write_bytes(case_bytes(case["file"], CORPUS["header"]))
    if "file_error" in case:
        with pytest.raises(SpectraFileError) as err:
            read_spectra_csv(f, n_wave=CORPUS["n_wave"])
        assert str(err.value) == f"{f}: {case['file_error']}"
        return
    rows = read_spectra_csv(f, n_wave=CORPUS["n_wave"])
    assert len(rows) == len(case["rows"]), [r.error for r in rows]
    for got, want in zip(rows, case["rows"]):
        assert got.source_id == want["source_id"]
        if "error" in want:
            assert (got.error, got.flux, got.flux_error) == (want["error"], None, None)
        else:
            assert got.error is None, got.error
            assert same_float32(got.flux, want["flux"]), (got.flux, want["flux"])
            assert same_float32(got.flux_error, want["flux_error"]), (got.flux_error, want["flux_error"])


# -- the fast path on files of real size --------------------------------------------------------------

def _large_file(path, layout: str, n: int = 120) -> None:
    """``n`` spectra in many spellings (about 2 MB: one block, read by the fast path)."""
    from xpcvae.data.spectra_csv import ERR_COLS, FLUX_COLS

    r = np.random.default_rng(5)
    flux = 1e-17 * (1.2 + np.sin(np.arange(343) / 40.0 + r.random((n, 1)) * 6)) * (1 + 0.05 * r.standard_normal((n, 343)))
    err = np.abs(0.03 * flux) + 1e-20
    cells = np.concatenate([flux, err], axis=1).astype(object)
    cells = np.vectorize(repr)(cells.astype(float)).astype(object)
    cells[1::7, 5] = [f"{v:.3e}" for v in flux[1::7, 5]]
    cells[2::7, 9] = "0"                       # zero: float32 0, read by the exact path (underflow?)
    cells[3::11, 400] = "-0.000"
    cells[4::13, 17] = "1e39"                   # overflow: the exact path gives the message
    cells[5::13, 18] = "1e-50"                  # underflow
    cells[6::9, 20] = "0000000001.25E-17"
    ids = [f"Gaia DR3 {4295806720 + i}" if i % 3 else f"s\u00e9{i}" for i in range(n)]
    names = ["source_id", *FLUX_COLS, *ERR_COLS]
    rows = [[sid, *c] for sid, c in zip(ids, cells)]
    if layout == "read_error last":
        names.append("read_error")
        rows = [row + ["" if i % 5 else f"BP missing {i}"] for i, row in enumerate(rows)]
    elif layout == "extra column first":
        names.insert(0, "ra")
        rows = [[f"{i * 0.5}"] + row for i, row in enumerate(rows)]
    text = "\r\n".join(",".join(row) for row in [names, *rows]) + "\r\n"
    path.write_bytes(text.encode("utf-8"))


@pytest.mark.parametrize("layout", ["canonical", "read_error last", "extra column first"])
def test_fast_path_reads_large_files_as_the_per_line_path(layout, tmp_path, monkeypatch):
    from xpcvae.data.spectra_csv import SpectraCsvReader

    f = tmp_path / "large.csv"
    _large_file(f, layout)
    assert f.stat().st_size > spectra_fast.MIN_BYTES
    used = []
    parse_block = spectra_fast.parse_block
    monkeypatch.setattr(spectra_fast, "parse_block", lambda *a: used.append(parse_block(*a)) or used[-1])

    def read():
        with SpectraCsvReader(f) as reader:
            cols = ("read_error", "ra")
            return list(reader.with_columns(*cols))

    fast = read()
    done = [b for b in used if b is not None]  # the fast path read the rows, the exact path its suspects
    assert sum(len(b.ids) for b in done) == 120 and sum(b.suspect.sum() for b in done) > 10
    monkeypatch.setattr(spectra_fast, "parse_block", lambda *a: None)
    slow = read()
    assert len(fast) == len(slow) == 120
    assert sum(r.error is not None for r, _ in fast) > 10
    for (a, ta), (b, tb) in zip(fast, slow):
        assert (a.source_id, a.error, ta) == (b.source_id, b.error, tb)
        if a.error is None:
            for x, y in ((a.flux, b.flux), (a.flux_error, b.flux_error)):
                assert np.array_equal(np.asarray(x).view(np.uint64), np.asarray(y).view(np.uint64))


def test_fast_path_agrees_with_the_java_reader(tmp_path):
    from xpcvae.tools import fuzz_readers

    f = tmp_path / "large.csv"
    _large_file(f, "canonical")
    java = fuzz_readers.java_rows(fuzz_readers.java_readers(), f, 343)
    py = fuzz_readers.python_rows(f, 343, fast=True)
    assert fuzz_readers.same(py, java)
    assert sum(e is not None for _, e, _ in java) > 10 and sum(e is None for _, e, _ in java) > 50


# -- lines across read boundaries ------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(content=st.binary(max_size=60).map(lambda b: b.translate(bytes.maketrans(bytes(range(256)), b"a \t\r\n" * 51 + b"a"))),
       read_size=st.integers(1, 9), limit=st.integers(1, 12), first=st.integers(0, 5))
# a long line ended by a \r\n that fills a read exactly, then an empty line: the \n opening the next
# read is that empty line's terminator, not the rest of the \r\n
@example(content=b"aaaa\r\n\n", read_size=2, limit=1, first=0)
def test_lines_do_not_depend_on_where_reads_end(content, read_size, limit, first):
    """blocks() gives rule 3's lines (and rule 6's long ones) whatever the read size: a \\r\\n split
    between two reads, a line longer than the limit across many reads, a last line unterminated."""
    import io

    from xpcvae.data import csv_grammar as g

    old = g.MAX_LINE_BYTES
    g.MAX_LINE_BYTES = limit
    try:
        fh = io.BytesIO(content[first:])
        got = []
        for b in g.blocks(fh, content[:first], read_size=read_size):
            if isinstance(b, g.LongLine):
                got.append(("long", b.blank))
            else:
                data, start, end = b
                got += [("long", g.is_blank(x)) if len(x) > limit else x for x in data[start:end].splitlines()]
    finally:
        g.MAX_LINE_BYTES = old
    want = [("long", g.is_blank(x)) if len(x) > limit else x for x in content.splitlines()]
    assert got == want
