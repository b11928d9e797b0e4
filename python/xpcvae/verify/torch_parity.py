"""With the run the bundle was exported from: ONNX Runtime against PyTorch on the run's test split.

The exporter's own check (:func:`xpcvae.export.networks.graph_difference` on
:func:`~xpcvae.export.networks.run_check_spectra`), repeated on the bundle as it is now. Needs PyTorch
(the ``train`` extra).
"""

from __future__ import annotations

from xpcvae.bundle import ROLES, ModelBundle
from xpcvae.export.interface import NETWORK_TOLERANCE
from xpcvae.verify.report import Check


def onnx_vs_torch(bundle: ModelBundle, run_dir, n: int = 200) -> list[Check]:
    """Per network graph: the largest |ONNX Runtime - PyTorch| over its outputs on ``n`` spectra of the run's
    test split, <= :data:`~xpcvae.export.interface.NETWORK_TOLERANCE`."""
    from xpcvae.export.networks import graph_difference, graph_inputs, run_check_spectra  # lazy: PyTorch
    from xpcvae.train.run import Run

    run = Run(run_dir)
    model, _ = run.load_model()
    spectra = run_check_spectra(run, n)
    if spectra is None:
        return [Check.of("onnx_vs_torch", False, f"run {run_dir}: its grid (config.json grid_path) is not at hand, "
                                                 "so its test split cannot be simulated")]
    inputs = graph_inputs(model, spectra)
    out = []
    for role in ROLES:
        diff = graph_difference(model, role, bundle.session(role), inputs[role])
        out.append(Check.of(f"onnx_vs_torch.{role}", diff <= NETWORK_TOLERANCE,
                            f"max |ONNX Runtime - PyTorch| {diff:.2g} on {len(inputs[role][0])} spectra of the run's "
                            f"test split (limit {NETWORK_TOLERANCE:g})", diff, NETWORK_TOLERANCE))
    return out
