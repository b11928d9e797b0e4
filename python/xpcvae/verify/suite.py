"""All the checks of ``xpcvae verify`` on one bundle, in order (docs/verify.md)."""

from __future__ import annotations

from pathlib import Path

from xpcvae.bundle import FORWARD_ROLE, ROLES
from xpcvae.verify import graphs, manifest
from xpcvae.verify.report import NOT_RUN, Check, Report, guarded

#: why the checks that sample are skipped when the loader refuses the bundle
UNLOADABLE = "not run: the engines refuse this bundle (see manifest.loader)"


def verify_bundle(root, run=None, n: int = 200, java: bool | None = None, java_dist=None,
                  recovery_spectra: int = 40) -> Report:
    """The report of every check of the bundle at ``root``. ``run``: also compare ONNX Runtime with PyTorch
    on ``n`` spectra of that run's test split. ``java``: True requires the Python/Java draw comparison,
    False skips it, None runs it when a Java build is there."""
    from xpcvae.verify.forward import forward_model
    from xpcvae.verify.java_parity import NAME as JAVA, java_parity
    from xpcvae.verify.recovery import NAME as RECOVERY, recovery

    root = Path(root)
    report = Report(str(root))
    add = report.checks.extend
    data, read = manifest.read_manifest(root)
    add([read])
    if data is None:
        return report
    add(guarded("manifest.schema", manifest.schema, data))
    add(guarded("manifest.sha256", manifest.sidecar, root, data))
    add(guarded("checksum", manifest.checksums, root, data))
    files = data.get("files") if isinstance(data.get("files"), dict) else {}
    for role in (*ROLES, FORWARD_ROLE):
        entry = files.get(role)
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)):
            if role in ROLES:
                add([Check.of(f"graph.{role}", False, "the manifest names no file for it")])
            continue
        path = root / entry["path"]
        add(guarded(f"graph.{role}.checker", graphs.checker, path, role, data.get("onnx_opset")))
        add(guarded(f"graph.{role}.interface", graphs.interface, path, role, data))
    bundle, loaded = manifest.loader(root)
    add([loaded])
    dependent = ([f"onnx_vs_torch.{r}" for r in ROLES] if run else []) + [JAVA, "forward_model", RECOVERY]
    if bundle is None:
        add([Check(name, NOT_RUN, UNLOADABLE) for name in dependent])
        return report
    if run:
        from xpcvae.verify.torch_parity import onnx_vs_torch

        add(guarded("onnx_vs_torch", onnx_vs_torch, bundle, run, n))
    if java is False:
        add([Check(JAVA, NOT_RUN, "not run: skipped (--no-java)")])
    else:
        add(guarded(JAVA, java_parity, bundle, java_dist, bool(java)))
    add(guarded("forward_model", forward_model, bundle))
    add(guarded(RECOVERY, recovery, bundle, recovery_spectra))
    return report
