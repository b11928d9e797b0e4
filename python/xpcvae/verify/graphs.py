"""Checks of each ONNX graph: ``onnx.checker`` and its opset, and its inputs and outputs on ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

from xpcvae.bundle import onnx_session
from xpcvae.export.interface import graph_interface
from xpcvae.verify.report import NOT_RUN, Check

#: why onnx.checker does not run in the inference-only install
NO_ONNX = "not run: the onnx package is not installed (pip install 'xpcvae[train]')"


def checker(path: Path, role: str, opset: int) -> Check:
    """``onnx.checker.check_model(full_check=True)`` and the default-domain opset against the manifest's."""
    name = f"graph.{role}.checker"
    try:
        import onnx  # lazy: the train extra; the inference-only install has no onnx
    except ImportError:
        return Check(name, NOT_RUN, NO_ONNX)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ... for a damaged graph
        return Check.of(name, False, f"{path.name}: onnx.checker: {type(exc).__name__}: {str(exc).strip()[:300]}")
    got = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    ok = got == [opset]
    return Check.of(name, ok, f"{path.name}: onnx.checker full_check passes; opset {got[0] if got else 'none'}"
                              + ("" if ok else f" != manifest onnx_opset {opset}"), got[0] if got else None, opset)


def _same_shape(got, want) -> bool:
    if len(got) != len(want):
        return False
    return all((w is None and not isinstance(g, int)) or g == w for g, w in zip(got, want))


def interface(path: Path, role: str, manifest: dict) -> Check:
    """The graph loads in ONNX Runtime, and its inputs and outputs (names, element types, shapes) are those
    the manifest implies (:func:`xpcvae.export.interface.graph_interface`)."""
    name = f"graph.{role}.interface"
    try:
        sess = onnx_session(path)
    except Exception as exc:  # ONNX Runtime raises its own types for graphs it cannot load
        return Check.of(name, False, f"{path.name}: ONNX Runtime cannot load it: {str(exc).strip()[:300]}")
    try:
        want_in, want_out = graph_interface(manifest, role)
    except (KeyError, TypeError, ValueError) as exc:
        return Check(name, NOT_RUN, f"not run: the expected inputs and outputs follow from the manifest, which lacks "
                                    f"or mistypes {exc} (see manifest.schema)")
    got_in = [(i.name, i.type.removeprefix("tensor(").removesuffix(")"), list(i.shape)) for i in sess.get_inputs()]
    got_out = [(o.name, o.type.removeprefix("tensor(").removesuffix(")"), list(o.shape)) for o in sess.get_outputs()]
    problems = []
    for kind, got, want in (("input", got_in, want_in), ("output", got_out, want_out)):
        if [g[0] for g in got] != [w[0] for w in want]:
            problems.append(f"{kind}s {[g[0] for g in got]}, expected {[w[0] for w in want]}")
            continue
        for g, w in zip(got, want):
            if g[1] != w[1] or not _same_shape(g[2], w[2]):
                shown = ["batch" if d is None else d for d in w[2]]
                problems.append(f"{kind} {g[0]} is {g[1]} {g[2]}, expected {w[1]} {shown}")
    if problems:
        return Check.of(name, False, f"{path.name}: " + "; ".join(problems))
    sig = lambda items: ", ".join(f"{n} {t}[{','.join('B' if d is None else str(d) for d in s)}]" for n, t, s in items)
    return Check.of(name, True, f"{path.name}: {sig(want_in)} -> {sig(want_out)}")
