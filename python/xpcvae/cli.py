"""Command-line entry point ``xpcvae``.

Each sub-command lives in the module that owns its job and exposes
``register(subparsers)``; this file only assembles them, importing each lazily
enough that ``xpcvae --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# module path -> the sub-commands it registers (documentation only)
COMMAND_MODULES = (
    "xpcvae.commands.forward_cmds",   # photosphere-fit, grid, inspect, plot-grid
    "xpcvae.commands.train_cmds",     # train, evaluate
    "xpcvae.commands.export_cmds",    # export, infer
    "xpcvae.commands.real_cmds",      # validate-real
    "xpcvae.commands.data_cmds",      # to-parquet
)


class CommandError(Exception):
    """An error the CLI reports as one line and a non-zero exit status."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xpcvae",
        description="Posterior inference of stellar and accretion parameters from Gaia XP spectra (CVAE).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a layer not built yet must not break the others
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (CommandError, ValueError, FileNotFoundError, OSError, KeyError) as exc:
        print(f"xpcvae {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
