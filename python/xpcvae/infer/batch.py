"""Batch inference over a spectra file with the Python reference sampler.

One output row per input row, in order; a bad row becomes an error row naming the problem
and the batch goes on. A row's random stream is keyed by its source id
(:func:`xpcvae.rng.source_key`), exactly as in the Java CLI, so both engines write the same
numbers and a star's row does not depend on the rest of the file. After the Java CLI's columns
each row carries the goodness-of-fit columns (:mod:`xpcvae.forward.gof`, docs/formats.md),
computed with the forward model of the bundle's grid.
"""

from __future__ import annotations

import csv
import sys

import numpy as np
from tqdm.auto import tqdm

from xpcvae import params, rng
from xpcvae.atomic import atomic_path
from xpcvae.bundle import BundleError
from xpcvae.data.gaia_xp import load_spectra
from xpcvae.data.spectra_csv import summary_header, summary_row, write_samples_csv
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.gof import COLUMNS, ood_columns, reduced_chi2
from xpcvae.forward.model import model_spectra
from xpcvae.infer.sampler import InvalidSpectrumError, PosteriorSampler, percentiles
from xpcvae.infer.table import output_format, summary_table, write_table


def bundle_forward_config(bundle) -> ForwardConfig:
    """The forward-model settings of the bundle's grid; :class:`BundleError` naming the bundle if malformed."""
    try:
        return ForwardConfig.from_manifest(bundle.manifest)
    except ValueError as exc:
        raise BundleError(f"bundle {bundle.root}: {exc}") from None


def goodness_of_fit(bundle, medians, fluxes, errors) -> np.ndarray | None:
    """gof_chi2 (N,) of the forward model at ``medians`` (N, 7); None if the forward model cannot be built.

    Each row is evaluated on its own: the forward model's matrix products go through BLAS, whose
    kernels (and so the last bit of a row's result) depend on the number of rows in a product, and
    a row's gof_chi2 must not depend on the other rows of the run.
    """
    if len(medians) == 0:
        return np.zeros(0)
    config = bundle_forward_config(bundle)
    gof = bundle.gof_settings
    out = np.empty(len(medians))
    for i, (median, flux, error) in enumerate(zip(medians, fluxes, errors)):
        try:
            model = model_spectra(np.asarray(median)[None], config, bundle.wavelength)
        except (OSError, ValueError, FloatingPointError) as exc:
            print(f"warning: goodness of fit not computed: {exc}", file=sys.stderr)
            return None
        out[i] = reduced_chi2(np.asarray(flux)[None], np.asarray(error)[None], model, gof.systematic, gof.dof)[0]
    return out


def write_summary(path, rows: list[list[str]], parameters=None) -> None:
    """The summary: the Java CLI's columns followed by the goodness-of-fit :data:`~xpcvae.forward.gof.COLUMNS`
    (docs/formats.md), as CSV, or ECSV or FITS with units and descriptions (:mod:`xpcvae.infer.table`; the
    manifest's ``parameters``, default the package's) by the extension of ``path``."""
    fmt = output_format(path)
    if fmt != "csv":
        write_table(summary_table(rows, parameters or params.as_dicts()), path, fmt)
        return
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(summary_header() + list(COLUMNS))
        w.writerows(rows)


def sample_source(sampler: PosteriorSampler, flux, flux_error, source_id: str, n_samples: int,
                  seed: int) -> np.ndarray:
    """Posterior draws (n_samples, 7) of one spectrum, whose random stream is keyed by its
    ``source_id`` (docs/sampling.md): every Python caller samples through here."""
    return sampler.sample(np.asarray(flux)[None], np.asarray(flux_error)[None], n_samples, seed,
                          source_ids=[source_id])[0]


def infer_rows(sampler: PosteriorSampler, rows, n_samples: int = 1000, seed: int = 42, progress: bool = True,
               keep_draws: bool = False):
    """Sample every row; return (summary rows, [(source_id, draws)] if keep_draws, n_failed).

    The summary rows end with the goodness-of-fit columns.
    """
    bundle = sampler.bundle
    out_rows: list[list[str] | None] = [None] * len(rows)
    sample_items, ok_index, medians, fluxes, errors, failed = [], [], [], [], [], 0
    for index, row in enumerate(tqdm(rows, desc="sources", unit="src", disable=not progress)):
        draws = None
        if row.error is None:
            try:
                draws = sample_source(sampler, row.flux, row.flux_error, row.source_id, n_samples, seed)
            except InvalidSpectrumError as exc:
                row = type(row)(row.source_id, None, None, str(exc))
            except rng.SourceIdError as exc:
                row = type(row)(row.source_id, None, None, f"source {row.source_id}: {exc}")
        if row.error is not None:
            failed += 1
            msg = row.error if row.error.startswith("source ") else f"source {row.source_id}: {row.error}"
            out_rows[index] = summary_row(row.source_id, None, n_samples, msg) + [""] * len(COLUMNS)
            continue
        q = percentiles(draws)
        out_rows[index] = summary_row(row.source_id, q, n_samples)
        ok_index.append(index)
        medians.append(q["median"])
        # the spectrum as the networks (and the Java engine, whose spectra are float32) see it
        fluxes.append(np.asarray(row.flux, dtype=np.float32).astype(float))
        errors.append(np.asarray(row.flux_error, dtype=np.float32).astype(float))
        if keep_draws:
            sample_items.append((row.source_id, draws))
    chi2 = goodness_of_fit(bundle, medians, fluxes, errors)
    gof = bundle.gof_settings
    for k, index in enumerate(ok_index):
        out_rows[index] += ood_columns(None if chi2 is None else chi2[k], medians[k], bundle.low, bundle.high,
                                       gof.threshold, gof.bound_fraction)
    return out_rows, sample_items, failed


def infer_csv(bundle, input_path, out_path, n_samples: int = 1000, seed: int = 42,
              samples_out=None, progress: bool = True, threads: int = 1) -> tuple[int, int]:
    """Run the posterior sampler on every spectrum of ``input_path``; return (n_ok, n_failed).

    ``input_path``: any input :func:`xpcvae.data.gaia_xp.load_spectra` reads (Gaia archive
    XP continuous or sampled CSV/ECSV/FITS, or the project CSV). ``out_path``: the summary, CSV,
    ECSV or FITS by its extension (:func:`write_summary`). ``threads``: ONNX Runtime's intra-op
    threads. ``seed``: an integer in 0 .. 2**64 - 1 (:func:`xpcvae.rng.check_seed`), checked before
    anything is read.
    """
    seed = rng.check_seed(seed)
    with PosteriorSampler(bundle, intra_op_threads=threads) as sampler:
        bundle_forward_config(sampler.bundle)  # a malformed forward config fails before any sampling
        rows = load_spectra(input_path, wavelength=sampler.bundle.wavelength, progress=progress)
        out_rows, sample_items, failed = infer_rows(sampler, rows, n_samples, seed, progress,
                                                    keep_draws=samples_out is not None)
    write_summary(out_path, out_rows, sampler.bundle.manifest["parameters"])
    if samples_out is not None:
        write_samples_csv(samples_out, sample_items)
    return len(rows) - failed, failed
