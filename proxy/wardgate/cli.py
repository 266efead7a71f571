"""`wardgate` command line: run the proxy, show the CA, verify the audit trail, test policies, demo."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wardgate.errors import WardgateError

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors[F: Callable[..., Any]](command: F) -> F:
    """One place where Wardgate errors become a message on stderr and the error's exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WardgateError as exc:
            click.echo(f"wardgate: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="wardgate")
def main() -> None:
    """Wardgate: a guardrail policy proxy for LLM and agent traffic."""


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="YAML config file.")
@click.option("--mode", type=click.Choice(["reverse", "forward"]))
@click.option("--upstream", help="Reverse mode: the API base URL, e.g. https://api.openai.com.")
@click.option("--listen-host")
@click.option("--port", type=int)
@click.option("--admin-port", type=int, help="Port for /healthz and /readyz.")
@click.option("--audit-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--policies", type=click.Path(file_okay=False, path_type=Path), help="Policy bundle directory.")
@click.option("--log-level", default="INFO", show_default=True)
@_reports_errors
def run(config_file: Path | None, log_level: str, **flags: Any) -> None:
    """Run the proxy until SIGINT/SIGTERM (SIGHUP reloads the policy bundle)."""
    from wardgate.config import load_settings
    from wardgate.intercept.server import serve
    from wardgate.logs import configure_logging

    overrides = {key: value for key, value in flags.items() if key not in ("audit_file", "policies")}
    settings = load_settings(config_file, **overrides)
    if flags["audit_file"] is not None:
        settings.audit.file = flags["audit_file"]
    if flags["policies"] is not None:
        settings.policy.dir = flags["policies"]
    configure_logging(log_level)
    asyncio.run(serve(settings))


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
@_reports_errors
def ca(config_file: Path | None) -> None:
    """Print where the forward-mode CA certificate is (creating it if needed) and how to trust it."""
    from mitmproxy.certs import CertStore

    from wardgate.config import load_settings
    from wardgate.intercept.server import ca_cert_path

    settings = load_settings(config_file, upstream=None, mode="forward")
    CertStore.from_store(settings.confdir.expanduser(), "mitmproxy", 2048)
    path = ca_cert_path(settings.confdir)
    click.echo(str(path))
    click.echo(
        f"\nTrust it for one client:   SSL_CERT_FILE={path} (Python/httpx), REQUESTS_CA_BUNDLE={path}, "
        f"NODE_EXTRA_CA_CERTS={path}, curl --cacert {path}\n"
        f"Trust it system-wide (Debian/Ubuntu): cp {path} /usr/local/share/ca-certificates/wardgate.crt "
        "&& update-ca-certificates\nThen: HTTPS_PROXY=http://127.0.0.1:8080 your-agent",
        err=True,
    )


@main.group()
def audit() -> None:
    """Audit trail tools."""


@audit.command("verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def audit_verify(paths: tuple[Path, ...]) -> None:
    """Verify the hash chain of one audit file, or of a rotated set (any order)."""
    from wardgate.audit import verify_files

    result = verify_files(list(paths))
    if result.broken is not None:
        click.echo(f"{result.broken.file}: line {result.broken.line}: {result.broken.reason}")
        sys.exit(1)
    anchor = "" if not result.first_seq else f" (chain starts at seq {result.first_seq})"
    click.echo(f"ok {result.events} events{anchor}")


@main.group()
def policy() -> None:
    """Policy bundle tools."""


@policy.command("test")
@click.argument("directory", required=False, default="policies", type=click.Path(file_okay=False, path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="List passing tests too.")
@_reports_errors
def policy_test(directory: Path, verbose: bool) -> None:
    """Run every `test_*` rule in the bundle's `*_test.rego` files; exit 1 if any fails."""
    from wardgate.policy.testing import run_tests

    results = run_tests(directory)
    for result in results:
        if verbose or result.outcome in ("fail", "error"):
            detail = f": {result.detail}" if result.detail else ""
            click.echo(f"{result.outcome.upper()}: {result.package}.{result.name} ({result.file}){detail}")
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in ("pass", "fail", "error", "skip")}
    click.echo("-" * 60)
    click.echo(
        f"PASS: {counts['pass']}/{len(results) - counts['skip']}"
        + (f", SKIP: {counts['skip']}" if counts["skip"] else "")
    )
    if counts["fail"]:
        click.echo(f"FAIL: {counts['fail']}/{len(results)}")
    if counts["error"]:
        click.echo(f"ERROR: {counts['error']}/{len(results)}")
    if not results:
        click.echo("no tests found", err=True)
    sys.exit(0 if results and not counts["fail"] and not counts["error"] else 1)


@main.command()
@_reports_errors
def demo() -> None:
    """Start a fake OpenAI upstream and Wardgate in front of it, and show what it stops."""
    from wardgate.demo import run_demo

    sys.exit(run_demo())
