"""Sub-command ``to-parquet``: spectra files as Parquet, the Spark job's input (docs/scale.md)."""

from __future__ import annotations

import time


def register(sub) -> None:
    p = sub.add_parser("to-parquet",
                       help="convert spectra (project CSV or Gaia archive XP file) to the Parquet input of the "
                            "Spark job")
    p.add_argument("input", help="spectra: the project CSV (docs/formats.md) or a Gaia archive XP continuous or "
                                 "sampled file (.csv/.ecsv/.fits)")
    p.add_argument("out", help="Parquet file to write (name ending in .parquet)")
    p.set_defaults(func=_to_parquet)


def _to_parquet(args) -> int:
    from xpcvae.data.parquet import convert

    t0 = time.time()
    counts = convert(args.input, args.out)
    print(f"xpcvae to-parquet: {counts['rows']} spectra ({counts['read_errors']} unreadable, kept with their "
          f"read_error), source_id {counts['source_id_type']} -> {args.out} ({time.time() - t0:.1f} s)")
    return 0
