//! Every Management API endpoint checks its hawkBit permission: a table of (method, path, the
//! permissions it needs), proven three ways per row. A user without permissions is refused; a user
//! with exactly the listed permissions is not; a user with every permission but one listed is
//! refused. The table must cover every operation of the generated OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on unexpected failures by design.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};
use support::Fixture;
use updraft_server::auth::permissions::{Permission, Permissions};

/// (method, path template, permissions the call needs).
#[rustfmt::skip]
const TABLE: &[(&str, &str, &[&str])] = &[
    ("GET", "/rest/v1/actions", &["READ_TARGET"]),
    ("GET", "/rest/v1/actions/{actionId}", &["READ_TARGET"]),
    ("GET", "/rest/v1/auditlog", &["READ_TENANT_CONFIGURATION"]),
    ("GET", "/rest/v1/distributionsets", &["READ_DISTRIBUTION_SET"]),
    ("POST", "/rest/v1/distributionsets", &["CREATE_DISTRIBUTION_SET"]),
    ("DELETE", "/rest/v1/distributionsets/{distributionSetId}", &["DELETE_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}", &["READ_DISTRIBUTION_SET"]),
    ("PUT", "/rest/v1/distributionsets/{distributionSetId}", &["UPDATE_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/assignedSM", &["READ_DISTRIBUTION_SET"]),
    ("POST", "/rest/v1/distributionsets/{distributionSetId}/assignedSM", &["UPDATE_DISTRIBUTION_SET"]),
    ("DELETE", "/rest/v1/distributionsets/{distributionSetId}/assignedSM/{softwareModuleId}", &["UPDATE_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/assignedTargets", &["READ_TARGET", "READ_DISTRIBUTION_SET"]),
    ("POST", "/rest/v1/distributionsets/{distributionSetId}/assignedTargets", &["UPDATE_TARGET", "READ_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/autoAssignTargetFilters", &["READ_TARGET", "READ_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/installedTargets", &["READ_TARGET", "READ_DISTRIBUTION_SET"]),
    ("POST", "/rest/v1/distributionsets/{distributionSetId}/invalidate", &["UPDATE_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/metadata", &["READ_DISTRIBUTION_SET"]),
    ("POST", "/rest/v1/distributionsets/{distributionSetId}/metadata", &["UPDATE_DISTRIBUTION_SET"]),
    ("DELETE", "/rest/v1/distributionsets/{distributionSetId}/metadata/{metadataKey}", &["UPDATE_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/metadata/{metadataKey}", &["READ_DISTRIBUTION_SET"]),
    ("PUT", "/rest/v1/distributionsets/{distributionSetId}/metadata/{metadataKey}", &["UPDATE_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/statistics", &["READ_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/statistics/actions", &["READ_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/statistics/autoassignments", &["READ_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsets/{distributionSetId}/statistics/rollouts", &["READ_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/fleet/health", &["READ_TARGET"]),
    ("GET", "/rest/v1/fleet/rollbacks", &["READ_TARGET"]),
    ("GET", "/rest/v1/distributionsettags", &["READ_DISTRIBUTION_SET"]),
    ("POST", "/rest/v1/distributionsettags", &["CREATE_DISTRIBUTION_SET"]),
    ("DELETE", "/rest/v1/distributionsettags/{distributionsetTagId}", &["DELETE_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsettags/{distributionsetTagId}", &["READ_DISTRIBUTION_SET"]),
    ("PUT", "/rest/v1/distributionsettags/{distributionsetTagId}", &["UPDATE_DISTRIBUTION_SET"]),
    ("DELETE", "/rest/v1/distributionsettags/{distributionsetTagId}/assigned", &["UPDATE_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsettags/{distributionsetTagId}/assigned", &["READ_DISTRIBUTION_SET"]),
    ("POST", "/rest/v1/distributionsettags/{distributionsetTagId}/assigned", &["UPDATE_DISTRIBUTION_SET"]),
    ("PUT", "/rest/v1/distributionsettags/{distributionsetTagId}/assigned", &["UPDATE_DISTRIBUTION_SET"]),
    ("DELETE", "/rest/v1/distributionsettags/{distributionsetTagId}/assigned/{distributionsetId}", &["UPDATE_DISTRIBUTION_SET"]),
    ("POST", "/rest/v1/distributionsettags/{distributionsetTagId}/assigned/{distributionsetId}", &["UPDATE_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/distributionsettypes", &["READ_DISTRIBUTION_SET_TYPE"]),
    ("POST", "/rest/v1/distributionsettypes", &["CREATE_DISTRIBUTION_SET_TYPE"]),
    ("DELETE", "/rest/v1/distributionsettypes/{distributionSetTypeId}", &["DELETE_DISTRIBUTION_SET_TYPE"]),
    ("GET", "/rest/v1/distributionsettypes/{distributionSetTypeId}", &["READ_DISTRIBUTION_SET_TYPE"]),
    ("PUT", "/rest/v1/distributionsettypes/{distributionSetTypeId}", &["UPDATE_DISTRIBUTION_SET_TYPE"]),
    ("GET", "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes", &["READ_DISTRIBUTION_SET_TYPE"]),
    ("POST", "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes", &["UPDATE_DISTRIBUTION_SET_TYPE", "READ_SOFTWARE_MODULE_TYPE"]),
    ("DELETE", "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes/{softwareModuleTypeId}", &["UPDATE_DISTRIBUTION_SET_TYPE", "READ_SOFTWARE_MODULE_TYPE"]),
    ("GET", "/rest/v1/distributionsettypes/{distributionSetTypeId}/mandatorymoduletypes/{softwareModuleTypeId}", &["READ_DISTRIBUTION_SET_TYPE"]),
    ("GET", "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes", &["READ_DISTRIBUTION_SET_TYPE"]),
    ("POST", "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes", &["UPDATE_DISTRIBUTION_SET_TYPE", "READ_SOFTWARE_MODULE_TYPE"]),
    ("DELETE", "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes/{softwareModuleTypeId}", &["UPDATE_DISTRIBUTION_SET_TYPE", "READ_SOFTWARE_MODULE_TYPE"]),
    ("GET", "/rest/v1/distributionsettypes/{distributionSetTypeId}/optionalmoduletypes/{softwareModuleTypeId}", &["READ_DISTRIBUTION_SET_TYPE"]),
    ("GET", "/rest/v1/rollouts", &["READ_ROLLOUT"]),
    ("POST", "/rest/v1/rollouts", &["CREATE_ROLLOUT", "READ_DISTRIBUTION_SET"]),
    ("DELETE", "/rest/v1/rollouts/{rolloutId}", &["DELETE_ROLLOUT"]),
    ("GET", "/rest/v1/rollouts/{rolloutId}", &["READ_ROLLOUT"]),
    ("PUT", "/rest/v1/rollouts/{rolloutId}", &["UPDATE_ROLLOUT"]),
    ("POST", "/rest/v1/rollouts/{rolloutId}/approve", &["APPROVE_ROLLOUT"]),
    ("POST", "/rest/v1/rollouts/{rolloutId}/deny", &["APPROVE_ROLLOUT"]),
    ("GET", "/rest/v1/rollouts/{rolloutId}/deploygroups", &["READ_ROLLOUT"]),
    ("GET", "/rest/v1/rollouts/{rolloutId}/deploygroups/{groupId}", &["READ_ROLLOUT"]),
    ("GET", "/rest/v1/rollouts/{rolloutId}/deploygroups/{groupId}/targets", &["READ_ROLLOUT", "READ_TARGET"]),
    ("POST", "/rest/v1/rollouts/{rolloutId}/pause", &["HANDLE_ROLLOUT"]),
    ("POST", "/rest/v1/rollouts/{rolloutId}/resume", &["HANDLE_ROLLOUT"]),
    ("POST", "/rest/v1/rollouts/{rolloutId}/retry", &["CREATE_ROLLOUT"]),
    ("POST", "/rest/v1/rollouts/{rolloutId}/start", &["HANDLE_ROLLOUT"]),
    ("POST", "/rest/v1/rollouts/{rolloutId}/triggerNextGroup", &["HANDLE_ROLLOUT"]),
    ("GET", "/rest/v1/softwaremodules", &["READ_SOFTWARE_MODULE"]),
    ("POST", "/rest/v1/softwaremodules", &["CREATE_SOFTWARE_MODULE"]),
    ("DELETE", "/rest/v1/softwaremodules/{softwareModuleId}", &["DELETE_SOFTWARE_MODULE"]),
    ("GET", "/rest/v1/softwaremodules/{softwareModuleId}", &["READ_SOFTWARE_MODULE"]),
    ("PUT", "/rest/v1/softwaremodules/{softwareModuleId}", &["UPDATE_SOFTWARE_MODULE"]),
    ("GET", "/rest/v1/softwaremodules/{softwareModuleId}/artifacts", &["READ_SOFTWARE_MODULE"]),
    ("POST", "/rest/v1/softwaremodules/{softwareModuleId}/artifacts", &["CREATE_SOFTWARE_MODULE"]),
    ("DELETE", "/rest/v1/softwaremodules/{softwareModuleId}/artifacts/{artifactId}", &["DELETE_SOFTWARE_MODULE"]),
    ("GET", "/rest/v1/softwaremodules/{softwareModuleId}/artifacts/{artifactId}", &["READ_SOFTWARE_MODULE"]),
    ("GET", "/rest/v1/softwaremodules/{softwareModuleId}/artifacts/{artifactId}/download", &["READ_SOFTWARE_MODULE_ARTIFACT"]),
    ("POST", "/rest/v1/softwaremodules/{softwareModuleId}/artifacts/{artifactId}/downloadlink", &["READ_SOFTWARE_MODULE_ARTIFACT"]),
    ("GET", "/rest/v1/softwaremodules/{softwareModuleId}/metadata", &["READ_SOFTWARE_MODULE"]),
    ("POST", "/rest/v1/softwaremodules/{softwareModuleId}/metadata", &["UPDATE_SOFTWARE_MODULE"]),
    ("DELETE", "/rest/v1/softwaremodules/{softwareModuleId}/metadata/{metadataKey}", &["UPDATE_SOFTWARE_MODULE"]),
    ("GET", "/rest/v1/softwaremodules/{softwareModuleId}/metadata/{metadataKey}", &["READ_SOFTWARE_MODULE"]),
    ("PUT", "/rest/v1/softwaremodules/{softwareModuleId}/metadata/{metadataKey}", &["UPDATE_SOFTWARE_MODULE"]),
    ("GET", "/rest/v1/softwaremoduletypes", &["READ_SOFTWARE_MODULE_TYPE"]),
    ("POST", "/rest/v1/softwaremoduletypes", &["CREATE_SOFTWARE_MODULE_TYPE"]),
    ("DELETE", "/rest/v1/softwaremoduletypes/{softwareModuleTypeId}", &["DELETE_SOFTWARE_MODULE_TYPE"]),
    ("GET", "/rest/v1/softwaremoduletypes/{softwareModuleTypeId}", &["READ_SOFTWARE_MODULE_TYPE"]),
    ("PUT", "/rest/v1/softwaremoduletypes/{softwareModuleTypeId}", &["UPDATE_SOFTWARE_MODULE_TYPE"]),
    ("GET", "/rest/v1/system/configs", &["READ_TENANT_CONFIGURATION"]),
    ("PUT", "/rest/v1/system/configs", &["UPDATE_TENANT_CONFIGURATION"]),
    ("DELETE", "/rest/v1/system/configs/{keyName}", &["DELETE_TENANT_CONFIGURATION"]),
    ("GET", "/rest/v1/system/configs/{keyName}", &["READ_TENANT_CONFIGURATION"]),
    ("PUT", "/rest/v1/system/configs/{keyName}", &["UPDATE_TENANT_CONFIGURATION"]),
    ("POST", "/rest/v1/system/downloadkey/rotate", &["UPDATE_TENANT_CONFIGURATION"]),
    ("GET", "/rest/v1/targetfilters", &["READ_TARGET"]),
    ("POST", "/rest/v1/targetfilters", &["CREATE_TARGET"]),
    ("DELETE", "/rest/v1/targetfilters/{filterId}", &["DELETE_TARGET"]),
    ("GET", "/rest/v1/targetfilters/{filterId}", &["READ_TARGET"]),
    ("PUT", "/rest/v1/targetfilters/{filterId}", &["UPDATE_TARGET"]),
    ("DELETE", "/rest/v1/targetfilters/{filterId}/autoAssignDS", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targetfilters/{filterId}/autoAssignDS", &["READ_TARGET"]),
    ("POST", "/rest/v1/targetfilters/{filterId}/autoAssignDS", &["UPDATE_TARGET", "READ_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/targets", &["READ_TARGET"]),
    ("POST", "/rest/v1/targets", &["CREATE_TARGET"]),
    ("DELETE", "/rest/v1/targets/{targetId}", &["DELETE_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}", &["READ_TARGET"]),
    ("PUT", "/rest/v1/targets/{targetId}", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}/actions", &["READ_TARGET"]),
    ("DELETE", "/rest/v1/targets/{targetId}/actions/{actionId}", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}/actions/{actionId}", &["READ_TARGET"]),
    ("PUT", "/rest/v1/targets/{targetId}/actions/{actionId}", &["UPDATE_TARGET"]),
    ("PUT", "/rest/v1/targets/{targetId}/actions/{actionId}/confirmation", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}/actions/{actionId}/status", &["READ_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}/assignedDS", &["READ_TARGET"]),
    ("POST", "/rest/v1/targets/{targetId}/assignedDS", &["UPDATE_TARGET", "READ_DISTRIBUTION_SET"]),
    ("GET", "/rest/v1/targets/{targetId}/attributes", &["READ_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}/autoConfirm", &["READ_TARGET"]),
    ("POST", "/rest/v1/targets/{targetId}/autoConfirm/activate", &["UPDATE_TARGET"]),
    ("POST", "/rest/v1/targets/{targetId}/autoConfirm/deactivate", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}/installedDS", &["READ_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}/metadata", &["READ_TARGET"]),
    ("POST", "/rest/v1/targets/{targetId}/metadata", &["UPDATE_TARGET"]),
    ("DELETE", "/rest/v1/targets/{targetId}/metadata/{metadataKey}", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}/metadata/{metadataKey}", &["READ_TARGET"]),
    ("PUT", "/rest/v1/targets/{targetId}/metadata/{metadataKey}", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targets/{targetId}/tags", &["READ_TARGET"]),
    ("DELETE", "/rest/v1/targets/{targetId}/targettype", &["UPDATE_TARGET"]),
    ("POST", "/rest/v1/targets/{targetId}/targettype", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targettags", &["READ_TARGET"]),
    ("POST", "/rest/v1/targettags", &["CREATE_TARGET"]),
    ("DELETE", "/rest/v1/targettags/{targetTagId}", &["DELETE_TARGET"]),
    ("GET", "/rest/v1/targettags/{targetTagId}", &["READ_TARGET"]),
    ("PUT", "/rest/v1/targettags/{targetTagId}", &["UPDATE_TARGET"]),
    ("DELETE", "/rest/v1/targettags/{targetTagId}/assigned", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targettags/{targetTagId}/assigned", &["READ_TARGET"]),
    ("PUT", "/rest/v1/targettags/{targetTagId}/assigned", &["UPDATE_TARGET"]),
    ("POST", "/rest/v1/targettags/{targetTagId}/assigned", &["UPDATE_TARGET"]),
    ("DELETE", "/rest/v1/targettags/{targetTagId}/assigned/{controllerId}", &["UPDATE_TARGET"]),
    ("POST", "/rest/v1/targettags/{targetTagId}/assigned/{controllerId}", &["UPDATE_TARGET"]),
    ("GET", "/rest/v1/targettypes", &["READ_TARGET_TYPE"]),
    ("POST", "/rest/v1/targettypes", &["CREATE_TARGET_TYPE"]),
    ("DELETE", "/rest/v1/targettypes/{targetTypeId}", &["DELETE_TARGET_TYPE"]),
    ("GET", "/rest/v1/targettypes/{targetTypeId}", &["READ_TARGET_TYPE"]),
    ("PUT", "/rest/v1/targettypes/{targetTypeId}", &["UPDATE_TARGET_TYPE"]),
    ("GET", "/rest/v1/targettypes/{targetTypeId}/compatibledistributionsettypes", &["READ_TARGET_TYPE", "READ_DISTRIBUTION_SET_TYPE"]),
    ("POST", "/rest/v1/targettypes/{targetTypeId}/compatibledistributionsettypes", &["UPDATE_TARGET_TYPE", "READ_DISTRIBUTION_SET_TYPE"]),
    ("DELETE", "/rest/v1/targettypes/{targetTypeId}/compatibledistributionsettypes/{distributionSetTypeId}", &["UPDATE_TARGET_TYPE", "READ_DISTRIBUTION_SET_TYPE"]),
    ("GET", "/rest/v1/tenants", &["SYSTEM_ADMIN"]),
    ("POST", "/rest/v1/tenants", &["SYSTEM_ADMIN"]),
    ("GET", "/rest/v1/userinfo", &[]),
    ("GET", "/rest/v1/users", &["SYSTEM_ADMIN"]),
    ("POST", "/rest/v1/users", &["SYSTEM_ADMIN"]),
    ("DELETE", "/rest/v1/users/{username}", &["SYSTEM_ADMIN"]),
];

const PASSWORD: &str = "permission-test-password";

/// Creates (once) a user holding exactly `names` and returns its name.
fn user_with(f: &Fixture, users: &mut BTreeMap<String, String>, names: &[&str]) -> String {
    let key = names.join(",");
    if let Some(u) = users.get(&key) {
        return u.clone();
    }
    let username = format!("user{}", users.len());
    let (status, body) = f.post(
        "/rest/v1/users",
        json!({"username": username, "password": PASSWORD, "permissions": names}),
    );
    assert_eq!(status, 201, "{body}");
    users.insert(key, username.clone());
    username
}

/// A path with its placeholders filled: ids that do not exist, so nothing changes.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    for seg in template.split('/').skip(1) {
        out.push('/');
        if seg.starts_with('{') {
            out.push_str(match seg {
                "{targetId}" | "{controllerId}" | "{metadataKey}" | "{keyName}" | "{username}" => {
                    "no-such-thing"
                }
                _ => "987654",
            });
        } else {
            out.push_str(seg);
        }
    }
    out
}

fn call(f: &Fixture, user: &str, method: &str, path: &str) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let r = f
        .http
        .request(method, f.url(path))
        .basic_auth(user, Some(PASSWORD))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    support::read(r)
}

fn permission(name: &str) -> Permission {
    *Permission::ALL
        .iter()
        .find(|p| p.name() == name)
        .unwrap_or_else(|| panic!("unknown permission {name} in the table"))
}

#[test]
fn every_endpoint_checks_its_permission() {
    let f = Fixture::sqlite();
    let mut users = BTreeMap::new();
    let nobody = user_with(&f, &mut users, &[]);
    let mut implied_only = Vec::new();
    let mut problems = Vec::new();
    for &(method, template, needs) in TABLE {
        let path = concrete(template);
        let (status, body) = call(&f, &nobody, method, &path);
        if needs.is_empty() {
            if status != 200 {
                problems.push(format!(
                    "{method} {template} needs no permission but answered {status}: {body}"
                ));
            }
            continue;
        }
        if status != 403 || body["errorCode"] != "hawkbit.server.error.insufficientPermission" {
            problems.push(format!(
                "{method} {template} without permissions: {status} {body}"
            ));
        }

        let exact = user_with(&f, &mut users, needs);
        let (status, body) = call(&f, &exact, method, &path);
        if status == 403 || status == 401 {
            problems.push(format!(
                "{method} {template} with exactly {needs:?}: {status} {body}"
            ));
        }

        for &missing in needs {
            let p = permission(missing);
            let rest = Permissions::all().without(p);
            let names: Vec<&str> = rest.iter().map(Permission::name).collect();
            if Permissions::parse(&names.join(",")).unwrap().has(p) {
                implied_only.push(format!("{method} {template} {missing}"));
                continue;
            }
            let user = user_with(&f, &mut users, &names);
            let (status, body) = call(&f, &user, method, &path);
            if status != 403 {
                problems.push(format!("{method} {template} without {missing}: {status} {body}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // Read permissions on types are implied by any permission on their entities (hawkBit's rule),
    // so "everything but READ_*_TYPE" still holds them; only those may be skipped above.
    for skipped in &implied_only {
        assert!(
            skipped.contains("_TYPE") || skipped.contains("AUTO_ASSIGNMENT"),
            "{skipped}"
        );
    }
}

#[test]
fn the_table_covers_every_documented_operation() {
    let doc = serde_json::to_value(updraft_server::openapi::management()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let table: BTreeSet<String> = TABLE.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    let untested: Vec<&String> = documented.difference(&table).collect();
    assert!(
        untested.is_empty(),
        "operations without a permission row: {untested:?}"
    );
}
