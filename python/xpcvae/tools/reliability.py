"""Reliability figures: ``make reliability`` writes docs/reliability.md and the raw figures beside it.

    python -m xpcvae.tools.reliability --out docs/reliability.md [--bundle DIR] [--sources 100000]

A soak of the Java CLI (many sources, 8 threads sharing one sampler, damaged rows), the Python
batch path on the same kinds of damage, the attack catalogue (:mod:`xpcvae.tools.attack_catalogue`:
bad inputs, bad bundles, output paths, signals and odd options against both engines' command
lines) and the tests that cover each bad input; the report says what each figure means.
``--from-json`` rewrites the report from an earlier run's figures. The exit status is that of the
soak's and the batch path's checks; the catalogue's unexpected outcomes are listed in the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xpcvae.data.spectra_csv import read_summary_csv, write_spectra_csv
from xpcvae.tools import attack_catalogue
from xpcvae.tools.attack_cases import catalogue
from xpcvae.infer.batch import infer_csv
from xpcvae.tools.harness import (ROOT, busy_processes, java_classpath, java_executable, repo_relative,
                                  resolve_bundle, synthetic_spectra)
from xpcvae.tools.machine import cpu_model

#: the kinds of bad input row, with a part of the error message that names each
KINDS = {
    "nan_flux": "is not finite", "inf_flux": "is not finite", "negative_error": "is not positive",
    "zero_error": "is not positive", "all_zero_flux": "mean flux", "missing_field": "fields, the header has",
    "extra_field": "fields, the header has", "not_a_number": "is not a number", "empty_field": "is empty",
}


def run_soak(bundle: Path, sources: int, threads: int, samples: int, heap_mb: int) -> dict:
    """``org.xpcvae.Soak`` in a subprocess: the Java CLI over ``sources`` streamed spectra; its JSON figures."""
    cp = java_classpath()
    cmd = [java_executable(), f"-Xmx{heap_mb}m", "-cp", cp, "org.xpcvae.Soak", "--bundle", str(bundle),
           "--sources", str(sources), "--threads", str(threads), "--samples", str(samples)]
    print("$", " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"Soak failed ({proc.returncode}): {proc.stderr[-3000:]}")
    res = json.loads(proc.stdout)
    res["command"] = repo_relative(" ".join(cmd).replace(
        cp, "'java/build/install/xpcvae/lib/*:java/build/bench/xpcvae-bench.jar'"))
    return res


def python_memory(bundle: Path, tmp: Path, rows=(2000, 8000), samples: int = 100) -> dict:
    """Peak resident memory of ``xpcvae infer --engine python`` (a process each, the draws written too)
    on project CSVs of ``rows`` rows: the engine streams, so its peak does not grow with the rows. Both
    files are larger than the spectra reader's blocks (about 16 MB, 1100 rows), whose parsing sets the
    peak of a smaller file."""
    runs = []
    for n in rows:
        _, flux, sigma = synthetic_spectra(n, seed=13)
        src = tmp / f"mem-{n}.csv"
        write_spectra_csv(src, [f"m{i}" for i in range(n)], flux, sigma)
        cmd = [sys.executable, "-m", "xpcvae.cli", "infer", "--engine", "python", "--bundle", str(bundle),
               "--input", str(src), "--out", str(tmp / f"mem-{n}-summary.csv"), "--samples-out",
               str(tmp / f"mem-{n}-draws.csv"), "--samples", str(samples)]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT / "python")},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        runs.append({"rows": n, "samples": samples, "exit": proc.returncode, "seconds": time.perf_counter() - t0,
                     "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux: kilobytes
                     "draws_mb": (tmp / f"mem-{n}-draws.csv").stat().st_size / 2**20})
    return {"command": " ".join(["xpcvae infer --engine python", "--samples", str(samples), "--samples-out ..."]),
            "runs": runs}


def python_batch(bundle: Path, rows: int, tmp: Path) -> dict:
    """infer_csv over ``rows`` rows, every 7th damaged (cycling through :data:`KINDS`)."""
    _, flux, sigma = synthetic_spectra(rows, seed=11)
    ids = [f"py-{i}" for i in range(rows)]
    kinds = list(KINDS)
    damaged = {}
    for i in range(6, rows, 7):
        kind = kinds[(i // 7) % len(kinds)]
        damaged[i] = kind
        if kind == "nan_flux":
            flux[i, 100] = np.nan
        elif kind == "inf_flux":
            flux[i, 5] = -np.inf
        elif kind == "negative_error":
            sigma[i, 20] = -sigma[i, 20]
        elif kind == "zero_error":
            sigma[i, 300] = 0.0
        elif kind == "all_zero_flux":
            flux[i] = 0.0
    src = tmp / "py-in.csv"
    write_spectra_csv(src, ids, flux, sigma)
    lines = src.read_text().splitlines()
    for i, kind in damaged.items():
        f = lines[i + 1].split(",")
        if kind == "missing_field":
            f = f[:-1]
        elif kind == "extra_field":
            f = f + ["1.0"]
        elif kind == "not_a_number":
            f[18] = "1.2.3"
        elif kind == "empty_field":
            f[1 + 343 + 3] = ""
        lines[i + 1] = ",".join(f)
    src.write_text("\n".join(lines) + "\n")
    out = tmp / "py-summary.csv"
    t0 = time.perf_counter()
    ok, failed = infer_csv(bundle, src, out, n_samples=100, seed=42, progress=False)
    seconds = time.perf_counter() - t0
    got = read_summary_csv(out)
    caught = {k: 0 for k in kinds}
    unexpected = 0
    for i, r in enumerate(got):
        kind = damaged.get(i)
        if kind is None:
            unexpected += r["status"] != "ok" or r["source_id"] != ids[i]
        elif r["status"] == "error" and r["source_id"] == ids[i] and KINDS[kind] in r["message"] \
                and r["message"].startswith(f"source {ids[i]}: "):
            caught[kind] += 1
        else:
            unexpected += 1
    injected = {k: sum(1 for v in damaged.values() if v == k) for k in kinds}
    return {"rows": rows, "output_rows": len(got), "ok": ok, "failed": failed, "seconds": seconds,
            "injected": injected, "caught": caught, "unexpected_rows": unexpected,
            "leftover_files": sorted(p.name for p in tmp.iterdir() if p.name.startswith(".py-summary"))}


def write_report(res: dict, out: Path) -> None:
    """Write the Markdown report ``out`` from the raw figures ``res`` (the JSON written beside it)."""
    s, p = res["soak"], res["python"]
    rss = s["rss"]
    lines = [
        "# Reliability",
        "",
        f"Produced by `make reliability` (`{res['command']}`) on {res['date']}: {res['machine']}. Bundle: "
        f"`{res['bundle']['path']}` ({res['bundle']['what']}).",
        *(["", f"The machine was shared: {len(res['busy'])} other busy processes when the run started (in "
               "docs/reliability.json); wall times and rates here measure the share the run got, not the engines' "
               "speed."] if res.get("busy") else []),
        "",
        "## Soak: the Java CLI over {:,} sources".format(s["sources"]),
        "",
        f"One `xpcvae infer` run (in-process `Main.run`, input streamed through standard input, `--input -`) over "
        f"{s['sources']:,} spectra with **{s['threads']} worker threads sharing one `PosteriorSampler`**, "
        f"{s['samples_per_source']} draws per source, batches of {s['batch']}, heap capped at {s['max_heap_mb']} MB. "
        f"Every {s['inject_every']}th row is damaged, cycling through ten kinds of bad input.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| sources in / summary rows out | {s['sources']:,} / {s['output_rows']:,} |",
        f"| ok rows / error rows | {s['ok_rows']:,} / {s['error_rows']:,} |",
        f"| errors injected / caught (error row naming the source and the problem, at the right row) | "
        f"{s['injected_errors']} / {s['caught_errors']} |",
        f"| rows other than expected (an ok row where an error was injected or vice versa, wrong id, wrong message) | "
        f"{s['unexpected_rows']} |",
        f"| exit status (1 = some sources failed) / failure count reported | {s['exit_status']} / "
        f"{'yes' if s['reported_failure_count'] else 'no'}: `{s['cli_stderr_last_lines'][0]}` |",
        f"| sample of ok rows recomputed single-threaded through the API, bit-identical | "
        f"{s['single_thread_identical']} / {s['single_thread_checks']} |",
        f"| files left in the output directory | {', '.join(s['leftover_files'])} (no temporary file) |",
        f"| wall time / rate | {s['seconds']:.0f} s / {s['sources_per_s']:.0f} sources/s |",
        f"| resident memory (RSS) before loading | {s['rss_before_start_mb']:.0f} MB |",
        f"| RSS at 1 % / 25 % / 50 % / 75 % of the rows | {rss.get('at_1pct_rows_mb', float('nan')):.0f} / "
        f"{rss.get('at_25pct_rows_mb', float('nan')):.0f} / {rss.get('at_50pct_rows_mb', float('nan')):.0f} / "
        f"{rss.get('at_75pct_rows_mb', float('nan')):.0f} MB |",
        f"| RSS at the end / maximum | {rss['end_mb']:.0f} / {rss['max_mb']:.0f} MB |",
        "",
        "Errors injected and caught, by kind:",
        "",
        "| kind | injected | caught | message contains |",
        "|---|---|---|---|",
    ]
    for k, v in s["errors_by_kind"].items():
        lines.append(f"| {k} | {v['injected']} | {v['caught']} | `{v['expected_message']}` |")
    lines += [
        "",
        f"Resident memory rises while the JVM heap grows to its working size during the first rows and then stays "
        f"flat: {rss.get('at_25pct_rows_mb', float('nan')):.0f} MB at a quarter of the rows, "
        f"{rss['end_mb']:.0f} MB at the end ({rss['end_mb'] - rss.get('at_25pct_rows_mb', float('nan')):+.0f} MB over "
        f"the last {0.75 * s['sources']:,.0f} sources, i.e. nothing accumulates per source: ONNX Runtime tensors and "
        "results are closed after every run and the sampler's work buffers are pooled). RSS trace (seconds, MB, "
        "rows fed) in `docs/reliability.json`.",
        "",
        "## Python batch mode",
        "",
        f"`xpcvae.infer.batch.infer_csv` over {p['rows']} rows, every 7th damaged (nine kinds: the ten above but "
        f"invalid UTF-8): {p['output_rows']} summary rows out, {p['ok']} ok, {p['failed']} failed, "
        f"{sum(p['caught'].values())} of {sum(p['injected'].values())} injected errors caught as error rows naming "
        f"the source and the problem, {p['unexpected_rows']} unexpected rows, no temporary file left.",
        "",
        *(_memory_lines(res["python_memory"]) if "python_memory" in res else []),
        *(attack_catalogue.report_lines(res["catalogue"]) + [""] if "catalogue" in res else []),
        "## Bad inputs and where they are tested",
        "",
        "| bad input | Java (API and CLI) | Python |",
        "|---|---|---|",
        "| NaN or infinite flux / uncertainty | `Spectrum.validate` → `InvalidSpectrumException`; CLI error row "
        "(`RobustnessTest.eachBadRow…`, `SpectrumTest`, soak) | `check_spectrum` → `InvalidSpectrumError`; error row "
        "(`test_robustness.py::test_infer_csv_bad_rows…`, Hypothesis `test_check_spectrum…`) |",
        "| wrong number of samples (fields) in a row | error row `row i (line l) has n fields, the header has m` "
        "(`RobustnessTest`, `CsvTest`, soak) | the same message (`test_robustness.py`) |",
        "| zero or negative uncertainties | `… is not positive` (`RobustnessTest`, `SpectrumTest`, soak) | "
        "`… is not positive` (`test_robustness.py`) |",
        "| all-zero spectrum | `mean flux 0.0 is not positive (all-zero spectrum)` | `mean flux is 0 …` |",
        "| not a number, empty field, invalid UTF-8, overlong line | error row naming the column "
        "(`RobustnessTest`, fuzz) | error row (`test_robustness.py`, Hypothesis) |",
        "| missing header or columns, duplicate columns | `CsvFormatException`, exit 2, no output (`RobustnessTest`, "
        "`MainTest`, `CsvTest`) | `SpectraFileError` (`test_robustness.py::test_unusable_files`) |",
        "| truncated or corrupt ONNX file | checksum mismatch, or (checksum \"fixed\") `BundleException: ONNX Runtime "
        "cannot load …`, exit 2 (`ModelBundleTest.truncatedGraph`, `RobustnessTest.unusable…`) | `BundleError: "
        "cannot load …` (`test_robustness.py::test_bundle_of_another_version_or_corrupted`) |",
        "| manifest of another format version | `format_version 3 is not supported`, exit 2; format 1: the "
        "`xpcvae upgrade-bundle` message | the same words |",
        "| manifest edited, or its checksum file missing | `checksum mismatch for manifest.json (manifest.json.sha256 "
        "…, file …)` / `manifest.json.sha256 is missing`, exit 2 | the same words |",
        "| checksum mismatch | `checksum mismatch for <file>`, also when a file changes after loading | the same |",
        "| wavelength grid of the bundle ≠ the input's | the spectra CSV carries no wavelengths: flux_i is at "
        "336 + 2i nm by definition (docs/formats.md). The Java CLI refuses (exit 2) a bundle whose "
        "`wavelength_nm` differs from that grid by more than 0.001 nm at any sample, and both readers refuse a "
        "header with flux columns beyond the grid (`flux_343`, …) — `RobustnessTest.unusable…` | the reader refuses "
        "extra flux columns; `xpdata.load_spectra` refuses sampled spectra on another grid, and `infer_csv` refuses "
        "a bundle whose grid is not the input's (`test_bundle_on_another_wavelength_grid_is_refused`) |",
        "| interrupted run (SIGINT, SIGTERM, SIGHUP) | output written to a hidden `.name.*.partial` file and renamed "
        "on success; a shutdown hook deletes it and no rename happens after it (`RobustnessTest.interruptedRunLeaves"
        "NoOutput`, `OutputsTest.sigintLeavesNoOutput`, `OutputsTest.noRenameAfterTheShutdownBegan`); exit 130/143 | "
        "the signal unwinds the run, the temporary files are removed, exit 128 + the signal; `--engine java` "
        "forwards it to the JVM's process group and waits for it (`test_outputs.py::test_a_signal_stops_the_run…`, "
        "catalogue `sig*`) |",
        "| an output onto an input (`--out`/`--samples-out` = `--input` or a bundle file, also through a symbolic or "
        "hard link) or both outputs under one name | refused before any work, exit 2 (`OutputPaths`, `OutputsTest`) "
        "| the same rules and messages (`infer/output_paths.py`, `test_outputs.py`) |",
        "| an output that cannot be written (a directory, a file in the way, a full disk, a name too long) | "
        "`OutputException`: `cannot write the summary CSV <path>: <why>`; the summary and the draws appear together "
        "or not at all (`SummaryCsv.commit(SamplesCsv)`, `OutputsTest`) | `OutputError`, the same wording; "
        "`atomic.AtomicOutputs` (`test_outputs.py`) |",
        "| any source failed | exit status 1 and `k of n sources failed` on stderr | `xpcvae infer` exit status from "
        "`infer_csv`'s failure count |",
        "",
        "Concurrency: `ConcurrencyTest` (JUnit) — one sampler shared by 8 threads over 10 000 sources (20 draws, "
        "batches of 1–40 in reverse order) gives draws bit-identical to a single-threaded run. Fuzzing: "
        "`RobustnessTest.randomisedSpectraFilesGiveOnlyDocumentedOutcomes` (250 random files: damaged rows, random "
        "bytes, broken headers, mixed line ends) and `fuzzedFilesThroughTheCliKeepOneRowPerInputRow`; Hypothesis "
        "tests in `tests/test_robustness.py` (arbitrary bytes, damaged rows, random spectra for `check_spectrum`).",
        "",
        "## Commands",
        "",
        "```",
        "make reliability      # this report (and docs/reliability.json)",
        s["command"],
        "bash scripts/java_build.sh test                       # JUnit, incl. ConcurrencyTest, RobustnessTest, OutputsTest",
        ".venv/bin/python -m pytest -q tests/test_robustness.py tests/test_outputs.py tests/test_attack_catalogue.py",
        ".venv/bin/python -m xpcvae.tools.attack_catalogue     # the catalogue alone (--only NAME,..., --json FILE)",
        "```",
    ]
    out.write_text("\n".join(lines) + "\n")


def _memory_lines(m: dict) -> list[str]:
    small, large = m["runs"][0], m["runs"][-1]
    lines = ["Peak resident memory of the Python engine, a process per run (`" + m["command"] + "`; os.wait4's "
             "ru_maxrss), summary CSV and draws written as each row is drawn:", "",
             "| rows | exit | peak RSS | draws written | wall time |", "|---|---|---|---|---|"]
    lines += [f"| {r['rows']:,} | {r['exit']} | {r['peak_rss_mb']:.0f} MB | {r['draws_mb']:.1f} MB | "
              f"{r['seconds']:.0f} s |" for r in m["runs"]]
    return lines + ["", f"{large['rows'] / small['rows']:.0f} times the rows: peak RSS "
                        f"{large['peak_rss_mb'] - small['peak_rss_mb']:+.0f} MB "
                        f"(the draws file {large['draws_mb'] - small['draws_mb']:+.0f} MB). The peak is set at the "
                        "start (the forward model's grids, the first block of about 16 MB of the spectra file parsed); "
                        "a file smaller than a block peaks lower.", ""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xpcvae.tools.reliability", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="docs/reliability.md")
    ap.add_argument("--bundle", default=None)
    ap.add_argument("--sources", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--heap-mb", type=int, default=512)
    ap.add_argument("--python-rows", type=int, default=500)
    ap.add_argument("--from-json", default=None, metavar="JSON",
                    help="re-write the report from the raw figures of an earlier run (no measuring)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    if args.from_json:
        write_report(json.loads(Path(args.from_json).read_text()), out)
        print(f"wrote {args.out} from {args.from_json}", file=sys.stderr)
        return 0
    res = {"command": "python -m xpcvae.tools.reliability " + " ".join(argv if argv is not None else sys.argv[1:]),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "machine": f"{cpu_model()}, {os.cpu_count()} cores, {platform.platform()}", "busy": busy_processes()}
    with tempfile.TemporaryDirectory(prefix="xpcvae-reliability-") as tmpdir:
        tmp = Path(tmpdir)
        bundle, what = resolve_bundle(args.bundle, tmp)
        res["bundle"] = {"path": str(bundle.relative_to(ROOT)) if bundle.is_relative_to(ROOT) else str(bundle),
                         "what": what}
        res["soak"] = run_soak(bundle, args.sources, args.threads, args.samples, args.heap_mb)
        res["python"] = python_batch(bundle, args.python_rows, tmp)
        res["python_memory"] = python_memory(bundle, tmp)
        cases = catalogue()
        res["catalogue"] = attack_catalogue.summary(cases, attack_catalogue.run_catalogue(cases, bundle))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    write_report(res, out)
    s = res["soak"]
    ok = (s["output_rows"] == s["sources"] and s["unexpected_rows"] == 0 and s["caught_errors"] == s["injected_errors"]
          and s["single_thread_identical"] == s["single_thread_checks"] and res["python"]["unexpected_rows"] == 0
          and res["python"]["output_rows"] == res["python"]["rows"])
    print(f"wrote {out}: {'all checks passed' if ok else 'CHECKS FAILED'}; attack catalogue: "
          f"{res['catalogue']['passed']} of {res['catalogue']['runs']} runs as expected", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
