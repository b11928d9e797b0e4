"""The forward model as an ONNX graph: the optional bundle role ``forward_model``.

``forward_model.onnx`` computes :meth:`xpcvae.forward.ForwardModel.spectra` (its first
output, the flux normalised to mean 1) for the forward-model configuration of the
bundle's grid (:func:`xpcvae.infer.batch.forward_config`), so that an engine without the
Python forward model -- the Java CLI -- can compute the goodness of fit
(``gof_chi2``, docs/formats.md) at the posterior median.

Graph (docs/sampling.md): input ``params`` float64 [B, 7] (teff, logg, mh, log_mdot, ff,
mass, a0 in the manifest's units, inside the prior box), output ``flux`` float64
[B, 343]. Input and output are float64 and the whole graph computes in float64: the
graph runs once per source, so double precision costs nothing measurable, and it makes
ONNX Runtime agree with the NumPy model to ~1e-12 rather than float32 round-off
(checked at export: <= 1e-6 relative on every sample, :data:`PARITY_TOLERANCE`).

The torch re-implementation (:class:`ForwardGraph`) follows xpcvae.forward step by step:

- stellar radius, accretion luminosity and column energy flux (:mod:`.forward.stellar`);
  rows with ``ff = 0`` use a dummy filling factor 1 and their accretion component is
  replaced by exactly 0 (``Where``), so they give exactly the photosphere and no NaN;
- the slab's emitted fraction ``F_slab / (f F)``: ``np.interp`` on the tabulated uniform
  ``log10 F`` grid written as ``Floor`` + ``Gather`` (clamped to the table's range like
  ``np.interp``), the saturated blackbody beyond its top as in
  :meth:`.forward.accretion.AccretionShock.slab_flux`;
- spot blackbody and slab emission (``1 - exp(-tau)``) on the 0.5 nm fine grid; ``expm1``,
  which ONNX lacks, as ``exp(x) - 1`` with its Taylor series below ``|x| < 1e-5``;
- the instrument operator (343 x 1601, banded): stored as 22 dense blocks of 16 output
  samples over the fine-grid columns they touch (the zeros outside the band dropped:
  0.64 MB instead of 4.4 MB), one ``MatMul`` each;
- photosphere ``empirical`` (the emulator MLP: soft clamp, tanh layers, exp, mean
  normalisation, XP-range scaling to a Teff blackbody) or ``blackbody`` (``pi B(Teff)``
  through the instrument); ``tabulated`` libraries are not exportable
  (:class:`NotExportable`);
- extinction ``10^(-0.4 A0 k_rel)`` with the curve's fixed ``k_rel`` vector, then the
  division by the mean over the 343 samples (means as MatMuls, see :data:`ROW_GROUP`).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from xpcvae import params

ROLE = "forward_model"
FILE = "forward_model.onnx"
INPUT = "params"
OUTPUT = "flux"
OPSET = 17
#: photospheres the graph implements
EXPORTABLE_PHOTOSPHERES = ("empirical", "blackbody")
#: largest relative difference ONNX Runtime vs ForwardModel.spectra accepted at export
PARITY_TOLERANCE = 1e-6
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
        from xpcvae.forward import constants as K

        lam = np.asarray(wavelength_nm, dtype=float)
        self.register_buffer("prefactor", _const(2.0 * np.pi * K.H * K.C**2 / (lam * 1e-9) ** 5 * 1e-9))
        self.register_buffer("x_times_t", _const(K.HC_OVER_K_NM / lam))

    def forward(self, temperature):  # (B, 1) -> (B, n)
        return self.prefactor / _expm1(self.x_times_t / temperature)


class _Instrument(nn.Module):
    """The XP instrument matrix (343, n_fine) applied as dense blocks over its band."""

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

    def forward(self, fine):  # (B, n_fine) -> (B, 343)
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

    def forward(self, teff, logg, mh):  # (B, 1) each -> (B, 343)
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
    """``params`` (B, 7) float64 -> ``flux`` (B, 343) float64 normalised to mean 1: the torch
    twin of ``ForwardModel.spectra(params)[0]`` for a given :class:`xpcvae.forward.ForwardModel`."""

    def __init__(self, fm):
        super().__init__()
        from xpcvae.forward import FINE_WAVELENGTH, WAVELENGTH
        from xpcvae.forward import constants as K
        from xpcvae.forward.photosphere import BlackbodyPhotosphere, EmpiricalPhotosphere

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
        self.mean = _RowMean(WAVELENGTH.size)
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


def forward_model_for(config: dict):
    """The :class:`xpcvae.forward.ForwardModel` of a :func:`xpcvae.infer.batch.forward_config` dictionary,
    or :class:`NotExportable` if its photosphere has no graph."""
    from xpcvae.infer.batch import _forward_model

    kind = str(config["photosphere"]).partition(":")[0].strip().lower()
    if kind not in EXPORTABLE_PHOTOSPHERES:
        raise NotExportable(
            f"the bundle's grid was made with the photosphere {config['photosphere']!r}, which cannot be "
            f"exported as the forward_model graph (exportable: {', '.join(EXPORTABLE_PHOTOSPHERES)}); "
            "the bundle is written without it and the Java engine leaves gof_chi2 empty")
    return _forward_model(str(config["photosphere"]), str(config.get("extinction_curve", "F99")),
                          float(config.get("rv", 3.1)), float(config.get("r_in", 5.0)))


def check_parameters(n_random: int = 4000, seed: int = 0) -> np.ndarray:
    """Parameter vectors of the parity check: uniform over the box, every corner of the box,
    ff = 0 rows, ff just above 0, A0 = 10, the other faces of the box."""
    rng = np.random.default_rng(seed)
    lo, hi = params.LOW, params.HIGH
    u = rng.random((n_random, params.NDIM))
    theta = [params.from_unit(u)]
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * params.NDIM, indexing="ij")).reshape(params.NDIM, -1).T
    theta.append(params.from_unit(corners))
    for j in range(params.NDIM):  # each face of the box
        for v in (lo[j], hi[j]):
            t = params.from_unit(rng.random((40, params.NDIM)))
            t[:, j] = v
            theta.append(t)
    ff = params.INDEX["ff"]
    t = params.from_unit(rng.random((200, params.NDIM)))
    t[:100, ff] = 0.0
    t[100:, ff] = 10.0 ** rng.uniform(-12, -3, 100)  # tiny filling factors: huge energy fluxes
    theta.append(t)
    t = params.from_unit(rng.random((100, params.NDIM)))
    t[:, params.INDEX["a0"]] = 10.0
    theta.append(t)
    return params.validate(np.vstack(theta))


def onnx_session(path, threads: int = 1):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def check_io(session, where: str) -> None:
    """Raise :class:`ValueError` unless the session has ``params`` double [B, 7] -> ``flux`` double [B, 343]."""
    ins, outs = session.get_inputs(), session.get_outputs()
    ok = (len(ins) == 1 and ins[0].name == INPUT and ins[0].type == "tensor(double)" and len(ins[0].shape) == 2
          and ins[0].shape[1] == params.NDIM and any(o.name == OUTPUT for o in outs))
    if ok:
        out = next(o for o in outs if o.name == OUTPUT)
        ok = out.type == "tensor(double)" and len(out.shape) == 2 and out.shape[1] == 343
    if not ok:
        raise ValueError(f"{where}: expected input '{INPUT}' double [batch, {params.NDIM}] and output '{OUTPUT}' "
                         f"double [batch, 343], got {[(i.name, i.type, i.shape) for i in ins]} -> "
                         f"{[(o.name, o.type, o.shape) for o in outs]}")


def parity(session, fm, theta) -> dict:
    """Largest differences of the graph against ``fm.spectra(theta)[0]``."""
    want, _ = fm.spectra(theta)
    got = session.run([OUTPUT], {INPUT: np.ascontiguousarray(theta, dtype=np.float64)})[0]
    rel = np.abs(got - want) / np.abs(want)
    ff0 = theta[:, params.INDEX["ff"]] == 0
    return {"n": int(len(theta)), "max_rel_diff": float(rel.max()), "max_abs_diff": float(np.abs(got - want).max()),
            "n_ff0": int(ff0.sum()), "max_rel_diff_ff0": float(rel[ff0].max()) if ff0.any() else None,
            "finite": bool(np.all(np.isfinite(got)))}


def export_forward_graph(config: dict, path) -> dict:
    """Write ``path`` (the ``forward_model`` graph of ``config``), check it with ``onnx.checker`` and
    against the NumPy model on :func:`check_parameters`; return the manifest's ``forward_model``
    section. Raises :class:`NotExportable` or ``RuntimeError`` (parity check failed)."""
    import onnx

    fm = forward_model_for(config)
    module = ForwardGraph(fm).eval()
    example = torch.as_tensor(params.from_unit(np.full((4, params.NDIM), 0.5)), dtype=torch.float64)
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(path), input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}, opset_version=OPSET,
                          do_constant_folding=True, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    sess = onnx_session(path)
    check_io(sess, str(path))
    theta = check_parameters()
    t0 = time.perf_counter()
    report = parity(sess, fm, theta)
    report["seconds"] = round(time.perf_counter() - t0, 3)
    if not (report["finite"] and report["max_rel_diff"] <= PARITY_TOLERANCE):
        raise RuntimeError(f"forward_model export check failed: ONNX Runtime differs from ForwardModel.spectra by "
                           f"{report['max_rel_diff']:.3g} relative (> {PARITY_TOLERANCE:g}) on {report['n']} "
                           "parameter vectors")
    return {
        "description": "ForwardModel.spectra of the bundle's grid (xpcvae.forward): params [batch, 7] float64 in "
                       "the manifest's parameter order and units, inside the prior box -> flux [batch, 343] float64 "
                       "on wavelength_nm, normalised to mean 1; computed in float64",
        "input": INPUT,
        "output": OUTPUT,
        "config": {"photosphere": fm.photosphere.spec(), "extinction_curve": fm.extinction.name,
                   "rv": fm.extinction.rv, "r_in": fm.r_in,
                   "slab_temperature_K": fm.shock.slab_temperature, "slab_fraction": fm.shock.slab_fraction,
                   "fwhm_bp_samples": fm.instrument.fwhm_bp, "fwhm_rp_samples": fm.instrument.fwhm_rp},
        "export_check": report,
    }


def add_forward_model(bundle_dir) -> dict:
    """Add (or replace) the ``forward_model`` role of an existing bundle, leaving its other files
    untouched: writes ``forward_model.onnx``, then the manifest (``files.forward_model``,
    ``forward_model``, ``goodness_of_fit``) atomically. Returns the ``forward_model`` section."""
    from xpcvae import __version__
    from xpcvae.atomic import atomic_path
    from xpcvae.bundle import ModelBundle, sha256_of
    from xpcvae.export.networks import default_gof_settings, git_revision
    from xpcvae.forward import WAVELENGTH
    from xpcvae.infer.batch import forward_config

    bundle = ModelBundle.load(bundle_dir)
    root = Path(bundle.root)
    if not np.allclose(bundle.wavelength, WAVELENGTH, rtol=0, atol=1e-6):
        raise NotExportable(f"bundle {root}: its wavelength grid differs from the forward model's")
    with atomic_path(root / FILE, suffix=".onnx") as tmp:
        section = export_forward_graph(forward_config(bundle), tmp)
        digest = sha256_of(tmp)
    section["provenance"] = {"xpcvae_version": __version__, "git_revision": git_revision(),
                             "torch_version": torch.__version__}
    manifest = dict(bundle.manifest)
    manifest["files"] = {**manifest["files"], ROLE: {"path": FILE, "sha256": digest}}
    manifest[ROLE] = section
    manifest.setdefault("goodness_of_fit", default_gof_settings())
    with atomic_path(root / "manifest.json", suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=2))
    ModelBundle.load(root)
    return section


def bundle_forward_session(bundle, threads: int = 1):
    """An ONNX Runtime session of the bundle's ``forward_model`` graph (I/O checked), or None without one."""
    if not bundle.has_role(ROLE):
        return None
    path = bundle.path(ROLE)
    try:
        sess = onnx_session(path, threads)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ValueError(f"bundle {bundle.root}: ONNX Runtime cannot load {os.path.basename(path)}: {exc}") from exc
    check_io(sess, f"bundle {bundle.root}: {os.path.basename(path)}")
    return sess
