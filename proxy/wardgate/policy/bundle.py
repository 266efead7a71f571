"""A policy directory read from disk: Rego modules, data documents and a revision hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wardgate.errors import PolicyError

__all__ = ["Bundle", "load_bundle"]


# Example policies ship beside the bundle but are never part of it (copy one into wardgate/extensions/ to use it).
EXCLUDED_DIRS = frozenset({"examples"})
MANIFEST = ".manifest"


@dataclasses.dataclass(frozen=True, slots=True)
class Bundle:
    root: Path
    modules: Mapping[str, str]
    data: Mapping[str, Any]
    revision: str
    manifest: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    files: tuple[str, ...] = ()  # what `wardgate policy bundle` packs: policy and data files, no tests


def _merge_at(data: dict[str, Any], keys: tuple[str, ...], value: Any, where: str) -> None:
    # As in OPA bundles: `a/b/data.json` is the document at `data.a.b`.
    node = data
    for key in keys:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise PolicyError(f"{where}: conflicts with data already at {'.'.join(keys)}")
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: a data document must be a JSON object")
    for key, item in value.items():
        if key in node:
            raise PolicyError(f"{where}: `{key}` is already defined by another data file")
        node[key] = item


def load_bundle(root: Path, *, include_tests: bool = False) -> Bundle:
    """Read every `*.rego` and `data.json` under `root`; the revision hashes all of them. A file that cannot be read
    (not UTF-8, removed while read) is a `PolicyError` like any broken bundle: a reload keeps the bundle it has (an
    outside review: a non-UTF-8 file ended the watcher, and later edits were never loaded)."""
    try:
        return _read_bundle(root, include_tests)
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read the policy bundle under {root}: {exc}") from exc


def _read_bundle(root: Path, include_tests: bool) -> Bundle:
    if not root.is_dir():
        raise PolicyError(f"policy directory {root} does not exist")
    digest = hashlib.sha256()
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    files: list[str] = []
    manifest = _read_manifest(root)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        inside = path.relative_to(root)
        relative = inside.as_posix()
        # Hidden entries are skipped as OPA's `--ignore=.*` would: a Kubernetes ConfigMap mount holds every file
        # again under `..data/` and a timestamped `..2026_…` directory, which would load each module twice.
        if inside.parts[0] in EXCLUDED_DIRS or any(part.startswith(".") for part in inside.parts):
            continue
        is_test = path.name.endswith("_test.rego")
        if path.suffix == ".rego" and (include_tests or not is_test):
            modules[relative] = path.read_text(encoding="utf-8")
        elif path.name == "data.json":
            try:
                document = json.loads(path.read_bytes())
            except json.JSONDecodeError as exc:
                raise PolicyError(f"{relative}: not valid JSON: {exc}") from exc
            _merge_at(data, inside.parent.parts, document, relative)
        else:
            continue
        if not is_test:
            files.append(relative)
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    if not modules:
        raise PolicyError(f"policy directory {root} holds no .rego modules")
    return Bundle(root, modules, data, digest.hexdigest(), manifest, tuple(files))


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PolicyError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise PolicyError(f"{path}: must be a JSON object")
    return manifest
