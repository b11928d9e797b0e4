"""The end-to-end figures of ``make bench``: their input files and how the report shows them (no timing here)."""

import csv

import numpy as np

from xpcvae.data.gaia_xp import load_spectra
from xpcvae.tools.bench_e2e import ARCHIVE_CONTINUOUS, write_archive_rows, write_project_rows
from xpcvae.tools.bench_report import _e2e_section, _e2e_summary_row


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_archive_rows_repeat_the_real_rows_under_distinct_source_ids(tmp_path):
    out = tmp_path / "archive.csv"
    write_archive_rows(out, 5)
    src, got = _rows(ARCHIVE_CONTINUOUS), _rows(out)
    assert len(got) == 5 and len({r["source_id"] for r in got}) == 5
    for i, r in enumerate(got):
        want = src[i % len(src)]
        assert int(r["source_id"]) == int(want["source_id"]) + i
        assert {k: v for k, v in r.items() if k != "source_id"} == {k: v for k, v in want.items() if k != "source_id"}
    spectra = load_spectra(out)  # the Python reader calibrates them like the originals
    assert [s.error for s in spectra] == [None] * 5


def test_project_rows_repeat_the_spectra(tmp_path):
    flux = np.arange(2 * 343, dtype=float).reshape(2, 343) + 1
    out = tmp_path / "project.csv"
    write_project_rows(out, flux, flux * 0.1, 3)
    got = _rows(out)
    assert [r["source_id"] for r in got] == ["e2e0", "e2e1", "e2e2"]
    assert got[2]["flux_0"] == got[0]["flux_0"] != got[1]["flux_0"]


def test_report_says_when_the_java_cli_cannot_read_the_archive_file():
    e = {"rows": 1000, "samples": 1000, "repeats": 3, "inputs": {
        "project_csv": {"java": {"seconds": 2.0, "cpu_seconds": 2.5}, "python": {"seconds": 5.0, "cpu_seconds": 5.1},
                        "python_over_java": 2.5, "commands": {"java": "xpcvae infer ...", "python": "xpcvae infer ..."}},
        "archive_continuous_csv": {"java": {"not_supported": "xpcvae infer: error: header lacks columns flux_0"},
                                   "python": {"seconds": 9.0, "cpu_seconds": 9.0},
                                   "commands": {"java": "j", "python": "p"}}}}
    row = _e2e_summary_row(e)
    assert "project CSV: 2.5×" in row and "archive XP continuous CSV: not supported by this build" in row
    assert row.endswith("| yes where measured |")
    text = "\n".join(_e2e_section(e))
    assert "| Gaia archive XP continuous CSV | not supported by this build | – | 9 s | 9 s | – |" in text
    assert "header lacks columns flux_0" in text
    e["inputs"]["project_csv"]["python_over_java"] = 1.5
    assert _e2e_summary_row(e).endswith("| no |")
