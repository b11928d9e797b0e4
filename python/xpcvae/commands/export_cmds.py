"""Sub-commands ``export`` and ``infer``."""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from xpcvae import javadist
from xpcvae.atomic import atomic_path
from xpcvae.commands.errors import CommandError
from xpcvae.infer.output_paths import check_output_paths
from xpcvae.interrupt import ChildProcess, Interrupted, interruptible

JAVA_LAUNCHER = javadist.launcher()
#: summary formats by extension (xpcvae.infer.table.FORMATS, without importing it for every command)
TYPED_SUFFIXES = {".ecsv": "ecsv", ".fits": "fits", ".fit": "fits"}


def register(sub) -> None:
    p = sub.add_parser("export", help="export a trained run to an ONNX model bundle")
    p.add_argument("--run", required=True)
    p.add_argument("--out", required=True, help="bundle directory, e.g. export/NAME")
    p.add_argument("--metrics", default=None, help="metrics.json of `xpcvae evaluate` to record in the manifest")
    p.add_argument("--description", default="")
    p.add_argument("--no-forward-model", action="store_true",
                   help="leave out the forward_model graph (the Java CLI then leaves gof_chi2 empty)")
    p.set_defaults(func=_export)

    f = sub.add_parser("export-forward-model",
                       help="add (or replace) the forward_model graph of an existing bundle, its other "
                            "graphs untouched")
    f.add_argument("--bundle", required=True)
    f.set_defaults(func=_export_forward_model)

    i = sub.add_parser("infer", help="posterior summaries for every spectrum of a file (Gaia XP or project CSV)",
                       description="Sample the posterior of every spectrum of a file and write one summary row "
                                   "per input row (docs/formats.md); a row that cannot be used gets status error "
                                   "and a message. Exit status 0: all rows ok; 1: some rows failed; 2: nothing "
                                   "could be done.")
    i.add_argument("--bundle", required=True, metavar="DIR", help="model bundle directory, e.g. export/default")
    i.add_argument("--input", required=True, metavar="FILE",
                   help="spectra: Gaia archive XP continuous or sampled (.csv/.ecsv/.fits) or the project "
                        "CSV (docs/formats.md)")
    i.add_argument("--out", required=True, metavar="FILE",
                   help="summary to write, its format by extension: .ecsv (units and column descriptions), "
                        ".fits (Python engine only), any other: CSV")
    i.add_argument("--samples", type=int, default=1000, metavar="N",
                   help="posterior draws per spectrum (default: %(default)s)")
    i.add_argument("--seed", default="42", metavar="S",
                   help="random seed, an integer in 0..2**64-1 (default: %(default)s); a star's draws depend only "
                        "on it, the bundle and the star's source_id")
    i.add_argument("--samples-out", default=None, metavar="FILE",
                   help="also write every draw to this CSV (default: not written)")
    i.add_argument("--engine", choices=("python", "java"), default="python",
                   help="python: this package's sampler; java: the Java CLI (`make java`), same numbers, faster "
                        "(default: %(default)s)")
    i.add_argument("--threads", type=int, default=1, metavar="T",
                   help="java: worker threads sampling in parallel; python: ONNX Runtime threads "
                        "(default: %(default)s)")
    i.set_defaults(func=_infer)


def _export(args) -> int:
    # lazy: torch and onnx only when exporting
    from xpcvae.export.networks import export_model, run_check_spectra
    from xpcvae.train.run import Run

    run = Run(args.run)
    model, cfg = run.load_model()
    metrics = json.loads(Path(args.metrics).read_text()) if args.metrics else {}
    provenance = {"run": str(run), "checkpoint": cfg["checkpoint"], "training": cfg["training"],
                  "grid_path": cfg.get("grid_path"), "grid_size": cfg.get("grid_size"),
                  "grid_attrs": cfg.get("grid_attrs"), "noise": cfg.get("noise")}
    bundle, report = export_model(model, args.out, provenance=provenance, metrics=metrics,
                                  check_spectra=run_check_spectra(run),
                                  description=args.description, forward_model=not args.no_forward_model)
    print(f"wrote {bundle.root}: ONNX vs PyTorch max |diff| on {report['n_check']} spectra: "
          + ", ".join(f"{k} {v:.2g}" for k, v in report["max_abs_diff"].items()))
    if "forward_model" in bundle.manifest:
        _print_forward_check(bundle.manifest)
    return 0


def _print_forward_check(manifest: dict) -> None:
    c = manifest["forward_model"]["export_check"]
    print(f"forward_model ({manifest['forward_config']['photosphere']} photosphere): ONNX Runtime vs ForwardModel.spectra "
          f"max relative diff {c['max_rel_diff']:.2g} on {c['n']} parameter vectors ({c['n_ff0']} with ff = 0)")


def _export_forward_model(args) -> int:
    from xpcvae.export.forward_graph import add_forward_model  # lazy: torch and onnx only when exporting

    _print_forward_check(add_forward_model(args.bundle).manifest)
    return 0


#: draws per source both engines take: the Java engine counts them in an int
MAX_SAMPLES = (1 << 31) - 1


def _infer(args) -> int:
    from xpcvae import rng

    args.seed = rng.parse_seed(args.seed)  # ValueError: one line naming the seed, exit 2 (both engines alike)
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise CommandError(f"--samples must be between 1 and {MAX_SAMPLES}, got {args.samples}")
    if args.threads < 1:
        raise CommandError(f"--threads must be >= 1, got {args.threads}")
    if args.samples_out and Path(args.samples_out).suffix.lower() in TYPED_SUFFIXES:
        raise CommandError(f"--samples-out {args.samples_out}: the draws are written as CSV; give a .csv name")
    # both engines: an output onto an input, or both outputs onto one file, is refused before any work
    check_output_paths(args.input, args.out, args.samples_out, args.bundle)
    if args.engine == "java":
        if TYPED_SUFFIXES.get(Path(args.out).suffix.lower()) == "fits":
            raise CommandError(f"--out {args.out}: the Java engine writes the summary as .csv or .ecsv; for FITS "
                               "use --engine python")
        if not JAVA_LAUNCHER.exists():
            raise CommandError(f"the Java engine is not built ({JAVA_LAUNCHER} missing): run `make java`")
    before = _identity(args.out)
    with interruptible():
        try:
            return _infer_java(args) if args.engine == "java" else _infer_python(args)
        except Interrupted as exc:
            # a signal in the microseconds after the outputs were renamed into place finds them complete
            written = _identity(args.out) != before
            print(f"xpcvae infer: {exc}: " + ("stopped after the outputs were written" if written
                                              else "stopped, no output written"), file=sys.stderr)
            return exc.exit_status


def _identity(path):
    """(inode, modification time) of ``path``, None if it does not exist: tells whether a run replaced it."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _infer_python(args) -> int:
    from xpcvae.infer.batch import infer_csv  # lazy: onnxruntime only when inferring

    t0 = time.time()
    ok, failed = infer_csv(args.bundle, args.input, args.out, args.samples, args.seed, args.samples_out,
                           threads=args.threads)
    dt = time.time() - t0
    print(f"{ok + failed} sources, {args.samples} samples each, {dt:.2f} s", file=sys.stderr)
    if failed:
        print(f"{failed} of {ok + failed} sources failed (see the status column of {args.out})", file=sys.stderr)
        return 1
    return 0


def _java_command(args, input_path, out=None) -> list[str]:
    """The Java CLI's command line; ``out``: the summary it writes (default ``--out``). Its progress line
    is shown when this process's stderr is a terminal."""
    cmd = [str(JAVA_LAUNCHER), "infer", "--bundle", args.bundle, "--input", str(input_path),
           "--out", str(out or args.out), "--samples", str(args.samples), "--seed", str(args.seed),
           "--threads", str(args.threads), "--progress" if sys.stderr.isatty() else "--no-progress"]
    if args.samples_out:
        cmd += ["--samples-out", args.samples_out]
    return cmd


def _run_java(cmd: list[str]) -> int:
    """The Java CLI's exit status. SIGINT, SIGTERM and SIGHUP go to the JVM (which removes its
    temporary files and never renames them into place after a signal), this process waits for it to
    end and raises :class:`Interrupted`: no JVM outlives the command."""
    with ChildProcess(cmd) as child:
        rc = child.wait()
    if child.signal is not None:
        raise Interrupted(child.signal)
    return rc


def _infer_java(args) -> int:
    """Java engine. A project CSV goes to the Java CLI as it is; any other input (Gaia archive XP
    continuous or sampled) is read by :func:`xpcvae.data.gaia_xp.load_spectra`, written to a temporary
    project-layout CSV for the Java CLI, and the rows that could not be read (e.g. BP missing)
    get their reason back in the summary's message column (for an ECSV summary the Java CLI then
    writes a temporary CSV, converted afterwards by :func:`xpcvae.infer.batch.write_summary`)."""
    # lazy: numpy and the forward grid only when the Java engine runs
    from xpcvae.data.gaia_xp import detect_format, is_project_csv, load_spectra, write_project_csv

    src = Path(args.input)
    if not src.exists():
        raise FileNotFoundError(f"spectra file {src} does not exist")
    if detect_format(src) == "csv" and is_project_csv(src, allow_read_error=False):
        return _run_java(_java_command(args, src))
    rows = load_spectra(src, progress=sys.stderr.isatty())
    final = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="xpcvae-java-") as tmp:
        out = final if final.suffix.lower() not in TYPED_SUFFIXES else Path(tmp) / "summary.csv"
        before = out.stat().st_mtime_ns if out.exists() else None
        converted = Path(tmp) / "spectra.csv"
        write_project_csv(converted, rows)
        rc = _run_java(_java_command(args, converted, out))
        errors = {i: r.error for i, r in enumerate(rows) if r.error is not None}
        written = out.exists() and out.stat().st_mtime_ns != before
        if errors and written:
            _restore_read_errors(out, errors, len(rows))
        if written and out != final:
            from xpcvae.bundle import ModelBundle
            from xpcvae.infer.batch import write_summary

            with open(out, newline="") as fh:
                body = list(csv.reader(fh))[1:]
            write_summary(final, body, ModelBundle.load(args.bundle).manifest["parameters"])
    return rc


def _restore_read_errors(summary_path: Path, errors: dict, n_rows: int) -> None:
    """Put the reader's message into the Java summary rows of spectra that could not be read."""
    with open(summary_path, newline="") as fh:
        table = list(csv.reader(fh))
    header, body = table[0], table[1:]
    if len(body) != n_rows:
        raise CommandError(f"the Java CLI wrote {len(body)} summary rows for {n_rows} input rows")
    status, message = header.index("status"), header.index("message")
    for i, msg in errors.items():
        rec = body[i]
        body[i] = [rec[0]] + [""] * (len(rec) - 1)
        body[i][status], body[i][message] = "error", msg
    with atomic_path(summary_path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(body)
