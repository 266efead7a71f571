# METADATA
# title: Role-based tool access
# description: |
#   A request may offer the model only tools the caller's roles allow (data.tool_roles: tool -> roles).
#   Tools not listed there are open to everyone.
package wardgate.extensions.role_based_tools

forbidden contains tool if {
	some tool in input.request.tools
	allowed := data.tool_roles[tool]
	count({role | some role in input.identity.roles} & {role | some role in allowed}) == 0
}

deny contains {
	"code": "tool_not_allowed",
	"message": sprintf("%q may not use the tools %s", [input.identity.subject, concat(", ", forbidden)]),
} if {
	input.phase == "request"
	count(forbidden) > 0
}
