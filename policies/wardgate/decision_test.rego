package wardgate_test

import data.wardgate

request(overrides) := object.union(
	{
		"phase": "request",
		"identity": {"subject": "svc", "tenant": "default", "authenticated": true},
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
			"identity": {"tenant": "acme", "authenticated": true},
			"request": {"model": case.model, "parsed": true},
		})
			with data.tenants as tenants
		d.allow == case.allow
	}
}

test_unlisted_model_reason if {
	d := wardgate.decision with input as request({"identity": {"tenant": "acme", "authenticated": true}, "request": {"model": "o3"}})
		with data.tenants as tenants
	d.reasons[0].code == "model_not_allowed"
}

test_unknown_tenant_denied if {
	d := wardgate.decision with input as request({"identity": {"tenant": "nobody", "authenticated": true}})
	d.reasons[0].code == "unknown_tenant"
}

test_missing_model_is_not_judged_by_allow_list if {
	wardgate.decision.allow with input as request({"request": {"parsed": false}}) with data.tenants as tenants
}

test_a_parsed_request_naming_no_model_is_denied_where_models_are_listed if {
	unnamed := {"identity": {"tenant": "acme", "authenticated": true}, "request": {"model": null, "parsed": true}}
	d := wardgate.decision with input as request(unnamed) with data.tenants as tenants
	d.reasons[0].code == "model_not_allowed"
	wardgate.decision.allow with input as request({"request": {"model": null, "parsed": true}}) with data.tenants as tenants
	wardgate.decision.allow with input as request(object.union(unnamed, {"request": {"parsed": false}}))
		with data.tenants as tenants
}

test_unknown_phase_falls_back_to_deny if {
	d := wardgate.decision with input as request({"phase": "bogus"})
	not d.allow
	d.reasons[0].code == "no_decision"
}

injection(score) := {"scanner": "injection", "kind": "injection", "family": "injection", "segment": 0, "score": score, "threshold": 0.8}

test_injection_above_model_threshold_denied if {
	d := wardgate.decision with input as request({"findings": [injection(0.93)]})
	d.reasons[0].code == "prompt_injection"
	contains(d.reasons[0].message, "0.930 >= 0.800")
}

test_injection_scored_a_whole_number_reads_as_one if {
	d := wardgate.decision with input as request({"findings": [object.union(injection(1), {"threshold": 1})]})
	contains(d.reasons[0].message, "(score 1.000 >= 1.000)")
}

test_injection_below_threshold_allowed if {
	wardgate.decision.allow with input as request({"findings": [injection(0.42)]})
}

test_tenant_threshold_overrides_model_threshold if {
	strict := {"default": {"models": ["*"], "injection_threshold": 0.3}}
	d := wardgate.decision with input as request({"findings": [injection(0.42)]}) with data.tenants as strict
	not d.allow
	lenient := {"default": {"models": ["*"], "injection_threshold": 0.99}}
	wardgate.decision.allow with input as request({"findings": [injection(0.93)]}) with data.tenants as lenient
}

test_unicode_tag_smuggling_denied if {
	tags := {"scanner": "injection", "kind": "evasion:unicode_tags", "family": "evasion", "segment": 1, "score": 1}
	d := wardgate.decision with input as request({"findings": [tags]})
	d.reasons[0].code == "hidden_text"
}

test_zero_width_characters_alone_are_only_reported if {
	zw := {"scanner": "injection", "kind": "evasion:invisible_characters", "family": "evasion", "segment": 0, "score": 1}
	wardgate.decision.allow with input as request({"findings": [zw]})
}

test_anonymous_caller_gets_401 if {
	d := wardgate.decision with input as request({"identity": {"subject": "anonymous", "tenant": "default", "authenticated": false}})
	d.status == 401
	d.reasons[0].code == "unauthenticated"
}

test_anonymous_caller_with_a_secret_gets_403 if {
	anonymous := {"subject": "anonymous", "tenant": "default", "authenticated": false}
	d := wardgate.decision with input as request({"identity": anonymous, "findings": [aws]})
	d.status == 403
}

test_a_leaked_secret_is_the_first_reason_even_beside_an_injection if {
	d := wardgate.decision with input as request({"findings": [injection(0.99), aws]})
	[r.code | some r in d.reasons] == ["secret_detected", "prompt_injection"]
}

person := {"scanner": "pii", "kind": "pii:PERSON", "family": "pii", "score": 0.85}

ssn := {"scanner": "pii", "kind": "pii:US_SSN", "family": "pii", "score": 1}

location := {"scanner": "pii", "kind": "pii:LOCATION", "family": "pii", "score": 0.85}

test_pii_in_prompt_masked_by_default if {
	d := wardgate.decision with input as request({"findings": [person, ssn, location]})
	d.allow
	d.mask == ["pii:PERSON", "pii:US_SSN"] # LOCATION is detected, not masked by default
}

test_pii_in_response_left_alone_by_default if {
	d := wardgate.decision with input as request({"phase": "response", "findings": [person]})
	d.allow
	d.mask == []
}

test_pii_type_denied_when_configured if {
	rules := {"request": {"mask": ["PERSON"], "deny": ["US_SSN"]}}
	d := wardgate.decision with input as request({"findings": [person, ssn]}) with data.pii as rules
	not d.allow
	d.reasons[0].code == "pii_detected"
	contains(d.reasons[0].message, "US_SSN")
}

test_tenant_pii_rules_override_the_defaults if {
	acme := {"acme": {"models": ["*"], "pii": {"request": {"mask": ["LOCATION"]}}}}
	d := wardgate.decision with input as request({"identity": {"tenant": "acme", "authenticated": true}, "findings": [person, location]})
		with data.tenants as acme
	d.allow
	d.mask == ["pii:LOCATION"]
}

image := {"scanner": "links", "kind": "exfiltration:markdown_image", "family": "exfiltration", "score": 1}

test_exfiltration_link_in_response_masked_by_default if {
	d := wardgate.decision with input as request({"phase": "response", "findings": [image]})
	d.allow
	d.mask == ["exfiltration"]
}

test_exfiltration_link_denied_when_configured if {
	d := wardgate.decision with input as request({"phase": "response", "findings": [image]})
		with data.exfiltration as {"response": "deny"}
	not d.allow
	d.reasons[0].code == "exfiltration_link"
}

media(media_type) := {"request": {"model": "gpt-4o-mini", "segments": [
	{"role": "user", "source": "prompt", "chars": 9},
	{"role": "unknown", "source": "metadata", "chars": 4000, "opaque_media": media_type},
]}}

test_image_passes_unread_by_default if {
	wardgate.decision.allow with input as request(media("image/png"))
}

test_unreadable_file_denied_before_the_model if {
	d := wardgate.decision with input as request(media("application/pdf"))
	not d.allow
	d.reasons[0].code == "media_unreadable"
	contains(d.reasons[0].message, "application/pdf")
}

test_unreadable_file_in_an_answer_passes_by_default if {
	wardgate.decision.allow with input as request(object.union(media("application/pdf"), {"phase": "response"}))
}

test_a_file_the_provider_fetches_is_judged_by_its_kind if {
	wardgate.decision.allow with input as request(media("image/remote"))
	d := wardgate.decision with input as request(media("application/remote"))
	d.reasons[0].code == "media_unreadable"
}

test_media_allow_list_is_the_operators if {
	only_pdf := {"request": {"allow": ["application/pdf"]}}
	wardgate.decision.allow with input as request(media("application/pdf")) with data.media as only_pdf
	not wardgate.decision.allow with input as request(media("image/png")) with data.media as only_pdf
}

test_media_defaults_without_data if {
	wardgate.decision.allow with input as request(media("image/jpeg")) with data.media as {}
	not wardgate.decision.allow with input as request(media("application/zip")) with data.media as {}
}

tool_call_injection := {"scanner": "injection", "kind": "injection", "family": "injection", "score": 0.99, "threshold": 0.9, "segment": 0}

test_injection_in_streamed_tool_call_arguments_denied if {
	d := wardgate.decision with input as request({
		"phase": "response",
		"request": {"model": "gpt-4o-mini", "segments": [{"role": "assistant", "source": "tool_call", "chars": 40}]},
		"findings": [tool_call_injection],
	})
	not d.allow
	d.reasons[0].code == "prompt_injection"
}

test_an_injected_tool_definition_in_an_answer_is_denied if {
	d := wardgate.decision with input as request({
		"phase": "response",
		"request": {"model": null, "segments": [{"role": "tool", "source": "tool_definition", "chars": 60}]},
		"findings": [tool_call_injection],
	})
	not d.allow
	d.reasons[0].code == "prompt_injection"
}

test_a_poisoned_tool_definition_found_by_rules_is_denied if {
	d := wardgate.decision with input as request({
		"phase": "response",
		"request": {"model": null, "segments": [{"role": "tool", "source": "tool_definition", "chars": 300}]},
		"findings": [{"scanner": "injection", "kind": "injection:tool_poisoning", "family": "injection", "score": 1, "threshold": 1, "segment": 0}],
	})
	not d.allow
	d.reasons[0].code == "prompt_injection"
}

test_an_injection_anywhere_in_an_mcp_tools_list_answer_is_denied if {
	d := wardgate.decision with input as request({
		"phase": "response",
		"request": {"endpoint": "mcp", "model": null, "segments": [{"role": "unknown", "source": "document", "chars": 60}]},
		"findings": [tool_call_injection],
	})
	not d.allow
}

test_injection_score_in_response_text_is_not_judged if {
	d := wardgate.decision with input as request({
		"phase": "response",
		"request": {"model": "gpt-4o-mini", "segments": [{"role": "assistant", "source": "response", "chars": 40}]},
		"findings": [tool_call_injection],
	})
	d.allow
}

test_denied_tools_are_stripped_from_the_request if {
	d := wardgate.decision with input as request({"request": {"model": "gpt-4o-mini", "tools": ["search", "shell_exec", "send_email"]}})
		with data.tools as {"deny": ["shell_*"]}
	d.allow
	d.tools.deny == ["shell_exec"]
}

test_a_call_to_a_denied_tool_is_denied if {
	d := wardgate.decision with input as request({"phase": "tool_call", "tool_call": {"name": "shell_exec", "arguments": {}}})
		with data.tools as {"deny": ["shell_*"]}
	not d.allow
	d.reasons[0].code == "tool_denied"
}

test_the_computer_tool_is_denied_under_either_of_its_names if {
	every denied in ["computer", "computer_use_preview"] {
		d := wardgate.decision with input as request({"phase": "tool_call", "tool_call": {"name": "computer", "arguments": {}}})
			with data.tools as {"deny": [denied]}
		not d.allow
		offered := wardgate.decision with input as request({"request": {"model": "gpt-4o-mini", "tools": ["computer", "computer_use_preview"]}})
			with data.tools as {"deny": [denied]}
		offered.tools.deny == ["computer", "computer_use_preview"]
	}
}

test_a_tenant_denies_its_own_tools if {
	acme := {"acme": {"models": ["*"], "tools": {"deny": ["send_email"]}}}
	d := wardgate.decision with input as request({
		"identity": {"tenant": "acme", "authenticated": true},
		"phase": "tool_call", "tool_call": {"name": "send_email", "arguments": {}},
	})
		with data.tenants as acme
	not d.allow
}

test_an_allowed_tool_call_passes if {
	d := wardgate.decision with input as request({"phase": "tool_call", "tool_call": {"name": "search", "arguments": {}}})
	d.allow
}

test_an_injected_tool_result_is_denied if {
	found := {"scanner": "injection", "kind": "injection", "family": "injection", "score": 0.99, "threshold": 0.9, "segment": 0}
	d := wardgate.decision with input as request({"phase": "tool_result", "findings": [found]})
	not d.allow
	d.reasons[0].code == "prompt_injection"
}

injected_result := {"scanner": "injection", "kind": "injection", "family": "injection", "score": 0.99, "threshold": 0.9, "segment": 0}

test_an_injected_tool_result_can_be_stripped_or_annotated_instead if {
	stripped := wardgate.decision with input as request({"phase": "tool_result", "findings": [injected_result]})
		with data.injection as {"tool_result": "mask"}
	stripped.allow
	stripped.mask == ["injection"]
	annotated := wardgate.decision with input as request({"phase": "tool_result", "findings": [injected_result]})
		with data.injection as {"tool_result": "annotate"}
	annotated.allow
	annotated.annotate == ["injection"]
	prompt := wardgate.decision with input as request({"findings": [injected_result]})
		with data.injection as {"tool_result": "annotate"}
	not prompt.allow # a prompt injection is always denied
}

test_a_reason_with_retry_after_sets_the_longest_as_the_header if {
	budget := {"code": "budget_exceeded", "message": "m", "status": 429, "retry_after": 3600}
	later := {"code": "other", "message": "m", "retry_after": 59.2}
	d := wardgate.decision with input as request({}) with data.wardgate.extensions as {"a": {"deny": [budget, later]}}
	d.status == 429
	d.headers == {"retry-after": "3600"}
}

test_a_deny_without_retry_after_has_no_headers if {
	d := wardgate.decision with input as request({"findings": [aws]})
	d.headers == {}
}
