# METADATA
# title: Wardgate default policy
# description: |
#   Answers data.wardgate.decision for every phase of every request (schema: policies/README.md).
#   Secrets are denied (or masked, per data.secrets) and each tenant may only use its allow-listed models.
#   Anything this policy does not positively allow is denied with a reason.
package wardgate

# METADATA
# entrypoint: true
default decision := {
	"allow": false,
	"status": 403,
	"reasons": [{"code": "no_decision", "message": "the policy has no decision for this input"}],
}

decision := {
	"allow": false,
	"status": deny_status,
	"reasons": ordered_reasons,
	"mask": [],
	"redact": [],
	"headers": deny_headers,
} if {
	count(denied) > 0
}

# The first reason becomes the client-facing error code: the most actionable first (who is calling, then
# deterministic findings, then classifier verdicts, then everything else in code order).
reason_rank := {"unauthenticated": 0, "secret_detected": 1, "pii_detected": 2, "hidden_text": 3, "prompt_injection": 4}

rank(reason) := object.get(reason_rank, reason.code, 9)

ordered_reasons := [reason |
	some level in sort({rank(r) | some r in denied})
	some reason in denied
	rank(reason) == level
]

# A reason may name its own status (e.g. 429 for a budget); else 401 when the only problem is who is calling,
# and 403 for everything a known caller may not do.
deny_status := max(explicit_statuses) if {
	count(explicit_statuses) > 0
} else := 401 if {
	every reason in denied {
		reason.code == "unauthenticated"
	}
} else := 403

explicit_statuses contains reason.status if {
	some reason in denied
	is_number(reason.status)
}

# A reason may say when trying again can succeed (`retry_after`, seconds: a budget that resets at midnight); the
# client gets `Retry-After` with the longest wait, so SDKs back off instead of retrying a denial at once.
deny_headers := {"retry-after": sprintf("%d", [ceil(max(retry_afters))])} if {
	count(retry_afters) > 0
} else := {}

retry_afters contains reason.retry_after if {
	some reason in denied
	is_number(reason.retry_after)
}

decision := {
	"allow": true,
	"status": 200,
	"reasons": [],
	"mask": sort(mask),
	"redact": [],
	"tools": {"deny": sort(denied_tools)},
	"annotate": sort(annotate),
} if {
	count(denied) == 0
	input.phase in {"request", "response", "tool_call", "tool_result"}
}

# This file's reasons plus those of every extension under wardgate/extensions/ (see policies/examples/).
denied contains reason if some reason in deny

denied contains reason if {
	some extension in data.wardgate.extensions
	some reason in extension.deny
}

# Tools to strip from a request (or from an MCP tools/list answer): this file's and the extensions' own.
denied_tools contains name if some name in tools_deny

denied_tools contains name if {
	some extension in data.wardgate.extensions
	some name in extension.tools_deny
}

# --- identity --------------------------------------------------------------

deny contains {
	"code": "unauthenticated",
	"message": "no credential was presented: send a Wardgate API key or a bearer token",
} if {
	input.phase == "request"
	not input.identity.authenticated
}

# --- secrets ---------------------------------------------------------------

secret_kinds contains finding.kind if {
	some finding in input.findings
	finding.family == "secret"
}

# What to do with a secret in this phase: "deny" or "mask" (data.secrets, default deny).
secrets_action := object.get(data.secrets, input.phase, "deny")

deny contains {
	"code": "secret_detected",
	"message": sprintf("the %s contains a secret (%s); remove it and retry", [input.phase, concat(", ", secret_kinds)]),
} if {
	count(secret_kinds) > 0
	secrets_action == "deny"
}

mask contains "secret" if {
	count(secret_kinds) > 0
	secrets_action == "mask"
}

# --- tools -----------------------------------------------------------------

# data.tools.deny (everyone) and data.tenants[t].tools.deny: globs of tool names nobody there may use. A denied tool
# is stripped from the tools a request offers, and a call to it (by the model, or by an agent over MCP) is denied.
default everyone_tools_deny := []

everyone_tools_deny := data.tools.deny

tool_denied(name) if {
	some pattern in array.concat(everyone_tools_deny, object.get(tenant, ["tools", "deny"], []))
	some alias in tool_aliases(name)
	glob.match(pattern, null, alias)
}

# One tool under every name its offer may have: OpenAI's computer tool is offered as `computer` (GA) or
# `computer_use_preview`, and its calls (`computer_call`, judged as `computer`) do not say which.
same_tools := {"computer", "computer_use_preview"}

tool_aliases(name) := same_tools if name in same_tools

else := {name}

tools_deny contains name if {
	input.phase in {"request", "response"}
	some name in input.request.tools
	tool_denied(name)
}

deny contains {
	"code": "tool_denied",
	"message": sprintf("the tool %q may not be called here", [input.tool_call.name]),
} if {
	input.phase == "tool_call"
	tool_denied(input.tool_call.name)
}

# --- personal data (PII) ---------------------------------------------------

# Per phase: which entity types are masked and which deny the request (data.pii, or the tenant's own `pii`).
pii_rules := object.get(object.get(tenant, "pii", data.pii), input.phase, {})

pii_entity(finding) := substring(finding.kind, 4, -1)

mask contains finding.kind if {
	some finding in input.findings
	finding.family == "pii"
	pii_entity(finding) in object.get(pii_rules, "mask", [])
}

denied_pii contains pii_entity(finding) if {
	some finding in input.findings
	finding.family == "pii"
	pii_entity(finding) in object.get(pii_rules, "deny", [])
}

deny contains {
	"code": "pii_detected",
	"message": sprintf("the %s contains personal data that may not be sent (%s)", [input.phase, concat(", ", denied_pii)]),
} if {
	count(denied_pii) > 0
}

# --- exfiltration through links and images --------------------------------

# What to do with a markdown/HTML image or link whose URL carries data off the allowed hosts, per phase:
# "mask" (the URL becomes a redaction marker), "deny", or "allow" (data.exfiltration; default allow).
exfiltration_action := object.get(data.exfiltration, input.phase, "allow")

exfiltration_kinds contains finding.kind if {
	some finding in input.findings
	finding.family == "exfiltration"
}

mask contains "exfiltration" if {
	count(exfiltration_kinds) > 0
	exfiltration_action == "mask"
}

deny contains {
	"code": "exfiltration_link",
	"message": sprintf("the %s links data to an outside host (%s)", [input.phase, concat(", ", exfiltration_kinds)]),
} if {
	count(exfiltration_kinds) > 0
	exfiltration_action == "deny"
}

# --- media Wardgate cannot read -------------------------------------------

# An encoded file that decodes to no text (an image, audio, a PDF, an archive) cannot be scanned; per phase,
# data.media[phase].allow lists the media types that may pass unread (globs; default: images and audio before the
# model, anything in its answers). A text file is decoded and judged like any text, so it never needs this.
default media_rules := {}

media_rules := data.media

default_media_allow := ["*"] if input.phase == "response" else := ["image/*", "audio/*"]

media_allow := object.get(media_rules, [input.phase, "allow"], default_media_allow)

unread_media contains s.opaque_media if {
	some s in input.request.segments
	is_string(s.opaque_media)
	not media_allowed(s.opaque_media)
}

media_allowed(media_type) if {
	some pattern in media_allow
	glob.match(pattern, null, media_type)
}

deny contains {
	"code": "media_unreadable",
	"message": sprintf("the %s carries a file Wardgate cannot read (%s); send its text instead", [input.phase, concat(", ", unread_media)]),
} if {
	count(unread_media) > 0
}

# --- prompt injection -------------------------------------------------------

# A tenant may set its own line (data.tenants[t].injection_threshold); otherwise the model's own threshold.
injection_threshold(finding) := tenant.injection_threshold if {
	is_number(tenant.injection_threshold)
} else := finding.threshold

# sprintf's %.3f prints a whole number (a tool-poisoning rule's score 1.0 arrives as 1) as `%!f(int64=001)`.
three_places(x) := sprintf("%s.000", [format_int(x, 10)]) if x == round(x)

else := sprintf("%.3f", [x])

deny contains {
	"code": "prompt_injection",
	"message": sprintf("segment %d looks like a prompt injection or jailbreak (score %s >= %s)", [f.segment, three_places(f.score), three_places(injection_threshold(f))]),
} if {
	some f in injections
	injection_action == "deny"
}

injections contains f if {
	some f in input.findings
	f.family == "injection" # the model's scores, and injection:tool_poisoning (rules on tool definitions)
	injection_judged(f)
	f.score >= injection_threshold(f)
}

# What an injected tool result (or document) becomes, data.injection.tool_result: "deny" (default), "mask" (the
# segment is stripped to a marker) or "annotate" (the model gets it with a warning in front). Prompts and tool
# calls are always denied.
default tool_result_injection_action := "deny"

tool_result_injection_action := data.injection.tool_result

injection_action := tool_result_injection_action if input.phase == "tool_result" else := "deny"

mask contains "injection" if {
	count(injections) > 0
	injection_action == "mask"
}

annotate contains "injection" if {
	count(injections) > 0
	injection_action == "annotate"
}

# Prompts, tool results (an MCP server's answer, indirect injection), and the arguments of a tool call (an agent
# about to act on injected text).
injection_judged(_) if input.phase in {"request", "tool_result", "tool_call"}

injection_judged(f) if {
	input.phase == "response"
	input.request.segments[f.segment].source == "tool_call"
}

# An MCP server's tools/list answer: the tool definitions the agent's model will read (tool poisoning), and every
# other text of it (`_meta`, annotations: what a client passes on is the client's choice, not ours to guess).
injection_judged(f) if {
	input.phase == "response"
	input.request.segments[f.segment].source == "tool_definition"
}

injection_judged(_) if {
	input.phase == "response"
	input.request.endpoint == "mcp"
}

deny contains {
	"code": "hidden_text",
	"message": sprintf("segment %d hides text in invisible Unicode tag characters", [f.segment]),
} if {
	input.phase == "request"
	some f in input.findings
	f.kind == "evasion:unicode_tags"
}

# --- models per tenant -----------------------------------------------------

tenant := data.tenants[input.identity.tenant]

deny contains {"code": "unknown_tenant", "message": sprintf("tenant %q is not configured", [input.identity.tenant])} if {
	input.phase == "request"
	not tenant
}

deny contains {
	"code": "model_not_allowed",
	"message": sprintf("model %q is not allowed for tenant %q", [input.request.model, input.identity.tenant]),
} if {
	input.phase == "request"
	is_string(input.request.model)
	tenant
	not model_allowed
}

# A request in a provider's format that names no model (in its body or its path) while the tenant lists models: the
# upstream picks one (a default, a deployment), which the list never judged.
deny contains {
	"code": "model_not_allowed",
	"message": sprintf("the request names no model, and tenant %q may use listed models only", [input.identity.tenant]),
} if {
	input.phase == "request"
	input.request.parsed
	not is_string(input.request.model)
	tenant
	not "*" in tenant.models
}

# null delimiters: `*` also spans dots, so "gpt-4*" matches "gpt-4.1".
model_allowed if {
	some pattern in tenant.models
	glob.match(pattern, null, input.request.model)
}
