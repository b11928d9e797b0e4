"""What the measuring tools (bench, reliability) share: the repository, the Java build, the machine, the inputs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from xpcvae import javadist, params
from xpcvae.forward import ForwardModel
from xpcvae.simulate.noise import NoiseModel

#: the repository root (the tools are run from a checkout)
ROOT = Path(__file__).resolve().parents[3]
#: the runnable Java distribution built by scripts/java_build.sh
DIST = javadist.java_dist()
#: Bench and Soak: built by scripts/java_build.sh beside the distribution, not shipped in it
HARNESS_JAR = ROOT / "java" / "build" / "bench" / "xpcvae-bench.jar"
#: their sources (a source set of their own)
HARNESS_SRC = "java/src/bench/java/org/xpcvae"
#: processes whose load makes timings noisy
BUSY_PATTERN = "xpcvae (train|evaluate)|pytest"


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` from the PATH."""
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else "java"


def java_classpath(project: bool = True) -> str:
    """Classpath of ``org.xpcvae.Bench``/``Soak``: the distribution's dependency jars, and the project's
    own jar and the harness jar if ``project`` (without them: to compile another revision against)."""
    jars = [p for p in sorted((DIST / "lib").glob("*.jar")) if project or not p.name.startswith("xpcvae-")]
    return os.pathsep.join(str(p) for p in jars + ([HARNESS_JAR] if project else []))


def repo_relative(text: str) -> str:
    """``text`` (a command line) with this checkout's absolute paths made relative to the repository."""
    return text.replace(str(ROOT) + "/", "")


def busy_processes() -> list[str]:
    """Command lines of heavy work running now (:data:`BUSY_PATTERN`); empty if none or pgrep is missing."""
    try:
        out = subprocess.run(["pgrep", "-af", BUSY_PATTERN], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [line for line in out.splitlines() if line.strip() and "pgrep" not in line]


def resolve_bundle(requested, tmp: Path) -> tuple[Path, str]:
    """The bundle to measure: ``requested``/export/default, else a random-weight bundle of the
    default architecture (timings depend on the architecture only); (path, description)."""
    if requested:
        return Path(requested), "as requested"
    default = ROOT / "export" / "default"
    if (default / "manifest.json").exists():
        return default, "the shipped bundle export/default"
    import torch  # lazy: torch and the exporter only when no bundle exists

    from xpcvae.export.networks import export_model
    from xpcvae.train.model import CVAE, CVAEConfig

    torch.manual_seed(0)
    out = tmp / "random-default-architecture"
    export_model(CVAE(CVAEConfig()).eval(), out)
    return out, ("a random-weight bundle of the default architecture (export/default did not exist; the "
                 "timings depend on the architecture, not on the weights)")


def synthetic_spectra(n: int = 64, g_mag: float = 15.0, seed: int = 7):
    """Noisy forward-model spectra over the prior box (the bundle's training distribution); (theta, flux, sigma)."""
    r = np.random.default_rng(seed)
    theta = params.from_unit(0.1 + 0.8 * r.random((n, params.NDIM)))
    clean, _ = ForwardModel().spectra(theta)
    sigma = np.asarray(NoiseModel.default().sigma(clean, g_mag))
    flux = clean + sigma * r.standard_normal(clean.shape)
    return theta, flux, sigma
