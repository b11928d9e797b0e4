"""Rebuild a training run from an exported bundle: the trained weights are the ONNX initializers.

A bundle (docs/sampling.md) carries the three inference networks (r1 encoder, decoder context,
decoder head) with their weights as ONNX initializers, and its manifest records the architecture
and the training settings (provenance). :func:`import_bundle` maps those initializers back onto
the modules of :class:`xpcvae.train.model.CVAE` and writes a run directory
(:class:`xpcvae.train.run.Run`) that ``xpcvae train --init-from`` and ``xpcvae evaluate`` accept,
so a shipped model can be fine-tuned on a machine that has only the bundle.

What cannot come back: the recognition encoder q(z | x, y) is used only in training and is not
exported, so the rebuilt model has a freshly initialised q. Fine-tuning from it should first
train q alone against the frozen inference networks (``xpcvae train --q-warmup``), otherwise the
random q's latent draws would pull the decoder away from what it learned. The optimiser state and
the training history are not in a bundle either.

The per-spectrum graphs are exported in double precision (:class:`xpcvae.export.networks._Float64`)
from float32 weights, so their initializers convert back to float32 exactly.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from xpcvae.bundle import ModelBundle, sha256_of
from xpcvae.forward.config import ForwardConfig
from xpcvae.simulate.observe import ResidualTemplates
from xpcvae.train.model import CVAE, CVAEConfig
from xpcvae.train.run import Run, RunError
from xpcvae.train.training import TrainConfig, split_indices

#: ONNX initializer name prefix -> CVAE state-dict prefix, per graph (names torch.onnx.export
#: gives the parameters of the wrapped modules in xpcvae.export.networks.GRAPHS)
_PREFIXES = {"r1_encoder": ("inner.r1.", "r1."), "decoder_context": ("inner.r2.", "r2."),
             "decoder_sample": ("r2.", "r2.")}
#: suffix of a bias stored as a column by xpcvae.export.graph_form.weights_as_left_operand
_COLUMN = "_column"
#: the feature-standardisation buffers, in the order the features use them
_FEATURE_BUFFERS = ("flux_mean", "flux_std", "log_err_mean", "log_err_std")


class BundleImportError(ValueError):
    """The bundle's graphs do not map onto the CVAE of its manifest's architecture."""


def _feature_buffers(graph: onnx.GraphProto, inits: dict) -> dict:
    """The four standardisation vectors, identified by the node that consumes them: ``Sub`` then
    ``Div`` on the flux path, ``Sub`` then ``Div`` after the ``Log`` on the error path."""
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    found = {}
    for name in inits:
        if not name.startswith("onnx::Sub"):
            continue
        (sub,) = consumers[name]
        other = next(i for i in sub.input if i != name)
        on_log_path = producer.get(other) is not None and producer[other].op_type == "Log"
        (div,) = [n for n in consumers[sub.output[0]] if n.op_type == "Div"]
        std = next(i for i in div.input if i in inits)
        key = "log_err" if on_log_path else "flux"
        found[f"{key}_mean"], found[f"{key}_std"] = inits[name], inits[std]
    if sorted(found) != sorted(_FEATURE_BUFFERS):
        raise BundleImportError(f"standardisation buffers not found in the graph (got {sorted(found)})")
    return found


def model_from_bundle(bundle_dir) -> tuple[CVAE, ModelBundle]:
    """The CVAE whose inference networks are the bundle's (q freshly initialised, seed 0), in eval mode."""
    bundle = ModelBundle.load(bundle_dir)
    cfg = CVAEConfig.from_dict(bundle.manifest["architecture"])
    torch.manual_seed(0)
    model = CVAE(cfg)
    state = model.state_dict()
    loaded: dict = {}
    features: dict = {}
    for role, (onnx_prefix, torch_prefix) in _PREFIXES.items():
        graph = onnx.load(str(bundle.root / f"{role}.onnx")).graph
        inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        for name, value in inits.items():
            if name.startswith(onnx_prefix):
                key = torch_prefix + name[len(onnx_prefix):]
                if key.endswith(_COLUMN):  # a bias as a column (xpcvae.export.graph_form: W x + b[:, None])
                    key, value = key[: -len(_COLUMN)], value.reshape(-1)
                if key not in state:
                    raise BundleImportError(f"{role}.onnx: initializer {name} has no counterpart {key} in the CVAE")
                loaded[key] = value
            elif name.startswith("onnx::MatMul") and role == "decoder_sample":
                loaded["r2.latent_proj.weight"] = value.T  # exported as z @ W^T
        if role != "decoder_sample":
            for k, v in _feature_buffers(graph, inits).items():
                if k in features and not np.array_equal(features[k], v):
                    raise BundleImportError(f"{role}.onnx: its {k} differs from the other graph's")
                features[k] = v
    for k, v in features.items():
        loaded[f"features.{k}"] = v
    expected = {k for k in state if not k.startswith("q.")}
    missing = sorted(expected - set(loaded))
    if missing:
        raise BundleImportError(f"the bundle's graphs lack {', '.join(missing)}")
    for key, value in loaded.items():
        if tuple(value.shape) != tuple(state[key].shape):
            raise BundleImportError(f"{key}: bundle shape {value.shape}, architecture {tuple(state[key].shape)}")
        as32 = value.astype(np.float32)
        if not np.array_equal(as32.astype(value.dtype), value):
            raise BundleImportError(f"{key}: not float32 weights (the export writes float32 weights)")
        state[key] = torch.as_tensor(as32)
    model.load_state_dict(state)
    model.eval()
    return model, bundle


def import_bundle(bundle_dir, run_dir, grid_path: str | None = None) -> Run:
    """Write run ``run_dir`` from bundle ``bundle_dir``: its config (the manifest's architecture,
    training settings and grid), the split those settings define, ``best.pt`` (epoch 0, no
    optimiser state: a parent for ``--init-from`` and a run for ``xpcvae evaluate``), and the residual templates when the bundle
    was trained with them (rebuilt from the library: the manifest does not hold them).
    ``grid_path``: the grid to record (default: the manifest's)."""
    model, bundle = model_from_bundle(bundle_dir)
    prov = bundle.manifest.get("provenance") or {}
    for key in ("training", "grid_size", "grid_attrs"):
        if key not in prov:
            raise BundleImportError(f"{bundle_dir}: the manifest's provenance lacks {key!r}")
    run = Run(run_dir)
    if run.has_config():
        raise RunError(f"{run_dir} already holds a run; import into a new directory")
    training = TrainConfig(**{k: v for k, v in prov["training"].items() if k in TrainConfig.__dataclass_fields__})
    run.write_config({
        "init_from": None, "imported_from": {"bundle": str(bundle_dir),
                                             "manifest_sha256": sha256_of(bundle.root / "manifest.json"),
                                             "run": prov.get("run"), "checkpoint": prov.get("checkpoint"),
                                             "note": "recognition encoder q re-initialised (not in a bundle)"},
        "model": model.cfg.to_dict(), "training": training.__dict__,
        "grid_path": grid_path or prov.get("grid_path"), "grid_size": int(prov["grid_size"]),
        "grid_attrs": prov["grid_attrs"], "noise": prov.get("noise"),
    })
    run.write_split(split_indices(int(prov["grid_size"]), training.val_fraction, training.test_fraction,
                                  training.split_seed))
    state = {"model": model.state_dict(), "optimizer": {}, "epoch": 0, "best_val": float("inf"),
             "best_epoch": 0, "stale": 0, "history": [], "model_cfg": model.cfg.to_dict()}
    run.save_checkpoint(run.best_checkpoint, state)  # no last.pt: there is nothing to resume
    if training.residual_templates:
        ResidualTemplates.from_library(ForwardConfig.from_grid_attrs(prov["grid_attrs"])).save(
            run.residual_templates_path)
    return run
