package wardgate.extensions.budget_test

import data.wardgate.extensions.budget

budgets := {"acme": {"tokens_per_day": 100000}}

used(tokens) := {"phase": "request", "identity": {"tenant": "acme"}, "usage": {"tokens_today": tokens}}

test_over_budget_is_429 if {
	some reason in budget.deny with input as used(100000) with data.budgets as budgets
	reason.status == 429
}

test_under_budget_allowed if {
	count(budget.deny) == 0 with input as used(99999) with data.budgets as budgets
}

test_no_usage_reported_is_not_judged if {
	count(budget.deny) == 0 with input as {"phase": "request", "identity": {"tenant": "acme"}} with data.budgets as budgets
}

test_retry_after_is_the_time_to_the_next_utc_midnight if {
	at_23h := object.union(used(100000), {"now": time.parse_rfc3339_ns("2026-11-21T23:00:00Z")})
	some reason in budget.deny with input as at_23h with data.budgets as budgets
	reason.retry_after == 3600
}

test_retry_after_one_second_before_midnight if {
	late := object.union(used(100000), {"now": time.parse_rfc3339_ns("2026-11-21T23:59:59Z")})
	some reason in budget.deny with input as late with data.budgets as budgets
	reason.retry_after == 1
}

test_without_now_the_denial_stands_without_retry_after if {
	some reason in budget.deny with input as used(100000) with data.budgets as budgets
	not reason.retry_after
}
