"""`wardgate iptables`: redirect a pod's outbound HTTP(S) to Wardgate's transparent listener, like Istio's init.

Rules live in a chain of their own (`WARDGATE_OUTPUT`), so applying is idempotent (flush and refill) and removal
is clean. Wardgate's own traffic (its UID), loopback and excluded destination ports are left alone.
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import subprocess
from collections.abc import Sequence

from wardgate.errors import ConfigError

__all__ = ["CHAIN", "RedirectPlan", "apply_rules", "redirect_rules", "removal_rules"]

CHAIN = "WARDGATE_OUTPUT"


@dataclasses.dataclass(frozen=True, slots=True)
class RedirectPlan:
    proxy_port: int = 8080
    proxy_uid: int = 10001
    ports: tuple[int, ...] = (80, 443)
    exclude_ports: tuple[int, ...] = ()


_NAT = ("iptables", "-w", "-t", "nat")


def _nat(*args: str) -> list[str]:
    return [*_NAT, *args]


def redirect_rules(plan: RedirectPlan) -> list[list[str]]:
    """The argv of each iptables call, in order (pure: printed by default, run with `--apply`)."""
    rules = [
        _nat("-N", CHAIN),
        _nat("-F", CHAIN),
        # Never loop Wardgate's own upstream connections back into itself.
        _nat("-A", CHAIN, "-m", "owner", "--uid-owner", str(plan.proxy_uid), "-j", "RETURN"),
        _nat("-A", CHAIN, "-o", "lo", "-j", "RETURN"),
    ]
    rules += [_nat("-A", CHAIN, "-p", "tcp", "--dport", str(port), "-j", "RETURN") for port in plan.exclude_ports]
    rules += [
        _nat("-A", CHAIN, "-p", "tcp", "--dport", str(port), "-j", "REDIRECT", "--to-ports", str(plan.proxy_port))
        for port in plan.ports
        if port not in plan.exclude_ports
    ]
    rules.append(_nat("-A", "OUTPUT", "-p", "tcp", "-j", CHAIN))
    return rules


def removal_rules() -> list[list[str]]:
    return [_nat("-D", "OUTPUT", "-p", "tcp", "-j", CHAIN), _nat("-F", CHAIN), _nat("-X", CHAIN)]


def _run(argv: Sequence[str], *, tolerate: bool) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0 and not tolerate:
        raise ConfigError(f"`{shlex.join(argv)}` failed: {result.stderr.strip()}")


def apply_rules(rules: Sequence[Sequence[str]]) -> None:
    """Run the rules; creating an existing chain, or deleting a missing one, is not an error (idempotence)."""
    if shutil.which("iptables") is None:
        raise ConfigError("iptables is not installed (Debian: apt-get install iptables)")
    existing_hook = subprocess.run(_nat("-C", "OUTPUT", "-p", "tcp", "-j", CHAIN), capture_output=True).returncode == 0
    for argv in rules:
        operation = list(argv[len(_NAT) :])
        if operation[:2] == ["-A", "OUTPUT"] and existing_hook:
            continue
        _run(argv, tolerate=operation[:2] == ["-N", CHAIN] or operation[0] in ("-D", "-X", "-F"))
