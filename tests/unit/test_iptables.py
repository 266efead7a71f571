"""The redirect as `iptables-restore` input: one transaction per family, Wardgate's own traffic never redirected."""

import subprocess
import sys
from pathlib import Path

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


@pytest.mark.skipif(not Path("/proc/net/if_inet6").exists(), reason="the kernel has no IPv6")
def test_a_loopback_transparent_listener_also_listens_where_ip6tables_redirects():
    from mitmproxy.proxy.mode_specs import ProxyMode

    from wardgate.config import load_settings
    from wardgate.intercept.server import _mode_specs

    sidecar = load_settings(None, mode="transparent", port=8080)
    listeners = {(mode.listen_host(sidecar.listen_host), mode.listen_port(sidecar.port))
                 for mode in map(ProxyMode.parse, _mode_specs(sidecar))}  # fmt: skip
    assert listeners == {("127.0.0.1", 8080), ("::1", 8080)}
    everywhere = load_settings(None, mode="transparent", port=8080, listen_host="0.0.0.0")
    assert _mode_specs(everywhere) == ["transparent"]
