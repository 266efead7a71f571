"""The request target in one canonical spelling, so the route Wardgate judges is the route the upstream takes.

Upstreams decode a path before routing (an ASGI server hands `/v1/chat/%63ompletions` to its router as
`/v1/chat/completions`; some also drop a `#fragment` a client should never have sent). Judged under its raw spelling
such a request is an unknown endpoint, its tools are not governed: so the path is decoded where decoding cannot change
its structure (unreserved characters and `/`), dot segments are resolved, the fragment is dropped, and the request
goes upstream in that spelling.
"""

from __future__ import annotations

import re
import string

__all__ = [
    "TARGET_BREAK",
    "bedrock_operation",
    "canonical_target",
    "model_id",
    "model_in_path",
    "raw_predict",
    "route_path",
]

# RFC 9112 §3.2 (and h11): a request target is visible ASCII. A raw byte past it is read as a space by some upstreams
# (Python's http.server splits a latin-1 line on \x85 and \xa0), which ends the target where Wardgate did not.
TARGET_BREAK = re.compile(r"[^\x21-\x7e]")
_SLASHES = re.compile(r"/{2,}")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# RFC 3986 unreserved characters, and `/`, which every router decodes (%2F) and splits on the same way.
_DECODABLE = frozenset(string.ascii_letters + string.digits + "-._~/")
# Where a path names the model that runs (the body then names none, or one the upstream ignores): Gemini's and Vertex
# AI's `models/{model}:generateContent` (a tuned model or a Vertex endpoint by its collection), Azure OpenAI's
# deployments, Bedrock's `model/{modelId}/invoke|converse…`. `:` may come escaped.
_BEDROCK_ARN = re.compile(r"^arn:[^/]*:(?:foundation-model|inference-profile)/")
_PATH_MODELS = (
    re.compile(r"/model/(.+)/(?:invoke(?:-with-response-stream)?|converse(?:-stream)?)/*$", re.IGNORECASE),
    # Any collection (`models`, `tunedModels`, `endpoints`, `dynamic`): the model is `{collection}/{id}`, or `{id}`
    # for `models`; trailing slashes as a router reads them.
    re.compile(
        r"/([^/]+)/([^/:]+?)(?::|%3a)(?:(?:stream|batch)?generatecontent|counttokens|computetokens|(?:batch)?embed"
        r"contents?|(?:stream)?(?:raw)?predict|predictlongrunning)/*$",
        re.IGNORECASE,
    ),
    re.compile(r"/openai/deployments/([^/]+)/", re.IGNORECASE),
)


def canonical_target(target: str) -> str:
    """`/v1/chat/%63ompletions#x` → `/v1/chat/completions`; the query string is kept as it is."""
    if not target.startswith("/"):
        return target  # `*` (OPTIONS) and authority forms have no path to decode
    target = target.split("#", 1)[0]
    path, mark, query = target.partition("?")
    return _remove_dot_segments(_ESCAPE.sub(_decoded, path)) + mark + query


def route_path(target: str) -> str:
    """The path a format is chosen by, read as generously as any router might: case folded (Express, ASP.NET),
    `;parameters` dropped (Java servlets), `\\` as `/`, runs of `/` as one (nginx's `merge_slashes`), no query, no
    trailing slash. Judging a request by a format it might not be costs nothing; missing the one it is lets its tools
    go ungoverned."""
    return _route(target).lower().rstrip("/")


def model_in_path(target: str) -> str | None:
    """The model a path names, in its own case (`/v1beta/models/gemini-2.0-flash:generateContent` →
    `gemini-2.0-flash`, `/openai/deployments/prod-4o/chat/completions` → `prod-4o`): the one that runs, whatever the
    body says, so a tenant's model list governs it (without it, a Gemini request named no model at all)."""
    route = _route(target)
    for pattern in _PATH_MODELS:
        if found := pattern.search(route):
            if len(found.groups()) == 1:
                return model_id(found.group(1))
            collection, name = found.groups()
            return model_id(name if collection.lower() == "models" else f"{collection}/{name}")
    return None


# The clouds' model routes, on a route (case folded): Bedrock's `/model/{id}/{operation}` (an id may be an ARN whose
# escaped `/` was decoded) and Vertex AI's `publishers/{publisher}/models/{model}:(stream)rawPredict`.
_BEDROCK = re.compile(r"/model/.+/(invoke|invoke-with-response-stream|converse|converse-stream)$")
_RAW_PREDICT = re.compile(r"/publishers/([^/]+)/models/[^/]+(?::|%3a)(rawpredict|streamrawpredict)$")


def bedrock_operation(route: str) -> str | None:
    """`invoke`, `invoke-with-response-stream`, `converse` or `converse-stream` when a route calls one."""
    found = _BEDROCK.search(route)
    return found.group(1) if found else None


def raw_predict(route: str) -> tuple[str, bool] | None:
    """(publisher, whether it streams) when a route is Vertex AI's rawPredict for a publisher's model."""
    found = _RAW_PREDICT.search(route)
    return (found.group(1), found.group(2) == "streamrawpredict") if found else None


def model_id(model: str) -> str:
    """A model id as the policy lists it: boto3 escapes a Bedrock id's `:` in a path (`…-v1%3A0`), and an ARN around a
    foundation model or a cross-region profile is dropped (an application profile's ARN names no model: kept)."""
    return _BEDROCK_ARN.sub("", re.sub("%3a", ":", model, flags=re.IGNORECASE))


def _route(target: str) -> str:
    path = _SLASHES.sub("/", target.split("?", 1)[0].replace("\\", "/"))
    return "/".join(segment.split(";", 1)[0] for segment in path.split("/"))


def _decoded(escape: re.Match[str]) -> str:
    char = chr(int(escape.group(1), 16))
    return char if char in _DECODABLE else "%" + escape.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path: `/a/./b/../c` → `/a/c` (a trailing dot segment leaves its slash)."""
    if "." not in path:
        return path
    kept: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments[1:], start=1):
        last = index == len(segments) - 1
        if segment == "..":
            if len(kept) > 0:
                kept.pop()
            if last:
                kept.append("")
        elif segment == ".":
            if last:
                kept.append("")
        else:
            kept.append(segment)
    return "/" + "/".join(kept)
