"""Generation of model grids (``xpcvae grid``).

Parameters are drawn uniformly over the prior box of :mod:`xpcvae.params` with a
scrambled Sobol sequence (``scipy.stats.qmc.Sobol``, seeded), a space-filling
low-discrepancy design; the first ``n`` points are used. Spectra are computed by
:class:`xpcvae.forward.ForwardModel` in fixed chunks of rows, in parallel worker
processes (``spawn``; each with single-threaded BLAS). The forward model has no
randomness and every chunk is computed the same way whatever the number of
workers, so a grid is a deterministic function of (n, seed, model options).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
import warnings

import numpy as np
from scipy.stats import qmc
from tqdm import tqdm

from xpcvae import params
from xpcvae.data.gridfile import write_grid
from xpcvae.forward.instrument import WAVELENGTH
from xpcvae.forward.model import ForwardModel

DEFAULT_CHUNK = 2048
_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_WORKER_MODEL = None


def draw_parameters(n: int, seed: int) -> np.ndarray:
    """``n`` parameter vectors (n, 7), uniform over the prior box (scrambled Sobol)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"number of spectra must be >= 1, got {n}")
    sobol = qmc.Sobol(d=params.NDIM, scramble=True, seed=np.random.default_rng(int(seed)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "balance properties ... n not a power of 2"
        u = sobol.random(n)
    return params.from_unit(u)


def _init_worker(options: dict) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = ForwardModel(**options)


def _work(theta: np.ndarray):
    flux, norm = _WORKER_MODEL.spectra(theta)
    return flux.astype(np.float32), norm


@contextlib.contextmanager
def _single_threaded_blas():
    saved = {k: os.environ.get(k) for k in _BLAS_ENV}
    os.environ.update({k: "1" for k in _BLAS_ENV})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def generate(n: int, seed: int = 0, *, photosphere: str = "empirical", extinction_curve: str = "F99",
             r_in: float = 5.0, workers: int | None = None, chunk: int = DEFAULT_CHUNK, progress: bool = True,
             log=None):
    """Compute a grid in memory: ``(parameters, flux float32, norm, attrs)``.

    ``workers``: number of worker processes (default: all cores), each with
    single-threaded BLAS, so that results are bit-identical whatever their number;
    0 computes in this process instead (faster to start; BLAS threading as configured,
    which may change the last bit of ``norm``).
    """
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 0:
        raise ValueError(f"--workers must be >= 0, got {workers}")
    chunk = int(chunk)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    if not isinstance(photosphere, str):
        raise ValueError("grid generation takes the photosphere as a string (empirical, blackbody, tabulated:PATH)")
    options = {"photosphere": photosphere, "extinction_curve": extinction_curve, "r_in": r_in}
    model = ForwardModel(**options)  # validates the options here, before any work
    theta = draw_parameters(n, seed)
    pieces = [theta[a:a + chunk] for a in range(0, theta.shape[0], chunk)]
    flux = np.empty((theta.shape[0], WAVELENGTH.size), dtype=np.float32)
    norm = np.empty(theta.shape[0])
    workers = min(workers, len(pieces))
    t0 = time.time()
    bar = tqdm(total=theta.shape[0], desc="grid", unit="spectra", disable=not progress, smoothing=0.1)
    if workers == 0:
        _init_worker_local(model)
        results = map(_work, pieces)
        _consume(results, pieces, flux, norm, bar)
    else:
        ctx = mp.get_context("spawn")
        with _single_threaded_blas():
            pool = ctx.Pool(workers, initializer=_init_worker, initargs=(options,))
        try:
            _consume(pool.imap(_work, pieces), pieces, flux, norm, bar)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    bar.close()
    elapsed = time.time() - t0
    attrs = {
        "photosphere": model.photosphere.spec(),
        "extinction_curve": model.extinction.name,
        "extinction_rv": model.extinction.rv,
        "r_in": model.r_in,
        "seed": int(seed),
        "sampling": f"scrambled Sobol sequence (scipy.stats.qmc.Sobol, d=7, seed={int(seed)}), first n points, "
                    "uniform over the prior box",
        "forward_model": model.describe(),
        "forward_config": model.config.to_dict(),
        "generation_seconds": round(elapsed, 2),
        "generation_workers": workers,
    }
    if log:
        log(f"grid: {theta.shape[0]} spectra in {elapsed:.1f} s ({theta.shape[0] / max(elapsed, 1e-9):.0f} spectra/s, "
            f"{workers or 'no'} worker process{'es' if workers != 1 else ''})")
    return theta, flux, norm, attrs


def _init_worker_local(model) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = model


def _consume(results, pieces, flux, norm, bar) -> None:
    start = 0
    for piece, (f, m) in zip(pieces, results):
        stop = start + piece.shape[0]
        flux[start:stop] = f
        norm[start:stop] = m
        start = stop
        bar.update(piece.shape[0])


def make_grid(out, n: int, seed: int = 0, **kwargs):
    """Generate a grid and write it atomically to ``out``; returns (path, attrs)."""
    theta, flux, norm, attrs = generate(n, seed, **kwargs)
    path = write_grid(out, theta, WAVELENGTH, flux, norm, attrs)
    return path, attrs
