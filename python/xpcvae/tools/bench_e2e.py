"""End-to-end wall time of a batch of spectra through each engine's command line (``make bench``).

The same file goes through the Java CLI (``java/build/install/xpcvae/bin/xpcvae infer``) and the
Python engine (``xpcvae infer --engine python``), each as a user runs it: a fresh process that
starts, loads the bundle, reads the file, samples N = 1000 draws per row, computes the goodness of
fit and writes the summary CSV. Two inputs of the same number of rows:

- ``project_csv``: the project's spectra CSV (docs/formats.md), the benchmark's spectra repeated
  under distinct source ids;
- ``archive_continuous_csv``: a Gaia archive XP continuous CSV (coefficients, errors and
  correlations), the rows of ``tests/data/gaia-archive/XP_CONTINUOUS_RAW.csv`` repeated under
  distinct source ids. Each engine calibrates the coefficients onto the 343-point grid itself. A
  Java CLI that cannot read the archive's layout (it exits with a usage error and writes no
  summary) is reported as "not supported by this build" rather than timed.

The engines run in alternation (Java, Python, then Python, Java, ...) so that both see the same
machine load; each figure is the median over the repetitions, with the processes' CPU time
(user + system, all their threads) beside the wall time.
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xpcvae.data.spectra_csv import write_spectra_csv
from xpcvae.tools.harness import DIST, ROOT, repo_relative

#: the Java CLI of the runnable distribution
JAVA_CLI = DIST / "bin" / "xpcvae"
#: real Gaia DR3 XP continuous spectra in the archive's CSV layout
ARCHIVE_CONTINUOUS = ROOT / "tests" / "data" / "gaia-archive" / "XP_CONTINUOUS_RAW.csv"
#: the inputs, in report order
INPUTS = ("project_csv", "archive_continuous_csv")
INPUT_NAMES = {"project_csv": "project CSV (docs/formats.md)",
               "archive_continuous_csv": "Gaia archive XP continuous CSV"}
SAMPLES = 1000
SEED = 42


def write_project_rows(path: Path, flux, sigma, rows: int) -> None:
    """``rows`` rows of the project CSV: the spectra ``flux``/``sigma`` repeated, source ids e2e0, e2e1, ..."""
    k = [i % len(flux) for i in range(rows)]
    write_spectra_csv(path, [f"e2e{i}" for i in range(rows)], flux[k], sigma[k])


def write_archive_rows(path: Path, rows: int, source: Path = ARCHIVE_CONTINUOUS) -> None:
    """``rows`` rows of an archive CSV: the data rows of ``source`` repeated, the i-th row's
    ``source_id`` replaced by its original plus i (so all are distinct), every other field as is."""
    with open(source, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        data = [r for r in reader if r]
    sid = header.index("source_id")
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for i in range(rows):
            row = list(data[i % len(data)])
            row[sid] = str(int(row[sid]) + i)
            w.writerow(row)


def _python_cli() -> list[str]:
    """The ``xpcvae`` console script beside this interpreter, else the same entry point through it."""
    exe = Path(sys.executable).with_name("xpcvae")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from xpcvae.cli import main; sys.exit(main())"]


def _python_env() -> dict:
    """The environment of the Python engine: this checkout's package first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), *filter(None, [env.get("PYTHONPATH")])])
    return env


def engine_command(engine: str, bundle: Path, input_path: Path, out: Path) -> list[str]:
    """The command line of ``engine`` (``java`` or ``python``) for one input file."""
    args = ["infer", "--bundle", str(bundle), "--input", str(input_path), "--out", str(out),
            "--samples", str(SAMPLES), "--seed", str(SEED)]
    if engine == "java":
        return [str(JAVA_CLI), *args]
    return [*_python_cli(), *args, "--engine", "python"]


def _shown(cmd: list[str]) -> str:
    """A command line for the report: the repository's paths relative, the Python entry point as ``xpcvae``."""
    if cmd[0] != str(JAVA_CLI):
        cmd = ["xpcvae", *cmd[cmd.index("infer"):]]
    return repo_relative(" ".join(cmd))


def run_timed(cmd: list[str], env=None) -> dict:
    """Run ``cmd`` to completion: wall seconds, CPU seconds of the process (user + system), exit status, stderr tail."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "returncode": proc.returncode,
            "stderr": stderr[-1500:]}


def summary_rows(path: Path) -> tuple[int, int]:
    """(rows, rows with status ok) of a summary CSV; (0, 0) if it does not exist."""
    if not path.exists():
        return 0, 0
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return len(rows), sum(r.get("status") == "ok" for r in rows)


def _message(stderr: str) -> str:
    """The error line of a command's stderr (its first line mentioning an error, else its last line)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or [""])[0 if errors else -1][:300]


def bench_end_to_end(bundle: Path, flux, sigma, tmp: Path, rows: int = 1000, repeats: int = 3) -> dict:
    """Wall and CPU time of the two engines' command lines on ``rows`` rows of each input (module docstring)."""
    work = tmp / "e2e"
    work.mkdir(parents=True, exist_ok=True)
    files = {"project_csv": work / "project.csv", "archive_continuous_csv": work / "archive_continuous.csv"}
    write_project_rows(files["project_csv"], flux, sigma, rows)
    write_archive_rows(files["archive_continuous_csv"], rows)
    res = {"rows": rows, "samples": SAMPLES, "repeats": repeats, "inputs": {}}
    if not JAVA_CLI.exists():
        res["error"] = f"{JAVA_CLI.relative_to(ROOT)} missing: build the Java module (make java)"
        return res
    env = {"java": None, "python": _python_env()}
    for name, path in files.items():
        entry = {"file": name, "commands": {e: _shown(engine_command(e, bundle, Path("FILE"), Path("OUT.csv")))
                                          for e in ("java", "python")}}
        runs = {"java": [], "python": []}
        unsupported = None
        for rep in range(repeats):
            for engine in (("java", "python") if rep % 2 == 0 else ("python", "java")):
                if engine == "java" and unsupported:
                    continue
                out = work / f"{name}.{engine}.{rep}.summary.csv"
                r = run_timed(engine_command(engine, bundle, path, out), env[engine])
                r["rows_written"], r["rows_ok"] = summary_rows(out)
                if (engine == "java" and name != "project_csv" and r["returncode"] not in (0, 1)
                        and r["rows_written"] == 0):
                    # the CLI refused the file (a layout it cannot read) rather than failing some rows
                    unsupported = (_message(r["stderr"]).replace(f"{work}/", "")
                                   or f"exit status {r['returncode']}")
                    continue
                if r["rows_written"] != rows:
                    r["error"] = f"wrote {r['rows_written']} of {rows} rows: {_message(r['stderr'])}"
                runs[engine].append(r)
                out.unlink(missing_ok=True)
        for engine, rs in runs.items():
            good = [r for r in rs if "error" not in r]
            entry[engine] = {"runs": rs}
            if good:
                entry[engine].update({"seconds": statistics.median(r["seconds"] for r in good),
                                      "cpu_seconds": statistics.median(r["cpu_seconds"] for r in good),
                                      "rows_ok": good[0]["rows_ok"]})
            elif rs:
                entry[engine]["error"] = rs[0]["error"]
        if unsupported:
            entry["java"] = {"not_supported": unsupported}
        if "seconds" in entry["java"] and "seconds" in entry["python"]:
            entry["python_over_java"] = entry["python"]["seconds"] / entry["java"]["seconds"]
        res["inputs"][name] = entry
    return res
