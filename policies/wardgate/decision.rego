# METADATA
# title: Wardgate default policy
# description: |
#   Answers data.wardgate.decision for every phase of every request (schema: policies/README.md).
#   Secrets are denied (or masked, per data.secrets) and each tenant may only use its allow-listed models.
#   Anything this policy does not positively allow is denied with a reason.
package wardgate

# METADATA
# entrypoint: true
default decision := {
	"allow": false,
	"status": 403,
	"reasons": [{"code": "no_decision", "message": "the policy has no decision for this input"}],
}

decision := {"allow": false, "status": 403, "reasons": [r | some r in deny], "mask": [], "redact": []} if {
	count(deny) > 0
}

decision := {"allow": true, "status": 200, "reasons": [], "mask": sort(mask), "redact": []} if {
	count(deny) == 0
	input.phase in {"request", "response"}
}

# --- secrets ---------------------------------------------------------------

secret_kinds contains finding.kind if {
	some finding in input.findings
	finding.family == "secret"
}

# What to do with a secret in this phase: "deny" or "mask" (data.secrets, default deny).
secrets_action := object.get(data.secrets, input.phase, "deny")

deny contains {
	"code": "secret_detected",
	"message": sprintf("the %s contains a secret (%s); remove it and retry", [input.phase, concat(", ", secret_kinds)]),
} if {
	count(secret_kinds) > 0
	secrets_action == "deny"
}

mask contains "secret" if {
	count(secret_kinds) > 0
	secrets_action == "mask"
}

# --- models per tenant -----------------------------------------------------

tenant := data.tenants[input.identity.tenant]

deny contains {"code": "unknown_tenant", "message": sprintf("tenant %q is not configured", [input.identity.tenant])} if {
	input.phase == "request"
	not tenant
}

deny contains {
	"code": "model_not_allowed",
	"message": sprintf("model %q is not allowed for tenant %q", [input.request.model, input.identity.tenant]),
} if {
	input.phase == "request"
	is_string(input.request.model)
	tenant
	not model_allowed
}

# null delimiters: `*` also spans dots, so "gpt-4*" matches "gpt-4.1".
model_allowed if {
	some pattern in tenant.models
	glob.match(pattern, null, input.request.model)
}
