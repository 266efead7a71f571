"""A bundle's roots: the paths under `data` it owns, as an OPA bundle's `.manifest` declares them.

OPA refuses a bundle (and `opa run -b` does not start) when a data document or a Rego package lies outside the
manifest's roots, or when two roots overlap. Roots are derived from what the bundle holds unless the manifest
declares them; declared roots are checked the way OPA checks them, so a bundle OPA would refuse is never packed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from itertools import combinations
from typing import Any

from wardgate.errors import PolicyError
from wardgate.policy.bundle import MANIFEST, Bundle

__all__ = ["PACKAGE", "bundle_roots", "package_path"]

PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)


def package_path(source: str) -> str | None:
    """`wardgate/extensions/budget` for `package wardgate.extensions.budget`; None without a package line."""
    match = PACKAGE.search(source)
    return match.group(1).replace(".", "/") if match else None


def _contains(root: str, path: str) -> bool:
    # Whole path segments: root `pii` holds `pii/request`, not `piix`; the empty root holds everything.
    return root == "" or path == root or path.startswith(f"{root}/")


def _outside_data(data: Mapping[str, Any], roots: Sequence[str], prefix: str = "") -> Iterator[str]:
    """Data paths no root holds; like OPA, an object on the way to a deeper root is looked into, not judged."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if any(_contains(root, path) for root in roots):
            continue
        if isinstance(value, Mapping) and any(_contains(path, root) for root in roots):
            yield from _outside_data(value, roots, f"{path}/")
        else:
            yield path


def _packages(bundle: Bundle) -> dict[str, str]:
    packages = {}
    for file, source in bundle.modules.items():
        path = package_path(source)
        if path is None:
            raise PolicyError(f"{file}: no package declaration")
        packages[file] = path
    return packages


def bundle_roots(bundle: Bundle) -> list[str]:
    """The manifest's roots, checked, or else one root per top-level name the data and the packages use."""
    packages = _packages(bundle)
    declared = bundle.manifest.get("roots")
    if declared is None:
        return sorted({*bundle.data, *(path.split("/")[0] for path in packages.values())})
    if not isinstance(declared, list) or not all(isinstance(root, str) for root in declared):
        raise PolicyError(f"{MANIFEST}: roots must be a list of strings")
    roots = [root.strip("/") for root in declared]
    problems = [
        f"roots {a!r} and {b!r} overlap" for a, b in combinations(roots, 2) if _contains(a, b) or _contains(b, a)
    ]
    problems += [f"data at {path!r} is outside them" for path in _outside_data(bundle.data, roots)]
    problems += [
        f"package {path.replace('/', '.')} ({file}) is outside them"
        for file, path in packages.items()
        if not any(_contains(root, path) for root in roots)
    ]
    if problems:
        raise PolicyError(f"{MANIFEST}: roots {declared}: {'; '.join(problems)} (OPA would refuse the bundle)")
    return roots
