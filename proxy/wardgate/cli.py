"""`wardgate` command line: run the proxy, show the CA, verify the audit trail, test policies, demo."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from wardgate.errors import WardgateError

if TYPE_CHECKING:  # the commands import what they use when they run: `wardgate --help` stays fast
    from wardgate.clients import TrustBundle
    from wardgate.config import Settings

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def _write_report(path: Path, report: object) -> None:
    """An eval's JSON report, its folder made first (`bench/results/` is not in a fresh clone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))


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
@click.option("--mode", type=click.Choice(["reverse", "forward", "transparent"]))
@click.option("--upstream", help="Reverse mode: the API base URL, e.g. https://api.openai.com.")
@click.option("--listen-host")
@click.option("--port", type=int)
@click.option("--admin-port", type=int, help="Port for /healthz and /readyz.")
@click.option("--audit-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--policies", type=click.Path(file_okay=False, path_type=Path), help="Policy bundle directory.")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
@_reports_errors
def run(config_file: Path | None, log_level: str, **flags: Any) -> None:
    """Run the proxy until SIGINT/SIGTERM (SIGHUP reloads the policy bundle)."""
    from wardgate.config import check_serving, load_settings
    from wardgate.intercept.server import serve
    from wardgate.logs import configure_logging

    overrides = {key: value for key, value in flags.items() if key not in ("audit_file", "policies")}
    settings = load_settings(config_file, **overrides)
    check_serving(settings)
    if flags["audit_file"] is not None:
        settings.audit.file = flags["audit_file"]
    if flags["policies"] is not None:
        settings.policy.dir = flags["policies"]
    configure_logging(log_level)
    runner = asyncio.Runner()
    runner.run(serve(settings))
    # Stopped cleanly. A worker thread may still be inside a model call for a request that is gone: the process
    # must not wait for it (asyncio's runner would join the default executor), so it ends here.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


_SYSTEM_CAS = click.option(
    "--system-cas",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The CAs to keep trusting (default: the system's bundle, else certifi's).",
)


def _trust_bundle(config_file: Path | None, system_cas: Path | None) -> tuple[Settings, TrustBundle]:
    """(settings, the bundle of the system CAs plus Wardgate's CA); the CA is created if needed."""
    from wardgate.clients import build_bundle
    from wardgate.config import load_settings
    from wardgate.intercept.ca import ensure_ca

    settings = load_settings(config_file, upstream=None, mode="forward")
    cert = ensure_ca(settings.confdir)
    bundle = build_bundle(cert, system_cas)
    click.echo(f"wardgate: {bundle.system_count} CAs from {bundle.source} + Wardgate's CA ({cert})", err=True)
    return settings, bundle


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the bundle here and print its path instead of the PEM.")  # fmt: skip
@click.option("--cert-path", is_flag=True, help="Print only the path of Wardgate's CA certificate.")
@_SYSTEM_CAS
@_reports_errors
def ca(config_file: Path | None, bundle_path: Path | None, cert_path: bool, system_cas: Path | None) -> None:
    """Print a PEM bundle of the system CAs plus Wardgate's forward-mode CA (created if needed).

    For SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or NODE_EXTRA_CA_CERTS: those replace what a client
    trusts, so Wardgate's CA alone would break every host it passes through untouched.
    """
    if cert_path and bundle_path is not None:
        raise click.UsageError("--cert-path prints the CA's own path: it writes no bundle")
    if cert_path:
        from wardgate.config import load_settings
        from wardgate.intercept.ca import ensure_ca

        path = ensure_ca(load_settings(config_file, upstream=None, mode="forward").confdir)
        click.echo(str(path))
        click.echo(
            f"Trust it system-wide (Debian/Ubuntu): cp {path} /usr/local/share/ca-certificates/wardgate.crt "
            "&& update-ca-certificates",
            err=True,
        )
        return
    from wardgate.clients import write_bundle

    _, bundle = _trust_bundle(config_file, system_cas)
    if bundle_path is None:
        click.echo(bundle.pem, nl=False)
        return
    write_bundle(bundle, bundle_path)
    click.echo(str(bundle_path.expanduser()))


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--proxy", "proxy_url", help="Wardgate's forward-mode URL (default: http://127.0.0.1:<port>).")
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the CA bundle (default: ca-bundle.pem in the confdir).")  # fmt: skip
@click.option("--format", "output", type=click.Choice(["shell", "json"]), default="shell", show_default=True)
@_SYSTEM_CAS
@_reports_errors
def env(
    config_file: Path | None, proxy_url: str | None, bundle_path: Path | None, output: str, system_cas: Path | None
) -> None:
    """Print the variables that send Python, Node, Go and curl clients through Wardgate: eval "$(wardgate env)"."""
    from wardgate.clients import client_env, write_bundle

    settings, bundle = _trust_bundle(config_file, system_cas)
    target = (bundle_path or settings.confdir / "ca-bundle.pem").expanduser()
    variables = client_env(proxy_url or f"http://127.0.0.1:{settings.port}", target)  # a bad --proxy writes nothing
    write_bundle(bundle, target)
    if output == "json":
        click.echo(json.dumps({**variables.to_json(), "ca_bundle": str(target), "system_cas": str(bundle.source)}))
    else:
        click.echo(variables.shell(), nl=False)


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
    for gap in result.recovered:
        click.echo(f"recovered gap: {gap.file}: line {gap.line}: {gap.reason}")
    anchor = "" if not result.first_seq else f" (chain starts at seq {result.first_seq})"
    click.echo(f"ok {result.events} events{anchor}")


@main.group()
def policy() -> None:
    """Policy bundle tools."""


@policy.command("test")
@click.argument("directory", required=False, default="policies", type=click.Path(file_okay=False, path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="List passing tests too.")
@click.option("--coverage", is_flag=True, help="Report the share of policy lines the tests evaluate.")
@_reports_errors
def policy_test(directory: Path, verbose: bool, coverage: bool) -> None:
    """Run every `test_*` rule in the bundle's `*_test.rego` files; exit 1 if any fails."""
    from wardgate.policy.testing import Coverage, run_tests

    report = Coverage() if coverage else None
    results = run_tests(directory, report)
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
    if report is not None:
        for file, percent in report.per_file().items():
            click.echo(f"coverage {file}: {percent:.1f}%")
    sys.exit(0 if results and not counts["fail"] and not counts["error"] else 1)


@policy.command("eval")
@click.argument("directory", required=False, default="policies", type=click.Path(file_okay=False, path_type=Path))
@click.option("--input", "input_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A policy input (JSON), or an audit event that recorded its input.")  # fmt: skip
@_reports_errors
def policy_eval(directory: Path, input_file: Path) -> None:
    """Print the decision the bundle gives for a captured input (replay an audited decision)."""
    from wardgate.errors import ConfigError
    from wardgate.policy.engine import DECISION_PATH, EmbeddedEngine

    try:
        document = json.loads(input_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{input_file}: not a JSON document: {exc}") from exc
    if isinstance(document, dict) and document.get("event") == "decision":
        if not isinstance(document.get("input"), dict):
            raise ConfigError(f"{input_file}: this audit event did not record its input (audit.record_input)")
        if document.get("input_omitted"):
            omitted = ", ".join(document["input_omitted"])
            click.echo(f"wardgate: this event's input was recorded without {omitted}; decided without it", err=True)
        document = document["input"]

    async def evaluate() -> dict[str, object]:
        engine = EmbeddedEngine(directory, timeout=10)
        engine.load()
        try:
            return (await engine.evaluate(document)).model_dump()
        finally:
            await engine.close()

    click.echo(json.dumps({"path": DECISION_PATH.replace(".", "/"), "result": asyncio.run(evaluate())}, indent=2))


@policy.command("replay")
@click.argument("audit_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--policies", "directory", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The candidate bundle directory.")  # fmt: skip
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@_reports_errors
def policy_replay(audit_files: tuple[Path, ...], directory: Path, json_out: Path | None) -> None:
    """Decide every recorded decision again under a candidate bundle and show what would change."""

    from wardgate.policy.engine import EmbeddedEngine
    from wardgate.policy.replay import read_events, replay

    # The proxy's own evaluator code, on this thread: the replay is offline, so no executor or timeout is needed.
    engine = EmbeddedEngine(directory, timeout=10)
    bundle = engine.load()
    try:
        report = replay(read_events(audit_files), engine.evaluate_blocking)
    finally:
        asyncio.run(engine.close())
    click.echo(f"candidate bundle {directory}: revision {bundle.revision[:12]}")
    for line in report.table():
        click.echo(line)
    if json_out is not None:
        _write_report(json_out, report.to_json())


@policy.command("bundle")
@click.argument("directory", required=False, default="policies", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("bundle.tar.gz"),
              show_default=True)  # fmt: skip
@_reports_errors
def policy_bundle(directory: Path, output: Path) -> None:
    """Write an OPA bundle tarball (`opa run -s -b bundle.tar.gz`), after checking that the bundle compiles."""
    from wardgate.policy.engine import EmbeddedEngine
    from wardgate.policy.packaging import write_tarball

    bundle = EmbeddedEngine(directory, timeout=10).load()  # compiles it: a broken bundle is never packed
    manifest = write_tarball(bundle, output)
    click.echo(f"wrote {output}: revision {manifest['revision']}, roots {', '.join(manifest['roots'])}")  # type: ignore[arg-type]


@main.command()
@click.option("--port", "proxy_port", type=int, default=8080, show_default=True, help="Wardgate's listener.")
@click.option("--uid", "proxy_uid", type=int, default=10001, show_default=True, help="Wardgate's UID (exempt).")
@click.option("--exclude-ports", default="", help="Comma-separated destination ports never redirected.")
@click.option("--apply", "apply_", is_flag=True,
              help="Apply them with iptables-restore and ip6tables-restore --noflush (needs NET_ADMIN).")  # fmt: skip
@click.option("--remove", is_flag=True, help="Print (or with --apply, run) the rules that undo the redirect.")
@_reports_errors
def iptables(proxy_port: int, proxy_uid: int, exclude_ports: str, apply_: bool, remove: bool) -> None:
    """Redirect outbound TCP 80/443 (IPv4 and IPv6) to Wardgate's transparent listener (a sidecar's init container).

    Prints the `iptables-restore` input, the same for both families: `wardgate iptables | iptables-restore --noflush`
    once in a fresh network namespace (piped twice, the jump from OUTPUT is there twice); `--apply` may be run again
    (it adds that jump only when it is missing).
    """
    from wardgate.errors import ConfigError
    from wardgate.k8s.iptables import RedirectPlan, apply_redirect, apply_removal, redirect_rules, removal_rules

    try:
        excluded = tuple(int(port) for port in exclude_ports.split(",") if port.strip())
    except ValueError as exc:
        raise ConfigError(f"--exclude-ports must be comma-separated port numbers, got {exclude_ports!r}") from exc
    plan = RedirectPlan(proxy_port=proxy_port, proxy_uid=proxy_uid, exclude_ports=excluded)
    if apply_:
        families = apply_removal() if remove else apply_redirect(plan)
        done = "removed" if remove else "applied"
        click.echo(f"wardgate iptables: {done} for {', '.join(family.name for family in families)}", err=True)
    click.echo(removal_rules() if remove else redirect_rules(plan), nl=False)


@main.command()
@click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--listen-host", default="0.0.0.0", show_default=True)
@click.option("--port", type=int, default=8443, show_default=True)
@click.option("--image", default="ghcr.io/wardgate/wardgate:0.1.0", show_default=True, help="The sidecar image.")
@click.option("--opa-image", default=None, help="Also inject an OPA sidecar, e.g. openpolicyagent/opa:1.20.2.")
@click.option("--fail-closed", is_flag=True, help="Reject pods that cannot be injected instead of admitting them.")
@_reports_errors
def webhook(
    cert: Path, key: Path, listen_host: str, port: int, image: str, opa_image: str | None, fail_closed: bool
) -> None:
    """Serve the sidecar-injection admission webhook (POST /mutate, AdmissionReview v1) over TLS."""
    import signal

    from wardgate.k8s.injector import InjectorSettings
    from wardgate.k8s.webhook import WebhookServer
    from wardgate.logs import configure_logging

    configure_logging()
    settings = InjectorSettings(image=image, opa_image=opa_image)

    async def serve() -> None:
        server = WebhookServer(settings, cert=cert, key=key, host=listen_host, port=port, fail_closed=fail_closed)
        await server.start()
        click.echo(f"wardgate webhook listening on https://{listen_host}:{server.port}/mutate", nl=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await server.stop()

    asyncio.run(serve())


@main.group()
def identity() -> None:
    """Identity tools."""


@identity.command("hash-key")
def identity_hash_key() -> None:
    """Read an API key on stdin; print the line for the API key file (only the SHA-256 is stored)."""
    from wardgate.identity import hash_key

    key = sys.stdin.readline().strip()
    if not key:
        click.echo("wardgate: no key on stdin", err=True)
        sys.exit(2)
    click.echo(f"  - {{sha256: {hash_key(key)}, subject: CHANGE-ME, tenant: default, roles: []}}")


@main.group("eval")
def evaluate() -> None:
    """Measure a scanner on labelled data."""


@evaluate.command("injection")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("models/injection"),
    show_default=True,
    help="ONNX sequence-classification model directory.",
)
@click.option(
    "--multilingual",
    default="models/injection-ml",
    show_default=True,
    help="The model for text in other languages than English, routed as the scanner routes it (`scanners.injection."
    "multilingual`); `none`: --model reads every text.",
)
@click.option("--threshold", type=click.FloatRange(0, 1), help="Default: the model's own threshold.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the metrics here.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option(
    "--positive-label",
    "positive",
    multiple=True,
    help="For a foreign model: the label meaning injection; repeat to add labels' probabilities.",
)
@click.option(
    "--role",
    type=click.Choice(["user", "document"]),
    help="Judge at the model's operating point for this kind of text (as the scanner does by message role).",
)
@click.option(
    "--confirm-by-sentence/--no-confirm-by-sentence",
    default=None,
    help="As `scanners.injection.confirm_by_sentence`: whether a text --model flags must be flagged by a sentence "
    "too. Default: as the model's config.json says.",
)
@_reports_errors
def eval_injection(
    files: tuple[Path, ...],
    model_dir: Path,
    multilingual: str,
    threshold: float | None,
    json_out: Path | None,
    device: str,
    positive: tuple[str, ...],
    role: str | None,
    confirm_by_sentence: bool | None,
) -> None:
    """Precision, recall, FPR and AUC of the injection classifier per `{"text","label"}` JSONL file and pooled.

    Each row is judged as the scanner judges a prompt (or, with `--role document`, a tool result): normalised,
    decoded payloads and folded look-alikes scored too, each text by the model its language routes it to. With two
    models the table's scores are margins to each model's line (`inference/routing.margin`: 0 at the line)."""

    from wardgate.config import InjectionSettings
    from wardgate.evaluation import binary_metrics, read_labelled, roc_auc
    from wardgate.inference import DynamicBatcher
    from wardgate.inference.model_dir import OperatingPoint
    from wardgate.inference.routing import Scored, margin
    from wardgate.models import Segment
    from wardgate.scanners import InjectionScanner, routed_classifier

    datasets = [(path, *read_labelled(path)) for path in files]  # bad input fails before the model loads
    settings = InjectionSettings(
        model=model_dir,
        multilingual=None if multilingual == "none" else Path(multilingual),
        device=cast("Any", device),
        threshold=threshold,
        positive_label=(positive[0] if len(positive) == 1 else list(positive)) if positive else None,
        confirm_by_sentence=confirm_by_sentence,
    )
    classifier = routed_classifier(settings)
    classifier.load()
    scanner = InjectionScanner(classifier, DynamicBatcher(classifier.score), roles=[], min_score=0.0)
    lines = []
    for model in classifier.classifiers:
        assert model.config is not None
        lines.append(model.config.threshold_at(cast("OperatingPoint", role)) if role else model.config.threshold)
    routed = len(lines) > 1
    line = 0.0 if routed else lines[0]
    english = classifier.classifiers[0].config
    assert english is not None
    report: dict[str, object] = {"threshold": line, "role": role, "confirm_by_sentence": english.confirm_by_sentence,
                                 "models": {}, "files": []}  # fmt: skip
    for model, model_line in zip(classifier.classifiers, lines, strict=True):
        report["models"][str(model.directory)] = {"threshold": model_line, "serving": model.serving}  # type: ignore[index]
    # As the scanner judges it: a prompt, or (--role document) a tool result.
    as_segment = (
        functools.partial(Segment, "tool", "tool_result")
        if role == "document"
        else functools.partial(Segment, "user", "prompt")
    )
    pooled_scores: list[float] = []
    pooled_labels: list[int] = []
    rows = []
    scored: list[tuple[Path, list[float], list[int], int]] = []
    for path, texts, labels in datasets:
        scores: list[float] = []
        second = 0
        with click.progressbar(length=len(texts), label=path.name, file=sys.stderr) as bar:
            for start in range(0, len(texts), 32):
                chunk = texts[start : start + 32]
                for item in scanner.best_scores([as_segment(text, ()) for text in chunk]):
                    item = item or Scored(0.0, 0)  # a one-token text: no room for an instruction, never flagged
                    scores.append(margin(item.score, lines[item.model]) if routed else item.score)
                    second += item.model
                bar.update(len(chunk))
        scored.append((path, scores, labels, second))
        pooled_scores += scores
        pooled_labels += labels
    for path, scores, labels, second in scored:
        metrics = {"file": str(path), **binary_metrics(scores, labels, line), "auc_against": "file"}
        if routed:
            metrics["multilingual_rows"] = second
        if metrics["auc"] is None and len(set(labels)) == 1:
            # A file of one class is ranked against every row of the other class in this run.
            others = [(s, y) for s, y in zip(pooled_scores, pooled_labels, strict=True) if y != labels[0]]
            auc = roc_auc([*scores, *(s for s, _ in others)], [*labels, *(y for _, y in others)])
            metrics["auc"] = round(auc, 4) if auc is not None else None
            metrics["auc_against"] = "pooled other class"
        report["files"].append(metrics)  # type: ignore[attr-defined]
        rows.append((path.name, metrics))
    pooled = binary_metrics(pooled_scores, pooled_labels, line)
    report["pooled"] = pooled
    rows.append(("pooled", pooled))

    def show(value: object) -> str:
        return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)

    for model, model_line in zip(classifier.classifiers, lines, strict=True):
        click.echo(f"threshold {model_line:.4f}  model {model.directory} ({model.serving})")
    if routed:
        click.echo("each text at the line of the model its language routes it to; `ml`: rows the second model read")
    click.echo(
        f"{'file':<36} {'n':>6} {'tp':>5} {'fp':>5} {'tn':>5} {'fn':>5} {'prec':>7} {'recall':>7} {'fpr':>7} {'auc':>7}"
        + (f" {'ml':>6}" if routed else "")
    )
    for name, m in rows:
        click.echo(
            f"{name:<36} {m['n']:>6} {m['tp']:>5} {m['fp']:>5} {m['tn']:>5} {m['fn']:>5} {show(m['precision']):>7} "
            f"{show(m['recall']):>7} {show(m['fpr']):>7} {show(m['auc']):>7}"
            + (f" {m.get('multilingual_rows', sum(r[3] for r in scored)):>6}" if routed else "")
        )
    if json_out is not None:
        _write_report(json_out, report)


@evaluate.command("pii")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="Wardgate YAML.")
@click.option("--no-ner", is_flag=True, help="Leave the ONNX tagger out (spaCy and patterns only).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the metrics here.")
@_reports_errors
def eval_pii(files: tuple[Path, ...], config_file: Path | None, no_ner: bool, json_out: Path | None) -> None:
    """Span precision/recall/F1 and "masked" per entity type for `{"text","spans"}` JSONL files (char IoU >= 0.5)."""

    from wardgate.config import load_settings
    from wardgate.evaluation import GoldSpan, read_spans, span_metrics
    from wardgate.scanners.pii import build_pii_scanner

    datasets = [(path, *read_spans(path)) for path in files]  # bad input fails before the models load
    settings = load_settings(config_file, mode="forward").scanners.pii
    if no_ner:
        settings = settings.model_copy(update={"ner": settings.ner.model_copy(update={"model": None})})
    scanner = build_pii_scanner(settings)
    report: dict[str, list[dict[str, object]]] = {"files": []}
    for path, texts, gold in datasets:
        predicted = []
        with click.progressbar(texts, label=path.name, file=sys.stderr) as bar:
            for text in bar:
                predicted.append([GoldSpan(start, end, entity) for entity, start, end, _ in scanner.analyze(text)])
        metrics = span_metrics(gold, predicted)
        report["files"].append({"file": str(path), **metrics})
        click.echo(f"\n{path.name}")
        click.echo(f"  {'entity':<20} {'support':>7} {'pred':>6} {'prec':>7} {'recall':>7} {'f1':>7} {'masked':>7}")
        for entity, m in [*metrics["entities"].items(), ("overall", metrics["overall"])]:
            cells = [m[key] for key in ("precision", "recall", "f1", "masked")]
            shown = " ".join(f"{'-' if v is None else f'{v:.4f}':>7}" for v in cells)
            click.echo(f"  {entity:<20} {m['support']:>7} {m['predicted']:>6} {shown}")
    scanner.close()
    if json_out is not None:
        _write_report(json_out, report)


@main.command()
@_reports_errors
def demo() -> None:
    """Start a fake OpenAI upstream and Wardgate in front of it, and show what it stops."""
    from wardgate.demo import run_demo

    sys.exit(run_demo())
