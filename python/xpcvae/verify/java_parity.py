"""Check that the Java engine draws what the Python engine draws, in process through JPype.

The JVM runs the jars of the Java distribution (:mod:`xpcvae.javadist`), as tests/test_parity.py
does. Without a Java build, JPype or a JVM the check is not run -- a failure only when it was
required (``xpcvae verify --java``).
"""

from __future__ import annotations

import numpy as np

from xpcvae import javadist
from xpcvae.bundle import ModelBundle
from xpcvae.infer.batch import sample_source
from xpcvae.infer.sampler import PosteriorSampler
from xpcvae.verify.report import FAIL, NOT_RUN, Check
from xpcvae.verify.simulate import simulated_spectra

NAME = "java_parity"
#: largest |Java - Python| of a draw accepted, as a fraction of the parameter's prior box: the engines
#: compute the same draws to ~1e-15 (the tails of the normal deviates differ by an ulp of a logarithm)
TOLERANCE = 1e-12


def start_jvm(dist=None):
    """The ``org.xpcvae`` Java package of a JVM running the distribution's jars (started here unless one
    runs), or ``(None, reason)`` when that is not possible."""
    jars = javadist.jars(dist)
    if not jars:
        return None, f"no Java build: {(dist or javadist.java_dist()) / 'lib'} has no jars (make java)"
    try:
        import jpype  # lazy: the test extra; the inference-only install may not have it
    except ImportError:
        return None, "JPype is not installed (pip install jpype1)"
    if not jpype.isJVMStarted():
        try:
            jpype.startJVM(classpath=[str(j) for j in jars], convertStrings=True)
        except Exception as exc:  # JVMNotFoundException and friends: no usable Java
            return None, f"no JVM could be started ({exc})"
    try:
        jpype.JClass("org.xpcvae.PosteriorSampler")
    except Exception:  # a JVM started elsewhere in this process without the xpcvae jars
        return None, "a JVM already runs in this process without the xpcvae jars"
    return jpype.JPackage("org").xpcvae, ""


def java_draws(java, bundle_dir, flux, sigma, ids, n_samples: int, seed: int) -> np.ndarray:
    """Draws (B, n_samples, P) of the Java engine, a spectrum's random stream keyed by its source id as in
    the Java CLI: the one place this package asks the Java engine for draws."""
    import jpype

    doubles = jpype.JArray(jpype.JDouble)
    spectra = jpype.JClass("java.util.ArrayList")()
    for sid, f, e in zip(ids, flux, sigma):
        spectra.add(java.Spectrum.of(sid, doubles(np.asarray(f, dtype=float)), doubles(np.asarray(e, dtype=float))))
    with java.PosteriorSampler.open(str(bundle_dir)) as sampler:
        # a Java long holds the seed's 64 bits (seeds are unsigned 64-bit integers, docs/sampling.md)
        res = sampler.sample(spectra, n_samples, jpype.JLong(seed - 2**64 if seed >= 2**63 else seed))
        return np.array([np.array(r.flatSamples(), dtype=float).reshape(n_samples, -1) for r in res])


def java_parity(bundle: ModelBundle, dist=None, required: bool = False, n: int = 20, samples: int = 1000,
                seed: int = 3) -> Check:
    """Python and Java draws of ``n`` simulated spectra with the same seed and keys: largest difference
    <= :data:`TOLERANCE` of the prior box."""
    java, reason = start_jvm(dist)
    if java is None:
        return Check(NAME, FAIL if required else NOT_RUN, f"not run: {reason}")
    _, flux, sigma = simulated_spectra(bundle, n, seed)
    ids = [f"sim{i}" for i in range(n)]
    jd = java_draws(java, bundle.root, flux, sigma, ids, samples, seed)
    with PosteriorSampler(bundle) as sampler:
        pd = np.stack([sample_source(sampler, flux[i], sigma[i], ids[i], samples, seed) for i in range(n)])
    if jd.shape != pd.shape:
        return Check.of(NAME, False, f"Java returned draws of shape {jd.shape}, Python {pd.shape}")
    unit = np.abs(jd - pd) / (bundle.high - bundle.low)
    worst = float(unit.max())
    return Check.of(NAME, worst <= TOLERANCE,
                    f"{n} simulated spectra x {samples} draws, same seed and keys: max |Java - Python| "
                    f"{worst:.2g} of the prior box (limit {TOLERANCE:g}); {100 * float((jd == pd).mean()):.1f} % "
                    "of the draws bit-identical", worst, TOLERANCE)
