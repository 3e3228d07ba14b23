//! The create form of a rollout, with all of hawkBit's choices: a target filter typed or picked
//! from the saved filters, the action type (time-forced with its time), when it starts (by hand,
//! now, or at a time), confirmation, dynamic groups, and its groups either counted (with success
//! and error thresholds) or listed one by one, each with its own filter and percentage. The count
//! of devices the filter matches is fetched by the page's script as the user types, or by the
//! form's "Preview" button without JavaScript. A rollout is created as the Management API creates
//! one (`store::rollouts::create::create`, in one transaction, with hawkBit's defaults); a rejected
//! form comes back with the message, never as a blank page. The markup is
//! [`super::rollout_form_view`]'s.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use serde::Deserialize;

use super::device_bulk::pairs;
use super::error::{UiError, UiResult};
use super::layout;
use super::rollout_form_view::{Feedback, PREVIEW_CAP, form_page, preview_text};
use super::session::Ctx;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::rollouts::create::{self as creating, GroupRequest, RolloutRequest};
use crate::store::rollouts::{Condition, ConditionAction, DynamicTemplate, plan, soak};
use crate::store::{ListQuery, query, target_filters};

/// One explicit group row as typed.
#[derive(Default, Clone)]
pub struct GroupRow {
    pub name: String,
    pub q: String,
    pub percent: String,
    pub success: String,
    pub error: String,
}

impl GroupRow {
    fn is_empty(&self) -> bool {
        [&self.name, &self.q, &self.percent, &self.success, &self.error]
            .iter()
            .all(|s| s.trim().is_empty())
    }
}

/// The create form's fields, as text so a rejected form comes back as the user typed it.
#[derive(Default)]
pub struct NewForm {
    pub name: String,
    pub description: String,
    pub ds: String,
    pub q: String,
    /// `count` (this many equal groups) or `explicit` (the rows of `rows`).
    pub groups_mode: String,
    pub groups: Option<String>,
    pub success: Option<String>,
    pub error: Option<String>,
    /// `NEXTGROUP` (default) or `PAUSE`.
    pub success_action: String,
    pub rows: Vec<GroupRow>,
    pub action_type: String,
    /// When a time-forced update becomes forced (`datetime-local`, UTC).
    pub forcetime: String,
    /// `manual`, `now` or `at`; empty reads `start_at` alone (older posts of this form).
    pub start: String,
    pub start_at: String,
    pub confirmation: bool,
    pub dynamic: bool,
    /// Devices per dynamic group (default 100, hawkBit's).
    pub dynamic_size: String,
    /// Soak time in minutes (Updraft's health gate); empty: none.
    pub soak: String,
    /// Health gate: RSQL over devices a soaking device must keep matching; empty: none.
    pub gate: String,
    /// Set by the form's "Preview" button (the no-JavaScript preview).
    pub preview: bool,
    /// Nothing was posted yet: the defaults (confirmation as the tenant's consent flow) apply.
    pub fresh: bool,
}

impl NewForm {
    /// The form from its posted (or, for "Preview", its query-string) pairs. A saved filter picked
    /// from the list replaces the typed filter.
    pub fn from_pairs(p: &[(String, String)]) -> Self {
        let get = |k: &str| {
            p.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let opt = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let all =
            |k: &str| -> Vec<String> { p.iter().filter(|(n, _)| n == k).map(|(_, v)| v.clone()).collect() };
        let (names, qs, pcts, succ, errs) = (
            all("g_name"),
            all("g_q"),
            all("g_pct"),
            all("g_success"),
            all("g_error"),
        );
        let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
        let rows = (0..names.len().max(qs.len()).max(pcts.len()))
            .map(|i| GroupRow {
                name: at(&names, i),
                q: at(&qs, i),
                percent: at(&pcts, i),
                success: at(&succ, i),
                error: at(&errs, i),
            })
            .filter(|r| !r.is_empty())
            .collect();
        let saved = get("saved");
        Self {
            name: get("name"),
            description: get("description"),
            ds: get("ds"),
            q: if saved.trim().is_empty() { get("q") } else { saved },
            groups_mode: get("groups_mode"),
            groups: opt("groups"),
            success: opt("success"),
            error: opt("error"),
            success_action: get("success_action"),
            rows,
            action_type: get("action_type"),
            forcetime: get("forcetime"),
            start: get("start"),
            start_at: get("start_at"),
            confirmation: !get("confirmation").is_empty(),
            dynamic: !get("dynamic").is_empty(),
            dynamic_size: get("dynamic_size"),
            soak: get("soak"),
            gate: get("gate"),
            preview: !get("preview").is_empty(),
            fresh: p.is_empty() || (p.len() == 1 && opt("q").is_some()),
        }
    }

    pub fn explicit(&self) -> bool {
        self.groups_mode == "explicit"
    }
}

/// The distribution sets a rollout may use, newest first.
async fn sets(state: &AppState, tenant: String) -> Result<Vec<(i64, String)>, UiError> {
    super::filters::usable_sets(state, tenant).await
}

/// The tenant's saved filters (name, query) to pick from, by name.
async fn saved_filters(state: &AppState, ctx: &Ctx) -> Result<Vec<(String, String)>, UiError> {
    if !ctx.can(Permission::ReadTarget) {
        return Ok(Vec::new());
    }
    let tenant = ctx.tenant();
    let list = ListQuery {
        spec: query::list_spec(&query::TARGET_FILTER_QUERIES, None, Some("name:ASC"))?,
        page: crate::store::Page {
            offset: 0,
            limit: 200,
        },
    };
    let page = state
        .db
        .read(move |c| target_filters::list(c, &tenant, &list))
        .await?;
    Ok(page.rows.into_iter().map(|f| (f.name, f.query)).collect())
}

fn require_create(ctx: &Ctx) -> Result<(), UiError> {
    ctx.require(Permission::CreateRollout)?;
    ctx.require(Permission::ReadDistributionSet)
}

/// The count of devices `q` matches (only those that accept the set `ds`, if given; above
/// [`PREVIEW_CAP`], `PREVIEW_CAP + 1`: the preview says "more than"), or the message that says what
/// is wrong with `q`.
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
        .read(move |c| plan::count_matching(c, &tenant, &q, ds, PREVIEW_CAP))
        .await?))
}

/// Renders the form with `fb`, the sets and saved filters it offers, and the tenant's defaults.
async fn respond(ctx: &Ctx, state: &AppState, f: &NewForm, fb: &Feedback, status: StatusCode) -> UiResult {
    let all_sets = sets(state, ctx.tenant()).await?;
    let saved = saved_filters(state, ctx).await?;
    let flow = state
        .tenants
        .get(&state.db, &ctx.tenant())
        .await?
        .confirmation_flow;
    Ok(layout::html_response(
        status,
        &form_page(ctx, f, &all_sets, &saved, flow, fb),
    ))
}

pub async fn new_form(ctx: Ctx, req: HttpRequest, state: web::Data<AppState>) -> UiResult {
    require_create(&ctx)?;
    let f = NewForm::from_pairs(&pairs(req.query_string().as_bytes()));
    let fb = Feedback {
        preview: if f.preview || !f.q.is_empty() {
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
    respond(&ctx, &state, &f, &fb, status).await
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
fn parse_time(s: &str, what: &str) -> Result<Option<i64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|fmt| chrono::NaiveDateTime::parse_from_str(s, fmt).ok())
        .map(|t| Some(t.and_utc().timestamp_millis()))
        .ok_or_else(|| format!("The {what} '{s}' is not a date and time like 2026-05-01T14:30."))
}

/// When the rollout starts by itself: never (started by hand), now, or at the given time.
fn start_at(f: &NewForm, now: i64) -> Result<Option<i64>, String> {
    match f.start.as_str() {
        "now" => Ok(Some(now)),
        "manual" => Ok(None),
        "at" => parse_time(&f.start_at, "start time")?
            .map(Some)
            .ok_or_else(|| "Enter the time the rollout starts at.".to_owned()),
        _ => parse_time(&f.start_at, "start time"),
    }
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

fn threshold(v: &str) -> Condition {
    Condition {
        condition: "THRESHOLD".to_owned(),
        expression: v.trim().to_owned(),
    }
}

/// The explicit groups; a row's empty thresholds take the rollout's.
fn explicit_groups(f: &NewForm) -> Result<Vec<GroupRequest>, String> {
    if f.rows.is_empty() {
        return Err("Describe at least one group, or choose a number of groups.".to_owned());
    }
    f.rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let percent = match r.percent.trim() {
                "" => None,
                p => Some(p.parse::<f64>().map_err(|_| {
                    format!(
                        "The percentage of group {} must be a number from 1 to 100.",
                        i + 1
                    )
                })?),
            };
            let name = r.name.trim();
            let q = r.q.trim();
            Ok(GroupRequest {
                name: if name.is_empty() {
                    format!("group-{}", i + 1)
                } else {
                    name.to_owned()
                },
                target_filter_query: (!q.is_empty()).then(|| q.to_owned()),
                target_percentage: percent,
                success_condition: (!r.success.trim().is_empty()).then(|| threshold(&r.success)),
                error_condition: (!r.error.trim().is_empty()).then(|| threshold(&r.error)),
                ..GroupRequest::default()
            })
        })
        .collect()
}

/// Turns the form into a rollout request, or says which field is wrong.
fn request(f: &NewForm, now: i64) -> Result<RolloutRequest, String> {
    let ds =
        f.ds.parse::<i64>()
            .map_err(|_| "Choose a distribution set.".to_owned())?;
    let (amount_groups, groups) = if f.explicit() {
        (None, Some(explicit_groups(f)?))
    } else {
        let n = f
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
        (Some(n), None)
    };
    let action_type = if f.action_type.is_empty() {
        "forced".to_owned()
    } else {
        f.action_type.clone()
    };
    let forcetime =
        if action_type == "timeforced" {
            Some(parse_time(&f.forcetime, "forced time")?.ok_or_else(|| {
                "A time-forced rollout needs the time its updates become forced.".to_owned()
            })?)
        } else {
            None
        };
    let dynamic_group_template = if f.dynamic {
        let size = f.dynamic_size.trim();
        Some(DynamicTemplate {
            name_suffix: String::new(),
            target_count: if size.is_empty() {
                100
            } else {
                size.parse::<i64>()
                    .map_err(|_| "The devices per dynamic group must be a whole number.".to_owned())?
            },
        })
    } else {
        None
    };
    let description = f.description.trim();
    let success_action = match f.success_action.as_str() {
        "" => None,
        a => Some(ConditionAction {
            action: a.to_owned(),
            expression: String::new(),
        }),
    };
    Ok(RolloutRequest {
        name: Some(f.name.trim().to_owned()),
        description: (!description.is_empty()).then(|| description.to_owned()),
        distribution_set_id: Some(ds),
        target_filter_query: Some(f.q.trim().to_owned()),
        action_type: Some(action_type),
        forcetime,
        start_at: start_at(f, now)?,
        confirmation_required: Some(f.confirmation),
        soak_time: parse_soak(&f.soak)?,
        health_gate: Some(f.gate.trim().to_owned()).filter(|g| !g.is_empty()),
        amount_groups,
        groups,
        success_condition: Some(threshold(f.success.as_deref().unwrap_or("50"))),
        success_action,
        error_condition: Some(threshold(f.error.as_deref().unwrap_or("50"))),
        dynamic: Some(f.dynamic),
        dynamic_group_template,
        ..RolloutRequest::default()
    })
}

pub async fn create(ctx: Ctx, body: web::Bytes, state: web::Data<AppState>) -> UiResult {
    require_create(&ctx)?;
    let f = NewForm::from_pairs(&pairs(&body));
    // A bad filter is shown at its field, as the preview shows it.
    let matched = count(&state, ctx.tenant(), &f.q, &f.ds).await?;
    if matched.is_err() {
        let fb = Feedback {
            preview: Some(matched),
            error: None,
        };
        return respond(&ctx, &state, &f, &fb, StatusCode::BAD_REQUEST).await;
    }
    let b = match request(&f, state.now()) {
        Ok(b) => b,
        Err(e) => {
            let fb = Feedback {
                preview: Some(matched),
                error: Some(e),
            };
            return respond(&ctx, &state, &f, &fb, StatusCode::BAD_REQUEST).await;
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
            respond(&ctx, &state, &f, &fb, e.status).await
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
