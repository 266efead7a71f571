package wardgate.extensions.role_based_tools_test

import data.wardgate.extensions.role_based_tools

tool_roles := {"lookup_invoice": ["billing"], "refund": ["billing-admin"]}

caller(roles, tools) := {
	"phase": "request",
	"identity": {"subject": "billing-agent", "roles": roles},
	"request": {"tools": tools},
}

test_allowed_tools_pass if {
	count(role_based_tools.deny) == 0 with input as caller(["billing"], ["lookup_invoice", "get_weather"])
		with data.tool_roles as tool_roles
}

test_tool_outside_the_callers_roles_is_denied if {
	some reason in role_based_tools.deny with input as caller(["billing"], ["lookup_invoice", "refund"])
		with data.tool_roles as tool_roles
	reason.code == "tool_not_allowed"
	contains(reason.message, "refund")
}
