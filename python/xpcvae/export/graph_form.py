"""The per-spectrum graphs' dense layers in the form ONNX Runtime runs fast on one spectrum.

``torch.onnx.export`` writes a ``Linear`` layer as ``Gemm(x, W, b, transB=1)``: the activations
``x`` ([batch, K]) are the left operand, the weight matrix ``W`` ([N, K]) the right one. For the
double-precision per-spectrum graphs (:class:`xpcvae.export.networks._Float64`) ONNX Runtime's CPU
GEMM (MLAS, float64) repacks its right operand on every run, since it only prepacks float32
weights: a one-spectrum run then copies the graphs' 8 MB of weights before multiplying them, which
made the two graphs cost about 11 spectra of a batch of 64 (docs/performance.md).

:func:`weights_as_left_operand` rewrites each such layer as the same product transposed,

    y = x Wᵀ + 1 bᵀ   as   yᵀ = W xᵀ + b 1ᵀ :   Gemm(W, x, b[:, None], transB=1) -> Transpose

so that the weights are the left operand, which MLAS streams from where they lie, and only the
small activation matrix is packed. Same weights, same products; only the order in which the double
sums are accumulated may differ, far below the float32 rounding of the graphs' outputs (the export
check of :func:`xpcvae.export.networks.export_model` and :func:`rewrite_bundle` compare the
outputs).

``python -m xpcvae.export.graph_form DIR`` rewrites an exported bundle's per-spectrum graphs in place
(:func:`rewrite_bundle`): no retraining, the weights are copied as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from xpcvae import __version__
from xpcvae.bundle import MANIFEST, ModelBundle, onnx_session, sha256_of, write_manifest
from xpcvae.export.interface import GRAPH_NAMES, NETWORK_TOLERANCE

#: the graphs that run once per spectrum, in double precision: the ones rewritten
PER_SPECTRUM_ROLES = ("r1_encoder", "decoder_context")
#: the manifest's provenance key recording a rewrite of an existing bundle
PROVENANCE_KEY = "graph_form"


def _attributes(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _is_rewritable(node, initializers: dict) -> bool:
    """A ``Gemm(x, W, b)`` of a ``Linear`` layer: ``W`` a 2-D double initializer used with ``transB=1``,
    ``b`` a 1-D one, no ``transA`` and unit ``alpha``/``beta``."""
    if node.op_type != "Gemm" or len(node.input) != 3:
        return False
    a = _attributes(node)
    if a.get("transA", 0) != 0 or a.get("transB", 0) != 1 or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        return False
    w, b = initializers.get(node.input[1]), initializers.get(node.input[2])
    return (w is not None and b is not None and node.input[0] not in initializers
            and w.data_type == TensorProto.DOUBLE and len(w.dims) == 2
            and b.data_type == TensorProto.DOUBLE and list(b.dims) == [w.dims[0]])


def weights_as_left_operand(model: onnx.ModelProto) -> int:
    """Rewrite ``model``'s double-precision ``Linear`` layers (:func:`_is_rewritable`) in place as
    ``Transpose(Gemm(W, x, b[:, None], transB=1))``; return how many were rewritten (0: none left)."""
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    nodes, replaced_biases, rewritten = [], set(), 0
    for node in graph.node:
        if not _is_rewritable(node, initializers):
            nodes.append(node)
            continue
        x, w, b = node.input
        column = f"{b}_column"
        if column not in initializers:
            init = numpy_helper.from_array(numpy_helper.to_array(initializers[b]).reshape(-1, 1), column)
            graph.initializer.append(init)
            initializers[column] = init
        replaced_biases.add(b)
        name = node.name or node.output[0]
        transposed = f"{node.output[0]}_transposed"
        nodes.append(helper.make_node("Gemm", [w, x, column], [transposed], name=f"{name}_weights_left", transB=1))
        nodes.append(helper.make_node("Transpose", [transposed], [node.output[0]], name=f"{name}_back", perm=[1, 0]))
        rewritten += 1
    used = {name for node in nodes for name in node.input} | {o.name for o in graph.output}
    for name in replaced_biases - used:
        graph.initializer.remove(initializers[name])
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten


def _check_spectra(n: int = 256, seed: int = 11):
    """Noisy forward-model spectra over the prior box at G from 12 to 18 (the graphs' inputs)."""
    from xpcvae.tools.harness import synthetic_spectra  # lazy: the forward model only for this check

    flux, sigma = [], []
    for k, g in enumerate(np.linspace(12.0, 18.0, 4)):
        _, f, s = synthetic_spectra(n // 4, g_mag=float(g), seed=seed + k)
        flux.append(f)
        sigma.append(s)
    return np.concatenate(flux).astype(np.float32), np.concatenate(sigma).astype(np.float32)


def _largest_difference(before: Path, after: Path, role: str, flux, sigma) -> float:
    """Largest |after - before| over the outputs of graph ``role`` on the spectra, in a batch and one by one."""
    old, new = onnx_session(before), onnx_session(after)
    in_names = GRAPH_NAMES[role][0]
    worst = 0.0
    for rows in (slice(None),) + tuple(slice(i, i + 1) for i in range(8)):
        feed = dict(zip(in_names, (flux[rows], sigma[rows])))
        for a, b in zip(old.run(None, feed), new.run(None, feed)):
            worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - b))))
    return worst


def rewrite_bundle(root) -> tuple[ModelBundle, dict]:
    """Rewrite the per-spectrum graphs of the bundle in ``root`` in place with :func:`weights_as_left_operand`.

    Each rewritten graph passes ``onnx.checker`` and must give the outputs of the graph it replaces
    within :data:`~xpcvae.export.interface.NETWORK_TOLERANCE` on forward-model spectra (a batch, and
    single spectra); then the graph files are replaced atomically and the manifest gets their new
    checksums and a record under ``provenance.graph_form``. Returns the bundle and, per graph, the
    layers rewritten and the largest output difference. A bundle already in this form is left as it is.
    """
    root = Path(root)
    bundle = ModelBundle.load(root)
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    flux = sigma = None
    report, staged = {}, []
    try:
        for role in PER_SPECTRUM_ROLES:
            path = bundle.path(role)
            model = onnx.load(str(path))
            layers = weights_as_left_operand(model)
            if layers == 0:
                continue
            onnx.checker.check_model(model, full_check=True)
            tmp = path.with_name(f".{path.name}.rewritten")
            onnx.save(model, str(tmp))
            staged.append((role, path, tmp))
            if flux is None:
                flux, sigma = _check_spectra()
            diff = _largest_difference(path, tmp, role, flux, sigma)
            if not diff <= NETWORK_TOLERANCE:
                raise RuntimeError(f"bundle {root}: {path.name} rewritten differs from the original by {diff:g} "
                                   f"(> {NETWORK_TOLERANCE:g})")
            report[role] = {"layers_rewritten": layers, "max_abs_diff": diff,
                            "sha256_before": manifest["files"][role]["sha256"], "sha256_after": sha256_of(tmp)}
        if not staged:
            return bundle, report
        for role, path, tmp in staged:
            os.replace(tmp, path)  # same directory: atomic
            manifest["files"][role]["sha256"] = report[role]["sha256_after"]
    finally:
        for _, _, tmp in staged:
            tmp.unlink(missing_ok=True)
    provenance = manifest.get("provenance") if isinstance(manifest.get("provenance"), dict) else {}
    manifest["provenance"] = {**provenance, PROVENANCE_KEY: {
        "by": f"python -m xpcvae.export.graph_form (xpcvae {__version__})",
        "what": "dense layers as Transpose(Gemm(W, x, b[:, None], transB=1)); weights unchanged",
        "manifest_sha256_before": hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest(),
        "graphs": report,
    }}
    write_manifest(root, manifest)
    return ModelBundle.load(root), report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xpcvae.export.graph_form", description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", metavar="DIR", help="the bundle directory, rewritten in place")
    args = ap.parse_args(argv)
    _, report = rewrite_bundle(args.bundle)
    if not report:
        print(f"{args.bundle}: the per-spectrum graphs already have their weights as the left operand")
    for role, r in report.items():
        print(f"{role}: {r['layers_rewritten']} layers rewritten, largest output difference {r['max_abs_diff']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
