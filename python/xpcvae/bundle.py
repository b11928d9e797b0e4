"""The model bundle: ONNX graphs plus ``manifest.json`` and its checksum file (docs/sampling.md).

:class:`ModelBundle` is the Python twin of ``org.xpcvae.ModelBundle``: it loads a
bundle directory and refuses, with a message naming the problem (in the Java reader's
words where both say it), a manifest that does not match ``manifest.json.sha256``, a
bundle of another format version, with missing keys or files, files outside the
bundle, or whose files do not match their sha256 in the manifest. It also opens the
graphs on ONNX Runtime. :func:`write_manifest` writes a manifest with its checksum file;
:func:`upgrade` turns a format-1 bundle into a format-2 one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xpcvae import __version__, params, rng
from xpcvae.atomic import atomic_path
from xpcvae.forward.gof import GofSettings
from xpcvae.forward.instrument import N_WAVE

FORMAT = "xpcvae-bundle"
#: 2: random streams keyed by source id (rng splitmix64-counter-v3) and the manifest covered by
#: CHECKSUM_FILE; format 1 (streams keyed by row number) is refused with a pointer to :func:`upgrade`
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
#: the manifest's SHA-256 in ``sha256sum`` format, verified before the manifest is parsed
CHECKSUM_FILE = "manifest.json.sha256"
_CHECKSUM_LINE = re.compile(rb"([0-9a-fA-F]{64}) [ *]manifest\.json\n?")
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
        """Read and validate the bundle in ``root``: ``manifest.json`` verified against
        ``manifest.json.sha256`` before it is parsed, then every key and graph checksum
        (:class:`BundleError` naming the bundle and the problem)."""
        root = Path(root)
        if not root.is_dir():
            raise BundleError(f"bundle {root}: not a directory")
        manifest = _parse_manifest(root, _verified_manifest_bytes(root))
        _check_manifest(root, manifest)
        return cls(root=root, manifest=manifest)


def _read_manifest_bytes(root: Path) -> bytes:
    try:
        return (root / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise BundleError(f"bundle {root}: {MANIFEST} is missing") from None


def _parse_manifest(root: Path, data: bytes) -> dict:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"bundle {root}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"bundle {root}: {MANIFEST} is not a JSON object")
    return manifest


def _is_format_1(data: bytes) -> bool:
    """Whether unverified manifest bytes are a format-1 manifest (which has no checksum file), only to
    say so instead of "checksum file missing"; nothing else is read from them."""
    try:
        m = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(m, dict) and m.get("format") == FORMAT and _is_json_integer(m.get("format_version"), 1)


def _is_json_integer(value, expected=None) -> bool:
    ok = isinstance(value, int) and not isinstance(value, bool)
    return ok and (expected is None or value == expected)


def _verified_manifest_bytes(root: Path) -> bytes:
    """The bytes of ``manifest.json``, checked against ``manifest.json.sha256`` before anything parses them."""
    data = _read_manifest_bytes(root)
    try:
        line = (root / CHECKSUM_FILE).read_bytes()
    except FileNotFoundError:
        if _is_format_1(data):
            raise BundleError(format_1_message(root)) from None
        raise BundleError(f"bundle {root}: {CHECKSUM_FILE} is missing: the manifest cannot be verified (copy the "
                          f"bundle again from where it came from, or re-export it)") from None
    match = _CHECKSUM_LINE.fullmatch(line)
    if match is None:
        raise BundleError(f"bundle {root}: {CHECKSUM_FILE} is not a sha256sum line for {MANIFEST} "
                          f"('<64 hex digits>  {MANIFEST}')")
    expected = match.group(1).decode("ascii").lower()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise BundleError(f"bundle {root}: checksum mismatch for {MANIFEST} ({CHECKSUM_FILE} {expected}, file "
                          f"{actual}): the manifest was changed after export")
    return data


def format_1_message(root) -> str:
    """The refusal of a format-1 bundle (one wording in both engines: ``ModelBundle.format1Message``)."""
    return (f"bundle {root}: format_version 1 is an earlier bundle format (random numbers "
            f"'{rng.ROW_KEYED_ALGORITHM}', keyed by row number; no manifest checksum); this version of xpcvae "
            f"reads format_version {FORMAT_VERSION} ('{rng.ALGORITHM}', keyed by source id; {CHECKSUM_FILE}): "
            f"upgrade it, networks unchanged, with the Python CLI: xpcvae upgrade-bundle {root}")


def _check_format_version(root: Path, manifest: dict) -> None:
    if manifest.get("format") != FORMAT:
        raise BundleError(f"bundle {root}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    version = manifest.get("format_version")
    if not _is_json_integer(version):
        raise BundleError(f"bundle {root}: format_version is {json.dumps(version)}, expected an integer "
                          f"(this version of xpcvae reads format_version {FORMAT_VERSION})")
    if version == 1:
        raise BundleError(format_1_message(root))
    if version != FORMAT_VERSION:
        raise BundleError(f"bundle {root}: format_version {version} is not supported "
                          f"(this version of xpcvae reads format_version {FORMAT_VERSION})")


def _check_manifest(root: Path, manifest: dict) -> None:
    """Every check of :meth:`ModelBundle.load` after the manifest's checksum (:class:`BundleError`)."""
    _check_format_version(root, manifest)
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
    base = os.path.abspath(root)
    for role in ROLES + OPTIONAL_ROLES:
        entry = manifest["files"].get(role)
        if entry is None:
            if role in OPTIONAL_ROLES:
                continue
            raise BundleError(f"bundle {root}: manifest.json names no file for {role}")
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                and isinstance(entry.get("sha256"), str)):
            raise BundleError(f"bundle {root}: files.{role} lacks a path or sha256")
        # lexically, as the Java reader does: a graph is a file of the bundle, never one beside it
        target = os.path.normpath(os.path.join(base, entry["path"]))
        if os.path.commonpath([base, target]) != base:
            raise BundleError(f"bundle {root}: files.{role}.path '{entry['path']}' points outside the bundle")
        f = root / entry["path"]
        if not f.is_file():
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


def manifest_bytes(manifest: dict) -> bytes:
    """The bytes a manifest is written as (two-space indented JSON)."""
    return json.dumps(manifest, indent=2).encode("utf-8")


def checksum_line(data: bytes) -> str:
    """``manifest.json.sha256``'s content for manifest bytes ``data``: ``sha256sum manifest.json``'s line."""
    return f"{hashlib.sha256(data).hexdigest()}  {MANIFEST}\n"


def write_manifest(root, manifest: dict) -> None:
    """Write ``manifest.json`` and its ``manifest.json.sha256`` into the bundle directory ``root``.

    Each file is replaced atomically, the checksum file first: a reader between the two replacements
    (or after a crash between them) gets a checksum mismatch, never an unverified manifest, and an
    interrupted :func:`upgrade` can simply be run again."""
    root = Path(root)
    data = manifest_bytes(manifest)
    with atomic_path(root / MANIFEST, suffix=".json") as tmp_manifest, \
            atomic_path(root / CHECKSUM_FILE, suffix=".sha256") as tmp_sum:
        Path(tmp_manifest).write_bytes(data)
        Path(tmp_sum).write_text(checksum_line(data), encoding="ascii")


def upgrade(root) -> tuple[ModelBundle, bool]:
    """Upgrade the format-1 bundle in ``root`` to format 2 in place; return it and whether it changed.

    Format 1 differs from format 2 only in its manifest (``format_version`` 1, ``rng``
    ``splitmix64-counter-v2``, no ``manifest.json.sha256``), so the networks are kept as they are:
    the manifest gets ``format_version`` 2, ``rng`` ``splitmix64-counter-v3`` and a record of the
    upgrade under ``provenance.upgraded``, and is validated (graph checksums included) before it
    and its checksum file are written. A format-2 bundle is verified and left unchanged.
    """
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"bundle {root}: not a directory")
    data = _read_manifest_bytes(root)
    manifest = _parse_manifest(root, data)
    if _is_json_integer(manifest.get("format_version"), FORMAT_VERSION) and manifest.get("format") == FORMAT:
        return ModelBundle.load(root), False
    if not (manifest.get("format") == FORMAT and _is_json_integer(manifest.get("format_version"), 1)):
        _check_format_version(root, manifest)  # names what it is instead
    if manifest.get("rng") in rng.PREVIOUS_ALGORITHMS:
        raise BundleError(f"bundle {root}: random-number scheme {manifest['rng']!r} has another counter layout; "
                          f"upgrade-bundle cannot convert it: re-export the bundle with `xpcvae export`")
    if manifest.get("rng") != rng.ROW_KEYED_ALGORITHM:
        raise BundleError(f"bundle {root}: random-number scheme {manifest.get('rng')!r} is not format 1's "
                          f"{rng.ROW_KEYED_ALGORITHM!r}")
    upgraded = {}
    for key, value in manifest.items():
        upgraded[key] = {"format_version": FORMAT_VERSION, "rng": rng.ALGORITHM}.get(key, value)
    provenance = upgraded.get("provenance") if isinstance(upgraded.get("provenance"), dict) else {}
    upgraded["provenance"] = {**provenance, "upgraded": {
        "from": {"format_version": 1, "rng": rng.ROW_KEYED_ALGORITHM},
        "by": f"xpcvae upgrade-bundle (xpcvae {__version__})",
        "manifest_sha256_before": hashlib.sha256(data).hexdigest(),
    }}
    _check_manifest(root, upgraded)
    write_manifest(root, upgraded)
    return ModelBundle.load(root), True
