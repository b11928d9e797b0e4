"""The model bundle: ONNX graphs plus ``manifest.json`` (layout in docs/sampling.md).

:class:`ModelBundle` is the Python twin of ``org.xpcvae.ModelBundle``: it loads a
bundle directory and refuses, with a message naming the problem, a bundle of
another format version, with missing keys or files, or whose files do not match
their sha256 in the manifest. It also opens the graphs on ONNX Runtime.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xpcvae import params, rng
from xpcvae.forward.gof import GofSettings
from xpcvae.forward.instrument import N_WAVE

FORMAT = "xpcvae-bundle"
FORMAT_VERSION = 1
#: the manifest's JSON Schema (manifest.schema.json beside this file): its structure, and the one
#: definition of the required keys and graph roles below; `xpcvae verify` validates manifests with it
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
MANIFEST_SCHEMA = json.loads(SCHEMA_PATH.read_text())
ROLES = tuple(MANIFEST_SCHEMA["properties"]["files"]["required"])
#: the optional role of the forward model graph (xpcvae.export.forward_graph): it lets an engine without
#: the Python forward model compute the goodness of fit; a bundle without it is still complete
FORWARD_ROLE = "forward_model"
FORWARD_FILE = "forward_model.onnx"
#: the forward model graph's input (float64 [B, 7] parameters) and output (float64 [B, N_WAVE] flux)
FORWARD_INPUT = "params"
FORWARD_OUTPUT = "flux"
OPTIONAL_ROLES = (FORWARD_ROLE,)
REQUIRED_KEYS = tuple(MANIFEST_SCHEMA["required"])


def draws_per_sample(latent_size: int, n_params: int) -> int:
    """Counters per posterior draw under ``rng.ALGORITHM``: 1 (component) + L + P normals."""
    return 1 + latent_size + n_params


class BundleError(ValueError):
    """A model bundle is missing, malformed, of another version or corrupted."""


def onnx_session(path, threads: int = 1):
    """An ONNX Runtime CPU session of the graph at ``path``: ``threads`` intra-op threads, sequential
    execution, every graph optimisation (the settings of both engines' samplers)."""
    import onnxruntime as ort  # lazy: reading a manifest or a spectra file needs no ONNX Runtime

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def check_forward_io(session, where: str) -> None:
    """Raise :class:`ValueError` unless ``session`` maps ``params`` double [B, 7] to ``flux`` double [B, N_WAVE]."""
    ins, outs = session.get_inputs(), session.get_outputs()
    ok = (len(ins) == 1 and ins[0].name == FORWARD_INPUT and ins[0].type == "tensor(double)"
          and len(ins[0].shape) == 2 and ins[0].shape[1] == params.NDIM and any(o.name == FORWARD_OUTPUT for o in outs))
    if ok:
        out = next(o for o in outs if o.name == FORWARD_OUTPUT)
        ok = out.type == "tensor(double)" and len(out.shape) == 2 and out.shape[1] == N_WAVE
    if not ok:
        raise ValueError(f"{where}: expected input '{FORWARD_INPUT}' double [batch, {params.NDIM}] and output "
                         f"'{FORWARD_OUTPUT}' double [batch, {N_WAVE}], got {[(i.name, i.type, i.shape) for i in ins]} "
                         f"-> {[(o.name, o.type, o.shape) for o in outs]}")


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelBundle:
    root: Path
    manifest: dict

    @property
    def wavelength(self) -> np.ndarray:
        return np.asarray(self.manifest["wavelength_nm"], dtype=float)

    @property
    def latent_size(self) -> int:
        return int(self.manifest["latent_size"])

    @property
    def mixture_components(self) -> int:
        return int(self.manifest["mixture_components"])

    @property
    def context_size(self) -> int:
        return int(self.manifest["context_size"])

    @property
    def draws_per_sample(self) -> int:
        return int(self.manifest["draws_per_sample"])

    @property
    def low(self) -> np.ndarray:
        return np.array([p["low"] for p in self.manifest["parameters"]], dtype=float)

    @property
    def high(self) -> np.ndarray:
        return np.array([p["high"] for p in self.manifest["parameters"]], dtype=float)

    @property
    def parameter_names(self) -> list[str]:
        return [p["name"] for p in self.manifest["parameters"]]

    def path(self, role: str) -> Path:
        return self.root / self.manifest["files"][role]["path"]

    def has_role(self, role: str) -> bool:
        """Whether the bundle has the graph of ``role`` (always true for :data:`ROLES`)."""
        return role in self.manifest["files"]

    @property
    def gof_settings(self) -> GofSettings:
        """The settings of the goodness of fit (the manifest's, defaults where it gives none)."""
        return GofSettings.from_manifest(self.manifest)

    def session(self, role: str, threads: int = 1):
        """An ONNX Runtime session of the graph of ``role`` (:func:`onnx_session`); :class:`BundleError`
        naming the file if ONNX Runtime cannot load it."""
        path = self.path(role)
        try:
            return onnx_session(path, threads)
        except Exception as exc:  # ONNX Runtime raises its own exception types for corrupt graphs
            raise BundleError(f"bundle {self.root}: ONNX Runtime cannot load {path.name}: {exc}") from None

    def forward_session(self, threads: int = 1):
        """A session of the ``forward_model`` graph, its inputs and outputs checked, or None without one."""
        if not self.has_role(FORWARD_ROLE):
            return None
        sess = self.session(FORWARD_ROLE, threads)
        check_forward_io(sess, f"bundle {self.root}: {self.path(FORWARD_ROLE).name}")
        return sess

    @classmethod
    def load(cls, root) -> "ModelBundle":
        root = Path(root)
        mf = root / "manifest.json"
        if not root.is_dir():
            raise BundleError(f"bundle {root}: not a directory")
        if not mf.exists():
            raise BundleError(f"bundle {root}: manifest.json is missing")
        try:
            manifest = json.loads(mf.read_text())
        except json.JSONDecodeError as exc:
            raise BundleError(f"bundle {root}: manifest.json is not valid JSON ({exc})") from None
        if manifest.get("format") != FORMAT:
            raise BundleError(f"bundle {root}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(
                f"bundle {root}: format_version {manifest.get('format_version')} is not supported "
                f"(this version of xpcvae reads format_version {FORMAT_VERSION})"
            )
        missing = [k for k in REQUIRED_KEYS if k not in manifest]
        if missing:
            raise BundleError(f"bundle {root}: manifest.json lacks {', '.join(missing)}")
        if manifest["rng"] in rng.PREVIOUS_ALGORITHMS:
            raise BundleError(
                f"bundle {root}: random-number scheme {manifest['rng']!r} is an earlier one; this version of "
                f"xpcvae samples with {rng.ALGORITHM!r} (one uniform per normal deviate, a different counter "
                f"layout): re-export the bundle with `xpcvae export`"
            )
        if manifest["rng"] != rng.ALGORITHM:
            raise BundleError(f"bundle {root}: random-number scheme {manifest['rng']!r} is not {rng.ALGORITHM!r}")
        if manifest["posterior_family"] != "logit-normal":
            raise BundleError(f"bundle {root}: posterior family {manifest['posterior_family']!r} is not supported")
        L, P = int(manifest["latent_size"]), len(manifest["parameters"])
        if manifest["draws_per_sample"] != draws_per_sample(L, P):
            raise BundleError(f"bundle {root}: draws_per_sample {manifest['draws_per_sample']} != 1 + L + P "
                              f"= {draws_per_sample(L, P)}")
        try:
            params.check_matches(manifest["parameters"], what=f"bundle {root}")
        except params.ParameterError as exc:
            raise BundleError(str(exc)) from None
        if len(manifest["wavelength_nm"]) != N_WAVE:
            raise BundleError(f"bundle {root}: wavelength grid has {len(manifest['wavelength_nm'])} points, "
                              f"expected {N_WAVE}")
        if not isinstance(manifest["files"], dict):
            raise BundleError(f"bundle {root}: files is not an object")
        for role in ROLES + OPTIONAL_ROLES:
            entry = manifest["files"].get(role)
            if entry is None:
                if role in OPTIONAL_ROLES:
                    continue
                raise BundleError(f"bundle {root}: manifest.json names no file for {role}")
            if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                    and isinstance(entry.get("sha256"), str)):
                raise BundleError(f"bundle {root}: files.{role} lacks a path or sha256")
            f = root / entry["path"]
            if not f.exists():
                raise BundleError(f"bundle {root}: {entry['path']} ({role}) is missing")
            digest = sha256_of(f)
            if digest != entry["sha256"]:
                raise BundleError(
                    f"bundle {root}: checksum mismatch for {entry['path']} "
                    f"(manifest {entry['sha256'][:12]}..., file {digest[:12]}...)"
                )
        try:
            GofSettings.from_manifest(manifest)
        except ValueError as exc:
            raise BundleError(f"bundle {root}: {exc}") from None
        return cls(root=root, manifest=manifest)
