"""Throughput of the Spark job against the Java CLI on the same spectra; prints JSON.

    python -m xpcvae.tools.spark_bench [--n 20000] [--samples 1000] [--bundle export/default]
                                       [--out FILE.json] [--docs] [--quick] [--shuffle]

``make bench`` runs it with ``--out docs/spark-bench.json --docs`` after the sampler benchmark
(``make spark-bench``: alone); ``--docs`` writes its section into docs/performance.md and
docs/scale.md (:mod:`xpcvae.tools.spark_bench_report`); ``--quick`` (1000 spectra, 200 draws) is
a smoke test of the harness.

On the same N noisy forward-model spectra (:func:`xpcvae.tools.harness.synthetic_spectra`, source
ids 0..N-1; both engines key a source's draws by its id):

* the Java CLI (``xpcvae infer``, batches of 64) with 1 and 2 threads;
* the Spark job (``org.xpcvae.spark.InferJob`` through ``xpcvae-spark-local``) on ``local[1]`` and
  ``local[2]``, the input read as ``--partitions`` row groups, one partition each (``--shuffle``:
  the job's ``--partitions``, a repartition, instead);
* the CLI (1 and 2 threads) and the job (``local[1]`` and ``local[2]``) once more on the first 200
  spectra: their fixed CPU cost per run apart from the CPU cost per spectrum (1 thread/core), and
  each configuration's marginal (steady-state) rate, the fixed cost cancelled (:func:`marginal_rates`;
  the targets stay judged on the N-spectrum runs);
* whether the ``local[2]`` output equals the CLI's summary, value for value;
* input bytes per spectrum: the Parquet of ``xpcvae to-parquet`` against the project CSV, and
  output bytes per spectrum;
* the target ratios projected for dedicated cores from the CPU costs, and an extrapolation to
  220 million spectra on N executor cores from the measured per-core cost and 1 -> 2 core
  scaling (both labelled as such, with their assumptions).

Rates are spectra per second of the run as the engine itself times it (CLI: bundle loading,
sampling and writing; job: driver bundle check, the Spark job with the executors' bundle
loading, the commit), and end to end (process start to exit, with the JVM's and Spark's start).
Each configuration runs once, in a fresh JVM. The CPU time of each run (user + system, all its
threads) is recorded too, with the cores it got on average (CPU time / wall time) and the
machine's load averages before it: on a machine busy with other work the wall-clock rates and
their ratios measure the share a run got as much as the engine, while CPU time per source does
not depend on it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xpcvae.tools.machine import cpu_model

ROOT = Path(__file__).resolve().parents[3]
CLI = ROOT / "java" / "build" / "install" / "xpcvae" / "bin" / "xpcvae"
SPARK_LOCAL = ROOT / "java" / "spark" / "build" / "install" / "xpcvae-spark" / "bin" / "xpcvae-spark-local"
#: the launcher's class-data archive (java/spark/build.gradle, task classArchive); used when present
SPARK_CLASS_ARCHIVE = SPARK_LOCAL.parents[1] / "lib" / "xpcvae-spark.jsa"
GAIA_DR3_SOURCES = 220_000_000
#: spectra of the runs that measure the fixed cost of a run
SMALL = 200
CORES = (64, 256, 1024, 4096)

_CLI_LINE = re.compile(r"xpcvae infer: (\d+) sources, \d+ samples each, ([\d.]+) s \(([\d.]+) s sampling, "
                       r"([\d.]+) s loading\)")
_JOB_LINE = re.compile(r"xpcvae-spark: (\d+) rows \((\d+) ok, (\d+) error\) in ([\d.]+) s")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd, env=None) -> tuple[subprocess.CompletedProcess, dict]:
    """Runs ``cmd``; its wall time, CPU time (user + system, all its threads) and the load before."""
    load = _load()
    cpu0 = _cpu_children()
    t0 = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    cpu = _cpu_children() - cpu0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    # cores_used: the CPU the process got on average; on a busy machine far below its threads
    return proc, {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "cores_used": round(cpu / wall, 3),
                  "load_before": load}


def run_cli(bundle: Path, csv: Path, out: Path, samples: int, threads: int) -> dict:
    proc, t = _run([CLI, "infer", "--bundle", bundle, "--input", csv, "--out", out, "--samples", samples,
                    "--threads", threads, "--batch", 64])
    m = _CLI_LINE.search(proc.stderr)
    if not m:
        raise SystemExit(f"no timing line in the CLI's output:\n{proc.stderr[-2000:]}")
    n, total, sampling = int(m.group(1)), float(m.group(2)), float(m.group(3))
    return {"engine": "java-cli", "threads": threads, "sources": n, "run_s": total, "sampling_s": sampling, **t,
            "rate": n / total, "rate_end_to_end": n / t["wall_s"], "cpu_ms_per_source": 1e3 * t["cpu_s"] / n}


def split_parquet(parquet: Path, out: Path, partitions: int) -> int:
    """``parquet`` rewritten in ``partitions`` row groups of equal rows (the same values and
    encoding); returns the split size that makes Spark read one row group per partition, without
    the shuffle of a ``--partitions`` repartition."""
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    pq.write_table(table, out, row_group_size=math.ceil(table.num_rows / partitions), compression="snappy")
    return math.ceil(out.stat().st_size / partitions)


def run_spark(bundle: Path, parquet: Path, out: Path, samples: int, cores: int, partitions: int,
              split_bytes: int | None = None) -> dict:
    """The job on ``local[cores]``. With ``split_bytes`` (:func:`split_parquet`), Spark reads the
    input as its row groups (``spark.sql.files.maxPartitionBytes``), ``partitions`` of them; else the
    job repartitions it into ``partitions`` (a shuffle)."""
    opts = os.environ.get("XPCVAE_SPARK_JAVA_OPTS", "-Xmx2g")
    if split_bytes:
        opts += f" -Dspark.sql.files.maxPartitionBytes={split_bytes}"
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", XPCVAE_SPARK_JAVA_OPTS=opts)
    proc, t = _run([SPARK_LOCAL, "--master", f"local[{cores}]", "--bundle", bundle, "--input", parquet,
                    "--output", out, "--samples", samples, "--partitions", 0 if split_bytes else partitions,
                    "--batch", 64], env)
    m = _JOB_LINE.search(proc.stderr)
    if not m:
        raise SystemExit(f"no result line in the job's output:\n{proc.stderr[-2000:]}")
    n, job = int(m.group(1)), float(m.group(4))
    return {"engine": "spark", "master": f"local[{cores}]", "cores": cores, "partitions": partitions,
            "partitioning": "row groups" if split_bytes else "repartition (shuffle)", "sources": n,
            "run_s": job, **t, "rate": n / job, "rate_end_to_end": n / t["wall_s"],
            "cpu_ms_per_source": 1e3 * t["cpu_s"] / n}


def same_as_cli(cli_csv: Path, parquet_dir: Path) -> dict:
    """Whether every value of the job's output equals the CLI's summary (empty CSV field = null)."""
    import pyarrow.parquet as pq

    from xpcvae.data.spectra_csv import read_summary_csv

    table = pq.read_table(parquet_dir)
    job = {str(r["source_id"]): r for r in table.to_pylist()}
    cli = read_summary_csv(cli_csv)
    differ = []
    for row in cli:
        j = job.get(row["source_id"])
        if j is None:
            differ.append(f"{row['source_id']}: missing")
            continue
        for col, text in row.items():
            v = j[col]
            same = (v is None) if text == "" else (str(v) == text if isinstance(v, (str, int)) and col != "gof_chi2"
                                                   else float(text) == v)
            if not same:
                differ.append(f"{row['source_id']}.{col}: {text!r} vs {v!r}")
    return {"rows_cli": len(cli), "rows_job": table.num_rows, "identical": not differ and len(cli) == table.num_rows,
            "differences": differ[:10]}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.glob("part-*"))
    return path.stat().st_size


def marginal_rates(runs: list[dict], small: dict) -> dict:
    """The steady-state rate of each configuration: the spectra the long run sampled beyond the
    short run's over the extra run time, (N - n) / (t_N - t_n), from the engine's own timings
    (``run_s``; end to end from the wall times). The fixed cost of a run (bundle loading, Spark's
    planning, class loading and JIT compilation) cancels. Reported beside the targets, which stay
    judged on the N-spectrum runs' rates."""
    # (engine, threads or cores) -> the short run's key in ``small``, the configuration's name
    configurations = {("java-cli", 1): ("java-cli", "java-cli 1 thread"),
                      ("java-cli", 2): ("java-cli-2", "java-cli 2 threads"),
                      ("spark", 1): ("spark", "spark local[1]"), ("spark", 2): ("spark-2", "spark local[2]")}
    rates, end_to_end = {}, {}
    for r in runs:
        small_key, name = configurations[(r["engine"], r.get("threads", r.get("cores")))]
        short = small.get(small_key)
        if short is None:
            continue
        extra = r["sources"] - short["sources"]
        rates[name] = extra / (r["run_s"] - short["run_s"])
        end_to_end[name] = extra / (r["wall_s"] - short["wall_s"])
    out = {"kind": "marginal (steady-state) rates from two run lengths, not the targets' rates",
           "runs": f"{small['spark']['sources']} and {runs[0]['sources']} spectra",
           "rate": rates, "rate_end_to_end": end_to_end}
    if "spark local[1]" in rates and "spark local[2]" in rates:
        out["spark_local1_to_local2"] = rates["spark local[2]"] / rates["spark local[1]"]
    if "java-cli 1 thread" in rates and "java-cli 2 threads" in rates:
        out["cli_1_to_2_threads"] = rates["java-cli 2 threads"] / rates["java-cli 1 thread"]
    return out


def extrapolate(result: dict) -> dict:
    """220 million spectra on N executor cores, from this run's measurements: the job's CPU time
    per spectrum (marginal, local[1]: a dedicated core's cost, whatever share of this machine the
    run got), its fixed CPU cost per run (paid once per executor), and the parallel efficiency
    from local[1]'s CPU time per spectrum against local[2]'s."""
    cost = result["cpu_fixed_and_per_source"]["spark"]
    per_source_s = cost["marginal_cpu_ms_per_source"] / 1e3
    local2 = next(r for r in result["runs"] if r["engine"] == "spark" and r["cores"] == 2)
    per_source_local2_s = (local2["cpu_s"] - cost["fixed_cpu_s"]) / local2["sources"]
    efficiency = min(per_source_s / per_source_local2_s, 1.0)
    executor_cores = 4
    hours = {}
    for n in CORES:
        hours[str(n)] = (GAIA_DR3_SOURCES * per_source_s / (n * efficiency) + cost["fixed_cpu_s"]) / 3600
    return {
        "kind": "extrapolation, not a measurement",
        "sources": GAIA_DR3_SOURCES,
        "assumptions": [
            "each executor core samples at the job's CPU time per spectrum measured here (local[1], the "
            "benchmark's draws per source, one ONNX Runtime intra-op thread per task, the job's row "
            "handling included) on a core of this CPU type, all its own",
            f"each executor ({executor_cores} cores) pays the measured fixed cost of a run once (JVM and "
            "Spark start, bundle loading)",
            "parallel efficiency = local[1]'s CPU time per spectrum / local[2]'s, the fixed cost taken off "
            "both (the work added by task threads sharing one sampler); the wall-clock scaling could not "
            "be measured on this busy 2-core machine",
            "reading the input (Parquet, measured bytes per spectrum) and writing the output are not the "
            "bottleneck, and no task is lost or retried",
            "partitions are many more than cores (tens of thousands of spectra each), so the tail is short",
        ],
        "core_seconds_per_source": per_source_s,
        "core_hours_total": GAIA_DR3_SOURCES * per_source_s / efficiency / 3600,
        "parallel_efficiency": efficiency,
        "input_bytes": GAIA_DR3_SOURCES * result["bytes_per_spectrum"]["input_parquet"],
        "output_bytes": GAIA_DR3_SOURCES * result["bytes_per_spectrum"]["output_parquet"],
        "hours_on_n_cores": hours,
    }


def project_dedicated(result: dict) -> dict:
    """The wall-clock ratios the targets ask for, projected (not measured) for dedicated cores from
    the CPU costs measured here, which a busy machine changes much less than the wall clock: a run
    on c cores takes fixed + n * marginal * sharing / c seconds, where fixed and marginal are the
    engine's fixed CPU cost per run and CPU cost per spectrum (1 thread/core), and sharing the CPU
    time per spectrum with 2 threads/cores over that with 1 (the fixed cost taken off both)."""
    cost, n = result["cpu_fixed_and_per_source"], result["spectra"]
    cpu = {(r["engine"], r.get("threads", r.get("cores"))): r["cpu_s"] for r in result["runs"]}
    times, large_n = {}, {}
    for engine in ("java-cli", "spark"):
        fixed, marginal = cost[engine]["fixed_cpu_s"], cost[engine]["marginal_cpu_ms_per_source"] / 1e3
        sharing = (cpu[(engine, 2)] - fixed) / (cpu[(engine, 1)] - fixed)
        times[engine] = {c: fixed + n * marginal * (sharing if c == 2 else 1.0) / c for c in (1, 2)}
        large_n[engine] = {c: marginal * (sharing if c == 2 else 1.0) / c for c in (1, 2)}
    return {
        "kind": "projection from CPU costs, not a measurement",
        "assumptions": "dedicated cores; the fixed cost (JVM and, for the job, Spark's start, class loading, JIT "
                       "and code generation, bundle loading) paid serially, end to end (process start to exit)",
        "spark_local2_over_cli_2_threads": times["java-cli"][2] / times["spark"][2],
        "spark_local1_to_local2": times["spark"][1] / times["spark"][2],
        "large_n_spark_local2_over_cli_2_threads": large_n["java-cli"][2] / large_n["spark"][2],
        "large_n_spark_local1_to_local2": large_n["spark"][1] / large_n["spark"][2],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=str(ROOT / "export" / "default"))
    ap.add_argument("--n", type=int, default=None, help="spectra (default 20000; 1000 with --quick)")
    ap.add_argument("--samples", type=int, default=None,
                    help="posterior draws per source (default 1000; 200 with --quick)")
    ap.add_argument("--partitions", type=int, default=0,
                    help="partitions of the job's input (default: one per 1000 spectra, at least 8)")
    ap.add_argument("--shuffle", action="store_true",
                    help="spread the input with the job's --partitions (a shuffle) rather than reading it as "
                         "that many row groups")
    ap.add_argument("--quick", action="store_true",
                    help="1000 spectra, 200 draws: a smoke test of the harness (its ratios mean little)")
    ap.add_argument("--work", default=None, help="working directory (default: a temporary one, removed)")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    ap.add_argument("--docs", action="store_true",
                    help="also write the figures into docs/performance.md (appended section) and docs/scale.md")
    ap.add_argument("--from-json", default=None,
                    help="re-derive the extrapolation (and with --docs the doc sections) from an earlier run's JSON")
    args = ap.parse_args(argv)
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
        result["extrapolation"] = extrapolate(result)
        result["projection_dedicated_cores"] = project_dedicated(result)
        result["extrapolation"]["derived_by"] = f"python -m xpcvae.tools.spark_bench --from-json {args.from_json}"
        return _emit(result, args.out, args.docs)
    n = args.n or (1000 if args.quick else 20000)
    samples = args.samples or (200 if args.quick else 1000)
    for tool in (CLI, SPARK_LOCAL):
        if not tool.exists():
            raise SystemExit(f"{tool} is not built: run `make java`")
    partitions = args.partitions or max(8, n // 1000)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="xpcvae-spark-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bundle = Path(args.bundle).resolve()
    small_n = min(SMALL, n // 5)
    try:
        from xpcvae.data.parquet import convert
        from xpcvae.data.spectra_csv import write_spectra_csv
        from xpcvae.tools.harness import synthetic_spectra

        _, flux, sigma = synthetic_spectra(n)
        csv = work / "spectra.csv"
        parquet = work / "spectra.parquet"
        write_spectra_csv(csv, [str(i) for i in range(n)], flux, sigma)
        convert(csv, parquet)
        if args.shuffle:
            job_input, split = parquet, None
        else:
            job_input = work / "spectra-split.parquet"
            split = split_parquet(parquet, job_input, partitions)

        runs = [run_cli(bundle, csv, work / "cli-1.csv", samples, 1),
                run_cli(bundle, csv, work / "cli-2.csv", samples, 2)]
        for cores in (1, 2):
            out = work / f"spark-{cores}.parquet"
            shutil.rmtree(out, ignore_errors=True)
            runs.append(run_spark(bundle, job_input, out, samples, cores, partitions, split))
        # the same engines on the first small_n spectra: the fixed CPU cost of a run (JVM, Spark's start,
        # planning and code generation, bundle loading) apart from the cost per spectrum
        small_csv, small_parquet = work / "small.csv", work / "small.parquet"
        write_spectra_csv(small_csv, [str(i) for i in range(small_n)], flux[:small_n], sigma[:small_n])
        convert(small_csv, small_parquet)
        small_input, small_split = small_parquet, None
        if not args.shuffle:
            small_input = work / "small-split.parquet"
            small_split = split_parquet(small_parquet, small_input, partitions)
        shutil.rmtree(work / "spark-small.parquet", ignore_errors=True)
        shutil.rmtree(work / "spark-small-2.parquet", ignore_errors=True)
        small = {"java-cli": run_cli(bundle, small_csv, work / "cli-small.csv", samples, 1),
                 "spark": run_spark(bundle, small_input, work / "spark-small.parquet", samples, 1,
                                    partitions, small_split),
                 # the 2-thread/core configurations too: their marginal rates (marginal_rates)
                 "java-cli-2": run_cli(bundle, small_csv, work / "cli-small-2.csv", samples, 2),
                 "spark-2": run_spark(bundle, small_input, work / "spark-small-2.parquet", samples, 2,
                                      partitions, small_split)}
        cost = {}
        for engine, full in (("java-cli", runs[0]), ("spark", runs[2])):
            marginal = (full["cpu_s"] - small[engine]["cpu_s"]) / (n - small_n)
            cost[engine] = {"runs": f"{small_n} and {n} spectra, 1 thread/core",
                            "fixed_cpu_s": small[engine]["cpu_s"] - small_n * marginal,
                            "marginal_cpu_ms_per_source": 1e3 * marginal}
        cost["spark_over_cli_marginal"] = (cost["spark"]["marginal_cpu_ms_per_source"]
                                           / cost["java-cli"]["marginal_cpu_ms_per_source"])
        rate = {(r["engine"], r.get("threads", r.get("cores"))): r["rate"] for r in runs}
        cpu = {(r["engine"], r.get("threads", r.get("cores"))): r["cpu_ms_per_source"] for r in runs}
        scaling = rate[("spark", 2)] / rate[("spark", 1)]
        result = {
            "benchmark": "xpcvae Spark job vs Java CLI",
            "command": "python -m xpcvae.tools.spark_bench " + " ".join(argv if argv is not None else sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "quick": args.quick,
            "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "load_before": runs[0]["load_before"],
                        "load_after": _load(), "uptime": subprocess.run(["uptime"], capture_output=True,
                                                                        text=True).stdout.strip()},
            "spark_class_archive": SPARK_CLASS_ARCHIVE.is_file() and os.environ.get("XPCVAE_SPARK_CDS", "1") != "0",
            "spectra": n, "samples": samples, "batch": 64,
            "partitioning": runs[2]["partitioning"],
            "runs": runs,
            "small_runs": small,
            "ratios": {
                "spark_local2_over_cli_2_threads": rate[("spark", 2)] / rate[("java-cli", 2)],
                "target_spark_local2_over_cli_2_threads": 0.8,
                "spark_local1_to_local2": scaling,
                "target_spark_local1_to_local2": 1.7,
                "cli_1_to_2_threads": rate[("java-cli", 2)] / rate[("java-cli", 1)],
                # CPU time per source, whatever share of the machine a run got: the job's overhead
                "cpu_per_source_spark_local2_over_cli_2_threads": cpu[("spark", 2)] / cpu[("java-cli", 2)],
                "cpu_per_source_spark_local1_over_local2": cpu[("spark", 1)] / cpu[("spark", 2)],
            },
            "cpu_fixed_and_per_source": cost,
            "marginal_rates": marginal_rates(runs, small),
            "local2_output_equals_cli": same_as_cli(work / "cli-2.csv", work / "spark-2.parquet"),
            "bytes_per_spectrum": {
                "input_csv": _size(csv) / n,
                "input_parquet": _size(parquet) / n,
                "input_csv_over_parquet": _size(csv) / _size(parquet),
                "output_summary_csv": _size(work / "cli-2.csv") / n,
                "output_parquet": _size(work / "spark-2.parquet") / n,
            },
        }
        result["extrapolation"] = extrapolate(result)
        result["projection_dedicated_cores"] = project_dedicated(result)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return _emit(result, args.out, args.docs)


def _emit(result: dict, out, docs: bool = False) -> int:
    text = json.dumps(result, indent=2, default=lambda x: float(x) if isinstance(x, np.floating) else str(x))
    print(text)
    if out:
        Path(out).write_text(text + "\n")
    if docs:
        from xpcvae.tools.spark_bench_report import write_docs

        for path in write_docs(json.loads(text), out):
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
