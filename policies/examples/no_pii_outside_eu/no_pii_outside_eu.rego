# METADATA
# title: No personal data to models outside the EU
# description: |
#   A request carrying personal data that is not masked may only go to models whose region (data.model_regions)
#   is "eu".
package wardgate.extensions.no_pii_outside_eu

# data.model_regions: {"<model glob>": "<region>"}, e.g. {"mistral-*": "eu", "gpt-*": "us"}
region := r if {
	some pattern, r in data.model_regions
	glob.match(pattern, null, input.request.model)
} else := "unknown"

# Personal data that would leave as it is: the default policy masks the types in data.pii.request.mask (they go out
# as placeholders), so only the others count.
pii_kinds contains finding.kind if {
	some finding in input.findings
	finding.family == "pii"
	not substring(finding.kind, 4, -1) in masked_types
}

default masked_types := []

masked_types := data.pii.request.mask

deny contains {
	"code": "pii_outside_eu",
	"message": sprintf("personal data (%s) may not go to %q (region %s)", [concat(", ", pii_kinds), input.request.model, region]),
} if {
	input.phase == "request"
	count(pii_kinds) > 0
	region != "eu"
}
