"""Speed and memory of the Python spectra-CSV reader against ``pandas.read_csv``.

    python -m xpcvae.tools.reader_speed [--rows 2817] [--repeat 7]

Writes a spectra CSV of ``--rows`` noisy model-like spectra the way the project writes them
(:func:`xpcvae.data.spectra_csv.write_spectra_csv`: ``repr`` floats, CRLF), then times, alternately,
:func:`~xpcvae.data.spectra_csv.read_spectra_csv` and ``pandas.read_csv(path, dtype={"source_id": str})``
(pandas imported beforehand, so neither pays for it) and reports the median and best of
``--repeat`` runs each, and their ratio. Memory (``--rss-rows N``): the peak resident set of a
fresh process that streams the rows of an N-row file (:class:`~xpcvae.data.spectra_csv.SpectraCsvReader`,
nothing kept), reads them all into a list, or reads the file with pandas.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def write_file(path: Path, rows: int, seed: int = 0) -> None:
    from xpcvae.data.spectra_csv import write_spectra_csv

    r = np.random.default_rng(seed)
    w = np.arange(343)
    flux = 1e-17 * (1.2 + np.sin(w / 40.0 + r.random((rows, 1)) * 6)) * (1 + 0.05 * r.standard_normal((rows, 343)))
    write_spectra_csv(path, [str(4295806720 + 17 * i) for i in range(rows)], flux, np.abs(0.03 * flux) + 1e-20)


def _child(mode: str, path: str) -> None:
    """Read ``path`` one way, then print the peak resident set size in MB."""
    import resource

    import pandas as pd

    from xpcvae.data.spectra_csv import SpectraCsvReader, read_spectra_csv

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode == "stream":
        with SpectraCsvReader(path) as reader:
            n = sum(1 for _ in reader)
    elif mode == "list":
        n = len(read_spectra_csv(path))
    else:
        n = len(pd.read_csv(path, dtype={"source_id": str}))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": n, "peak_mb": peak / 1024, "imports_mb": base / 1024}))


def peak_rss(rows: int) -> dict:
    """Peak resident set (MB) of a process streaming, listing or pandas-reading an ``rows``-row file."""
    import subprocess
    import sys

    out = {}
    with tempfile.TemporaryDirectory(prefix="xpcvae-reader-") as tmp:
        path = Path(tmp) / "spectra.csv"
        write_file(path, rows)
        out["file_mb"] = path.stat().st_size / 2**20
        for mode in ("stream", "list", "pandas"):
            res = subprocess.run([sys.executable, "-m", "xpcvae.tools.reader_speed", "--child", mode, str(path)],
                                 capture_output=True, text=True, check=True)
            out[mode] = json.loads(res.stdout)
    return out


def measure(rows: int = 2817, repeat: int = 7) -> dict:
    import pandas as pd

    from xpcvae.data.spectra_csv import read_spectra_csv

    with tempfile.TemporaryDirectory(prefix="xpcvae-reader-") as tmp:
        path = Path(tmp) / "spectra.csv"
        write_file(path, rows)
        read_spectra_csv(path)  # warm up: pandas' converter self-check, page cache
        ours, theirs = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            read_spectra_csv(path)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            pd.read_csv(path, dtype={"source_id": str})
            theirs.append(time.perf_counter() - t)

        size = path.stat().st_size
    med_ours, med_theirs = statistics.median(ours), statistics.median(theirs)
    return {"rows": rows, "file_mb": size / 2**20, "reader_s": {"median": med_ours, "best": min(ours)},
            "pandas_s": {"median": med_theirs, "best": min(theirs)},
            "ratio_median": med_ours / med_theirs, "ratio_best": min(ours) / min(theirs)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2817)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--rss-rows", type=int, default=0, help="also the peak memory of reading a file this long")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    out = measure(args.rows, args.repeat)
    if args.rss_rows:
        out["peak_rss"] = peak_rss(args.rss_rows)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
