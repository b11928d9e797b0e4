"""Sub-commands ``export`` and ``infer``."""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from xpcvae.atomic import atomic_path
from xpcvae.commands.errors import CommandError
from xpcvae.infer.output_paths import check_output_paths
from xpcvae.interrupt import ChildProcess, Interrupted, interruptible

JAVA_LAUNCHER = Path(__file__).resolve().parents[3] / "java" / "build" / "install" / "xpcvae" / "bin" / "xpcvae"


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

    i = sub.add_parser("infer", help="posterior summaries for every spectrum of a file (Gaia XP or project CSV)")
    i.add_argument("--bundle", required=True)
    i.add_argument("--input", required=True,
                   help="spectra: Gaia archive XP continuous or sampled (.csv/.ecsv/.fits) or the project "
                        "CSV (docs/formats.md)")
    i.add_argument("--out", required=True, help="summary CSV")
    i.add_argument("--samples", type=int, default=1000)
    i.add_argument("--seed", type=int, default=42)
    i.add_argument("--samples-out", default=None)
    i.add_argument("--engine", choices=("python", "java"), default="python")
    i.set_defaults(func=_infer)


def _check_spectra(run, n: int = 200, seed: int = 0):
    """Simulated observations of the run's test split, through the run's own observation model
    (:func:`xpcvae.train.evaluate.observe_test_split`) at G spread over its training range, for the
    ONNX-vs-PyTorch check; None when the run's grid is not at hand."""
    import numpy as np  # lazy: this module is imported for every command

    from xpcvae.train.evaluate import observe_test_split  # lazy: torch only when exporting

    cfg = run.read_config()
    if not cfg.get("grid_path") or not Path(cfg["grid_path"]).exists():
        return None
    training = cfg["training"]
    grid = run.grid()
    test = run.test_indices(n)
    g = np.linspace(training["g_mag_min"], training["g_mag_max"], len(test))
    _, flux, sigma = observe_test_split(run, grid, run.observation_model(), g, seed, n)
    return flux, sigma


def _export(args) -> int:
    # lazy: torch and onnx only when exporting
    from xpcvae.export.networks import export_model
    from xpcvae.train.run import Run

    run = Run(args.run)
    model, cfg = run.load_model()
    metrics = json.loads(Path(args.metrics).read_text()) if args.metrics else {}
    provenance = {"run": str(run), "checkpoint": cfg["checkpoint"], "training": cfg["training"],
                  "grid_path": cfg.get("grid_path"), "grid_size": cfg.get("grid_size"),
                  "grid_attrs": cfg.get("grid_attrs"), "noise": cfg.get("noise")}
    bundle, report = export_model(model, args.out, provenance=provenance, metrics=metrics,
                                  check_spectra=_check_spectra(run),
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
#: seeds both engines take: any 64-bit value, written signed or unsigned (org.xpcvae.Main.SeedConverter);
#: a larger number would silently wrap onto a smaller seed's draws
SEED_RANGE = (-(1 << 63), (1 << 64) - 1)


def _check_numbers(args) -> None:
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise CommandError(f"--samples must be between 1 and {MAX_SAMPLES}, got {args.samples}")
    if not SEED_RANGE[0] <= args.seed <= SEED_RANGE[1]:
        raise CommandError(f"--seed must be a 64-bit integer (from {SEED_RANGE[0]} to {SEED_RANGE[1]}), "
                           f"got {args.seed}")


def _infer(args) -> int:
    _check_numbers(args)
    # both engines: an output onto an input, or both outputs onto one file, is refused before any work
    check_output_paths(args.input, args.out, args.samples_out, args.bundle)
    if args.engine == "java" and not JAVA_LAUNCHER.exists():
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
    ok, failed = infer_csv(args.bundle, args.input, args.out, args.samples, args.seed, args.samples_out)
    dt = time.time() - t0
    print(f"{ok + failed} sources, {args.samples} samples each, {dt:.2f} s", file=sys.stderr)
    if failed:
        print(f"{failed} of {ok + failed} sources failed (see the status column of {args.out})", file=sys.stderr)
        return 1
    return 0


def _java_command(args, input_path) -> list[str]:
    cmd = [str(JAVA_LAUNCHER), "infer", "--bundle", args.bundle, "--input", str(input_path), "--out", args.out,
           "--samples", str(args.samples), "--seed", str(args.seed)]
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
    get their reason back in the summary's message column."""
    # lazy: numpy and the forward grid only when the Java engine runs
    from xpcvae.data.gaia_xp import detect_format, is_project_csv, load_spectra, write_project_csv

    src = Path(args.input)
    if not src.exists():
        raise FileNotFoundError(f"spectra file {src} does not exist")
    if detect_format(src) == "csv" and is_project_csv(src, allow_read_error=False):
        return _run_java(_java_command(args, src))
    rows = load_spectra(src)
    out = Path(args.out)
    before = out.stat().st_mtime_ns if out.exists() else None
    with tempfile.TemporaryDirectory(prefix="xpcvae-java-") as tmp:
        converted = Path(tmp) / "spectra.csv"
        write_project_csv(converted, rows)
        rc = _run_java(_java_command(args, converted))
    errors = {i: r.error for i, r in enumerate(rows) if r.error is not None}
    written = out.exists() and out.stat().st_mtime_ns != before
    if errors and written:
        _restore_read_errors(out, errors, len(rows))
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
