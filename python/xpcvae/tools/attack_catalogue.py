"""A catalogue of bad inputs, bad bundles, output paths, signals and odd options, each run against
the command line of both engines: the exit status, the message, whether outputs were left.

    python -m xpcvae.tools.attack_catalogue [--bundle DIR] [--only NAME,...] [--json FILE]

``make reliability`` runs all of it into docs/reliability.md (:mod:`xpcvae.tools.reliability`);
tests/test_attack_catalogue.py runs :data:`~xpcvae.tools.attack_cases.SUBSET`. Every case
(:mod:`xpcvae.tools.attack_cases`) says what it expects of each engine; a case passes when the
engine does exactly that, leaves the input (and the bundle, and any file that was there before)
untouched, leaves outputs only when it succeeded, no temporary file, and, after a signal, no JVM
running.

How the engines are run, so that a case costs no process start where it need not:

* ``inprocess``: the Python engine through :func:`xpcvae.cli.main`, the Java engine through
  ``org.xpcvae.Main.run`` (the launcher's entry point without ``System.exit``) in a JVM started once
  through JPype. All paths are absolute (the JVM's idea of the working directory is fixed).
* ``process``: ``python -m xpcvae.cli infer --engine ENGINE`` as a process of its own (the Java
  engine then runs through the wrapper that starts the Java launcher), for signals, resource
  limits and relative paths.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from xpcvae.data.spectra_csv import write_spectra_csv
from xpcvae.tools.attack_cases import ENGINES, N_ROWS, Case, Expect, Work, catalogue
from xpcvae.tools.attack_report import report_lines, summary
from xpcvae.tools.harness import DIST, ROOT, resolve_bundle, synthetic_spectra

# -- running a case ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    case: str
    engine: str
    rc: int | None
    message: str
    left: list[str]          # files the run created or changed (names relative to the case's directory)
    passed: bool
    why: str                 # what did not match the expectation ("" when passed)
    seconds: float


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links as their target) with a digest of its content."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[rel] = "dir"
    return out


def _message(stderr: str, rc) -> str:
    """The line of ``stderr`` that states the outcome: of a failed run its first error line (else its
    first line: picocli follows the message with the usage), of a finished run the count of failed
    sources (else its last line)."""
    text = re.sub(r"sources: \d+src \[[^\]]*\]", "\n", stderr)  # the Python engine's progress bar
    lines = [ln.strip() for ln in text.replace("\r", "\n").splitlines() if ln.strip()]
    if not lines:
        return ""
    if rc in (0, 1):
        failed = [ln for ln in lines if "sources failed" in ln]
        return (failed or lines)[-1][:300]
    errors = [ln for ln in lines if "error" in ln.lower() or ln.lower().startswith(("invalid", "unknown", "unmatched"))]
    return (errors or lines)[0][:300]


class _Java:
    """org.xpcvae.Main.run in a JVM of this process (JPype), started on first use."""

    def __init__(self):
        import jpype

        if not jpype.isJVMStarted():
            jars = sorted(str(p) for p in (DIST / "lib").glob("*.jar"))
            if not jars:
                raise RuntimeError(f"no jars in {DIST / 'lib'}: build the Java module with `make java`")
            jpype.startJVM(classpath=jars, convertStrings=True)
        self.main = jpype.JClass("org.xpcvae.Main")
        self.baos = jpype.JClass("java.io.ByteArrayOutputStream")
        self.stream = jpype.JClass("java.io.PrintStream")
        self.system = jpype.JClass("java.lang.System")
        self.file_in = jpype.JClass("java.io.FileInputStream")
        self.string_array = jpype.JArray(jpype.JString)

    def __call__(self, argv: list[str]) -> tuple[int, str]:
        out, err = self.baos(), self.baos()
        saved = getattr(self.system, "in_")  # System.in (`in` is a Python keyword)
        self.system.setIn(self.file_in("/dev/null"))  # `--input -` reads an empty standard input
        try:
            rc = self.main.run(self.stream(out, True, "UTF-8"), self.stream(err, True, "UTF-8"),
                               self.string_array(["infer", *argv]))
        finally:
            self.system.setIn(saved)
        return int(rc), str(err.toString("UTF-8"))


def _python(argv: list[str]) -> tuple[int, str]:
    from xpcvae.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(["infer", "--engine", "python", *argv])
        except SystemExit as exc:  # argparse's usage errors
            rc = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:  # noqa: BLE001 - a bug: recorded as a failed case, not raised
            return None, err.getvalue() + "".join(traceback.format_exception(exc))
    return rc, err.getvalue()


def _fsize_limit(engine: str):
    # a limit the summary fits in and the draws do not; the JVM first writes its copy of the ONNX
    # Runtime library (28 MB). With SIGXFSZ ignored a write past the limit fails (EFBIG).
    limit = 100_000 if engine == "python" else 32 << 20

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _fsize_samples(engine: str) -> tuple[str, str]:
    return ("--samples", "500" if engine == "python" else "80000")


def _processes_naming(text: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            with contextlib.suppress(OSError):
                if text.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
    return found


def _process(case: Case, engine: str, argv: list[str], cwd: Path, outputs: list[Path]) -> tuple[int, str, str]:
    """``python -m xpcvae.cli infer --engine ENGINE ARGV`` in ``cwd``; (exit status as a shell reports it,
    stderr, a problem seen while it ran or "")."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if case.limit_fsize:
        argv = argv + list(_fsize_samples(engine))
    cmd = [sys.executable, "-m", "xpcvae.cli", "infer", "--engine", engine, *argv]
    problem = ""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=_fsize_limit(engine) if case.limit_fsize else None)
        try:
            if case.signal:
                start = time.monotonic()
                while proc.poll() is None:
                    if case.signal_at == "start":
                        if time.monotonic() - start >= 0.3:
                            break
                    elif all(any(p.name.startswith(f".{o.name}.") for p in o.parent.iterdir()) for o in outputs
                             if o.parent.is_dir()):
                        time.sleep(0.3)
                        break
                    if time.monotonic() - start > 120:
                        problem = "the run never started writing"
                        break
                    time.sleep(0.02)
                for k, s in enumerate(case.signal):
                    if k:
                        time.sleep(0.1)
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(s)
            rc = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                problem = problem or "still running after 300 s: killed"
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if case.signal and outputs and _processes_naming(str(outputs[0])):
        problem = problem or "a process (the JVM) still runs after the command ended"
    return (128 - rc if rc < 0 else rc), stderr, problem


def run_case(case: Case, engine: str, bundle: Path, lines: list[str], base: Path, java: _Java | None) -> Outcome:
    """Run ``case`` against ``engine`` in a fresh directory under ``base``."""
    root = base / f"{case.name}.{engine}"
    root.mkdir(parents=True)
    w = Work(root, bundle, engine, lines)
    argv = case.build(w)
    before = _snapshot(root)
    t0 = time.perf_counter()
    problem = ""
    if case.runner == "process":
        rc, stderr, problem = _process(case, engine, argv, root, [o if o.is_absolute() else root / o
                                                                  for o in w.outputs])
        if case.signal:
            time.sleep(0.5)  # anything still writing would show now
    elif engine == "python":
        rc, stderr = _python(argv)
    else:
        rc, stderr = java(argv)
    seconds = time.perf_counter() - t0
    after = _snapshot(root)
    left = sorted(k for k, v in after.items() if before.get(k) != v and v != "dir")
    changed = sorted(k for k in before if before[k] != after.get(k) and before[k] != "dir")
    expect = case.expected(engine)
    why = _check(expect, rc, stderr, left, changed, w, root) or problem
    # paths in the message relative to the case's directory and the repository
    message = _message(stderr, rc).replace(str(root) + "/", "").replace(str(ROOT) + "/", "")
    return Outcome(case.name, engine, rc, message, left, not why, why, round(seconds, 2))


def _check(expect: Expect, rc, stderr: str, left: list[str], changed: list[str], w: Work, root: Path) -> str:
    if rc is None:
        return "an uncaught exception (a bug: the command ends with a traceback)"
    if rc not in expect.rc:
        return f"exit status {rc}, expected {' or '.join(map(str, expect.rc))}"
    if expect.says and not any(s.casefold() in stderr.casefold() for s in expect.says):
        return f"the message does not say {' or '.join(repr(s) for s in expect.says)}"
    if "Traceback" in stderr or "Exception" in stderr:
        return "an exception's name or a traceback in the message"
    if any(not (c.isprintable() or c in "\n\r") for c in stderr):
        return "a control character in the message (sent to the terminal as it is)"
    temps = [f for f in left if Path(f).name.endswith(".partial")]
    if temps:
        return f"temporary files left: {', '.join(temps)}"
    outputs = [(o if o.is_absolute() else root / o) for o in w.outputs]
    rel = {str(o.relative_to(root)) if o.is_relative_to(root) else str(o) for o in outputs}
    if expect.outputs:
        missing = [o for o in outputs if not o.exists()]
        if missing:
            return f"output missing: {', '.join(map(str, missing))}"
        touched = [c for c in changed if c not in rel]
        if touched:
            return f"files changed that are not outputs: {', '.join(touched)}"
        if expect.rows is not None or expect.row is not None:
            with open(outputs[0], newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            if expect.rows is not None and len(rows) != expect.rows:
                return f"{len(rows)} summary rows, expected {expect.rows}"
            if expect.row is not None and not any(r["status"] == "error" and expect.row.casefold()
                                                  in r["message"].casefold() for r in rows):
                return f"no error row saying {expect.row!r}"
        return ""
    if changed:
        return f"files changed: {', '.join(changed)}"
    if left:
        return f"files left: {', '.join(left)}"
    return ""


def good_lines(tmp: Path) -> list[str]:
    """The lines of a spectra file of :data:`N_ROWS` good spectra (header first)."""
    _, flux, sigma = synthetic_spectra(N_ROWS, seed=17)
    good = tmp / "good.csv"
    write_spectra_csv(good, [f"s{i}" for i in range(N_ROWS)], flux, sigma)
    return good.read_text().splitlines()


def java_runner() -> _Java:
    """The in-process Java command line (starts a JVM in this process on first call)."""
    return _Java()


def run_catalogue(cases: list[Case], bundle: Path, engines=ENGINES, progress: bool = True) -> list[Outcome]:
    """Run every case against every engine; the outcomes in case order."""
    java = _Java() if "java" in engines and any(c.runner == "inprocess" for c in cases) else None
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="xpcvae-attack-") as tmp:
        base = Path(tmp)
        lines = good_lines(base)
        for case in cases:
            for engine in engines:
                o = run_case(case, engine, bundle, lines, base, java)
                outcomes.append(o)
                if progress:
                    print(f"{'ok  ' if o.passed else 'FAIL'} {case.name} [{engine}] rc={o.rc} {o.seconds:.1f} s"
                          + (f": {o.why}" if o.why else ""), file=sys.stderr)
    return outcomes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xpcvae.tools.attack_catalogue", description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=None)
    ap.add_argument("--only", default=None, help="comma-separated case names (default: all)")
    ap.add_argument("--engine", choices=ENGINES, default=None, help="one engine only")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args(argv)
    cases = catalogue()
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.name in wanted]
    with tempfile.TemporaryDirectory() as tmp:
        bundle, _ = resolve_bundle(args.bundle, Path(tmp))
        outcomes = run_catalogue(cases, bundle, (args.engine,) if args.engine else ENGINES)
    res = summary(cases, outcomes)
    res["run"] = {"command": "python -m xpcvae.tools.attack_catalogue " + " ".join(argv if argv is not None
                                                                                else sys.argv[1:]),
                  "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    print(f"{res['passed']} of {res['runs']} runs passed ({res['cases']} cases)", file=sys.stderr)
    return 0 if res["passed"] == res["runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
