# METADATA
# title: Token budget per tenant
# description: |
#   Deny with 429 once a tenant has used its daily token budget (data.budgets). The proxy passes the tenant's
#   usage so far in input.usage (tokens_today); without it there is nothing to judge and the rule stays quiet.
#   The denial says when the budget resets (retry_after: seconds to the next UTC midnight, from input.now), which
#   the default decision turns into a Retry-After header.
package wardgate.extensions.budget

deny contains object.union(
	{
		"code": "budget_exceeded",
		"status": 429,
		"message": sprintf("tenant %q used %d of its %d tokens today", [input.identity.tenant, input.usage.tokens_today, limit]),
	},
	retry,
) if {
	input.phase == "request"
	limit := data.budgets[input.identity.tenant].tokens_per_day
	input.usage.tokens_today >= limit
}

# Budgets are counted per UTC day (input.usage.day), so the next one starts at UTC midnight. Without input.now the
# denial still stands, only without a time to retry.
retry := {"retry_after": 86400 - ((hour * 3600) + (minute * 60)) - second} if {
	[hour, minute, second] := time.clock([input.now, "UTC"])
} else := {}
