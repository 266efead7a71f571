package wardgate.extensions.no_pii_outside_eu_test

import data.wardgate.extensions.no_pii_outside_eu

regions := {"mistral-*": "eu", "gpt-*": "us"}

email := {"kind": "pii:EMAIL_ADDRESS", "family": "pii", "score": 1}

request(model, findings) := {"phase": "request", "request": {"model": model}, "findings": findings}

test_pii_to_us_model_denied if {
	some reason in no_pii_outside_eu.deny with input as request("gpt-4o-mini", [email]) with data.model_regions as regions
	reason.code == "pii_outside_eu"
}

test_pii_to_eu_model_allowed if {
	count(no_pii_outside_eu.deny) == 0 with input as request("mistral-large", [email]) with data.model_regions as regions
}

test_unknown_region_counts_as_outside if {
	count(no_pii_outside_eu.deny) == 1 with input as request("llama-3", [email]) with data.model_regions as regions
}

test_no_pii_anywhere_allowed if {
	count(no_pii_outside_eu.deny) == 0 with input as request("gpt-4o-mini", []) with data.model_regions as regions
}

test_masked_pii_may_leave_the_eu if {
	count(no_pii_outside_eu.deny) == 0 with input as request("gpt-4o-mini", [email])
		with data.model_regions as regions
		with data.pii as {"request": {"mask": ["EMAIL_ADDRESS"]}}
}
