"""`xpcvae to-parquet`: spectra files as the Parquet input of the Spark job (docs/scale.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xpcvae.cli import main
from xpcvae.data.gaia_xp import load_spectra
from xpcvae.data.parquet import integer_id, read_spectra_parquet, write_spectra_parquet
from xpcvae.data.spectra_csv import N_WAVE, SpectrumRow

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "tests" / "data" / "gaia-archive"


def test_integer_ids_are_gaia_style_decimal_digits_below_2_63():
    assert integer_id("5853498713190525696") and integer_id("0") and integer_id("9223372036854775807")
    assert not integer_id("9223372036854775808")
    for s in ("", "-5", "+5", " 5", "5.0", "Gaia DR3 5853498713190525696", "١٢"):
        assert not integer_id(s), s


def test_project_csv_to_parquet_keeps_rows_ids_and_float32_values(tmp_path):
    out = tmp_path / "spectra.parquet"
    assert main(["to-parquet", str(ROOT / "examples" / "spectra.csv"), str(out)]) == 0
    table = pq.read_table(out)
    assert table.schema.field("source_id").type == pa.string()  # the examples have text ids
    assert table.schema.field("flux").type == pa.list_(pa.float32())
    assert table.schema.field("flux_error").type == pa.list_(pa.float32())
    rows = load_spectra(ROOT / "examples" / "spectra.csv")
    assert table["source_id"].to_pylist() == [r.source_id for r in rows]
    assert table["read_error"].null_count == len(rows)
    for r, f, e in zip(rows, table["flux"].to_pylist(), table["flux_error"].to_pylist()):
        # the float32 the Java CLI makes of the CSV's number: float64 rounded once
        assert np.array_equal(np.asarray(f, np.float32), r.flux.astype(np.float32))
        assert np.array_equal(np.asarray(e, np.float32), r.flux_error.astype(np.float32))


def test_integer_ids_are_written_as_int64_and_read_errors_are_kept(tmp_path):
    good = SpectrumRow("5853498713190525696", np.full(N_WAVE, 2.0), np.full(N_WAVE, 0.1))
    bad = SpectrumRow("42", None, None, "source 42: flux_3 is empty")
    info = write_spectra_parquet(tmp_path / "s.parquet", [good, bad])
    assert info == {"rows": 2, "read_errors": 1, "source_id_type": "int64"}
    table = pq.read_table(tmp_path / "s.parquet")
    assert table["source_id"].to_pylist() == [5853498713190525696, 42]
    assert table["flux"].to_pylist()[1] is None
    assert table["read_error"].to_pylist() == [None, "source 42: flux_3 is empty"]
    back = read_spectra_parquet(tmp_path / "s.parquet")
    assert back[0].source_id == "5853498713190525696" and back[0].error is None
    assert np.array_equal(back[0].flux, good.flux)
    assert back[1] == SpectrumRow("42", None, None, "source 42: flux_3 is empty")


def test_archive_file_with_a_missing_band_keeps_the_row_with_its_message(tmp_path):
    out = tmp_path / "archive.parquet"
    assert main(["to-parquet", str(ARCHIVE / "XP_CONTINUOUS_RAW_with_missing_BP.csv"), str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 3
    assert table.schema.field("source_id").type == pa.int64()
    errors = dict(zip(table["source_id"].to_pylist(), table["read_error"].to_pylist()))
    assert "no BP coefficients" in errors[5405570973190252288]
    assert sum(e is None for e in errors.values()) == 2
    assert all(f is None or len(f) == N_WAVE for f in table["flux"].to_pylist())


def test_bad_output_name_and_missing_input_are_errors(tmp_path, capsys):
    assert main(["to-parquet", str(ROOT / "examples" / "spectra.csv"), str(tmp_path / "x.csv")]) == 2
    assert "must end in .parquet" in capsys.readouterr().err
    assert main(["to-parquet", str(tmp_path / "missing.csv"), str(tmp_path / "x.parquet")]) == 2
    assert not (tmp_path / "x.parquet").exists()
    with pytest.raises(ValueError, match="344 samples"):
        write_spectra_parquet(tmp_path / "y.parquet", [SpectrumRow("1", np.ones(344), np.ones(344))])
    assert not (tmp_path / "y.parquet").exists()
