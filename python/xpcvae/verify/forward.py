"""Check of the ``forward_model`` graph against the Python forward model on random parameters."""

from __future__ import annotations

from xpcvae.bundle import FORWARD_ROLE, ModelBundle
from xpcvae.export.interface import FORWARD_TOLERANCE, forward_check_parameters, forward_parity
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.model import cached_model
from xpcvae.verify.report import NOT_RUN, Check

NAME = "forward_model"


def forward_model(bundle: ModelBundle, n_random: int = 1000, seed: int = 1) -> Check:
    """ONNX Runtime's ``forward_model`` graph against :class:`xpcvae.forward.ForwardModel` of the manifest's
    forward configuration on ``n_random`` uniform parameter vectors plus the corners and faces of the box
    (:func:`~xpcvae.export.interface.forward_check_parameters`): largest relative difference <=
    :data:`~xpcvae.export.interface.FORWARD_TOLERANCE`, every value finite."""
    if not bundle.has_role(FORWARD_ROLE):
        return Check(NAME, NOT_RUN, "the bundle has no forward_model graph (the Java engine leaves gof_chi2 empty)")
    fm = cached_model(ForwardConfig.from_manifest(bundle.manifest))
    r = forward_parity(bundle.forward_session(), fm, forward_check_parameters(n_random, seed))
    ok = r["finite"] and r["max_rel_diff"] <= FORWARD_TOLERANCE
    return Check.of(NAME, ok, f"ONNX Runtime vs ForwardModel.spectra ({fm.config.photosphere} photosphere): max "
                              f"relative difference {r['max_rel_diff']:.2g} on {r['n']} parameter vectors "
                              f"(limit {FORWARD_TOLERANCE:g})" + ("" if r["finite"] else "; NON-FINITE values"),
                    r["max_rel_diff"], FORWARD_TOLERANCE)
