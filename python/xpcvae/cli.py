"""Command-line entry point ``xpcvae``.

Each sub-command lives in the module of ``xpcvae.commands`` that owns its job and exposes
``register(subparsers)``; this file only assembles them. The command modules import their
heavy dependencies inside the handlers, so that ``xpcvae --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from xpcvae.commands.errors import CommandError

# module path -> the sub-commands it registers
COMMAND_MODULES = (
    "xpcvae.commands.forward_cmds",   # photosphere-fit, noise-fit, grid, inspect, plot-grid
    "xpcvae.commands.train_cmds",     # train, import-bundle, evaluate
    "xpcvae.commands.export_cmds",    # export, export-forward-model, infer
    "xpcvae.commands.bundle_cmds",    # upgrade-bundle
    "xpcvae.commands.real_cmds",      # validate-real, validate-accretion
    "xpcvae.commands.verify_cmds",    # verify
    "xpcvae.commands.data_cmds",      # to-parquet
    "xpcvae.commands.reference_cmds", # compare-reference
)

#: what a user can cause and fix: a bad request (CommandError), a file that is missing or cannot be
#: written (OSError), input that is malformed or out of range (ValueError: the layers' GridError,
#: ParameterError, SpectraFileError, BundleError, RunError, ... are its subclasses). Anything else
#: (a KeyError, TypeError, ...) is a bug and ends with its traceback.
USER_ERRORS = (CommandError, OSError, ValueError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xpcvae",
        description="Posterior inference of stellar and accretion parameters from Gaia XP spectra (CVAE).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except USER_ERRORS as exc:
        print(f"xpcvae {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
