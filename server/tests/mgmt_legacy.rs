//! `legacy_status_codes`: hawkBit ≤ 0.9's answers for scripts that check exact codes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use serde_json::json;
use support::Fixture;

fn legacy(c: &mut updraft_server::config::Config) {
    c.legacy_status_codes = true;
}

backend_tests!(@tweak super::legacy; legacy_codes_replace_204_and_429);

fn legacy_codes_replace_204_and_429(f: &Fixture) {
    // Body-less successes answer 200 instead of 204.
    let (s, _) = f.put(
        "/rest/v1/system/configs/pollingTime",
        json!({ "value": "00:01:00" }),
    );
    assert_eq!(s, 200);
    f.create_target("legacy-dev");
    assert_eq!(f.delete("/rest/v1/targets/legacy-dev").0, 200);
    assert_eq!(f.get("/rest/v1/targets/legacy-dev").0, 404, "the delete happened");

    // A quota answers 403 instead of 429, with hawkBit's error body.
    f.create_target("quota-dev");
    let entries: Vec<_> = (0..101)
        .map(|i| json!({ "key": format!("k{i}"), "value": "v" }))
        .collect();
    let (s, v) = f.post("/rest/v1/targets/quota-dev/metadata", json!(entries));
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["errorCode"], "hawkbit.server.error.quota.tooManyEntries", "{v}");

    // Other codes are untouched.
    assert_eq!(f.get("/rest/v1/targets/nope").0, 404);
}
