# METADATA
# title: Business hours
# description: Tenants listed in data.business_hours may call models only inside their hours (UTC, weekdays).
package wardgate.extensions.business_hours

# data.business_hours: {"<tenant>": {"start_hour": 8, "end_hour": 18, "weekdays_only": true}}
hours := data.business_hours[input.identity.tenant]

clock := time.clock([input.now, "UTC"])

weekend if time.weekday([input.now, "UTC"]) in {"Saturday", "Sunday"}

outside if clock[0] < hours.start_hour

outside if clock[0] >= hours.end_hour

outside if {
	object.get(hours, "weekdays_only", true)
	weekend
}

deny contains {
	"code": "outside_business_hours",
	"message": sprintf("tenant %q may call models %02d:00-%02d:00 UTC on weekdays", [input.identity.tenant, hours.start_hour, hours.end_hour]),
} if {
	input.phase == "request"
	outside
}
