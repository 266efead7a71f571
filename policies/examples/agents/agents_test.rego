package wardgate.extensions.agents_test

import data.wardgate.extensions.agents

config := {
	"tools": {"support-bot": ["search", "send_email", "http_get"], "reporting": ["search"]},
	"email_domain": "example.com",
	"http_hosts": ["*.example.com", "docs.python.org"],
	"http_cidrs": ["10.0.0.0/8"],
}

call(name, arguments) := {
	"phase": "tool_call",
	"identity": {
		"subject": "system:serviceaccount:team-a:support-bot",
		"workload": {"namespace": "team-a", "service_account": "support-bot"},
	},
	"tool_call": {"name": name, "arguments": arguments},
	"turn": {"findings": []},
}

denied(input_document) := {r.code | some r in agents.deny with input as input_document with data.agents as config}

test_offered_tools_outside_the_allow_list_are_stripped if {
	request := {"phase": "request", "identity": {"subject": "reporting"}, "request": {"tools": ["search", "send_email"]}}
	agents.tools_deny == {"send_email"} with input as request with data.agents as config
}

test_an_account_calls_only_its_tools if {
	denied(call("shell_exec", {})) == {"tool_not_allowed"}
	denied(call("search", {"q": "refund policy"})) == set()
}

test_the_computer_tool_is_allowed_under_the_name_it_was_offered_as if {
	preview := json.patch(config, [{"op": "add", "path": "/tools/support-bot/-", "value": "computer_use_preview"}])
	{r.code | some r in agents.deny with input as call("computer", {}) with data.agents as preview} == set()
	denied(call("computer", {})) == {"tool_not_allowed"}
}

test_an_unlisted_account_may_use_no_tools if {
	stranger := json.patch(call("search", {}), [{"op": "replace", "path": "/identity", "value": {"subject": "x"}}])
	denied(stranger) == {"tool_not_allowed"}
}

test_send_email_stays_inside_the_company_domain if {
	denied(call("send_email", {"to": "ops@example.com", "body": "hi"})) == set()
	denied(call("send_email", {"to": ["ops@example.com", "x@evil.test"]})) == {"tool_argument_denied"}
	denied(call("send_email", {"to": "OPS@EXAMPLE.COM.evil.test"})) == {"tool_argument_denied"}
}

test_http_get_only_to_allowed_hosts_and_networks if {
	denied(call("http_get", {"url": "https://api.example.com/v1/orders"})) == set()
	denied(call("http_get", {"url": "http://10.1.2.3:8080/metrics"})) == set()
	denied(call("http_get", {"url": "https://attacker.test/?q=1"})) == {"tool_argument_denied"}
	denied(call("http_get", {"url": "https://user@evil.test/docs.python.org"})) == {"tool_argument_denied"}
	denied(call("http_get", {})) == {"tool_argument_denied"}
}

test_no_tool_calls_after_an_injection_in_this_turn if {
	suspicious := object.union(call("search", {}), {"turn": {"findings": [{"kind": "injection", "family": "injection", "score": 0.7}]}})
	denied(suspicious) == {"tool_call_after_injection"}
	calm := object.union(call("search", {}), {"turn": {"findings": [{"kind": "injection", "family": "injection", "score": 0.2}]}})
	denied(calm) == set()
}
