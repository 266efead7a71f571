"""`wardgate iptables --apply` in a fresh network namespace: IPv4 and IPv6 redirected for real, other rules kept.

A listener on 127.0.0.1 and ::1 answers each connection with its original destination (mitmproxy's own
SO_ORIGINAL_DST lookup, as transparent mode reads it); clients connect with bash's /dev/tcp as root (redirected)
and as Wardgate's UID (exempt), to a redirected and an excluded port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

NAMESPACE = "wgt-iptables"
V4, V6 = "10.233.0.9", "fd00:233::9"  # routed, but nothing answers there: only the redirect does
PROXY_PORT, PROXY_UID = 15001, 10001

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "iptables-restore", "ip6tables-restore")),
    reason="needs root, iproute2 and iptables (.ci/run installs them)",
)

LISTENER = """
import selectors, socket, sys
from mitmproxy.platform.linux import original_addr
selector = selectors.DefaultSelector()
for host in ("127.0.0.1", "::1"):
    server = socket.create_server((host, int(sys.argv[1])), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    selector.register(server, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in selector.select():
        connection, _ = key.fileobj.accept()
        host, port = original_addr(connection)
        connection.sendall(f"{host} {port}\\n".encode())
        connection.close()
"""


def in_namespace(*argv: str, **options) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", NAMESPACE, *argv], capture_output=True, text=True, timeout=30,
                          **options)  # fmt: skip


def wardgate_iptables(*flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return in_namespace(sys.executable, "-m", "wardgate", "iptables", "--uid", str(PROXY_UID), "--port",
                        str(PROXY_PORT), "--exclude-ports", "443", *flags, env=env)  # fmt: skip


def saved(command: str) -> list[str]:
    return (
        in_namespace(f"{command}-save", "-t", "nat", check=True).stdout.splitlines()
        + in_namespace(f"{command}-save", "-t", "filter", check=True).stdout.splitlines()
    )


def reached(host: str, port: int, uid: int = 0) -> str | None:
    """The original destination the listener saw, or None when the connection was not redirected."""
    user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid else []
    result = in_namespace(*user, "timeout", "1", "bash", "-c", f"exec 3<>/dev/tcp/{host}/{port} && head -1 <&3")
    return result.stdout.strip() if result.returncode == 0 else None


@pytest.fixture(scope="module")
def namespace():
    subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True)
    subprocess.run(["ip", "netns", "add", NAMESPACE], check=True)
    try:
        for command in (
            ["ip", "link", "set", "lo", "up"],
            # A link with routes to V4 and V6 whose far end never answers.
            ["ip", "link", "add", "wgt-a", "type", "veth", "peer", "name", "wgt-b"],
            ["ip", "link", "set", "wgt-a", "up"],
            ["ip", "addr", "add", "10.233.0.1/24", "dev", "wgt-a"],
            ["ip", "-6", "addr", "add", "fd00:233::1/64", "dev", "wgt-a", "nodad"],
            # Rules that are not Wardgate's: --noflush must leave them alone.
            ["iptables", "-t", "filter", "-A", "OUTPUT", "-p", "udp", "--dport", "53", "-j", "ACCEPT"],
            ["ip6tables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "25", "-j", "RETURN"],
        ):
            in_namespace(*command, check=True)
        listener = subprocess.Popen(
            ["ip", "netns", "exec", NAMESPACE, sys.executable, "-c", LISTENER, str(PROXY_PORT)],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"
        try:
            yield
        finally:
            listener.terminate()
            listener.wait(timeout=10)
    finally:
        subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True)


def test_apply_redirects_both_families_atomically_and_idempotently(namespace):
    before = {command: saved(command) for command in ("iptables", "ip6tables")}
    for _ in range(2):
        result = wardgate_iptables("--apply")
        assert result.returncode == 0, result.stderr
        assert "applied for IPv4, IPv6" in result.stderr
    for command in ("iptables", "ip6tables"):
        rules = saved(command)
        assert rules.count("-A OUTPUT -p tcp -j WARDGATE_OUTPUT") == 1  # applied twice, hooked once
        assert f"-A WARDGATE_OUTPUT -m owner --uid-owner {PROXY_UID} -j RETURN" in rules
        assert {line for line in before[command] if line.startswith("-A")} <= set(rules)
    assert reached(V4, 80) == f"{V4} 80"
    assert reached(V6, 80) == f"{V6} 80"
    # Wardgate's own connections and the excluded port go where they were going (nowhere, here).
    for host in (V4, V6):
        assert reached(host, 80, uid=PROXY_UID) is None
        assert reached(host, 443) is None


def test_remove_undoes_it_and_keeps_the_other_rules(namespace):
    assert wardgate_iptables("--apply").returncode == 0
    for _ in range(2):  # removing what is already gone is not an error
        result = wardgate_iptables("--apply", "--remove")
        assert result.returncode == 0, result.stderr
    for command in ("iptables", "ip6tables"):
        assert not [line for line in saved(command) if "WARDGATE" in line]
    assert "-A OUTPUT -p udp -m udp --dport 53 -j ACCEPT" in saved("iptables")
    assert "-A OUTPUT -p tcp -m tcp --dport 25 -j RETURN" in saved("ip6tables")
    assert reached(V4, 80) is None
