"""Sub-command ``verify``: can an exported model bundle be trusted? (docs/verify.md)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from xpcvae.commands.errors import CommandError


def register(sub) -> None:
    v = sub.add_parser("verify", help="check that an exported model bundle can be trusted (exit 0: all checks pass)",
                       description="Check a model bundle: its manifest against the schema and its checksums, every "
                                   "ONNX graph (onnx.checker, opset, inputs and outputs), Python against Java draws, "
                                   "the forward_model graph against the Python forward model, posteriors of simulated "
                                   "spectra against their truth, and with --run ONNX Runtime against PyTorch. Prints "
                                   "one line per check; exit status 0 when none failed, 1 when one did, 2 on a usage "
                                   "error (docs/verify.md).")
    v.add_argument("--bundle", required=True, metavar="DIR", help="model bundle directory, e.g. export/default")
    v.add_argument("--run", default=None, metavar="RUN",
                   help="the training run the bundle was exported from: also compare ONNX Runtime with PyTorch on "
                        "its test split (needs PyTorch: pip install 'xpcvae[train]'; default: not compared)")
    v.add_argument("--n", type=int, default=200, metavar="N",
                   help="spectra of the run's test split for --run (default: %(default)s)")
    v.add_argument("--report", default=None, metavar="FILE.md",
                   help="also write the report as Markdown and JSON: FILE.md and FILE.json (default: not written)")
    java = v.add_mutually_exclusive_group()
    java.add_argument("--java", dest="java", action="store_true", default=None,
                      help="require the Python/Java draw comparison: it fails without a Java build, JPype or a JVM "
                           "(default: compared when the Java engine is built, else reported as not run)")
    java.add_argument("--no-java", dest="java", action="store_false", help="skip the Python/Java draw comparison")
    v.add_argument("--java-dist", default=None, metavar="DIR",
                   help="the Java distribution (default: $XPCVAE_JAVA_DIST, else java/build/install/xpcvae of the "
                        "checkout or the current directory)")
    v.add_argument("--recovery-spectra", type=int, default=40, metavar="N",
                   help="simulated spectra of the recovery check (default: %(default)s)")
    v.set_defaults(func=_verify)


def _verify(args) -> int:
    root = Path(args.bundle)
    if not root.is_dir():
        raise CommandError(f"bundle {root}: {'not a directory' if root.exists() else 'does not exist'}")
    if args.n < 1 or args.recovery_spectra < 1:
        raise CommandError("--n and --recovery-spectra must be >= 1")
    if args.run:
        if not Path(args.run).is_dir():
            raise CommandError(f"run {args.run}: not a directory")
        if importlib.util.find_spec("torch") is None:
            raise CommandError("--run compares ONNX Runtime with PyTorch, which is not installed: "
                               "pip install 'xpcvae[train]'")
    from xpcvae.verify.suite import verify_bundle  # lazy: ONNX Runtime, the forward model only when verifying

    report = verify_bundle(root, run=args.run, n=args.n, java=args.java,
                           java_dist=Path(args.java_dist) if args.java_dist else None,
                           recovery_spectra=args.recovery_spectra)
    print(report.text())
    if args.report:
        md, js = report.write(args.report)
        print(f"wrote {md} and {js}")
    return 0 if report.passed else 1
