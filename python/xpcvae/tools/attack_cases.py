"""The cases of the attack catalogue (:mod:`xpcvae.tools.attack_catalogue` runs them): bad spectra
files and rows (:mod:`~xpcvae.tools.attack_inputs`), bad bundles, output paths, signals during a run
and odd options (:mod:`~xpcvae.tools.attack_setups`), each with what it expects of each engine
(:class:`~xpcvae.tools.attack_kit.Expect`) and how it makes its files (:class:`~xpcvae.tools.attack_kit.Work`).
"""

from __future__ import annotations

from xpcvae.tools.attack_inputs import input_cases
from xpcvae.tools.attack_kit import ENGINES, GROUPS, N_ROWS, SAMPLES, Case, Expect, Work
from xpcvae.tools.attack_setups import bundle_cases, option_cases, output_cases, signal_cases

__all__ = ["ENGINES", "GROUPS", "N_ROWS", "SAMPLES", "SUBSET", "Case", "Expect", "Work", "catalogue"]


def catalogue() -> list[Case]:
    """Every case, in report order."""
    cases = input_cases() + bundle_cases() + output_cases() + signal_cases() + option_cases()
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


#: the cases tests/test_attack_catalogue.py runs in `make test` (both engines, in-process: ~1 s a case)
SUBSET = ("input-missing", "input-empty", "header-missing-columns", "header-extra-flux-column", "nan-flux",
          "short-row", "not-a-number", "zero-error", "format-version-3", "checksum-mismatch", "graph-truncated",
          "out-is-input", "out-symlink-to-input", "out-hardlink-to-input", "samples-out-is-out",
          "samples-out-dangling-link-to-out", "out-is-directory", "samples-out-parent-is-file",
          "out-is-bundle-manifest", "samples-zero", "graph-swapped", "manifest-not-json", "manifest-array",
          "utf16-file", "manifest-edited-after-export", "seed-negative")
