"""Who is calling: the `identity` object of the policy input."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["Identity", "IdentityRejected"]


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    tenant: str | None
    source: str  # jwt | api_key | kubernetes | pod | anonymous
    roles: tuple[str, ...] = ()
    authenticated: bool = True
    claims: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    workload: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def to_input(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "tenant": self.tenant,
            "source": self.source,
            "roles": list(self.roles),
            "authenticated": self.authenticated,
            "claims": dict(self.claims),
            "workload": dict(self.workload),
        }


class IdentityRejected(Exception):
    """A credential was presented and is not acceptable: the request gets a 401, audited."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
