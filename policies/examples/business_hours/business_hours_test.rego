package wardgate.extensions.business_hours_test

import data.wardgate.extensions.business_hours

config := {"acme": {"start_hour": 8, "end_hour": 18, "weekdays_only": true}}

at(rfc3339, tenant) := {"phase": "request", "identity": {"tenant": tenant}, "now": time.parse_rfc3339_ns(rfc3339)}

test_inside_hours_on_a_weekday_allowed if {
	count(business_hours.deny) == 0 with input as at("2026-11-18T10:30:00Z", "acme") with data.business_hours as config
}

test_evening_and_weekend_denied if {
	every moment in ["2026-11-18T19:05:00Z", "2026-11-18T06:00:00Z", "2026-11-21T10:30:00Z"] {
		some reason in business_hours.deny with input as at(moment, "acme") with data.business_hours as config
		reason.code == "outside_business_hours"
	}
}

test_tenants_without_hours_are_not_restricted if {
	count(business_hours.deny) == 0 with input as at("2026-11-21T23:00:00Z", "other") with data.business_hours as config
}
