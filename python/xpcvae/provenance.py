"""Provenance of outputs: which source tree wrote them.

Grids and bundles record the revision of the code that made them; it is defined here once.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_revision(cwd=None) -> str:
    """The commit of the source tree this package runs from, with ``+dirty`` when it has local
    changes; ``unknown`` outside a git checkout or before the first commit."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
