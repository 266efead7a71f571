"""The redirect as `iptables-restore` input: one transaction per family, Wardgate's own traffic never redirected."""

import subprocess
import sys

import pytest

from wardgate.errors import ConfigError
from wardgate.k8s.iptables import CHAIN, Family, RedirectPlan, apply_redirect, redirect_rules, removal_rules


def rules(text: str) -> list[str]:
    lines = text.splitlines()
    assert (lines[0], lines[-1]) == ("*nat", "COMMIT")  # one table, committed as a whole
    return lines[1:-1]


def test_redirect_exempts_wardgate_loopback_and_excluded_ports_before_redirecting():
    body = rules(redirect_rules(RedirectPlan(proxy_port=15001, proxy_uid=1337, exclude_ports=(443, 5432))))
    assert body == [
        f":{CHAIN} - [0:0]",
        f"-A {CHAIN} -m owner --uid-owner 1337 -j RETURN",
        f"-A {CHAIN} -o lo -j RETURN",
        f"-A {CHAIN} -p tcp --dport 443 -j RETURN",
        f"-A {CHAIN} -p tcp --dport 5432 -j RETURN",
        f"-A {CHAIN} -p tcp --dport 80 -j REDIRECT --to-ports 15001",
        f"-A OUTPUT -p tcp -j {CHAIN}",
    ]


def test_an_existing_hook_is_not_added_twice():
    body = rules(redirect_rules(RedirectPlan(), hook=False))
    assert not [line for line in body if "OUTPUT -p tcp" in line and not line.startswith(f"-A {CHAIN}")]
    assert f"-A {CHAIN} -p tcp --dport 443 -j REDIRECT --to-ports 8080" in body


def test_removal_undoes_only_what_is_there():
    assert rules(removal_rules()) == [f"-D OUTPUT -p tcp -j {CHAIN}", f"-F {CHAIN}", f"-X {CHAIN}"]
    assert rules(removal_rules(hook=False)) == [f"-F {CHAIN}", f"-X {CHAIN}"]
    assert rules(removal_rules(chain=False)) == [f"-D OUTPUT -p tcp -j {CHAIN}"]


def test_a_family_the_kernel_lacks_is_skipped_one_it_has_is_never(tmp_path):
    flag = tmp_path / "if_inet6"
    family = Family("IPv6", "ip6tables-not-installed", flag)
    assert apply_redirect(RedirectPlan(), [family]) == []
    flag.touch()  # the kernel speaks IPv6: without the tools its traffic would bypass Wardgate, so that is an error
    with pytest.raises(ConfigError, match="ip6tables-not-installed-restore is not installed"):
        apply_redirect(RedirectPlan(), [family])


def test_cli_prints_the_restore_input():
    printed = subprocess.run(
        [sys.executable, "-m", "wardgate", "iptables", "--uid", "1337", "--port", "15001", "--exclude-ports", "5432"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert printed == redirect_rules(RedirectPlan(proxy_port=15001, proxy_uid=1337, exclude_ports=(5432,)))
