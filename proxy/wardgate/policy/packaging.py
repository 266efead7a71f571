"""`wardgate policy bundle`: the bundle as an OPA bundle tarball (`opa run -s -b bundle.tar.gz` loads it)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

from wardgate.policy.bundle import MANIFEST, Bundle
from wardgate.policy.roots import bundle_roots

__all__ = ["write_tarball"]


def _add(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name=f"/{name}")
    info.size = len(payload)
    info.mode = 0o644
    info.mtime = 0  # the same bundle always packs to the same bytes
    tar.addfile(info, io.BytesIO(payload))


def write_tarball(bundle: Bundle, target: Path) -> dict[str, object]:
    """Pack policy and data files (tests left out) with a `.manifest` whose revision is the content hash and whose
    roots cover every data document and package (`roots.bundle_roots`)."""
    manifest = {
        **bundle.manifest,
        "revision": bundle.manifest.get("revision") or bundle.revision,
        "roots": bundle_roots(bundle),
    }
    # gzip's header carries a timestamp; pinning it keeps the tarball byte-for-byte reproducible.
    with (
        target.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed,
        tarfile.open(fileobj=packed, mode="w") as tar,
    ):
        for relative in bundle.files:
            _add(tar, relative, (bundle.root / relative).read_bytes())
        _add(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return manifest
