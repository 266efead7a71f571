package wardgate_test

import data.wardgate

request(overrides) := object.union(
	{
		"phase": "request",
		"identity": {"subject": "anonymous", "tenant": "default"},
		"request": {"model": "gpt-4o-mini", "parsed": true},
		"findings": [],
	},
	overrides,
)

aws := {"scanner": "secrets", "kind": "secret:aws-access-token", "family": "secret", "score": 1}

tenants := {"default": {"models": ["*"]}, "acme": {"models": ["gpt-4o-mini", "claude-*"]}}

test_clean_request_allowed if {
	wardgate.decision.allow with input as request({})
}

test_secret_in_prompt_denied_with_reason if {
	d := wardgate.decision with input as request({"findings": [aws]})
	not d.allow
	d.status == 403
	d.reasons[0].code == "secret_detected"
	contains(d.reasons[0].message, "secret:aws-access-token")
}

test_secret_in_prompt_masked_when_configured if {
	d := wardgate.decision with input as request({"findings": [aws]}) with data.secrets as {"request": "mask"}
	d.allow
	d.mask == ["secret"]
}

test_secret_in_response_masked_by_default if {
	d := wardgate.decision with input as request({"phase": "response", "findings": [aws]})
	d.allow
	d.mask == ["secret"]
}

test_model_allow_list_per_tenant if {
	every _, case in {
		"listed model": {"model": "gpt-4o-mini", "allow": true},
		"glob match": {"model": "claude-3-5-haiku", "allow": true},
		"glob spans dots": {"model": "claude-3.7-sonnet", "allow": true},
		"unlisted model": {"model": "gpt-4.1", "allow": false},
	} {
		d := wardgate.decision with input as request({
			"identity": {"tenant": "acme"},
			"request": {"model": case.model, "parsed": true},
		})
			with data.tenants as tenants
		d.allow == case.allow
	}
}

test_unlisted_model_reason if {
	d := wardgate.decision with input as request({"identity": {"tenant": "acme"}, "request": {"model": "o3"}})
		with data.tenants as tenants
	d.reasons[0].code == "model_not_allowed"
}

test_unknown_tenant_denied if {
	d := wardgate.decision with input as request({"identity": {"tenant": "nobody"}})
	d.reasons[0].code == "unknown_tenant"
}

test_missing_model_is_not_judged_by_allow_list if {
	wardgate.decision.allow with input as request({"request": {"parsed": false}}) with data.tenants as tenants
}

test_unknown_phase_falls_back_to_deny if {
	d := wardgate.decision with input as request({"phase": "bogus"})
	not d.allow
	d.reasons[0].code == "no_decision"
}
