"""Checks of the manifest and the files it lists: schema, checksums, the sidecar checksum, the loader."""

from __future__ import annotations

import json
import re
from pathlib import Path

from xpcvae.bundle import MANIFEST_SCHEMA, SCHEMA_PATH, BundleError, ModelBundle, sha256_of
from xpcvae.verify.report import NOT_RUN, Check

#: the sidecar holding the manifest's own checksum (``sha256sum`` format); required from format_version 2
SIDECAR = "manifest.json.sha256"
SIDECAR_REQUIRED_FROM = 2
_SHA256SUM_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *]?(\S.*)?")


def read_manifest(root: Path) -> tuple[dict | None, Check]:
    """The manifest as parsed JSON (None if unreadable) and the check ``manifest.json`` saying so."""
    path = root / "manifest.json"
    if not path.is_file():
        return None, Check("manifest.json", "fail", f"{path} does not exist")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, Check("manifest.json", "fail", f"not valid JSON ({exc})")
    if not isinstance(manifest, dict):
        return None, Check("manifest.json", "fail", f"a JSON {type(manifest).__name__}, not an object")
    return manifest, Check("manifest.json", "pass", f"valid JSON, {len(manifest)} keys")


def schema(manifest: dict) -> Check:
    """Every error of the manifest against the JSON Schema (:data:`xpcvae.bundle.MANIFEST_SCHEMA`)."""
    import jsonschema  # lazy: only xpcvae verify validates against the schema

    validator = jsonschema.Draft202012Validator(MANIFEST_SCHEMA)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if not errors:
        return Check.of("manifest.schema", True, f"valid against {SCHEMA_PATH.name} (JSON Schema 2020-12)")
    shown = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:5])
    more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
    return Check.of("manifest.schema", False, f"{len(errors)} error(s): {shown}{more}", len(errors))


def sidecar(root: Path, manifest: dict) -> Check:
    """The manifest's own checksum in :data:`SIDECAR`: required from format_version 2, checked when present."""
    side = root / SIDECAR
    version = manifest.get("format_version")
    if not side.exists():
        if isinstance(version, int) and version >= SIDECAR_REQUIRED_FROM:
            return Check.of("manifest.sha256", False, f"absent ({SIDECAR} is required from format_version "
                                                      f"{SIDECAR_REQUIRED_FROM}; this bundle is {version})")
        return Check("manifest.sha256", NOT_RUN, f"absent ({SIDECAR} is required from format_version "
                                                 f"{SIDECAR_REQUIRED_FROM}; this bundle is {version})")
    text = side.read_text(errors="replace").strip()
    m = _SHA256SUM_LINE.fullmatch(text.splitlines()[0].strip()) if text else None
    if m is None or (m.group(2) not in (None, "manifest.json")):
        return Check.of("manifest.sha256", False,
                        f"{SIDECAR} is not one sha256sum line for manifest.json: {text[:80]!r}")
    want, got = m.group(1).lower(), sha256_of(root / "manifest.json")
    if want != got:
        return Check.of("manifest.sha256", False, f"mismatch: {SIDECAR} says {want[:12]}..., manifest.json is "
                                                  f"{got[:12]}... (the manifest was changed after export)")
    return Check.of("manifest.sha256", True, f"manifest.json matches {SIDECAR} ({got[:12]}...)")


def checksums(root: Path, manifest: dict) -> list[Check]:
    """One check per file the manifest lists: present, and its sha256 the manifest's."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return [Check.of("checksum", False, "the manifest lists no files")]
    out = []
    for role, entry in files.items():
        name = f"checksum.{role}"
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                and isinstance(entry.get("sha256"), str)):
            out.append(Check.of(name, False, "no path and sha256 in the manifest"))
            continue
        path = root / entry["path"]
        if not path.is_file():
            out.append(Check.of(name, False, f"{entry['path']} is missing"))
            continue
        digest = sha256_of(path)
        ok = digest == entry["sha256"]
        out.append(Check.of(name, ok, f"{entry['path']}: sha256 {digest[:12]}... "
                                      + ("matches the manifest" if ok else
                                         f"!= manifest {entry['sha256'][:12]}... (the file was changed)")))
    return out


def loader(root: Path) -> tuple[ModelBundle | None, Check]:
    """What the engines do first: :meth:`ModelBundle.load` (format, version, random-number scheme,
    parameters, checksums); the bundle, or None and the reason."""
    try:
        bundle = ModelBundle.load(root)
    except BundleError as exc:
        return None, Check.of("manifest.loader", False, f"ModelBundle.load refuses it: {exc}")
    return bundle, Check.of("manifest.loader", True, f"ModelBundle.load accepts it (format_version "
                                                     f"{bundle.manifest['format_version']}, rng "
                                                     f"{bundle.manifest['rng']})")
