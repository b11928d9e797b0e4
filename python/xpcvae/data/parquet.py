"""Spectra as Parquet: the input of the Spark job (``org.xpcvae.spark.InferJob``; docs/scale.md).

One row per spectrum:

- ``source_id``: int64 when every id is a Gaia-style integer (decimal digits, below 2^63),
  else string;
- ``flux``, ``flux_error``: list<float32> of the 343 samples on the model's grid (the values
  the networks see: a CSV's numbers read as float64 and rounded to float32, as the Java CLI
  rounds them), null for a row that could not be read;
- ``read_error``: string, the reader's message for such a row (the job writes it as the row's
  error), null otherwise.

Rows are written in input order in row groups of :data:`ROW_GROUP_ROWS` spectra (about 11 MB),
so that Spark can split a large file into several partitions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xpcvae.atomic import atomic_path
from xpcvae.data.gaia_xp import READ_ERROR_COL, load_spectra
from xpcvae.data.spectra_csv import N_WAVE, SpectrumRow

#: spectra per Parquet row group
ROW_GROUP_ROWS = 4096
_MAX_INT64 = 2**63


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:  # a dependency of the package: only a broken install lacks it
        raise RuntimeError("pyarrow is not installed (pip install pyarrow)") from None
    return pyarrow, pyarrow.parquet


def integer_id(source_id: str) -> bool:
    """Whether ``source_id`` is a Gaia-style integer id: decimal digits only, value below 2^63."""
    return 0 < len(source_id) <= 19 and source_id.isascii() and source_id.isdigit() and int(source_id) < _MAX_INT64


def spectra_table(rows: list[SpectrumRow]):
    """The Parquet table of ``rows`` (layout in the module docstring)."""
    pa, _ = _pyarrow()
    ids = [str(r.source_id) for r in rows]
    long_ids = bool(ids) and all(integer_id(s) for s in ids)
    flux, flux_error, errors = [], [], []
    for r in rows:
        if r.error is not None or r.flux is None or r.flux_error is None:
            flux.append(None)
            flux_error.append(None)
            errors.append(r.error or f"source {r.source_id}: no spectrum")
            continue
        if len(r.flux) != N_WAVE or len(r.flux_error) != N_WAVE:
            raise ValueError(f"source {r.source_id}: {len(r.flux)} samples, the model's grid has {N_WAVE}")
        flux.append(np.asarray(r.flux, dtype=np.float64).astype(np.float32))
        flux_error.append(np.asarray(r.flux_error, dtype=np.float64).astype(np.float32))
        errors.append(None)
    floats = pa.list_(pa.float32())
    return pa.table({
        "source_id": pa.array([int(s) for s in ids] if long_ids else ids, type=pa.int64() if long_ids else pa.string()),
        "flux": pa.array(flux, type=floats),
        "flux_error": pa.array(flux_error, type=floats),
        READ_ERROR_COL: pa.array(errors, type=pa.string()),
    })


def write_spectra_parquet(path, rows: list[SpectrumRow]) -> dict:
    """Write ``rows`` to the Parquet file ``path`` atomically (a failed write leaves no file).

    Returns counts: ``rows``, ``read_errors`` and the ``source_id_type`` written.
    """
    _, pq = _pyarrow()
    table = spectra_table(rows)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, compression="snappy")
    return {"rows": table.num_rows, "read_errors": table.num_rows - table[READ_ERROR_COL].null_count,
            "source_id_type": str(table.schema.field("source_id").type)}


def read_spectra_parquet(path) -> list[SpectrumRow]:
    """The rows of a spectra Parquet file (any file of the layout above, float or double arrays)."""
    _, pq = _pyarrow()
    table = pq.read_table(path)
    missing = [c for c in ("source_id", "flux", "flux_error") if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: no column(s) {', '.join(missing)} (layout: docs/scale.md)")
    errors = table[READ_ERROR_COL].to_pylist() if READ_ERROR_COL in table.column_names else [None] * table.num_rows
    out = []
    for sid, f, e, err in zip(table["source_id"].to_pylist(), table["flux"].to_pylist(),
                              table["flux_error"].to_pylist(), errors):
        sid = "" if sid is None else str(sid)
        if err is not None or f is None or e is None:
            out.append(SpectrumRow(sid, None, None, err or f"source {sid}: no spectrum"))
        else:
            out.append(SpectrumRow(sid, np.asarray(f, dtype=np.float64), np.asarray(e, dtype=np.float64)))
    return out


def convert(source, out) -> dict:
    """``xpcvae to-parquet``: the spectra of ``source`` (project CSV or Gaia archive file, read by
    :func:`xpcvae.data.gaia_xp.load_spectra`) as a Parquet file ``out``; returns the counts."""
    out = Path(out)
    if out.suffix != ".parquet":
        raise ValueError(f"{out}: the output's name must end in .parquet")
    return write_spectra_parquet(out, load_spectra(source))
