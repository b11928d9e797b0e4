"""The forward model as an ONNX graph: the optional bundle role ``forward_model``.

``forward_model.onnx`` computes the flux of :meth:`xpcvae.forward.ForwardModel.spectra` for the
forward-model settings of the bundle's grid, in float64 throughout, so that an engine without the
Python forward model (the Java CLI) can compute the goodness of fit. :class:`ForwardGraph` is its
torch re-implementation, checked against the NumPy model at export (:data:`xpcvae.export.interface.FORWARD_TOLERANCE`);
how each step is written in ONNX and why: docs/formats.md, "the optional forward_model graph".
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from xpcvae import __version__, params
from xpcvae.atomic import atomic_path
from xpcvae.bundle import (FORWARD_FILE, FORWARD_INPUT, FORWARD_OUTPUT, FORWARD_ROLE, ModelBundle, check_forward_io,
                           onnx_session, sha256_of, write_manifest)
from xpcvae.export.interface import FORWARD_TOLERANCE, forward_check_parameters, forward_parity
from xpcvae.forward import constants as K
from xpcvae.forward.config import KEY as FORWARD_CONFIG_KEY
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.gof import MANIFEST_KEY as GOF_KEY
from xpcvae.forward.gof import GofSettings
from xpcvae.forward.instrument import FINE_WAVELENGTH, N_WAVE, WAVELENGTH
from xpcvae.forward.model import cached_model
from xpcvae.forward.photosphere import BlackbodyPhotosphere, EmpiricalPhotosphere
from xpcvae.provenance import git_revision

OPSET = 17
#: photospheres the graph implements
EXPORTABLE_PHOTOSPHERES = ("empirical", "blackbody")
#: output samples per dense block of the banded instrument operator
INSTRUMENT_BLOCK = 16
#: callers that need a source's output to be independent, to the last bit, of the other sources
#: in its run (org.xpcvae.GoodnessOfFit) pad every run to a multiple of this many rows: ONNX
#: Runtime's vectorised Exp/Log/Tanh compute the elements left over after the last full SIMD
#: packet of a tensor with the scalar function, which differs in the last bit; the packet holds
#: 2 doubles in the ONNX Runtime 1.29 and 1.32 builds (measured), at most 8 on AVX-512, so with a
#: multiple of 8 rows no row is left over (the graph has no other batch-dependent operation:
#: means are MatMuls, :class:`_RowMean`)
ROW_GROUP = 8
_EXPM1_SERIES_BELOW = 1e-5
_LN10 = float(np.log(10.0))


class NotExportable(ValueError):
    """The bundle's forward model cannot be written as the ``forward_model`` graph."""


def _const(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def _expm1(x: torch.Tensor) -> torch.Tensor:
    """exp(x) - 1 accurate to ~1e-11 relative (ONNX has no Expm1)."""
    series = x * (1.0 + x * (0.5 + x * (1.0 / 6.0)))
    return torch.where(torch.abs(x) < _EXPM1_SERIES_BELOW, series, torch.exp(x) - 1.0)


class _Planck(nn.Module):
    """``pi B_lambda(T)`` in W m^-2 nm^-1 on fixed wavelengths (:func:`.forward.stellar.planck_surface_flux`)."""

    def __init__(self, wavelength_nm):
        super().__init__()
        lam = np.asarray(wavelength_nm, dtype=float)
        self.register_buffer("prefactor", _const(2.0 * np.pi * K.H * K.C**2 / (lam * 1e-9) ** 5 * 1e-9))
        self.register_buffer("x_times_t", _const(K.HC_OVER_K_NM / lam))

    def forward(self, temperature):  # (B, 1) -> (B, n)
        return self.prefactor / _expm1(self.x_times_t / temperature)


class _Instrument(nn.Module):
    """The XP instrument matrix (N_WAVE, n_fine) applied as dense blocks over its band."""

    def __init__(self, matrix: np.ndarray, block: int = INSTRUMENT_BLOCK):
        super().__init__()
        nz = matrix != 0
        first = nz.argmax(axis=1)
        last = matrix.shape[1] - 1 - nz[:, ::-1].argmax(axis=1)
        self.spans = []
        for k, a in enumerate(range(0, matrix.shape[0], block)):
            b = min(matrix.shape[0], a + block)
            c0, c1 = int(first[a:b].min()), int(last[a:b].max()) + 1
            self.register_buffer(f"w{k}", _const(matrix[a:b, c0:c1].T.copy()))
            self.spans.append((c0, c1))

    def forward(self, fine):  # (B, n_fine) -> (B, N_WAVE)
        return torch.cat([fine[:, c0:c1] @ getattr(self, f"w{k}") for k, (c0, c1) in enumerate(self.spans)], dim=1)


class _Trapezoid(nn.Module):
    """Trapezoidal integral over fixed sample wavelengths, as a dot product."""

    def __init__(self, wavelength_nm):
        super().__init__()
        lam = np.asarray(wavelength_nm, dtype=float)
        d = np.diff(lam)
        w = np.zeros_like(lam)
        w[:-1] += 0.5 * d
        w[1:] += 0.5 * d
        self.register_buffer("weights", _const(w[:, None]))

    def forward(self, y):  # (B, n) -> (B, 1)
        return y @ self.weights


class _RowMean(nn.Module):
    """Mean over the last axis as a MatMul with a column of 1/width.

    ONNX Runtime's ReduceMean sums each row with vectorised loops that start at the row's
    memory alignment, so a row's mean depends (in the last bit) on its position in the batch;
    a MatMul does not (see :data:`ROW_GROUP`). The 1/width is in the weights, not a scalar
    factor after the MatMul: ONNX Runtime 1.29 (Java) fuses MatMul-then-scale into FusedMatMul
    with the scale as a float32 attribute (3.7e-8 off for 1/343)."""

    def __init__(self, width: int):
        super().__init__()
        self.register_buffer("weights", torch.full((width, 1), 1.0 / width, dtype=torch.float64))

    def forward(self, y):  # (B, n) -> (B, 1)
        return y @ self.weights


class _EmpiricalPhotosphere(nn.Module):
    """:class:`.forward.photosphere.EmpiricalPhotosphere` (emulator MLP, scaled to the Teff blackbody)."""

    def __init__(self, emulator, wavelength):
        super().__init__()
        self.n_layers = len(emulator.weights)
        for i, (w, b) in enumerate(zip(emulator.weights, emulator.biases)):
            self.register_buffer(f"w{i}", _const(w))
            self.register_buffer(f"b{i}", _const(b))
        self.clamp = [tuple(float(v) for v in row) for row in np.asarray(emulator.clamp, dtype=float)]
        self.planck = _Planck(wavelength)
        self.trapz = _Trapezoid(wavelength)
        self.mean = _RowMean(len(wavelength))

    @staticmethod
    def _soft_clamp(x, low_knot, high_knot, scale):
        above = torch.clamp(x - high_knot, min=0.0)
        below = torch.clamp(low_knot - x, min=0.0)
        return x - above + scale * torch.tanh(above / scale) + below - scale * torch.tanh(below / scale)

    def forward(self, teff, logg, mh):  # (B, 1) each -> (B, N_WAVE)
        t, g, m = (self._soft_clamp(v, *c) for v, c in zip((teff, logg, mh), self.clamp))
        h = torch.cat([(5040.0 / t - 1.0) / 0.25, (g - 3.0) / 1.5, (m + 0.3) / 0.4], dim=1)
        for i in range(self.n_layers - 1):
            h = torch.tanh(h @ getattr(self, f"w{i}") + getattr(self, f"b{i}"))
        log_shape = h @ getattr(self, f"w{self.n_layers - 1}") + getattr(self, f"b{self.n_layers - 1}")
        s = torch.exp(log_shape)
        shape = s / self.mean(s)
        target = self.trapz(self.planck(teff))
        return shape * (target / self.trapz(shape))


class _BlackbodyPhotosphere(nn.Module):
    """:class:`.forward.photosphere.BlackbodyPhotosphere`: ``pi B(Teff)`` through the instrument."""

    def __init__(self, fine_wavelength, instrument: _Instrument):
        super().__init__()
        self.planck = _Planck(fine_wavelength)
        self.instrument = instrument

    def forward(self, teff, logg, mh):
        return self.instrument(self.planck(teff))


class ForwardGraph(nn.Module):
    """``params`` (B, 7) float64 -> ``flux`` (B, N_WAVE) float64 normalised to mean 1: the torch
    twin of ``ForwardModel.spectra(params)[0]`` for a given :class:`xpcvae.forward.ForwardModel`."""

    def __init__(self, fm):
        super().__init__()
        self.instrument = _Instrument(fm.instrument.matrix)
        if isinstance(fm.photosphere, EmpiricalPhotosphere):
            self.photosphere = _EmpiricalPhotosphere(fm.photosphere.emulator, WAVELENGTH)
        elif isinstance(fm.photosphere, BlackbodyPhotosphere):
            self.photosphere = _BlackbodyPhotosphere(FINE_WAVELENGTH, self.instrument)
        else:
            raise NotExportable(
                f"the photosphere {fm.photosphere.spec()!r} cannot be exported as the forward_model graph "
                f"(exportable: {', '.join(EXPORTABLE_PHOTOSPHERES)})")
        shock = fm.shock
        self.spot = _Planck(FINE_WAVELENGTH)
        self.register_buffer("tau_per_flux", _const(shock.tau_per_flux))
        self.register_buffer("slab_planck", _const(shock.slab_planck))
        log_f = np.asarray(shock._log_f, dtype=float)
        steps = np.diff(log_f)
        if not np.allclose(steps, steps[0], rtol=1e-12, atol=0):
            raise NotExportable("the slab table is not on a uniform log F grid")
        self.register_buffer("table_x", _const(log_f))
        self.register_buffer("table_ratio", _const(shock._ratio))
        self.log_f0, self.log_f1, self.log_df = float(log_f[0]), float(log_f[-1]), float(steps[0])
        self.ratio_top = float(shock._ratio[-1])
        self.n_table = int(log_f.size)
        self.slab_fraction = float(shock.slab_fraction)
        self.register_buffer("k_rel", _const(fm._k_rel[None, :]))
        self.mean = _RowMean(N_WAVE)
        self.g_cgs = float(K.CGS_GRAVITY_TO_SI)
        self.gm_sun = float(K.G * K.M_SUN)
        self.m_sun = float(K.M_SUN)
        self.g = float(K.G)
        self.msun_per_year = float(K.M_SUN / K.YEAR)
        self.sigma = float(K.SIGMA_SB)
        self.lacc_factor = 1.0 - 1.0 / float(fm.r_in)

    def slab_ratio(self, energy_flux):
        """``AccretionShock.slab_flux(F) / (slab_fraction F)``."""
        # log(x) / ln 10 written out: torch exports log10 with ln 10 as a float32 constant (1e-8 off)
        logf = torch.log(torch.clamp(energy_flux, min=1e-300)) / _LN10
        x = torch.clamp(logf, self.log_f0, self.log_f1)
        j = torch.clamp(torch.floor((x - self.log_f0) / self.log_df), 0, self.n_table - 2).long()
        x0, x1 = self.table_x[j], self.table_x[j + 1]
        y0, y1 = self.table_ratio[j], self.table_ratio[j + 1]
        inside = (y1 - y0) / (x1 - x0) * (x - x0) + y0
        top = self.ratio_top * torch.pow(10.0, self.log_f1 - logf)
        return torch.where(logf > self.log_f1, top, inside)

    def forward(self, theta):
        teff, logg, mh, log_mdot, ff, mass, a0 = (theta[:, i:i + 1] for i in range(params.NDIM))
        mass_kg = mass * self.m_sun
        radius = torch.sqrt(self.g * mass_kg / (torch.pow(10.0, logg) * self.g_cgs))
        l_acc = self.lacc_factor * self.g * mass_kg * (torch.pow(10.0, log_mdot) * self.msun_per_year) / radius
        on = ff > 0.0
        ff_on = torch.where(on, ff, torch.ones_like(ff))
        energy_flux = l_acc / (4.0 * np.pi * radius * radius * ff_on)
        slab = self.slab_fraction * energy_flux * self.slab_ratio(energy_flux)
        t_spot = torch.pow((energy_flux - slab) / self.sigma + teff ** 4, 0.25)
        fine = self.spot(t_spot) - self.slab_planck * _expm1(-(energy_flux * self.tau_per_flux))
        acc = torch.where(on, self.instrument(fine), torch.zeros_like(fine[:, :1]))
        phot = self.photosphere(teff, logg, mh)
        mixed = (1.0 - ff) * phot + ff * acc
        observed = mixed * torch.pow(10.0, -0.4 * a0 * self.k_rel)
        return observed / self.mean(observed)


def forward_model_for(config: ForwardConfig):
    """The :class:`xpcvae.forward.ForwardModel` of ``config``, or :class:`NotExportable` if its
    photosphere has no graph."""
    kind = config.photosphere.partition(":")[0].strip().lower()
    if kind not in EXPORTABLE_PHOTOSPHERES:
        raise NotExportable(
            f"the bundle's grid was made with the photosphere {config.photosphere!r}, which cannot be "
            f"exported as the forward_model graph (exportable: {', '.join(EXPORTABLE_PHOTOSPHERES)}); "
            "the bundle is written without it and the Java engine leaves gof_chi2 empty")
    return cached_model(config)


def export_forward_graph(config: ForwardConfig, path) -> dict:
    """Write ``path`` (the ``forward_model`` graph of ``config``), check it with ``onnx.checker`` and
    against the NumPy model on :func:`~xpcvae.export.interface.forward_check_parameters`; return the
    manifest's ``forward_model`` section. Raises :class:`NotExportable` or ``RuntimeError`` (parity check failed)."""
    fm = forward_model_for(config)
    module = ForwardGraph(fm).eval()
    example = torch.as_tensor(params.from_unit(np.full((4, params.NDIM), 0.5)), dtype=torch.float64)
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(path), input_names=[FORWARD_INPUT], output_names=[FORWARD_OUTPUT],
                          dynamic_axes={FORWARD_INPUT: {0: "batch"}, FORWARD_OUTPUT: {0: "batch"}},
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    sess = onnx_session(path)
    check_forward_io(sess, str(path))
    theta = forward_check_parameters()
    t0 = time.perf_counter()
    report = forward_parity(sess, fm, theta)
    report["seconds"] = round(time.perf_counter() - t0, 3)
    if not (report["finite"] and report["max_rel_diff"] <= FORWARD_TOLERANCE):
        raise RuntimeError(f"forward_model export check failed: ONNX Runtime differs from ForwardModel.spectra by "
                           f"{report['max_rel_diff']:.3g} relative (> {FORWARD_TOLERANCE:g}) on {report['n']} "
                           "parameter vectors")
    return {
        "description": f"ForwardModel.spectra of the manifest's {FORWARD_CONFIG_KEY} (xpcvae.forward): params "
                       f"[batch, {params.NDIM}] float64 in the manifest's parameter order and units, inside the "
                       f"prior box -> flux [batch, {N_WAVE}] float64 on wavelength_nm, normalised to mean 1; "
                       "computed in float64",
        "input": FORWARD_INPUT,
        "output": FORWARD_OUTPUT,
        "export_check": report,
    }


def add_forward_model(bundle_dir) -> ModelBundle:
    """Add (or replace) the ``forward_model`` role of an existing bundle, leaving its other files
    untouched: writes ``forward_model.onnx``, then the manifest (``files.forward_model``,
    ``forward_model``, and ``forward_config`` and ``goodness_of_fit`` where absent) and its checksum
    file (:func:`xpcvae.bundle.write_manifest`), each atomically.
    Returns the bundle as it is then."""
    bundle = ModelBundle.load(bundle_dir)
    root = Path(bundle.root)
    if not np.allclose(bundle.wavelength, WAVELENGTH, rtol=0, atol=1e-6):
        raise NotExportable(f"bundle {root}: its wavelength grid differs from the forward model's")
    config = ForwardConfig.from_manifest(bundle.manifest)
    with atomic_path(root / FORWARD_FILE, suffix=".onnx") as tmp:
        section = export_forward_graph(config, tmp)
        digest = sha256_of(tmp)
    section["provenance"] = {"xpcvae_version": __version__, "git_revision": git_revision(),
                             "torch_version": torch.__version__}
    manifest = dict(bundle.manifest)
    manifest["files"] = {**manifest["files"], FORWARD_ROLE: {"path": FORWARD_FILE, "sha256": digest}}
    manifest[FORWARD_ROLE] = section
    manifest.setdefault(FORWARD_CONFIG_KEY, config.to_dict())
    manifest.setdefault(GOF_KEY, GofSettings.default(N_WAVE).manifest_section())
    write_manifest(root, manifest)
    return ModelBundle.load(root)
