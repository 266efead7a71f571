"""Inspection is decided by the connection's destination; a Host that names another host is caught."""

from __future__ import annotations

import socket

import pytest

from wardgate.pipeline.destination import Destination, host_matcher

LLM = host_matcher(["api.openai.com", "*.openai.azure.com", "10.20.0.0/16", "192.0.2.7", "2001:db8::/32"])


@pytest.mark.parametrize(
    ("host", "inspected"),
    [
        ("api.openai.com", True),
        ("API.OpenAI.com.", True),
        ("api.openai.com:443", True),
        ("x.openai.azure.com", True),
        ("10.20.3.4", True),
        ("10.21.0.1", False),
        ("192.0.2.7", True),
        ("[2001:db8::1]:443", True),
        ("example.com", False),
        ("api.openai.com.evil.test", False),
    ],
)
def test_llm_hosts_match_names_wildcards_ips_and_networks(host, inspected):
    assert LLM(host) is inspected


def test_forward_mode_inspects_by_the_connect_authority_not_the_host_header():
    flow = Destination(target="api.openai.com", sni="api.openai.com", host_header="localhost.")
    assert flow.inspected(LLM)
    assert "localhost" in (flow.mismatch() or "")


def test_a_matching_host_header_is_fine_with_case_port_and_trailing_dot():
    assert Destination("api.openai.com", "api.openai.com", "API.openai.com.:443").mismatch() is None


def test_forward_mode_binds_the_host_to_a_connect_authority_that_is_an_ip():
    assert Destination("192.0.2.7", None, "localhost.").mismatch() is not None


def test_transparent_mode_binds_the_host_to_the_sni_when_the_target_is_an_ip():
    assert Destination("203.0.113.9", "api.openai.com", "api.openai.com", target_named=False).inspected(LLM)
    assert Destination("203.0.113.9", "api.openai.com", "example.com", target_named=False).mismatch() is not None


def test_transparent_plain_http_to_an_ip_can_only_be_named_by_its_host_header():
    assert Destination("203.0.113.9", None, "api.openai.com", target_named=False).inspected(LLM)
    assert Destination("203.0.113.9", None, "example.com", target_named=False).mismatch() is None
    assert not Destination("203.0.113.9", None, "example.com", target_named=False).inspected(LLM)


@pytest.mark.parametrize(
    "spelling",
    [
        *["127.1", "0x7f000001", "2130706433", "0177.0.0.1", "127.0.0.1"],
        *["[::ffff:127.0.0.1]", "::ffff:7f00:1", "[::127.0.0.1]"],  # IPv4-mapped and -compatible IPv6
    ],
)
def test_an_ip_entry_matches_every_spelling_of_its_address(spelling):
    assert host_matcher(["127.0.0.1"])(spelling)
    assert host_matcher(["127.0.0.0/8"])(spelling)
    assert not host_matcher(["10.0.0.0/8"])(spelling)


def test_ipv6_hosts_that_are_not_ipv4_in_disguise_stay_ipv6():
    assert not host_matcher(["0.0.0.0/0"])("[2001:db8::1]")
    assert host_matcher(["::1"])("[::1]")
    assert host_matcher(["2001:db8::/32"])("[2001:db8::7]")


@pytest.mark.parametrize(
    "spelling",
    [
        *["0.0.0.0", "0", "[::]", "::", "localhost", "LocalHost.", "api.localhost", "127.0.0.2", "127.255.255.254"],
        *["127.2", "[::1]", "[0:0:0:0:0:0:0:1]"],
    ],
)
def test_a_host_that_reaches_loopback_matches_a_loopback_entry(spelling):
    """Found by outside reviews: `http://0.0.0.0:port/`, then `127.0.0.2`, reached a loopback LLM host (a server
    listening on every address) in forward mode unjudged."""
    assert host_matcher(["127.0.0.1"])(spelling)
    assert host_matcher(["::1"])(spelling)
    assert not host_matcher(["10.0.0.0/8", "api.openai.com"])(spelling)


def test_an_unspecified_address_still_matches_its_own_entry():
    assert host_matcher(["0.0.0.0"])("0.0.0.0")
    assert not host_matcher(["10.0.0.0/8"])("0.0.0.0")


def test_a_localhost_entry_is_loopback_and_an_entry_s_port_is_no_part_of_it():
    """A second review's finding: `llm_hosts: [localhost]` did not cover `0.0.0.0` or `127.0.0.1`."""
    for spelling in ("localhost", "127.0.0.1", "127.1", "0.0.0.0", "[::1]", "[::]"):
        assert host_matcher(["localhost"])(spelling)
    assert not host_matcher(["localhost"])("10.0.0.1")
    assert host_matcher(["127.0.0.1:11434"])("127.0.0.1")
    assert host_matcher(["api.openai.com:443"])("API.openai.com.")


def test_this_host_s_own_address_reaches_a_loopback_entry():
    """An outside review: a listener on every address takes connections to the host's LAN address too, and
    `llm_hosts: [127.0.0.1]` did not cover it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route's source address is chosen
        except OSError:
            pytest.skip("no route off this host")
        own = probe.getsockname()[0]
    assert host_matcher(["127.0.0.1"])(own)
    assert host_matcher(["127.0.0.1"])(f"[::ffff:{own}]")
    assert not host_matcher(["127.0.0.1"])("192.0.2.1")


def test_a_punycode_entry_matches_the_name_mitmproxy_decodes_it_to():
    """An outside review: mitmproxy IDNA-decodes a CONNECT's authority (`bücher.example`); a list holding the
    punycode never matched it, and the tunnel went uninspected."""
    assert host_matcher(["xn--bcher-kva.example"])("bücher.example")
    assert host_matcher(["bücher.example"])("xn--bcher-kva.example:443")
