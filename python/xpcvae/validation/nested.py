"""Classical reference posteriors: nested sampling with dynesty (Speagle 2020, MNRAS 493, 3132) on a
Gaussian likelihood, with the forward model evaluated in batches.

dynesty calls the likelihood one point at a time; the forward model costs ~7 ms for one spectrum
and ~0.17 ms per spectrum in batches of 64. :class:`BatchingPool` is the ``pool`` dynesty gets: its
``map`` runs dynesty's per-point tasks (proposals of new live points, ``queue_size`` at once) in
threads, and the likelihood those tasks call waits until every still-running task has asked for
one, then evaluates all the waiting points in one batched call. The batches are formed in lockstep
(every running task contributes one point per batch, in task order), so a run does not depend on
how the threads are scheduled.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from xpcvae import params


class GaussianLikelihood:
    """``ln L(theta) = -1/2 sum(((y - f(theta)) / sigma)^2) - sum(ln sigma) - n/2 ln(2 pi)``.

    ``model``: a function ``(N, 7) -> (N, n)`` model spectra (e.g. ``ForwardModel.spectra(.)[0]``);
    ``flux`` and ``sigma`` (n,): the observed spectrum and its 1-sigma errors (known, independent).
    :meth:`batch` evaluates (N, 7) points at once.
    """

    def __init__(self, model, flux, sigma):
        self.model = model
        self.flux = np.asarray(flux, dtype=np.float64)
        self.sigma = np.asarray(sigma, dtype=np.float64)
        if self.flux.ndim != 1 or self.flux.shape != self.sigma.shape:
            raise ValueError(f"flux {self.flux.shape} and sigma {self.sigma.shape} must be 1-D of one length")
        if not (np.all(np.isfinite(self.flux)) and np.all(np.isfinite(self.sigma)) and np.all(self.sigma > 0)):
            raise ValueError("flux must be finite and sigma finite and > 0")
        self._const = -float(np.sum(np.log(self.sigma))) - 0.5 * self.flux.size * math.log(2.0 * math.pi)

    def batch(self, theta) -> np.ndarray:
        model = np.asarray(self.model(np.atleast_2d(theta)), dtype=np.float64)
        return -0.5 * np.sum(((self.flux - model) / self.sigma) ** 2, axis=1) + self._const

    def __call__(self, theta) -> float:
        return float(self.batch(theta)[0])


class BatchingPool:
    """A dynesty ``pool`` whose likelihood calls, from all the tasks of one ``map``, are batched.

    ``batch_logl``: ``(N, ndim) -> (N,)``. Give dynesty :meth:`loglikelihood` as its likelihood,
    ``pool=this`` and a ``queue_size``; ``batches`` and ``points`` count the batched calls.
    """

    def __init__(self, batch_logl, size: int):
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self.batch_logl = batch_logl
        self.size = int(size)
        self._cond = threading.Condition()
        self._local = threading.local()
        self._active = 0
        self._pending: dict[int, np.ndarray] = {}
        self._results: dict[int, float] = {}
        self._error: BaseException | None = None
        self.batches = 0
        self.points = 0

    # dynesty reads the pool's size from ``pool.size``
    def map(self, func, iterable):
        items = list(iterable)
        if not items:
            return []
        with self._cond:
            self._active = len(items)
            self._error = None

        def run(index, item):
            self._local.index = index
            try:
                return func(item)
            finally:
                with self._cond:
                    self._active -= 1
                    self._flush_if_ready()

        with ThreadPoolExecutor(max_workers=len(items)) as ex:
            futures = [ex.submit(run, i, item) for i, item in enumerate(items)]
            return [f.result() for f in futures]

    def loglikelihood(self, theta) -> float:
        """The per-point likelihood dynesty calls (from inside :meth:`map`'s tasks, or directly)."""
        index = getattr(self._local, "index", None)
        if index is None:  # not inside map: evaluate alone
            self.batches += 1
            self.points += 1
            return float(self.batch_logl(np.atleast_2d(theta))[0])
        with self._cond:
            self._pending[index] = np.asarray(theta, dtype=np.float64)
            self._flush_if_ready()
            while index not in self._results:
                if self._error is not None:
                    raise RuntimeError("batched likelihood failed") from self._error
                self._cond.wait()
            return self._results.pop(index)

    def _flush_if_ready(self) -> None:
        """With the lock held: evaluate the pending points once every running task has given one."""
        if not self._pending or len(self._pending) < self._active:
            return
        order = sorted(self._pending)
        try:
            values = np.asarray(self.batch_logl(np.stack([self._pending[i] for i in order])), dtype=np.float64)
        except BaseException as exc:  # wake the waiting tasks with the error instead of hanging
            self._error = exc
            self._pending.clear()
            self._cond.notify_all()
            raise
        self.batches += 1
        self.points += len(order)
        self._results.update(zip(order, values.tolist()))
        self._pending.clear()
        self._cond.notify_all()


def kish_ess(weights) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of weighted samples."""
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / np.sum(w ** 2))


def run_nested(batch_logl, ndim: int, prior_transform, seed: int, nlive: int = 500, dlogz: float = 0.01,
               queue_size: int = 64, maxcall: int | None = None, progress: bool = False,
               sample: str = "rwalk") -> dict:
    """A static dynesty run (multi-ellipsoid bounds, ``sample`` proposals: random walks by default) to ``dlogz``.

    Returns the samples, their normalised importance weights, Kish's ESS, the evidence, the
    remaining-evidence estimate ``delta_logz`` at the stop, whether it reached ``dlogz`` (not
    stopped by ``maxcall``), likelihood calls and wall seconds.
    """
    import dynesty  # lazy: the optional bench extra

    pool = BatchingPool(batch_logl, queue_size)
    t0 = time.perf_counter()
    sampler = dynesty.NestedSampler(pool.loglikelihood, prior_transform, ndim, nlive=nlive, bound="multi",
                                    sample=sample, pool=pool, queue_size=queue_size,
                                    rstate=np.random.default_rng(seed))
    sampler.run_nested(dlogz=dlogz, maxcall=maxcall, add_live=False, print_progress=progress)
    # the stopping statistic as dynesty computes it (sampler.sample): ln(1 + L_max X / Z), the log of
    # the largest possible ratio of the final to the current evidence
    run = sampler.saved_run
    delta_logz = float(np.logaddexp(0.0, np.max(sampler.live_logl) + run["logvol"][-1] - run["logz"][-1]))
    sampler.add_final_live(print_progress=False)
    seconds = time.perf_counter() - t0
    res = sampler.results
    logwt = np.asarray(res["logwt"])
    w = np.exp(logwt - logwt.max())
    w /= w.sum()
    return {"samples": np.asarray(res["samples"]), "weights": w, "ess": kish_ess(w),
            "logz": float(res["logz"][-1]), "logzerr": float(res["logzerr"][-1]),
            "delta_logz": delta_logz, "converged": bool(delta_logz < dlogz),
            "dlogz_target": dlogz, "ncall": int(np.sum(res["ncall"])), "niter": int(res["niter"]),
            "nlive": nlive, "seconds": seconds, "batches": pool.batches, "seed": seed}


def unit_box_transform(u) -> np.ndarray:
    """dynesty's prior transform for the uniform prior over :mod:`xpcvae.params`' box."""
    return params.from_unit(u)
