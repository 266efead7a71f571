"""Short benign structured text: tool-call arguments, API paths, shell commands, code, log lines, config, and terse
business requests.

Written after the 12-layer multilingual model, switched on in the proxy, flagged MCP tool-call arguments
`{"a": 2, "b": 40}` (0.935), `{"command": "cat /etc/passwd"}` (0.952), the path `/v1/chat/completions` (0.918) and
terse business prose (0.88-0.95): the training data had almost no short structured text that was not an attack's
host, and no validation source held any. Every row is benign (label 0: an agent's command or a path names no
override, extraction or redirection, whatever it touches). Two generators with different vocabularies and shapes:
`structured` for training and `structured_heldout` for validation (held out whole). Seeded: two builds are equal.
No evaluation or dev text was read to write these, and the texts above (the proxy's tests use them) are in neither
group, so those tests still say whether the model generalised.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence

from short_turns import lang_of

# --- training vocabulary ------------------------------------------------------------------------------------------

_KEYS = (
    "p",
    "q",
    "x",
    "y",
    "n",
    "id",
    "name",
    "query",
    "path",
    "url",
    "limit",
    "offset",
    "city",
    "units",
    "lang",
    "date",
    "page",
    "user_id",
    "file",
    "text",
    "count",
    "verbose",
    "format",
    "timeout",
    "repo",
    "branch",
)
_WORDS = (
    "report",
    "invoice",
    "weather",
    "Seoul",
    "Paris",
    "draft",
    "notes",
    "summary",
    "metric",
    "celsius",
    "en",
    "ko",
    "main",
    "release",
    "pending",
    "active",
    "todo",
    "backup",
    "2024-05-01",
    "json",
    "csv",
    "README.md",
)
_PATHS = (
    "/tmp/out.txt",
    "/etc/hosts",
    "/etc/fstab",
    "~/projects/app/main.py",
    "./src/index.ts",
    "/var/log/syslog",
    "data/train.csv",
    "/home/user/notes.md",
    "C:\\Users\\me\\Desktop\\todo.txt",
    "/usr/local/bin",
)
_COMMANDS = (
    "ls -la",
    "cat /etc/os-release",
    "cat /etc/hosts",
    "git status",
    "git log --oneline -5",
    "pwd",
    "whoami",
    "python main.py --help",
    "npm install",
    "df -h",
    "ps aux | grep python",
    "grep -r TODO src/",
    "make test",
    "docker ps",
    "kubectl get pods -n default",
    "curl -s https://example.com/health",
    "rm -rf build/",
    "chmod +x run.sh",
    "tail -n 50 app.log",
    "pip install requests",
    "hostname",
    "uname -a",
)
_ROUTES = (
    "/v1/completions",
    "/v1/messages",
    "/v1/embeddings",
    "/api/users/{n}",
    "/api/orders?limit={n}",
    "/healthz",
    "/metrics",
    "/v1/models",
    "/mcp",
    "/sse",
    "/messages/?session_id={hex}",
    "https://api.example.com/v2/items/{n}",
    "https://docs.example.org/guide#install",
)
_CODE = (
    "def add(a, b):\n    return a + b",
    "for i in range({n}):\n    print(i)",
    "import os\nprint(os.getcwd())",
    "const x = await fetch(url);",
    "SELECT id, name FROM users WHERE active = 1;",
    "x = [i * 2 for i in xs]",
    "if err != nil {{\n    return err\n}}",
    "console.log('done');",
    "UPDATE orders SET status = 'shipped';",
    'print("hello world")',
    "return None",
    "assert result == {n}",
)
_LOGS = (
    "2024-05-01T12:00:{s:02d}Z INFO server started on port {port}",
    "WARN disk usage at {n}%",
    "ERROR connection refused (retry {n}/5)",
    "[{s:02d}:12:01] GET /index.html 200 {n}ms",
    "DEBUG cache hit ratio 0.{n}",
    "INFO user {n} logged in",
    "Traceback (most recent call last):",
)
_CONFIG = (
    "port: {port}\nhost: 0.0.0.0",
    "LOG_LEVEL=debug",
    "timeout_ms = {n}",
    "[server]\nworkers = 4",
    "retries: 3\nbackoff: exponential",
    "name,qty,price\nwidget,{n},9.99",
)
_BUSINESS = (
    "Summarise the Q1 launch review",
    "Draft the weekly status update",
    "List the open action items",
    "Prepare the board deck outline",
    "Align stakeholders on the launch plan",
    "Review the budget variance",
    "Quarterly synergy alignment for product and sales",
    "Update the onboarding checklist",
    "Compare vendor proposals",
    "Outline the hiring plan for Q2",
    "Recap the customer escalation",
    "Schedule the sprint retro",
    "Estimate the migration effort",
    "KPI dashboard for the exec review",
    "3분기 로드맵 요약해 줘",
    "주간 보고서 초안 작성",
    "회의록 정리해 줘",
    "예산 차이 검토",
    "第3四半期のロードマップを要約して",
    "週次報告のドラフト",
    "总结第三季度路线图",
    "整理会议纪要",
)

# --- held-out vocabulary (none of the above) ----------------------------------------------------------------------

_H_KEYS = (
    "lat",
    "lon",
    "sku",
    "zip",
    "email_template",
    "top_k",
    "model",
    "temperature",
    "sheet",
    "cell",
    "channel",
    "message_id",
    "tz",
    "currency",
    "amount",
    "region",
    "bucket",
    "key_prefix",
    "issue",
    "label",
)
_H_WORDS = (
    "EUR",
    "KRW",
    "us-east-1",
    "Sheet1",
    "B12",
    "general",
    "Asia/Seoul",
    "bug",
    "wontfix",
    "gpt-4o",
    "logs/",
    "Busan",
    "Tokyo",
    "welcome",
    "archived",
    "Q4",
    "monthly",
)
_H_PATHS = (
    "/srv/app/config.yaml",
    "/opt/data/export.parquet",
    "../docs/CHANGELOG.md",
    "/proc/cpuinfo",
    "s3://bucket/reports/2025/",
    "gs://media/thumbs/",
    "/dev/null",
)
_H_COMMANDS = (
    "find . -name '*.log' -mtime +7",
    "systemctl status nginx",
    "journalctl -u app --since today",
    "terraform plan",
    "cargo build --release",
    "go test ./...",
    "helm list -A",
    "sed -n 1,20p file.txt",
    "wc -l *.csv",
    "du -sh node_modules",
    "cat ~/.bashrc",
    "env | sort",
    "netstat -tlnp",
)
_H_ROUTES = (
    "/graphql",
    "/v2/invoices/{n}/lines",
    "/oauth/token",
    "/webhooks/stripe",
    "/v1/responses",
    "/v1beta/models/gemini:generateContent",
    "/admin/users?page={n}",
    "/static/app.{hex}.js",
)
_H_CODE = (
    'fn main() {{\n    println!("hi");\n}}',
    'package main\nimport "fmt"',
    "SELECT count(*) FROM events;",
    "df.groupby('region').sum()",
    "let total = items.reduce((a, b) => a + b, 0);",
    "#include <stdio.h>",
    "DROP TABLE IF EXISTS tmp_{n};",
    "kubectl apply -f deploy.yaml",
)
_H_LOGS = (
    '{ip} - - [01/May/2025:10:{s:02d}:00 +0000] "GET /api HTTP/1.1" 200 {n}',
    "May  1 10:{s:02d}:00 host sshd[{n}]: Accepted publickey for deploy",
    'level=info msg="request done" status=200 dur={n}ms',
    "panic: runtime error: index out of range [{n}]",
)
_H_CONFIG = (
    "[database]\nhost = db.internal",
    "FEATURE_FLAGS=new_ui,beta",
    "replicas: {n}",
    "max_connections = {n}",
    "region,revenue\nAPAC,{n}",
)
_H_BUSINESS = (
    "Reconcile the March ledger",
    "Rank the churn drivers",
    "Sketch the partner enablement plan",
    "Forecast headcount for H2",
    "Tidy the product backlog",
    "Benchmark competitor pricing",
    "다음 분기 채용 계획 정리",
    "고객 이탈 원인 분석",
    "競合の価格を比較して",
    "整理产品待办事项",
)


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        n=rng.randint(1, 999), s=rng.randint(0, 59), port=rng.choice((80, 443, 8000, 8080, 9090)),
        hex=f"{rng.getrandbits(128):032x}", ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
    )  # fmt: skip


def _value(rng: random.Random, words: Sequence[str], paths: Sequence[str], commands: Sequence[str]) -> object:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randint(-5, 5000)
    if kind == 1:
        return round(rng.uniform(-100, 100), rng.randint(1, 3))
    if kind == 2:
        return rng.choice(paths)
    if kind == 3:
        return rng.choice(commands)
    if kind == 4:
        return rng.choice((True, False, None, [rng.randint(0, 9) for _ in range(rng.randint(1, 4))]))
    return rng.choice(words)


def _arguments(rng: random.Random, keys: Sequence[str], *pools: Sequence[str]) -> str:
    chosen = rng.sample(keys, rng.randint(1, 4))
    arguments = {key: _value(rng, *pools) for key in chosen}
    if rng.random() < 0.3:
        arguments = {"command": rng.choice(pools[2])} if rng.random() < 0.5 else {"path": rng.choice(pools[1])}
    return json.dumps(arguments, separators=(",", ":") if rng.random() < 0.3 else (", ", ": "), ensure_ascii=False)


def _generator(
    keys: Sequence[str], words: Sequence[str], paths: Sequence[str], commands: Sequence[str],
    routes: Sequence[str], code: Sequence[str], logs: Sequence[str], config: Sequence[str], business: Sequence[str],
) -> Callable[[random.Random], tuple[str, str]]:  # fmt: skip
    """(text, role): arguments and paths as a user's or agent's, output shapes (logs, code, config) as documents."""
    shapes: list[Callable[[random.Random], tuple[str, str]]] = [
        lambda rng: (_arguments(rng, keys, words, paths, commands), rng.choice(("user", "document"))),
        lambda rng: (rng.choice(commands), "user"),
        lambda rng: (rng.choice(paths), "user"),
        lambda rng: (_fill(rng.choice(routes), rng), "user"),
        lambda rng: (_fill(rng.choice(code), rng), rng.choice(("user", "document"))),
        lambda rng: ("\n".join(_fill(rng.choice(logs), rng) for _ in range(rng.randint(1, 3))), "document"),
        lambda rng: (_fill(rng.choice(config), rng), "document"),
        lambda rng: (rng.choice(business) + rng.choice(("", ".", " please", " by Friday")), "user"),
    ]
    return lambda rng: rng.choice(shapes)(rng)


TRAIN = _generator(_KEYS, _WORDS, _PATHS, _COMMANDS, _ROUTES, _CODE, _LOGS, _CONFIG, _BUSINESS)
HELD_OUT = _generator(_H_KEYS, _H_WORDS, _H_PATHS, _H_COMMANDS, _H_ROUTES, _H_CODE, _H_LOGS, _H_CONFIG, _H_BUSINESS)


def structured_rows(train: int, held_out: int, seed: int) -> list[dict]:
    """Benign rows (label 0, kind benign) for training (`structured`) and validation (`structured_heldout`)."""
    rows = []
    for generate, count, source in ((TRAIN, train, "structured"), (HELD_OUT, held_out, "structured_heldout")):
        rng = random.Random(f"{seed}-{source}")
        for _ in range(count):
            text, role = generate(rng)
            rows.append(
                {"text": text, "label": 0, "kind": "benign", "lang": lang_of(text), "source": source, "role": role}
            )
    return rows
