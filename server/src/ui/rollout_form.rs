//! The create form of a rollout, with a count of the devices its filter matches: fetched by the
//! page's script as the user types, or by the form's "Preview" button without JavaScript. A rollout
//! is created as the Management API creates one (`store::rollouts::create::create`, in one
//! transaction); a rejected form comes back with the message, never as a blank page.

use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;

use super::error::{UiError, UiResult};
use super::layout;
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::rollouts::create::{self as creating, RolloutRequest};
use crate::store::rollouts::{Condition, plan, soak};

/// The create form's fields, as text so a rejected form comes back as the user typed it.
#[derive(Deserialize, Default)]
pub struct NewForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    ds: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    groups: Option<String>,
    #[serde(default)]
    success: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    action_type: String,
    #[serde(default)]
    start_at: String,
    /// Soak time in minutes (Updraft's health gate); empty: none.
    #[serde(default)]
    soak: String,
    /// Health gate: RSQL over devices a soaking device must keep matching; empty: none.
    #[serde(default)]
    gate: String,
    /// Set by the form's "Preview" button (the no-JavaScript preview).
    #[serde(default)]
    preview: Option<String>,
}

/// What the form shows beside its fields.
#[derive(Default)]
struct Feedback {
    /// The count of devices the filter matches, or why the filter is not valid.
    preview: Option<Result<i64, String>>,
    /// A problem with the whole form (duplicate name, no matching devices, ...).
    error: Option<String>,
}

fn preview_text(p: &Result<i64, String>) -> Markup {
    match p {
        Ok(n) => html! { span.match-count { strong { (n) } " devices match" } },
        Err(e) => html! { span #q-error .error role="alert" { (e) } },
    }
}

fn form_page(ctx: &Ctx, f: &NewForm, sets: &[(i64, String)], fb: &Feedback) -> Markup {
    let q_invalid = matches!(fb.preview, Some(Err(_)));
    let groups = f.groups.as_deref().unwrap_or("1");
    let success = f.success.as_deref().unwrap_or("50");
    let error = f.error.as_deref().unwrap_or("50");
    let action = if f.action_type.is_empty() {
        "forced"
    } else {
        f.action_type.as_str()
    };
    let body = html! {
        h1 { "New rollout" }
        form.card method="post" action="/ui/rollouts" {
            @if let Some(e) = &fb.error {
                p #form-error .error role="alert" { (e) }
            }
            div.row {
                div { label for="r-name" { "Name" } input #r-name name="name" value=(f.name) required maxlength="128"; }
                div {
                    label for="r-ds" { "Distribution set" }
                    select #r-ds name="ds" required {
                        @if sets.is_empty() { option value="" { "no distribution set yet" } }
                        @for (id, label) in sets {
                            option value=(id) selected[f.ds == id.to_string()] { (label) }
                        }
                    }
                }
            }
            label for="r-description" { "Description (optional)" }
            input #r-description name="description" value=(f.description) maxlength="512";
            label for="q" { "Target filter (RSQL, as on the devices page)" }
            input #q name="q" value=(f.q) required maxlength="1024" placeholder="name==*gw*;attribute.site==lab"
                data-preview="/ui/rollouts/preview" data-preview-out="q-preview"
                aria-describedby="q-preview" aria-invalid=[q_invalid.then_some("true")];
            p.preview {
                output #q-preview for="q" aria-live="polite" {
                    @match &fb.preview {
                        Some(p) => (preview_text(p)),
                        None => span.muted { "Enter a filter to see how many devices it matches." },
                    }
                }
                " "
                button.secondary type="submit" name="preview" value="1" formmethod="get" formaction="/ui/rollouts/new" formnovalidate { "Preview" }
            }
            div.row {
                div { label for="r-groups" { "Number of groups" } input #r-groups name="groups" type="number" min="1" max=(plan::MAX_GROUPS) value=(groups) required; }
                div { label for="r-success" { "Success threshold (%)" } input #r-success name="success" type="number" min="0" max="100" value=(success) required aria-describedby="r-thresholds"; }
                div { label for="r-error" { "Error threshold (%)" } input #r-error name="error" type="number" min="0" max="100" value=(error) required aria-describedby="r-thresholds"; }
            }
            p #r-thresholds .muted {
                "A group that reaches the success threshold (finished devices) starts the next one; a group whose errors exceed the error threshold pauses the rollout."
            }
            div.row {
                div {
                    label for="r-type" { "Action type" }
                    select #r-type name="action_type" {
                        @for (v, label) in [("forced", "Forced"), ("soft", "Soft"), ("downloadonly", "Download only")] {
                            option value=(v) selected[action == v] { (label) }
                        }
                    }
                }
                div {
                    label for="r-start" { "Start automatically at (UTC, optional)" }
                    input #r-start name="start_at" type="datetime-local" value=(f.start_at);
                }
                div {
                    label for="r-soak" { "Soak time (minutes, optional)" }
                    input #r-soak name="soak" type="number" min="1" max=(soak::MAX_SOAK_SECS / 60) value=(f.soak) aria-describedby="r-soak-help";
                }
                div {
                    label for="r-gate" { "Health gate (optional, needs a soak time)" }
                    input #r-gate name="gate" type="text" placeholder="attribute.updraft.health==ok" value=(f.gate) aria-describedby="r-soak-help";
                }
            }
            p #r-soak-help .muted {
                "With a soak time, a device counts as finished only after it stayed healthy that long after its success: kept polling, reported no rollback and no failed health. A device that does not is an error of its group. A health gate is a device filter (like the target filter) each soaking device must keep matching."
            }
            button type="submit" { "Create rollout" }
        }
    };
    layout::page(Some(ctx), "New rollout", &body)
}

/// The distribution sets a rollout may use, newest first.
async fn sets(state: &AppState, tenant: String) -> Result<Vec<(i64, String)>, UiError> {
    Ok(state
        .db
        .read(move |c| crate::store::distribution_sets::usable(c, &tenant, 200))
        .await?)
}

fn require_create(ctx: &Ctx) -> Result<(), UiError> {
    ctx.require(Permission::CreateRollout)?;
    ctx.require(Permission::ReadDistributionSet)
}

/// The count of devices `q` matches (only those that accept the set `ds`, if given), or the
/// message that says what is wrong with `q`.
async fn count(state: &AppState, tenant: String, q: &str, ds: &str) -> Result<Result<i64, String>, UiError> {
    let q = q.trim().to_owned();
    if q.is_empty() {
        return Ok(Err("Enter a target filter.".to_owned()));
    }
    if let Err(e) = plan::target_filter(&q) {
        return Ok(Err(UiError::from(e).message));
    }
    let ds = ds.parse::<i64>().ok();
    Ok(Ok(state
        .db
        .read(move |c| plan::count_matching(c, &tenant, &q, ds))
        .await?))
}

pub async fn new_form(ctx: Ctx, f: web::Query<NewForm>, state: web::Data<AppState>) -> UiResult {
    require_create(&ctx)?;
    let f = f.into_inner();
    let fb = Feedback {
        preview: if f.preview.is_some() || !f.q.is_empty() {
            Some(count(&state, ctx.tenant(), &f.q, &f.ds).await?)
        } else {
            None
        },
        error: None,
    };
    let status = if matches!(fb.preview, Some(Err(_))) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let sets = sets(&state, ctx.tenant()).await?;
    Ok(layout::html_response(status, &form_page(&ctx, &f, &sets, &fb)))
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    ds: String,
}

/// The match count as a fragment for the form's script (400 when the filter is not valid).
pub async fn preview(ctx: Ctx, p: web::Query<PreviewQuery>, state: web::Data<AppState>) -> UiResult {
    require_create(&ctx)?;
    let result = count(&state, ctx.tenant(), &p.q, &p.ds).await?;
    let status = if result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(layout::html_response(status, &preview_text(&result)))
}

/// `2026-05-01T14:30` (a `datetime-local` field, read as UTC) as epoch milliseconds.
fn parse_start(s: &str) -> Result<Option<i64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|fmt| chrono::NaiveDateTime::parse_from_str(s, fmt).ok())
        .map(|t| Some(t.and_utc().timestamp_millis()))
        .ok_or_else(|| format!("The start time '{s}' is not a date and time like 2026-05-01T14:30."))
}

/// The soak field (minutes) as seconds; empty is none.
fn parse_soak(s: &str) -> Result<Option<i64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<i64>()
        .ok()
        .filter(|m| (1..=soak::MAX_SOAK_SECS / 60).contains(m))
        .map(|m| Some(m * 60))
        .ok_or_else(|| {
            format!(
                "The soak time must be a whole number of minutes from 1 to {}.",
                soak::MAX_SOAK_SECS / 60
            )
        })
}

/// Turns the form into a rollout request, or says which field is wrong.
fn request(f: &NewForm) -> Result<RolloutRequest, String> {
    let ds =
        f.ds.parse::<i64>()
            .map_err(|_| "Choose a distribution set.".to_owned())?;
    let groups = f
        .groups
        .as_deref()
        .unwrap_or("1")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=plan::MAX_GROUPS).contains(n))
        .ok_or_else(|| {
            format!(
                "The number of groups must be a whole number from 1 to {}.",
                plan::MAX_GROUPS
            )
        })?;
    let threshold = |v: &Option<String>| Condition {
        condition: "THRESHOLD".to_owned(),
        expression: v.as_deref().unwrap_or("50").trim().to_owned(),
    };
    let description = f.description.trim();
    Ok(RolloutRequest {
        name: Some(f.name.trim().to_owned()),
        description: (!description.is_empty()).then(|| description.to_owned()),
        distribution_set_id: Some(ds),
        target_filter_query: Some(f.q.trim().to_owned()),
        action_type: Some(if f.action_type.is_empty() {
            "forced".to_owned()
        } else {
            f.action_type.clone()
        }),
        start_at: parse_start(&f.start_at)?,
        soak_time: parse_soak(&f.soak)?,
        health_gate: Some(f.gate.trim().to_owned()).filter(|g| !g.is_empty()),
        amount_groups: Some(groups),
        success_condition: Some(threshold(&f.success)),
        error_condition: Some(threshold(&f.error)),
        ..RolloutRequest::default()
    })
}

pub async fn create(ctx: Ctx, form: web::Form<NewForm>, state: web::Data<AppState>) -> UiResult {
    require_create(&ctx)?;
    let f = form.into_inner();
    let again = |fb: Feedback, status: StatusCode, sets: &[(i64, String)]| {
        Ok(layout::html_response(status, &form_page(&ctx, &f, sets, &fb)))
    };
    let all_sets = sets(&state, ctx.tenant()).await?;
    // A bad filter is shown at its field, as the preview shows it.
    let matched = count(&state, ctx.tenant(), &f.q, &f.ds).await?;
    if matched.is_err() {
        let fb = Feedback {
            preview: Some(matched),
            error: None,
        };
        return again(fb, StatusCode::BAD_REQUEST, &all_sets);
    }
    let b = match request(&f) {
        Ok(b) => b,
        Err(e) => {
            let fb = Feedback {
                preview: Some(matched),
                error: Some(e),
            };
            return again(fb, StatusCode::BAD_REQUEST, &all_sets);
        }
    };
    match create_rollout(&state, &ctx, b).await {
        Ok(r) => Ok(layout::see_other(
            &format!("/ui/rollouts/{r}"),
            Some("Rollout created."),
        )),
        Err(e) => {
            let fb = Feedback {
                preview: Some(matched),
                error: Some(e.message),
            };
            again(fb, e.status, &all_sets)
        }
    }
}

/// Creates the rollout as the Management API does: the same permissions, the same store function.
async fn create_rollout(state: &AppState, ctx: &Ctx, b: RolloutRequest) -> Result<i64, UiError> {
    if b.start_at.is_some() {
        // The Management API's refusal, shown on the form as before.
        ctx.user.require(Permission::HandleRollout)?;
    }
    let tenant = ctx.tenant();
    let settings = state.tenants.get(&state.db, &tenant).await?;
    let may_approve = ctx.can(Permission::ApproveRollout);
    let (by, now) = (ctx.user.username.clone(), state.now());
    let (r, _) = state
        .db
        .write(move |c| creating::create(c, &settings, &tenant, &b, may_approve, &by, now))
        .await?;
    Ok(r.id)
}
