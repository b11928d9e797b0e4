"""Where the Java engine is: the distribution ``scripts/java_build.sh`` builds in a checkout.

``$XPCVAE_JAVA_DIST`` names it explicitly; otherwise the checkout this package was imported from
(an editable install), then ``java/build/install/xpcvae`` under the current directory (a
non-editable install, such as ``make demo``'s ``.venv-infer``, run from the checkout).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "XPCVAE_JAVA_DIST"
RELATIVE = Path("java") / "build" / "install" / "xpcvae"
#: the checkout that holds this package, when it is imported from one
CHECKOUT = Path(__file__).resolve().parents[2]


def java_dist() -> Path:
    """The distribution directory (``bin/xpcvae``, ``lib/*.jar``); it may not exist (not built)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    for root in (CHECKOUT, Path.cwd()):
        if (root / RELATIVE / "lib").is_dir():
            return root / RELATIVE
    return CHECKOUT / RELATIVE


def launcher(dist: Path | None = None) -> Path:
    """The Java CLI's launcher script."""
    return (dist or java_dist()) / "bin" / "xpcvae"


def jars(dist: Path | None = None) -> list[Path]:
    """The distribution's jars (the classpath of an in-process JVM); empty when it is not built."""
    return sorted(((dist or java_dist()) / "lib").glob("*.jar"))
