"""Batch inference over a spectra file with the Python reference sampler.

One output row per input row, in order; a bad row becomes an error row naming the problem
and the batch goes on. A row's random stream is keyed by its source id
(:func:`xpcvae.rng.source_key`), exactly as in the Java CLI, so both engines write the same
numbers and a star's row does not depend on the rest of the file. After the Java CLI's columns
each row carries the goodness-of-fit columns (:mod:`xpcvae.forward.gof`, docs/formats.md),
computed with the forward model of the bundle's grid, one row at a time.

Rows stream: a project CSV is read row by row, each row is sampled, fitted and written straight
into the temporary output files, its draws as soon as they are drawn, so memory does not grow
with the number of rows (an ECSV or FITS summary is the exception: its rows are kept as text
until the table is written at the end). The outputs appear together when the run succeeds, never
otherwise (:class:`xpcvae.atomic.AtomicOutputs`).
"""

from __future__ import annotations

import csv
import sys

import numpy as np
from tqdm.auto import tqdm

from xpcvae import params, rng
from xpcvae.atomic import AtomicOutputs, atomic_path
from xpcvae.bundle import BundleError
from xpcvae.data.gaia_xp import iter_spectra
from xpcvae.data.spectra_csv import samples_header, samples_rows, summary_header, summary_row
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.gof import COLUMNS, ood_columns, reduced_chi2
from xpcvae.forward.model import model_spectra
from xpcvae.infer.output_paths import check_output_paths
from xpcvae.infer.sampler import InvalidSpectrumError, PosteriorSampler, percentiles
from xpcvae.infer.table import output_format, summary_table, write_table, write_table_file

#: what the messages call the outputs
SAMPLES = "samples CSV"


def summary_label(path) -> str:
    """What the messages call the summary at ``path``: "summary CSV", "summary ECSV", "summary FITS"."""
    return f"summary {output_format(path).upper()}"


def bundle_forward_config(bundle) -> ForwardConfig:
    """The forward-model settings of the bundle's grid; :class:`BundleError` naming the bundle if malformed."""
    try:
        return ForwardConfig.from_manifest(bundle.manifest)
    except ValueError as exc:
        raise BundleError(f"bundle {bundle.root}: {exc}") from None


class _GoodnessOfFit:
    """gof_chi2 of one row at a time with the bundle's forward model.

    Each row is evaluated on its own: the forward model's matrix products go through BLAS, whose
    kernels (and so the last bit of a row's result) depend on the number of rows in a product, and
    a row's gof_chi2 must not depend on the other rows of the run. A row whose model cannot be
    computed gets an empty gof_chi2 (a warning on stderr, once per run).
    """

    def __init__(self, bundle):
        self.bundle = bundle
        self.config = bundle_forward_config(bundle)
        self.settings = bundle.gof_settings
        self.warned = False

    def chi2(self, median, flux, error) -> float | None:
        try:
            model = model_spectra(np.asarray(median)[None], self.config, self.bundle.wavelength)
        except (OSError, ValueError, FloatingPointError) as exc:
            if not self.warned:
                print(f"warning: goodness of fit not computed: {exc}", file=sys.stderr)
                self.warned = True
            return None
        s = self.settings
        return float(reduced_chi2(np.asarray(flux)[None], np.asarray(error)[None], model, s.systematic, s.dof)[0])

    def columns(self, chi2, median) -> list[str]:
        s, b = self.settings, self.bundle
        return ood_columns(chi2, median, b.low, b.high, s.threshold, s.bound_fraction)


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


def iter_infer(sampler: PosteriorSampler, rows, n_samples: int = 1000, seed: int = 42):
    """Sample each row of the iterable ``rows`` as it comes; yield ``(summary row, draws)`` per row,
    in order: the summary row ends with the goodness-of-fit columns, ``draws`` (n_samples, 7) is
    None for an error row. A row's output depends on that row alone."""
    fit = _GoodnessOfFit(sampler.bundle)
    for row in rows:
        draws = None
        if row.error is None:
            try:
                draws = sample_source(sampler, row.flux, row.flux_error, row.source_id, n_samples, seed)
            except InvalidSpectrumError as exc:
                row = type(row)(row.source_id, None, None, str(exc))
            except rng.SourceIdError as exc:
                row = type(row)(row.source_id, None, None, f"source {row.source_id}: {exc}")
        if row.error is not None:
            msg = row.error if row.error.startswith("source ") else f"source {row.source_id}: {row.error}"
            yield summary_row(row.source_id, None, n_samples, msg) + [""] * len(COLUMNS), None
            continue
        q = percentiles(draws)
        # the spectrum as the networks (and the Java engine, whose spectra are float32) see it
        flux = np.asarray(row.flux, dtype=np.float32).astype(float)
        error = np.asarray(row.flux_error, dtype=np.float32).astype(float)
        chi2 = fit.chi2(q["median"], flux, error)
        yield summary_row(row.source_id, q, n_samples) + fit.columns(chi2, q["median"]), draws


def infer_rows(sampler: PosteriorSampler, rows, n_samples: int = 1000, seed: int = 42, progress: bool = True,
               keep_draws: bool = False):
    """Sample every row; return (summary rows, [(source_id, draws)] if keep_draws, n_failed).

    The summary rows end with the goodness-of-fit columns.
    """
    out_rows, sample_items, failed = [], [], 0
    bar = tqdm(rows, desc="sources", unit="src", disable=not progress)
    for out, draws in iter_infer(sampler, bar, n_samples, seed):
        out_rows.append(out)
        if draws is None:
            failed += 1
        elif keep_draws:
            sample_items.append((out[0], draws))
    return out_rows, sample_items, failed


def infer_csv(bundle, input_path, out_path, n_samples: int = 1000, seed: int = 42,
              samples_out=None, progress: bool = True, threads: int = 1) -> tuple[int, int]:
    """Run the posterior sampler on every spectrum of ``input_path``; return (n_ok, n_failed).

    ``input_path``: any input :func:`xpcvae.data.gaia_xp.load_spectra` reads (Gaia archive
    XP continuous or sampled CSV/ECSV/FITS, or the project CSV, which is streamed). ``out_path``:
    the summary, CSV, ECSV or FITS by its extension (:func:`write_summary`). ``threads``: ONNX
    Runtime's intra-op threads. ``seed``: an integer in 0 .. 2**64 - 1 (:func:`xpcvae.rng.check_seed`),
    checked before anything is read. The summary and the draws ``samples_out`` (if given) are written
    together or not at all; an output that is the input or a file of the bundle, or both outputs
    under one name, is refused before any work (:func:`xpcvae.infer.output_paths.check_output_paths`).
    """
    seed = rng.check_seed(seed)
    check_output_paths(input_path, out_path, samples_out, getattr(bundle, "root", bundle),
                       names=("input_path", "out_path", "samples_out", "bundle"))
    fmt, summary = output_format(out_path), summary_label(out_path)
    targets = {summary: out_path} if samples_out is None else {summary: out_path, SAMPLES: samples_out}
    n_rows = n_failed = 0
    with PosteriorSampler(bundle, intra_op_threads=threads) as sampler:
        bundle_forward_config(sampler.bundle)  # a malformed forward config fails before any sampling
        rows = iter_spectra(input_path, wavelength=sampler.bundle.wavelength, progress=progress)
        with AtomicOutputs(targets) as outputs:
            kept: list[list[str]] = []  # the summary rows of an ECSV or FITS summary, written at the end
            if fmt == "csv":
                table = csv.writer(outputs.open(summary))
                table.writerow(summary_header() + list(COLUMNS))
            draws_csv = None
            if samples_out is not None:
                draws_csv = csv.writer(outputs.open(SAMPLES))
                draws_csv.writerow(samples_header())
            bar = tqdm(desc="sources", unit="src", disable=not progress)
            for out, draws in iter_infer(sampler, rows, n_samples, seed):
                if fmt == "csv":
                    table.writerow(out)
                else:
                    kept.append(out)
                if draws is None:
                    n_failed += 1
                elif draws_csv is not None:  # written as drawn: draws are never held beyond their row
                    draws_csv.writerows(samples_rows(out[0], draws))
                n_rows += 1
                bar.update(1)
            bar.close()
            if fmt != "csv":
                write_table_file(summary_table(kept, sampler.bundle.manifest["parameters"]),
                                 outputs.path(summary), fmt, out_path)
    return n_rows - n_failed, n_failed

