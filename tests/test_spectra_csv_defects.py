"""The defects an outside attack found in the two spectra-CSV readers, each checked where a user meets it.

The Python engine reads its input with :func:`xpcvae.data.gaia_xp.load_spectra`; the Java reader
is called through JPype (the jars of ``java/build/install/xpcvae/lib``) on the same files. The
expected outcomes are the grammar's (docs/formats.md, "Spectra CSV grammar"); the shared cases
of tests/data/csv-grammar cover each rule in both readers, these tests the engine paths.
Then a bounded differential fuzz of the two readers (``xpcvae.tools.fuzz_readers``, whose full
run of 100,000 lines belongs to ``make reliability``).
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from xpcvae.data.gaia_xp import is_project_csv, load_spectra
from xpcvae.data.spectra_csv import ERR_COLS, FLUX_COLS, N_WAVE, SpectraFileError
from xpcvae.tools import fuzz_readers

HEADER = ",".join(["source_id", *FLUX_COLS, *ERR_COLS]).encode()


def _values(flux0: str = "1.5") -> bytes:
    return ",".join([flux0] + ["1.5"] * (N_WAVE - 1) + ["0.25"] * N_WAVE).encode()


def _line(sid: str, flux0: str = "1.5") -> bytes:
    return sid.encode() + b"," + _values(flux0)


@pytest.fixture(scope="module")
def java():
    return fuzz_readers.java_readers()


def both(java, path):
    """The two readers' outcomes on ``path``, after checking that they agree."""
    py = fuzz_readers.python_rows(path, N_WAVE)
    jv = fuzz_readers.java_rows(java, path, N_WAVE)
    assert fuzz_readers.same(py, jv), (py if isinstance(py, str) else [r[:2] for r in py],
                                       jv if isinstance(jv, str) else [r[:2] for r in jv])
    return py


def test_byte_order_mark_is_read_by_the_python_engine(tmp_path, java):
    f = tmp_path / "excel.csv"
    f.write_bytes(b"\xef\xbb\xbf" + HEADER + b"\r\n" + _line("s1") + b"\r\n")
    assert is_project_csv(f)
    rows = load_spectra(f)  # was: not a recognised XP spectra layout (columns: \ufeffsource_id, ...)
    assert [(r.source_id, r.error) for r in rows] == [("s1", None)]
    assert both(java, f)[0][0] == "s1"


def test_invalid_utf8_early_and_late_is_an_error_row(tmp_path, java):
    f = tmp_path / "bytes.csv"
    lines = [_line(f"s{i}") for i in range(12)]
    lines[0] = lines[0].replace(b",1.5,", b",1.5\xff,", 1)     # within the first 8 KB
    lines[10] = lines[10].replace(b",0.25,", b",\xc3(,", 1)     # ~150 KB in
    f.write_bytes(HEADER + b"\n" + b"\n".join(lines) + b"\n")
    rows = load_spectra(f)  # was: UnicodeDecodeError for the whole run, naming no file
    assert len(rows) == 12
    assert rows[0].error == "source s0: the line is not valid UTF-8 (byte 0xff at offset 6) (row 0, line 2)"
    assert rows[10].error.startswith("source s10: the line is not valid UTF-8 (byte 0xc3 at offset ")
    assert rows[10].error.endswith(" (row 10, line 12)")
    assert all(r.error is None for i, r in enumerate(rows) if i not in (0, 10))
    both(java, f)


def test_invalid_utf8_in_the_header_names_the_file(tmp_path, java):
    f = tmp_path / "header.csv"
    f.write_bytes(HEADER.replace(b"flux_0", b"flux\xe9_0") + b"\n" + _line("s1") + b"\n")
    with pytest.raises(SpectraFileError) as err:
        load_spectra(f)
    assert str(err.value) == f"{f}: the header (line 1) is not valid UTF-8 (byte 0xe9 at offset 14)"
    assert both(java, f) == str(err.value)


@pytest.mark.parametrize("junk", [b"\x1a", b"\x00"])
def test_junk_lines_are_rows_in_both_engines(tmp_path, java, junk):
    f = tmp_path / "junk.csv"
    f.write_bytes(HEADER + b"\n" + _line("s0") + b"\n" + junk + b"\n" + _line("s2") + b"\n")
    rows = both(java, f)  # was: skipped by Java, a row in Python, shifting every later random stream
    assert [r[:2] for r in rows] == [("s0", None), ("", f"row 1 (line 3): the row has 1 field, the header has "
                                                        f"{1 + 2 * N_WAVE}"), ("s2", None)]
    assert [(r.source_id, r.error is None) for r in load_spectra(f)] == [("s0", True), ("", False), ("s2", True)]


@pytest.mark.parametrize("value, shown", [("1.5\u00a0", "'1.5\\xa0'"), ("\x011.5", "'\\x011.5'"),
                                          ("\u00a01.5", "'\\xa01.5'")])
def test_no_break_space_and_control_beside_a_number_are_refused_alike(tmp_path, java, value, shown):
    f = tmp_path / "nbsp.csv"
    f.write_bytes(HEADER + b"\n" + _line("s1", value) + b"\n")
    rows = both(java, f)
    assert rows[0][1] == f"source s1: flux_0 = {shown} is not a number (row 0, line 2)"


def test_long_leading_zeros_are_read_alike(tmp_path, java):
    f = tmp_path / "zeros.csv"
    f.write_bytes(HEADER + b"\n" + _line("s1", "0" * 200_000 + "1.5") + b"\n")
    rows = both(java, f)  # was: refused by Python's csv module (field larger than field limit)
    assert rows[0][1] is None and rows[0][2][0] == np.float32(1.5)


def test_a_line_beyond_the_limit_is_an_error_row_in_both(tmp_path, java):
    f = tmp_path / "long.csv"
    digits = b"0" * (4_500_000 - len(_values()))  # 4.5 million characters of valid numbers
    f.write_bytes(HEADER + b"\n" + b"s1," + digits + _values() + b"\n" + _line("s2") + b"\n")
    rows = both(java, f)  # was: an error in Java only
    assert [r[:2] for r in rows] == [("", "row 0 (line 2): the line is longer than 4194304 bytes"), ("s2", None)]


def test_empty_source_id_message(tmp_path, java):
    f = tmp_path / "noid.csv"
    f.write_bytes(HEADER + b"\n" + _line("s0") + b"\n" + _line("  ") + b"\n")
    rows = both(java, f)
    assert rows[1][:2] == ("", "row 1 (line 3): source_id is empty")  # was: "source : row 2 ..."


def test_overflow_is_named(tmp_path, java):
    f = tmp_path / "overflow.csv"
    f.write_bytes(HEADER + b"\n" + _line("s1", "1e309") + b"\n" + _line("s2", "-4e38") + b"\n")
    rows = both(java, f)  # was: Java read 1e308*10 as Infinity without saying it overflowed
    assert rows[0][1] == "source s1: flux_0 = '1e309' overflows float32 (rounds to infinity) (row 0, line 2)"
    assert rows[1][1] == "source s2: flux_0 = '-4e38' overflows float32 (rounds to infinity) (row 1, line 3)"


@pytest.mark.parametrize("name", ["spectra.csv.gz", "spectra.csv"])
def test_gzip_input_gets_a_hint(tmp_path, java, name):
    f = tmp_path / name
    f.write_bytes(gzip.compress(HEADER + b"\n" + _line("s1") + b"\n"))
    with pytest.raises(SpectraFileError) as err:
        load_spectra(f)  # was: a UnicodeDecodeError or "cannot tell the file format", naming no file
    assert str(err.value) == (f"{f}: is gzip-compressed (it starts with the bytes 1f 8b); "
                              f"decompress it first (e.g. gunzip)")
    assert both(java, f) == str(err.value)


def test_readers_agree_on_random_lines():
    """5,000 seeded random lines (valid rows, byte-level damage) and 50 random headers."""
    counts = fuzz_readers.run(5000, seed=2024)
    assert counts["disagreements"] == 0, counts["examples"]
    assert counts["lines"] == 5000 and counts["header_files"] == 50
    assert counts["ok_rows"] > 500 and counts["error_rows"] > 1000 and counts["file_errors"] > 10
    assert counts["tokens"] > 5000
