"""`wardgate iptables`: redirect a pod's outbound HTTP(S) to Wardgate's transparent listener, like Istio's init.

The rules are `iptables-restore` input, the same text for IPv4 and IPv6 (nothing in it names an address), applied
per family with `--noflush`: one transaction per family that replaces Wardgate's own chain (`WARDGATE_OUTPUT`)
and leaves every other chain and table as it was. A half-applied redirect is never left behind, and applying
twice changes nothing. Wardgate's own traffic (its UID), loopback and excluded destination ports are left alone.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Sequence
from pathlib import Path

from wardgate.errors import ConfigError

__all__ = ["CHAIN", "FAMILIES", "Family", "RedirectPlan", "apply_redirect", "apply_removal", "redirect_rules",
           "removal_rules"]  # fmt: skip

CHAIN = "WARDGATE_OUTPUT"
_HOOK = f"OUTPUT -p tcp -j {CHAIN}"


@dataclasses.dataclass(frozen=True, slots=True)
class RedirectPlan:
    proxy_port: int = 8080
    proxy_uid: int = 10001
    ports: tuple[int, ...] = (80, 443)
    exclude_ports: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Family:
    name: str
    command: str  # `iptables`; the restore binary is `iptables-restore`
    # A file that exists when the kernel speaks this family (None: always). Without it there is no traffic of that
    # family to redirect; with it, leaving the family out would let its traffic bypass Wardgate.
    kernel_flag: Path | None = None

    @property
    def restore(self) -> str:
        return f"{self.command}-restore"

    @property
    def enabled(self) -> bool:
        return self.kernel_flag is None or self.kernel_flag.exists()


FAMILIES = (Family("IPv4", "iptables"), Family("IPv6", "ip6tables", Path("/proc/net/if_inet6")))


def redirect_rules(plan: RedirectPlan, *, hook: bool = True) -> str:
    """The restore input that installs the redirect; `hook=False` leaves out the jump from OUTPUT (already there)."""
    lines = [
        "*nat",
        # A declared chain is created, or flushed if it exists (--noflush): its rules are replaced as one.
        f":{CHAIN} - [0:0]",
        # Never loop Wardgate's own upstream connections back into itself.
        f"-A {CHAIN} -m owner --uid-owner {plan.proxy_uid} -j RETURN",
        f"-A {CHAIN} -o lo -j RETURN",
    ]
    lines += [f"-A {CHAIN} -p tcp --dport {port} -j RETURN" for port in plan.exclude_ports]
    lines += [
        f"-A {CHAIN} -p tcp --dport {port} -j REDIRECT --to-ports {plan.proxy_port}"
        for port in plan.ports
        if port not in plan.exclude_ports
    ]
    if hook:
        lines.append(f"-A {_HOOK}")
    return "\n".join([*lines, "COMMIT", ""])


def removal_rules(*, hook: bool = True, chain: bool = True) -> str:
    """The restore input that undoes the redirect: the jump (if `hook`), then the chain (if `chain`)."""
    lines = ["*nat"]
    if hook:
        lines.append(f"-D {_HOOK}")
    if chain:
        lines += [f"-F {CHAIN}", f"-X {CHAIN}"]
    return "\n".join([*lines, "COMMIT", ""])


def _succeeds(*argv: str) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0
    except FileNotFoundError:
        return False  # the restore binary's absence is reported by `_restore`


def _hooked(family: Family) -> bool:
    return _succeeds(family.command, "-w", "-t", "nat", "-C", *_HOOK.split())


def _chain_exists(family: Family) -> bool:
    return _succeeds(family.command, "-w", "-t", "nat", "-S", CHAIN)


def _restore(family: Family, rules: str) -> None:
    try:
        result = subprocess.run(
            [family.restore, "-w", "--noflush"], input=rules, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise ConfigError(f"{family.restore} is not installed (Debian: apt-get install iptables)") from exc
    if result.returncode != 0:
        raise ConfigError(f"{family.restore} --noflush failed ({family.name}): {result.stderr.strip()}")


def apply_redirect(plan: RedirectPlan, families: Sequence[Family] = FAMILIES) -> list[Family]:
    """Install the redirect for each family the kernel speaks; returns those. Idempotent."""
    enabled = [family for family in families if family.enabled]
    for family in enabled:
        _restore(family, redirect_rules(plan, hook=not _hooked(family)))
    return enabled


def apply_removal(families: Sequence[Family] = FAMILIES) -> list[Family]:
    """Undo the redirect wherever it is (fully or partly) installed; returns the families looked at. Idempotent."""
    enabled = [family for family in families if family.enabled]
    for family in enabled:
        hook, chain = _hooked(family), _chain_exists(family)
        if hook or chain:
            _restore(family, removal_rules(hook=hook, chain=chain))
    return enabled
