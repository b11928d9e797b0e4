"""Atomic file output: write to a temporary name beside the target, rename on success.

An interrupted or failed run therefore never leaves a half-written file under the
final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


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
