"""What each graph of a bundle takes and gives, and the checks of the exported graphs that need no PyTorch.

:func:`graph_interface` derives the inputs and outputs (names, element types, shapes) every graph
must have from the manifest -- the exporter writes them (:mod:`xpcvae.export.networks`,
:mod:`xpcvae.export.forward_graph`), both engines feed them, ``xpcvae verify`` compares a bundle's
graphs against them. :func:`forward_check_parameters` and :func:`forward_parity` compare the
``forward_model`` graph with the NumPy forward model, at export and in ``xpcvae verify``.
"""

from __future__ import annotations

import numpy as np

from xpcvae import params
from xpcvae.bundle import FORWARD_INPUT, FORWARD_OUTPUT, FORWARD_ROLE

#: input and output names of the graphs, by role
GRAPH_NAMES = {
    "r1_encoder": (("flux", "flux_error"), ("mix_logits", "mix_mean", "mix_log_std")),
    "decoder_context": (("flux", "flux_error"), ("context",)),
    "decoder_sample": (("context", "z"), ("loc", "log_scale")),
    FORWARD_ROLE: ((FORWARD_INPUT,), (FORWARD_OUTPUT,)),
}
#: largest |ONNX Runtime - PyTorch| accepted for any output of the three networks' graphs
NETWORK_TOLERANCE = 1e-5
#: largest relative difference ONNX Runtime vs ForwardModel.spectra accepted for the forward_model graph
FORWARD_TOLERANCE = 1e-6


def graph_interface(manifest: dict, role: str) -> tuple[list[tuple], list[tuple]]:
    """(inputs, outputs) of the graph of ``role``: ``(name, element type, shape)`` each, the first
    dimension (the batch) ``None``; element types ``"float"`` or ``"double"`` as ONNX Runtime names them."""
    w, k = len(manifest["wavelength_nm"]), int(manifest["mixture_components"])
    lat, ctx, p = int(manifest["latent_size"]), int(manifest["context_size"]), len(manifest["parameters"])
    spectra = [("flux", "float", [None, w]), ("flux_error", "float", [None, w])]
    table = {
        "r1_encoder": (spectra, [("mix_logits", "float", [None, k]), ("mix_mean", "float", [None, k, lat]),
                                 ("mix_log_std", "float", [None, k, lat])]),
        "decoder_context": (spectra, [("context", "float", [None, ctx])]),
        "decoder_sample": ([("context", "float", [None, ctx]), ("z", "float", [None, lat])],
                           [("loc", "float", [None, p]), ("log_scale", "float", [None, p])]),
        FORWARD_ROLE: ([(FORWARD_INPUT, "double", [None, p])], [(FORWARD_OUTPUT, "double", [None, w])]),
    }
    return table[role]


def forward_check_parameters(n_random: int = 4000, seed: int = 0) -> np.ndarray:
    """Parameter vectors of the forward-model parity check: uniform over the box, every corner of the box,
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


def forward_parity(session, fm, theta) -> dict:
    """Largest differences of the ``forward_model`` graph (an ONNX Runtime ``session``) against
    ``fm.spectra(theta)[0]`` (:class:`xpcvae.forward.ForwardModel`)."""
    want, _ = fm.spectra(theta)
    got = session.run([FORWARD_OUTPUT], {FORWARD_INPUT: np.ascontiguousarray(theta, dtype=np.float64)})[0]
    rel = np.abs(got - want) / np.abs(want)
    ff0 = theta[:, params.INDEX["ff"]] == 0
    return {"n": int(len(theta)), "max_rel_diff": float(rel.max()), "max_abs_diff": float(np.abs(got - want).max()),
            "n_ff0": int(ff0.sum()), "max_rel_diff_ff0": float(rel[ff0].max()) if ff0.any() else None,
            "finite": bool(np.all(np.isfinite(got)))}
