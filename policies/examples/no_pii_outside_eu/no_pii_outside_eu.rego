# METADATA
# title: No personal data to models outside the EU
# description: A request carrying PII findings may only go to models whose region (data.model_regions) is "eu".
package wardgate.extensions.no_pii_outside_eu

# data.model_regions: {"<model glob>": "<region>"}, e.g. {"mistral-*": "eu", "gpt-*": "us"}
region := r if {
	some pattern, r in data.model_regions
	glob.match(pattern, null, input.request.model)
} else := "unknown"

pii_kinds contains finding.kind if {
	some finding in input.findings
	finding.family == "pii"
}

deny contains {
	"code": "pii_outside_eu",
	"message": sprintf("personal data (%s) may not go to %q (region %s)", [concat(", ", pii_kinds), input.request.model, region]),
} if {
	input.phase == "request"
	count(pii_kinds) > 0
	region != "eu"
}
