"""Where a caller's credential travels: a header, optionally with a scheme (`Authorization: Bearer …`)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["read_credential"]


def read_credential(headers: Mapping[str, str], header: str, scheme: str | None) -> str | None:
    value = headers.get(header)
    if value is None:
        return None
    if scheme is None:
        return value.strip() or None
    prefix, _, token = value.partition(" ")
    return token.strip() or None if prefix.lower() == scheme.lower() else None
