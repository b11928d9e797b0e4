"""Export a trained run to a self-describing ONNX model bundle (docs/sampling.md).

The three networks are exported with ``torch.onnx.export``, checked with ``onnx.checker`` and
against PyTorch on ONNX Runtime before the bundle is written atomically; the two per-spectrum
graphs get their dense layers with the weights as the left operand first
(:mod:`xpcvae.export.graph_form`: ONNX Runtime runs them about 1.5 times faster on one spectrum). The manifest (with its
checksum file ``manifest.json.sha256``, :func:`xpcvae.bundle.write_manifest`) records
checksums, the parameter space, the wavelength grid, the architecture, provenance, metrics, the
forward-model settings of the run's grid (``forward_config``), the goodness-of-fit defaults
(``goodness_of_fit``) and, where the grid's photosphere allows, the ``forward_model`` graph
(:mod:`xpcvae.export.forward_graph`).
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from xpcvae import __version__, params, rng
from xpcvae.bundle import (FORMAT, FORMAT_VERSION, FORWARD_FILE, FORWARD_ROLE, ModelBundle, draws_per_sample,
                           onnx_session, sha256_of, write_manifest)
from xpcvae.export.forward_graph import NotExportable, export_forward_graph
from xpcvae.export.graph_form import PER_SPECTRUM_ROLES, weights_as_left_operand
from xpcvae.export.interface import GRAPH_NAMES, NETWORK_TOLERANCE
from xpcvae.forward.config import KEY as FORWARD_CONFIG_KEY
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.gof import MANIFEST_KEY as GOF_KEY
from xpcvae.forward.gof import GofSettings
from xpcvae.forward.instrument import N_WAVE, WAVELENGTH
from xpcvae.provenance import git_revision
from xpcvae.train.model import CVAE

OPSET = 17


class _SiLUAsQuotient(nn.Module):
    """SiLU written as x / (1 + exp(-x)) rather than x * sigmoid(x).

    Same function; the other form keeps ONNX Runtime 1.29 (Java) from fusing it into its
    float-only QuickGelu kernel, which then fails to load for double-precision graphs.
    """

    def forward(self, x):
        return x / (1.0 + torch.exp(-x))


def _replace_silu(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.SiLU):
            setattr(module, name, _SiLUAsQuotient())
        else:
            _replace_silu(child)


class _Float64(nn.Module):
    """Runs a per-spectrum graph in double precision between float32 inputs and outputs.

    The two per-spectrum graphs run once per source, so double precision costs little
    there, and it makes their float32 outputs the correctly rounded values of the trained
    network: ONNX Runtime (Python or Java, any version or CPU) and PyTorch then agree to
    float32 rounding whatever order their matrix products sum in. The per-draw graph,
    which dominates the cost, stays in float32.
    """

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = copy.deepcopy(inner).double()
        _replace_silu(self.inner)

    def forward(self, a, b):
        out = self.inner(a.double(), b.double())
        return tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()


class _R1Graph(nn.Module):
    def __init__(self, model: CVAE):
        super().__init__()
        self.features, self.r1 = model.features, model.r1

    def forward(self, flux, flux_error):
        return self.r1(self.features(flux, flux_error))


class _ContextGraph(nn.Module):
    def __init__(self, model: CVAE):
        super().__init__()
        self.features, self.r2 = model.features, model.r2

    def forward(self, flux, flux_error):
        return self.r2.context(self.features(flux, flux_error))


class _SampleGraph(nn.Module):
    def __init__(self, model: CVAE):
        super().__init__()
        self.r2 = model.r2

    def forward(self, context, z):
        return self.r2.sample_head(context, z)


GRAPHS = {
    "r1_encoder": (lambda m: _Float64(_R1Graph(m)), *GRAPH_NAMES["r1_encoder"]),
    "decoder_context": (lambda m: _Float64(_ContextGraph(m)), *GRAPH_NAMES["decoder_context"]),
    "decoder_sample": (_SampleGraph, *GRAPH_NAMES["decoder_sample"]),
}


def _example_inputs(model: CVAE, spectra: np.ndarray | None, n: int = 256):
    """Realistic test inputs: given spectra, else the standardisation means with noise."""
    if spectra is not None:
        flux, err = spectra
        return torch.as_tensor(flux[:n], dtype=torch.float32), torch.as_tensor(err[:n], dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    f = model.features
    flux = (f.flux_mean + f.flux_std * 0.3 * torch.randn(n, N_WAVE, generator=g)).clamp_min(1e-3)
    err = torch.exp(f.log_err_mean + f.log_err_std * 0.3 * torch.randn(n, N_WAVE, generator=g))
    return flux, err


def run_check_spectra(run, n: int = 200, seed: int = 0):
    """``(flux, flux_error)`` of the first ``n`` spectra of ``run``'s test split, observed through the run's
    own observation model (:func:`xpcvae.train.evaluate.observe_test_split`) at G spread over its training
    range: the inputs of the ONNX-vs-PyTorch check. None when the run's grid is not at hand."""
    from xpcvae.train.evaluate import observe_test_split  # lazy: the evaluation only for this check

    cfg = run.read_config()
    if not cfg.get("grid_path") or not Path(cfg["grid_path"]).exists():
        return None
    training = cfg["training"]
    grid = run.grid()
    test = run.test_indices(n)
    g = np.linspace(training["g_mag_min"], training["g_mag_max"], len(test))
    _, flux, sigma = observe_test_split(run, grid, run.observation_model(), g, seed, n)
    return flux, sigma


def graph_inputs(model: CVAE, spectra=None) -> dict:
    """The inputs of each network graph for the ONNX-vs-PyTorch check, by role: ``spectra`` (flux,
    flux_error) or :func:`_example_inputs`, and latent draws ``z`` from the model's own encoder."""
    flux, err = _example_inputs(model, spectra)
    with torch.no_grad():
        feats = model.features(flux, err)
        ctx = model.r2.context(feats)
        _, mmean, mlogstd = model.r1(feats)
        z = (mmean[:, 0, :] + torch.exp(mlogstd[:, 0, :]) * torch.randn(mmean[:, 0, :].shape,
             generator=torch.Generator().manual_seed(1))).float()
    return {"r1_encoder": (flux, err), "decoder_context": (flux, err), "decoder_sample": (ctx, z)}


def graph_difference(model: CVAE, role: str, session, inputs) -> float:
    """Largest |ONNX Runtime - PyTorch| over the outputs of the graph of ``role`` (an ONNX Runtime ``session``)
    on ``inputs``; the reference is the PyTorch module the graph is exported from, in its precision."""
    module = GRAPHS[role][0](model).eval()
    in_names = GRAPHS[role][1]
    got = session.run(None, {n: t.numpy() for n, t in zip(in_names, inputs)})
    with torch.no_grad():
        want = module(*inputs)
    want = want if isinstance(want, tuple) else (want,)
    return max(float(np.max(np.abs(g - w.numpy()))) for g, w in zip(got, want))


def _export_graph(module: nn.Module, inputs, input_names, output_names, path: Path):
    dyn = {name: {0: "batch"} for name in (*input_names, *output_names)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tuple(inputs), str(path), input_names=list(input_names),
                          output_names=list(output_names), dynamic_axes=dyn, opset_version=OPSET,
                          do_constant_folding=True, dynamo=False)


def export_model(model: CVAE, out_dir, *, provenance: dict | None = None, metrics: dict | None = None,
                 check_spectra=None, description: str = "", forward_model: bool = True) -> tuple[ModelBundle, dict]:
    """Write the bundle of ``model`` to ``out_dir`` atomically; return it and the check report.

    ``check_spectra`` is an optional ``(flux, flux_error)`` pair of arrays (>= 100 rows)
    used to compare ONNX Runtime against PyTorch (:func:`graph_difference`); the maximum absolute
    difference over every output must be <= :data:`~xpcvae.export.interface.NETWORK_TOLERANCE` or the
    export fails. ``forward_model``: also write the
    ``forward_model`` graph of the grid's forward model (skipped with a warning if its
    photosphere cannot be exported). The forward-model settings are read from
    ``provenance["grid_attrs"]`` (the run's grid attributes).
    """
    model = model.eval()
    forward_config = ForwardConfig.from_grid_attrs((provenance or {}).get("grid_attrs"))
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_dir, 0o777 & ~umask)  # mkdtemp makes it private; a bundle is meant to be shared
    try:
        inputs = graph_inputs(model, check_spectra)
        files, report = {}, {"n_check": int(inputs["r1_encoder"][0].shape[0]), "max_abs_diff": {}}
        for role, (cls, in_names, out_names) in GRAPHS.items():
            path = tmp_dir / f"{role}.onnx"
            _export_graph(cls(model).eval(), inputs[role], in_names, out_names, path)
            if role in PER_SPECTRUM_ROLES:
                graph = onnx.load(str(path))
                weights_as_left_operand(graph)
                onnx.save(graph, str(path))
            onnx.checker.check_model(onnx.load(str(path)), full_check=True)
            diff = graph_difference(model, role, onnx_session(path), inputs[role])
            report["max_abs_diff"][role] = diff
            if not diff <= NETWORK_TOLERANCE:
                raise RuntimeError(f"export check failed: {role} differs from PyTorch by {diff:g} "
                                   f"(> {NETWORK_TOLERANCE:g})")
            files[role] = {"path": path.name, "sha256": sha256_of(path)}
        forward_section = None
        if forward_model:
            try:
                forward_section = export_forward_graph(forward_config, tmp_dir / FORWARD_FILE)
                files[FORWARD_ROLE] = {"path": FORWARD_FILE, "sha256": sha256_of(tmp_dir / FORWARD_FILE)}
            except NotExportable as exc:
                print(f"warning: no forward_model graph: {exc}", file=sys.stderr)
        cfg = model.cfg
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "description": description,
            "parameters": params.as_dicts(),
            "wavelength_nm": [float(w) for w in WAVELENGTH],
            "latent_size": cfg.latent_size,
            "mixture_components": cfg.mixture_components,
            "context_size": cfg.context_size,
            "posterior_family": "logit-normal",
            "rng": rng.ALGORITHM,
            "draws_per_sample": draws_per_sample(cfg.latent_size, cfg.n_params),
            "onnx_opset": OPSET,
            "files": files,
            "input": {
                "flux": "sampled XP flux on wavelength_nm, any unit",
                "flux_error": "1-sigma flux uncertainty, same unit, > 0",
                "normalisation": "inside the graphs: flux and flux_error divided by the mean flux, then "
                                 "flux standardised per wavelength and log(flux_error) standardised per wavelength",
            },
            "architecture": cfg.to_dict(),
            "provenance": {"xpcvae_version": __version__, "git_revision": git_revision(),
                           "torch_version": torch.__version__, **(provenance or {})},
            "metrics": metrics or {},
            "export_check": report,
            FORWARD_CONFIG_KEY: forward_config.to_dict(),
            GOF_KEY: GofSettings.default(N_WAVE).manifest_section(),
        }
        if forward_section is not None:
            manifest[FORWARD_ROLE] = forward_section
        write_manifest(tmp_dir, manifest)
        ModelBundle.load(tmp_dir)  # the bundle must pass its own validation
        if out_dir.exists():
            # keep files that are not ours (model card, figures) in an existing bundle dir
            for f in out_dir.iterdir():
                if not (tmp_dir / f.name).exists():
                    shutil.move(str(f), tmp_dir / f.name)
            shutil.rmtree(out_dir)
        tmp_dir.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return ModelBundle.load(out_dir), report
