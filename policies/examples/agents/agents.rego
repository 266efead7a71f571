# METADATA
# title: Agents and their tools
# description: |
#   Per service account tool allow-lists (data.agents.tools: account -> tool globs; an account not listed may use
#   no tools), argument constraints (send_email only inside data.agents.email_domain; http_get only to hosts in
#   data.agents.http_hosts (globs) or data.agents.http_cidrs), and no tool call at all in a turn whose request
#   already looked like an injection (a finding at or above data.agents.suspicion, default 0.5).
package wardgate.extensions.agents

# The caller: its Kubernetes service account when the identity names one (the pod's, a projected token's, an mTLS
# SPIFFE id's: `identity.workload`), else the subject.
account := input.identity.workload.service_account if input.identity.workload.service_account
else := input.identity.subject

# Under any name the tool goes by: the computer tool is offered as `computer` or `computer_use_preview`, and its
# calls are judged as `computer` (the default policy's `tool_aliases`; an example is tested without it).
computer_tool := {"computer", "computer_use_preview"}

names_of(name) := computer_tool if name in computer_tool

else := {name}

allowed(name) if {
	some pattern in object.get(data.agents.tools, account, [])
	some alias in names_of(name)
	glob.match(pattern, null, alias)
}

# Offered tools the account may not use are stripped from the request.
tools_deny contains name if {
	input.phase == "request"
	some name in input.request.tools
	not allowed(name)
}

deny contains {
	"code": "tool_not_allowed",
	"message": sprintf("%q may not call %q", [account, input.tool_call.name]),
} if {
	input.phase == "tool_call"
	not allowed(input.tool_call.name)
}

# --- argument constraints ----------------------------------------------------

deny contains {
	"code": "tool_argument_denied",
	"message": sprintf("send_email may only write to @%s addresses", [data.agents.email_domain]),
} if {
	input.phase == "tool_call"
	input.tool_call.name == "send_email"
	some recipient in recipients
	not endswith(lower(recipient), concat("", ["@", data.agents.email_domain]))
}

recipients contains recipient if {
	is_string(input.tool_call.arguments.to)
	recipient := input.tool_call.arguments.to
}

recipients contains recipient if {
	is_array(input.tool_call.arguments.to)
	some recipient in input.tool_call.arguments.to
}

deny contains {
	"code": "tool_argument_denied",
	"message": sprintf("http_get may not fetch from %q", [http_host]),
} if {
	input.phase == "tool_call"
	input.tool_call.name == "http_get"
	not http_host_allowed
}

# The host of the URL argument ("" when there is none, which no rule allows).
http_host := host if {
	[_, host] := regex.find_all_string_submatch_n(`^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?(\[[^\]]+\]|[^:/?#]+)`, input.tool_call.arguments.url, 1)[0]
} else := ""

http_host_allowed if {
	some pattern in object.get(data.agents, "http_hosts", [])
	glob.match(pattern, ["."], lower(http_host))
}

http_host_allowed if {
	regex.match(`^[0-9.]+$|^\[[0-9a-fA-F:.]+\]$`, http_host) # an IP literal: CIDRs apply (names never do)
	some cidr in object.get(data.agents, "http_cidrs", [])
	net.cidr_contains(cidr, trim(http_host, "[]"))
}

# --- injection in this turn ----------------------------------------------------

suspicion := object.get(data.agents, "suspicion", 0.5)

deny contains {
	"code": "tool_call_after_injection",
	"message": sprintf("no tool calls in a turn whose input looked like an injection (score %.2f)", [finding.score]),
} if {
	input.phase == "tool_call"
	some finding in input.turn.findings
	finding.family == "injection"
	finding.score >= suspicion
}
