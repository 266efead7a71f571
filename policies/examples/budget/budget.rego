# METADATA
# title: Token budget per tenant
# description: |
#   Deny with 429 once a tenant has used its daily token budget (data.budgets). The proxy passes the tenant's
#   usage so far in input.usage (tokens_today); without it there is nothing to judge and the rule stays quiet.
package wardgate.extensions.budget

deny contains {
	"code": "budget_exceeded",
	"status": 429,
	"message": sprintf("tenant %q used %d of its %d tokens today", [input.identity.tenant, input.usage.tokens_today, limit]),
} if {
	input.phase == "request"
	limit := data.budgets[input.identity.tenant].tokens_per_day
	input.usage.tokens_today >= limit
}
