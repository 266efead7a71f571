"""Who is calling. Until identity sources are configured, every caller is `anonymous` in the default tenant."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["IdentityResolver", "anonymous"]

IdentityResolver = Callable[[Any], Mapping[str, Any]]


def anonymous(tenant: str) -> IdentityResolver:
    identity = {"subject": "anonymous", "tenant": tenant, "source": "none", "roles": []}
    return lambda request: identity
