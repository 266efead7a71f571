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
