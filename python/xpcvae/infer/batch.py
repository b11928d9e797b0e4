"""Batch inference over a spectra file with the Python reference sampler.

One output row per input row, in order; a bad row becomes an error row naming the problem
and the batch goes on. A row's random stream is its 0-based data row number, exactly as in
the Java CLI, so both engines write the same numbers. After the Java CLI's columns each row
carries the goodness-of-fit columns (:mod:`xpcvae.forward.gof`, docs/formats.md), computed
with the forward model of the bundle's grid.

Rows are taken from an iterator and sampled, fitted and written in chunks of
:data:`CHUNK_ROWS`, straight into the temporary output files, so memory does not grow with the
number of rows; the outputs appear together when the run succeeds, never otherwise
(:class:`xpcvae.atomic.AtomicOutputs`).
"""

from __future__ import annotations

import csv
import itertools
import sys
from collections.abc import Iterator

import numpy as np
from tqdm.auto import tqdm

from xpcvae.atomic import AtomicOutputs
from xpcvae.bundle import BundleError
from xpcvae.data.gaia_xp import load_spectra
from xpcvae.data.spectra_csv import SpectrumRow, samples_header, samples_rows, summary_header, summary_row
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.gof import COLUMNS, ood_columns, reduced_chi2
from xpcvae.forward.model import model_spectra
from xpcvae.infer.output_paths import check_output_paths
from xpcvae.infer.sampler import InvalidSpectrumError, PosteriorSampler, percentiles

#: rows sampled, fitted and written at a time. The forward model runs once per chunk; its arrays
#: then stay ~10 MB. The posterior draws of a row do not depend on its chunk; its gof_chi2 can, in
#: the last bits (NumPy/OpenBLAS results depend on the rows evaluated together, as on the threads)
CHUNK_ROWS = 1024
#: what the messages call the outputs
SUMMARY, SAMPLES = "summary CSV", "samples CSV"


def bundle_forward_config(bundle) -> ForwardConfig:
    """The forward-model settings of the bundle's grid; :class:`BundleError` naming the bundle if malformed."""
    try:
        return ForwardConfig.from_manifest(bundle.manifest)
    except ValueError as exc:
        raise BundleError(f"bundle {bundle.root}: {exc}") from None


def goodness_of_fit(bundle, medians, fluxes, errors, quiet: bool = False) -> np.ndarray | None:
    """gof_chi2 (N,) of the forward model at ``medians`` (N, 7); None if the forward model cannot be
    built (with a warning on stderr unless ``quiet``)."""
    if len(medians) == 0:
        return np.zeros(0)
    config = bundle_forward_config(bundle)
    try:
        model = model_spectra(np.asarray(medians), config, bundle.wavelength)
    except (OSError, ValueError, FloatingPointError) as exc:
        if not quiet:
            print(f"warning: goodness of fit not computed: {exc}", file=sys.stderr)
        return None
    gof = bundle.gof_settings
    return reduced_chi2(np.asarray(fluxes), np.asarray(errors), model, gof.systematic, gof.dof)


def infer_rows(sampler: PosteriorSampler, rows, n_samples: int = 1000, seed: int = 42, progress: bool = True,
               keep_draws: bool = False, first_index: int = 0, quiet: bool = False, on_draws=None):
    """Sample every row; return (summary rows, [(source_id, draws)] if keep_draws, n_failed, gof_ok).

    The summary rows end with the goodness-of-fit columns; ``gof_ok`` is False when the forward
    model could not be evaluated (warned about on stderr unless ``quiet``). ``first_index``: the
    data row number of ``rows[0]`` (the source index of its random stream). ``on_draws(source_id,
    draws)``, if given, receives each ok row's draws as soon as they are drawn, in row order,
    instead of keeping them.
    """
    bundle = sampler.bundle
    out_rows: list[list[str] | None] = [None] * len(rows)
    sample_items, ok_index, medians, fluxes, errors, failed = [], [], [], [], [], 0
    for k, row in enumerate(tqdm(rows, desc="sources", unit="src", disable=not progress)):
        index = first_index + k
        draws = None
        if row.error is None:
            try:
                draws = sampler.sample(row.flux[None], row.flux_error[None], n_samples, seed,
                                       source_indices=[index], source_ids=[row.source_id])[0]
            except InvalidSpectrumError as exc:
                row = type(row)(row.source_id, None, None, str(exc))
        if row.error is not None:
            failed += 1
            msg = row.error if row.error.startswith("source ") else f"source {row.source_id}: {row.error}"
            out_rows[k] = summary_row(row.source_id, None, n_samples, msg) + [""] * len(COLUMNS)
            continue
        q = percentiles(draws)
        out_rows[k] = summary_row(row.source_id, q, n_samples)
        ok_index.append(k)
        medians.append(q["median"])
        # the spectrum as the networks (and the Java engine, whose spectra are float32) see it
        fluxes.append(np.asarray(row.flux, dtype=np.float32).astype(float))
        errors.append(np.asarray(row.flux_error, dtype=np.float32).astype(float))
        if on_draws is not None:
            on_draws(row.source_id, draws)
        elif keep_draws:
            sample_items.append((row.source_id, draws))
    chi2 = goodness_of_fit(bundle, medians, fluxes, errors, quiet)
    gof = bundle.gof_settings
    for j, k in enumerate(ok_index):
        out_rows[k] += ood_columns(None if chi2 is None else chi2[j], medians[j], bundle.low, bundle.high,
                                   gof.threshold, gof.bound_fraction)
    return out_rows, sample_items, failed, chi2 is not None


def input_rows(input_path, wavelength) -> Iterator[SpectrumRow]:
    """The rows of ``input_path`` (any input :func:`xpcvae.data.gaia_xp.load_spectra` reads), one at a
    time, in order. A file unusable as a whole fails here, before the first row is asked for."""
    # load_spectra reads a file whole (archive files must be); each row is let go once handed on.
    # The project CSV is to come row by row from data.spectra_csv's streaming reader: this line only.
    rows = load_spectra(input_path, wavelength=wavelength)
    rows.reverse()

    def drain():
        while rows:
            yield rows.pop()

    return drain()


def infer_csv(bundle, input_path, out_path, n_samples: int = 1000, seed: int = 42,
              samples_out=None, progress: bool = True) -> tuple[int, int]:
    """Run the posterior sampler on every spectrum of ``input_path``; return (n_ok, n_failed).

    ``input_path``: any input :func:`xpcvae.data.gaia_xp.load_spectra` reads (Gaia archive
    XP continuous or sampled CSV/ECSV/FITS, or the project CSV). The summary ``out_path`` and the
    draws ``samples_out`` (if given) are written together or not at all; an output that is the
    input or a file of the bundle, or both outputs under one name, is refused before any work
    (:func:`xpcvae.infer.output_paths.check_output_paths`).
    """
    check_output_paths(input_path, out_path, samples_out, getattr(bundle, "root", bundle),
                       names=("input_path", "out_path", "samples_out", "bundle"))
    targets = {SUMMARY: out_path} if samples_out is None else {SUMMARY: out_path, SAMPLES: samples_out}
    n_rows = n_failed = 0
    with PosteriorSampler(bundle) as sampler:
        bundle_forward_config(sampler.bundle)  # a malformed forward config fails before any sampling
        rows = input_rows(input_path, sampler.bundle.wavelength)
        with AtomicOutputs(targets) as outputs:
            summary = csv.writer(outputs.open(SUMMARY))
            summary.writerow(summary_header() + list(COLUMNS))
            on_draws = None
            if samples_out is not None:
                samples = csv.writer(outputs.open(SAMPLES))
                samples.writerow(samples_header())

                def on_draws(source_id, draws):  # written as drawn: a chunk's draws are never all held
                    samples.writerows(samples_rows(source_id, draws))
            gof_ok = True
            bar = tqdm(desc="sources", unit="src", disable=not progress)
            while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
                out_rows, _, failed, chunk_gof_ok = infer_rows(
                    sampler, chunk, n_samples, seed, progress=False, first_index=n_rows, quiet=not gof_ok,
                    on_draws=on_draws)
                gof_ok = gof_ok and chunk_gof_ok
                summary.writerows(out_rows)
                n_rows += len(chunk)
                n_failed += failed
                bar.update(len(chunk))
            bar.close()
    return n_rows - n_failed, n_failed
