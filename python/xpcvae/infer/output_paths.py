"""The output files of a run checked against its inputs and each other before any work.

Writing a summary onto its own spectra file (or a file of the model bundle) destroys an input;
two outputs under one name lose one of them. Two names are the same file when they are the same file on disk (a hard or
symbolic link to it included), or, for files that do not exist yet, when their absolute paths
with the symbolic links of the existing part resolved are equal. ``-`` (a standard stream) is
never a file. org.xpcvae.OutputPaths applies the same rules with the same messages.
"""

from __future__ import annotations

import os

#: the name of a standard stream (stdin for an input, stdout for an output)
STREAM = "-"


class OutputPathError(ValueError):
    """An output name that would overwrite the input or another output, or is a directory."""


def same_file(a, b) -> bool:
    """Whether the names ``a`` and ``b`` denote one file (see the module docstring)."""
    if str(a) == STREAM or str(b) == STREAM:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _how(a, b) -> str:
    return "" if os.path.abspath(a) == os.path.abspath(b) else " (the same file under another name, or a link to it)"


def _bundle_file(path, bundle) -> bool:
    """Whether ``path`` is an existing file of the bundle directory (under any name)."""
    if str(path) == STREAM or not os.path.isfile(path) or not os.path.isdir(bundle):
        return False
    with os.scandir(bundle) as entries:
        return any(e.is_file() and same_file(path, e.path) for e in entries)


def check_output_paths(input_path, out, samples_out=None, bundle=None,
                       names: tuple[str, str, str, str] = ("--input", "--out", "--samples-out", "--bundle")) -> None:
    """Raise :class:`OutputPathError` if ``out`` or ``samples_out`` is the input file or a file of the
    ``bundle`` directory, if they are one file, or if either is a directory. An ``input_path`` that
    is not a file name (a table) is not compared. ``names``: how the message calls input, out,
    samples_out and bundle."""
    n_in, n_out, n_samples, n_bundle = names
    outputs = [(n_out, out)] + ([(n_samples, samples_out)] if samples_out is not None else [])
    for name, path in outputs:
        if str(path) != STREAM and os.path.isdir(path):  # os.path: False, not an error, for a name too long
            raise OutputPathError(f"{name} {path} is a directory; expected the name of a file to write")
        if isinstance(input_path, (str, os.PathLike)) and same_file(path, input_path):
            raise OutputPathError(
                f"{name} {path} is the input file {n_in} {input_path}{_how(path, input_path)}: writing it "
                f"would destroy the spectra; choose another output file")
        if isinstance(bundle, (str, os.PathLike)) and _bundle_file(path, bundle):
            raise OutputPathError(
                f"{name} {path} is a file of the model bundle {n_bundle} {bundle}: writing it would damage "
                f"the bundle; choose another output file")
    if samples_out is not None and same_file(out, samples_out):
        raise OutputPathError(
            f"{n_samples} {samples_out} and {n_out} {out} are the same file{_how(out, samples_out)}: one output "
            f"would overwrite the other; give them different names")
