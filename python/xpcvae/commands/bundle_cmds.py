"""Sub-command ``upgrade-bundle``: a format-1 model bundle to format 2, networks untouched."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("upgrade-bundle",
                       help="rewrite a format-1 bundle's manifest for format 2 (random streams keyed by source id, "
                            "manifest checksum); its ONNX graphs stay as they are")
    p.add_argument("bundle", metavar="DIR", help="the bundle directory, upgraded in place")
    p.set_defaults(func=_upgrade_bundle)


def _upgrade_bundle(args) -> int:
    from xpcvae import bundle as bundles  # lazy, like every command's imports
    from xpcvae import rng

    upgraded, changed = bundles.upgrade(args.bundle)
    if not changed:
        print(f"{upgraded.root}: already format_version {bundles.FORMAT_VERSION}, nothing to do")
        return 0
    print(f"upgraded {upgraded.root}: format_version 1 -> {bundles.FORMAT_VERSION}, rng {rng.ROW_KEYED_ALGORITHM} -> "
          f"{rng.ALGORITHM}, wrote {bundles.MANIFEST} and {bundles.CHECKSUM_FILE}; the ONNX graphs are unchanged. "
          f"Posterior draws are now keyed by source id, so they differ from the format-1 draws (keyed by row).")
    return 0
