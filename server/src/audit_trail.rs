//! The audit trail of the two operator front doors, the Management API (`/rest/v1`) and the console
//! (`/ui`): one middleware on each scope records a `store::audit` entry after every write that
//! succeeded, so no handler can forget it and both doors name an operation alike.
//!
//! The action and the object come from the method and the path (`classify`); the actor is the
//! request's authenticated user (`middleware::Principal`, set by each door's authentication); the
//! object's name is read after the change, or before it for a delete (the row is gone afterwards);
//! a create's new id comes from the answer (the Management API's JSON, the console's redirect). A
//! handler may add a detail, or name a more precise action, with [`note`]. The entry is written in a
//! transaction of its own right after the change committed (see `docs/architecture.md`, "Audit
//! log"): when writing it fails the change stands and the failure is logged.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};

use crate::middleware::Principal;
use crate::state::AppState;
use crate::store::audit::{self, Entry, Object};

/// What a handler adds to its request's entry.
#[derive(Debug, Clone, Default)]
pub struct Note {
    /// Replaces the action `classify` derived from the path (one of `store::audit::ACTIONS`).
    pub action: Option<&'static str>,
    /// Replaces the object derived from the path.
    pub object: Option<Object>,
    pub detail: String,
    /// Nothing changed after all (a form saved unchanged): no entry.
    pub unchanged: bool,
}

/// Adds `detail` to the entry of this request.
pub fn note(req: &HttpRequest, detail: impl Into<String>) {
    note_with(
        req,
        Note {
            detail: detail.into(),
            ..Note::default()
        },
    );
}

/// Sets the whole [`Note`] of this request.
pub fn note_with(req: &HttpRequest, n: Note) {
    req.extensions_mut().insert(n);
}

/// What the path says about an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    action: &'static str,
    kind: &'static str,
    id: Option<String>,
    /// The new object's id and name are in the answer (a create, an upload, an assignment).
    from_answer: bool,
}

/// The Management API's and the console's collections: (path segment, object kind, action prefix).
const COLLECTIONS: &[(&str, &str, &str)] = &[
    ("targets", "target", "target"),
    ("devices", "target", "target"),
    ("distributionsets", "distribution_set", "ds"),
    ("distributions", "distribution_set", "ds"),
    ("softwaremodules", "software_module", "sm"),
    ("software", "software_module", "sm"),
    ("rollouts", "rollout", "rollout"),
    ("targettags", "target_tag", "tag"),
    ("distributionsettags", "ds_tag", "tag"),
    ("tags", "tag", "tag"),
    ("targettypes", "target_type", "type"),
    ("distributionsettypes", "ds_type", "type"),
    ("softwaremoduletypes", "sm_type", "type"),
    ("types", "type", "type"),
    ("targetfilters", "target_filter", "filter"),
    ("filters", "target_filter", "filter"),
    ("users", "user", "user"),
    ("tenants", "tenant", "tenant"),
];

fn action_of(prefix: &str, verb: &str) -> &'static str {
    audit::action(&format!("{prefix}_{verb}")).unwrap_or("change")
}

fn decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The action and object of a write to `path` (below `/rest/v1` or `/ui`); `None` for what is not
/// recorded here (the console's login, which records itself; the device API under `/ui`).
fn classify(method: &Method, segments: &[&str]) -> Option<Plan> {
    let plan = |action, kind, id: Option<&str>, from_answer| {
        Some(Plan {
            action,
            kind,
            id: id.map(decoded),
            from_answer,
        })
    };
    let (first, rest) = segments.split_first()?;
    match (*first, rest) {
        ("login" | "controller" | "assets", _) => return None,
        ("logout", _) => return plan("logout", "user", None, false),
        ("system", ["configs", key]) => return plan("setting_change", "setting", Some(key), false),
        ("system" | "settings", ["configs" | "config"]) => {
            return plan("setting_change", "setting", Some("configs"), false);
        }
        ("settings", ["users"]) => return plan("user_create", "user", None, false),
        ("settings", ["users", name]) => return plan("user_update", "user", Some(name), false),
        ("settings", ["users", name, "delete"]) => return plan("user_delete", "user", Some(name), false),
        ("failures", _) => return plan("failures_retry", "rollout", None, false),
        ("devices", ["bulk", ..]) => return plan("bulk_action", "target", None, false),
        _ => {}
    }
    let Some(&(_, kind, prefix)) = COLLECTIONS.iter().find(|(seg, _, _)| seg == first) else {
        return plan("change", "other", Some(first), false);
    };
    let id = rest.first().copied();
    let sub: Vec<&str> = rest.iter().skip(1).copied().collect();
    let post = method == Method::POST;
    let action = match (sub.as_slice(), method) {
        ([], _) if id.is_none() && post => return plan(action_of(prefix, "create"), kind, None, true),
        ([], m) if m == Method::DELETE => action_of(prefix, "delete"),
        (["delete"], _) => action_of(prefix, "delete"),
        (["assignedDS" | "assignedTargets" | "assign"], _) => return plan("assign", kind, id, true),
        (["metadata", ..], _) => "metadata_change",
        (["artifacts"], _) if post => return plan("artifact_upload", kind, id, true),
        (["artifacts", ..], _) => "artifact_delete",
        (["invalidate"], _) => "ds_invalidate",
        (["actions", ..], m) if m == Method::DELETE || sub.last() == Some(&"cancel") => "action_cancel",
        (["actions", ..], _) => "action_update",
        (["assigned", ..] | ["tags"], m) if m != Method::DELETE => "tag_assign",
        (["assigned", ..] | ["tags", _, "remove"], _) => "tag_unassign",
        (["triggerNextGroup" | "next-group"], _) => "rollout_next_group",
        ([op], _) if prefix == "rollout" => action_of(prefix, op),
        _ => action_of(prefix, "update"),
    };
    plan(action, kind, id, false)
}

/// The new object's id and name in a JSON answer (the first of a list), and how many there were.
fn from_json(body: &[u8]) -> Option<(String, String, usize)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let (first, n) = match &v {
        serde_json::Value::Array(a) => (a.first()?, a.len()),
        o => (o, 1),
    };
    let text = |k: &str| match first.get(k) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let id = text("controllerId")
        .or_else(|| text("id"))
        .or_else(|| text("username"))
        .or_else(|| text("name"))?;
    let name = match (text("name"), text("version")) {
        (Some(n), Some(v)) => format!("{n} {v}"),
        (Some(n), None) => n,
        _ => text("providedFilename")
            .or_else(|| text("username"))
            .unwrap_or_default(),
    };
    Some((id, name, n))
}

/// The middleware: on both operator scopes, after the route's own middleware.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let path = req.path().to_owned();
    let rest = path
        .strip_prefix("/rest/v1/")
        .or_else(|| path.strip_prefix("/ui/"))
        .filter(|_| write);
    let segments: Vec<&str> = rest
        .map(|r| r.split('/').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let (Some(plan), Some(state)) = (
        classify(req.method(), &segments),
        req.app_data::<web::Data<AppState>>().cloned(),
    ) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let signed_in = req.headers().contains_key("authorization") || req.headers().contains_key("cookie");
    let before = match (&plan.id, plan.action.ends_with("_delete") && signed_in) {
        (Some(id), true) => {
            let (kind, id) = (plan.kind.to_owned(), id.clone());
            state
                .db
                .read(move |c| audit::names(c, &kind, &id))
                .await
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let res = next.call(req).await?;
    let status = res.status();
    let ui = path.starts_with("/ui/");
    let succeeded = status.is_success() || (ui && status.is_redirection());
    let principal = res.request().extensions().get::<Principal>().cloned();
    let Some(Principal::User { tenant, username }) = principal.filter(|_| succeeded) else {
        return Ok(res.map_into_boxed_body());
    };
    let note = res
        .request()
        .extensions()
        .get::<Note>()
        .cloned()
        .unwrap_or_default();
    if note.unchanged {
        return Ok(res.map_into_boxed_body());
    }
    let location = res
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    let (res, answer) = if plan.from_answer && !ui {
        let (req, res) = res.into_parts();
        let (head, body) = res.into_parts();
        // JSON answers are built in memory; only a small one is read for the new id.
        let bytes = actix_web::body::to_bytes(body).await.map_err(|e| {
            let e: Box<dyn std::error::Error> = e.into();
            actix_web::error::ErrorInternalServerError(e.to_string())
        })?;
        let answer = if bytes.len() <= 256 * 1024 {
            from_json(&bytes)
        } else {
            None
        };
        let body = BoxBody::new(bytes);
        (ServiceResponse::new(req, head.set_body(body)), answer)
    } else {
        (res.map_into_boxed_body(), None)
    };
    let mut object = Object {
        kind: plan.kind.to_owned(),
        id: plan.id.clone().unwrap_or_default(),
        name: String::new(),
    };
    let mut detail = note.detail;
    match (&plan.id, answer) {
        (None, Some((id, name, n))) => {
            object.id = id;
            object.name = name;
            if n > 1 {
                detail = format!("{n} created. {detail}");
            }
        }
        (Some(_), Some((_, name, _))) if plan.action == "artifact_upload" => {
            detail = format!("artifact {name}. {detail}");
        }
        _ => {}
    }
    if object.id.is_empty() && ui {
        // The console redirects to a new object's page: `/ui/<collection>/<id>`.
        if let Some(id) = location.as_deref().and_then(|l| {
            let l = l.split('?').next().unwrap_or(l);
            let mut s = l.trim_start_matches("/ui/").split('/');
            (s.next() == segments.first().copied())
                .then(|| s.next())
                .flatten()
        }) {
            object.id = decoded(id);
        }
    }
    if plan.action == "logout" {
        object.id.clone_from(&username);
    }
    if let Some(o) = note.object {
        object = o;
    }
    let action = note.action.unwrap_or(plan.action);
    let (entry_tenant, now) = (tenant.clone(), state.now());
    let detail = detail.trim().trim_end_matches('.').to_owned();
    let result = state
        .db
        .write(move |c| {
            let mut object = object.clone();
            if object.name.is_empty() && !object.id.is_empty() {
                let names = if before.is_empty() {
                    audit::names(c, &object.kind, &object.id)?
                } else {
                    before.clone()
                };
                if let Some((_, n)) = names.into_iter().find(|(t, _)| *t == entry_tenant) {
                    object.name = n;
                }
            }
            audit::record(
                c,
                &Entry {
                    tenant: entry_tenant.clone(),
                    at: now,
                    actor: username.clone(),
                    action,
                    object,
                    detail: detail.clone(),
                },
            )
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, %tenant, action, "the audit entry of a change could not be written");
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(method: &Method, path: &str) -> Option<(&'static str, &'static str, Option<String>)> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        classify(method, &segments).map(|p| (p.action, p.kind, p.id))
    }

    #[test]
    fn paths_name_the_operations_of_both_doors() {
        let post = Method::POST;
        let id = |s: &str| Some(s.to_owned());
        assert_eq!(action(&post, "targets"), Some(("target_create", "target", None)));
        assert_eq!(
            action(&Method::DELETE, "targets/dev%201"),
            Some(("target_delete", "target", id("dev 1")))
        );
        assert_eq!(
            action(&post, "devices/d1/delete"),
            Some(("target_delete", "target", id("d1")))
        );
        assert_eq!(
            action(&post, "targets/d1/assignedDS"),
            Some(("assign", "target", id("d1")))
        );
        assert_eq!(
            action(&post, "devices/d1/assign"),
            Some(("assign", "target", id("d1")))
        );
        assert_eq!(
            action(&post, "rollouts/4/start"),
            Some(("rollout_start", "rollout", id("4")))
        );
        assert_eq!(
            action(&post, "rollouts/4/next-group"),
            Some(("rollout_next_group", "rollout", id("4")))
        );
        assert_eq!(
            action(&Method::DELETE, "rollouts/4"),
            Some(("rollout_delete", "rollout", id("4")))
        );
        assert_eq!(
            action(&Method::DELETE, "softwaremodules/3/artifacts/9"),
            Some(("artifact_delete", "software_module", id("3")))
        );
        assert_eq!(
            action(&Method::PUT, "system/configs"),
            Some(("setting_change", "setting", id("configs")))
        );
        assert_eq!(
            action(&post, "settings/users/bob/delete"),
            Some(("user_delete", "user", id("bob")))
        );
        assert_eq!(
            action(&post, "devices/d1/tags/3/remove"),
            Some(("tag_unassign", "target", id("d1")))
        );
        assert_eq!(
            action(&post, "targettags"),
            Some(("tag_create", "target_tag", None))
        );
        assert_eq!(action(&post, "login"), None);
        assert_eq!(action(&post, "controller/v1/x"), None);
        for p in ["targets", "rollouts/1/approve", "distributionsettypes/2"] {
            let (a, _, _) = action(&post, p).unwrap_or(("", "", None));
            assert!(audit::action(a).is_some(), "{p} → {a}");
        }
    }
}
