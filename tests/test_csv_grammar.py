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
