"""Atomic file output: write to a temporary name beside the target, rename on success.

An interrupted or failed run therefore never leaves a half-written file under the
final name. :func:`atomic_path` does it for one file, :class:`AtomicOutputs` for a group
of files that must appear together or not at all (a summary and its draws).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from xpcvae.interrupt import deferred


@contextlib.contextmanager
def atomic_path(target, suffix: str | None = None):
    """Yield a temporary path in the target's directory; rename it to ``target`` on success.

    On any exception the temporary file is removed and the target is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".partial", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    make_readable(tmp)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def make_readable(path) -> None:
    """Give a file the permissions a plain ``open()`` would (0666 less the umask): ``mkstemp``
    creates 0600, and writers that recreate the temporary file may keep that mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


class OutputError(OSError):
    """An output file that cannot be written; the message says which file, what failed and why."""

    def __init__(self, message: str):
        super().__init__(message)


def reason(exc: OSError) -> str:
    """Why an operating-system call failed, in words ("permission denied"), without the errno."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


class _OutputFile:
    """A text file open for writing whose failures (a full disk, ...) name the output, not its temporary file."""

    def __init__(self, path: Path, label: str, target: Path):
        self._fh = open(path, "w", newline="", encoding="utf-8")
        self._what = f"cannot write the {label} {target}"

    def write(self, text: str) -> int:
        try:
            return self._fh.write(text)
        except OSError as exc:
            raise OutputError(f"{self._what}: {reason(exc)}") from exc

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError as exc:
            raise OutputError(f"{self._what}: {reason(exc)}") from exc


class AtomicOutputs:
    """Output files that appear together or not at all.

    ``targets`` maps a label ("summary CSV") to a file name. On entering, each gets a temporary
    file beside it (so an unwritable place fails before any work); :meth:`open` opens one for
    writing. When the ``with`` block ends without an exception the temporary files are renamed
    onto their targets, in the order given; on an exception, :class:`~xpcvae.interrupt.Interrupted`
    included, they are removed and no target is touched. A signal during the renames is held
    until they are done.

    Should a rename fail after an earlier one succeeded, the outputs already renamed are removed
    again: all or none. Only a hard kill (SIGKILL, power loss) between two renames, a window of
    microseconds, can leave the first output without the second.
    """

    def __init__(self, targets: dict):
        self._targets = {label: Path(t) for label, t in targets.items()}
        self._temps: dict[str, Path] = {}
        self._files: list[_OutputFile] = []

    def __enter__(self) -> "AtomicOutputs":
        try:
            for label, target in self._targets.items():
                self._temps[label] = _temporary_beside(label, target)
        except BaseException:
            self._discard()
            raise
        return self

    def open(self, label: str) -> _OutputFile:
        """The temporary file of ``label``, open for writing text (UTF-8, no newline translation)."""
        f = _OutputFile(self._temps[label], label, self._targets[label])
        self._files.append(f)
        return f

    def path(self, label: str) -> Path:
        """The temporary file of ``label``, for a writer that opens files by name (astropy's)."""
        return self._temps[label]

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            for f in self._files:
                f.close()
        except BaseException:
            self._discard()
            raise
        self._commit()

    def _commit(self) -> None:
        done: list[Path] = []
        with deferred():
            for label, target in self._targets.items():
                try:
                    os.replace(self._temps[label], target)
                except OSError as exc:
                    for t in done:
                        with contextlib.suppress(OSError):
                            t.unlink()
                    self._discard()
                    undone = f"; {', '.join(map(str, done))} removed again (all outputs or none)" if done else ""
                    raise OutputError(f"cannot write the {label} {target}: cannot rename the finished temporary "
                                      f"file onto it: {reason(exc)}{undone}") from exc
                done.append(target)

    def _discard(self) -> None:
        for f in self._files:
            with contextlib.suppress(OSError):
                f.close()
        for tmp in self._temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink()


def _temporary_beside(label: str, target: Path) -> Path:
    what = f"cannot write the {label} {target}"
    # os.path's tests: False, not an error, for a name the system refuses (too long, ...)
    if os.path.isdir(target):
        raise OutputError(f"{what}: it is a directory")
    blocker = next((p for p in target.parents if os.path.lexists(p)), None)
    if blocker is not None and not os.path.isdir(blocker):
        raise OutputError(f"{what}: {blocker} is not a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what}: cannot create its directory {target.parent}: {reason(exc)}") from exc
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{what}: cannot create a file in {target.parent}: {reason(exc)}") from exc
    os.close(fd)
    make_readable(tmp)
    return Path(tmp)
