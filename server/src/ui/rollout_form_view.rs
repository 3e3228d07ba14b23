//! The markup of the rollout create form ([`super::rollout_form`]): every field works without
//! JavaScript; hawkBit's defaults (one group, success at 50 % → next group, errors above 50 % →
//! pause, forced, started by hand, 100 devices per dynamic group) are what a fresh form shows.

use maud::{Markup, html};

use super::layout;
use super::rollout_form::{GroupRow, NewForm};
use super::session::Ctx;
use crate::store::rollouts::{plan, soak};

/// Explicit group rows the form offers beyond those already filled (more after each "Preview").
const SPARE_ROWS: usize = 2;
const MIN_ROWS: usize = 3;

/// What the form shows beside its fields.
#[derive(Default)]
pub struct Feedback {
    /// The count of devices the filter matches, or why the filter is not valid.
    pub preview: Option<Result<i64, String>>,
    /// A problem with the whole form (duplicate name, no matching devices, ...).
    pub error: Option<String>,
}

/// The preview counts matching devices up to this many; beyond, it says "more than" (an exact
/// count of a filter over a whole big fleet costs a pass over every device).
pub const PREVIEW_CAP: i64 = 10_000;

pub fn preview_text(p: &Result<i64, String>) -> Markup {
    match p {
        Ok(n) if *n > PREVIEW_CAP => html! {
            span.match-count { "more than " strong { "10,000" } " devices match" }
        },
        Ok(n) => html! { span.match-count { strong { (n) } " devices match" } },
        Err(e) => html! { span #q-error .error role="alert" { (e) } },
    }
}

fn or<'a>(v: &'a str, default: &'a str) -> &'a str {
    if v.is_empty() { default } else { v }
}

fn radio(name: &str, value: &str, checked: bool, id: &str, label: &str) -> Markup {
    html! {
        label.choice for=(id) {
            input type="radio" id=(id) name=(name) value=(value) checked[checked];
            " " (label)
        }
    }
}

fn target_filter(f: &NewForm, saved: &[(String, String)], fb: &Feedback) -> Markup {
    let q_invalid = matches!(fb.preview, Some(Err(_)));
    html! {
        label for="q" { "Target filter (RSQL, as on the devices page)" }
        input #q name="q" value=(f.q) maxlength="1024" placeholder="name==*gw*;attribute.site==lab"
            data-preview="/ui/rollouts/preview" data-preview-out="q-preview"
            aria-describedby="q-preview" aria-invalid=[q_invalid.then_some("true")];
        @if !saved.is_empty() {
            label for="r-saved" { "Or pick a saved filter (replaces the typed one)" }
            select #r-saved name="saved" {
                option value="" { "—" }
                @for (name, query) in saved {
                    option value=(query) { (name) " (" (query) ")" }
                }
            }
        }
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
    }
}

fn action_and_start(f: &NewForm, confirmation: bool) -> Markup {
    let action = or(&f.action_type, "forced");
    let start = match f.start.as_str() {
        "" if !f.start_at.trim().is_empty() => "at",
        "" => "manual",
        s => s,
    };
    html! {
        fieldset {
            legend { "Update" }
            div.row {
                div {
                    label for="r-type" { "Action type" }
                    select #r-type name="action_type" aria-describedby="r-type-help" {
                        @for (v, label) in [("forced", "Forced"), ("soft", "Soft"), ("timeforced", "Time-forced"), ("downloadonly", "Download only")] {
                            option value=(v) selected[action == v] { (label) }
                        }
                    }
                }
                div {
                    label for="r-forcetime" { "Forced from (UTC, for time-forced)" }
                    input #r-forcetime name="forcetime" type="datetime-local" value=(f.forcetime);
                }
            }
            p #r-type-help .muted { "Soft: the device may postpone. Time-forced: soft until the time given, then forced. Download only: devices download but do not install." }
            label.choice for="r-confirm" {
                input #r-confirm type="checkbox" name="confirmation" value="1" checked[confirmation];
                " Devices must confirm the update before it installs"
            }
        }
        fieldset {
            legend { "Start" }
            (radio("start", "manual", start == "manual", "r-start-manual", "Start by hand (a Start button on the rollout's page)"))
            (radio("start", "now", start == "now", "r-start-now", "Start now"))
            (radio("start", "at", start == "at", "r-start-at", "Start at a time"))
            label for="r-start" { "Start time (UTC)" }
            input #r-start name="start_at" type="datetime-local" value=(f.start_at);
        }
    }
}

fn group_row(i: usize, r: &GroupRow) -> Markup {
    let n = i + 1;
    html! {
        tr {
            td { input name="g_name" value=(r.name) maxlength="128" aria-label={ "Group " (n) } placeholder={ "group-" (n) }; }
            td { input name="g_q" value=(r.q) maxlength="1024" aria-label={ "Group " (n) " filter" } placeholder="all of the rollout's"; }
            td { input name="g_pct" value=(r.percent) type="number" min="1" max="100" step="any" aria-label={ "Group " (n) " percentage" } placeholder="100"; }
            td { input name="g_success" value=(r.success) type="number" min="0" max="100" aria-label={ "Group " (n) " success threshold" } placeholder="as above"; }
            td { input name="g_error" value=(r.error) type="number" min="0" max="100" aria-label={ "Group " (n) " error threshold" } placeholder="as above"; }
        }
    }
}

fn groups(f: &NewForm) -> Markup {
    let count = or(f.groups.as_deref().unwrap_or(""), "1");
    let success = f.success.as_deref().unwrap_or("50");
    let error = f.error.as_deref().unwrap_or("50");
    let then = or(&f.success_action, "NEXTGROUP");
    let rows = (f.rows.len() + SPARE_ROWS).max(MIN_ROWS);
    let empty = GroupRow::default();
    html! {
        fieldset #r-groups-set {
            legend { "Groups" }
            (radio("groups_mode", "count", !f.explicit(), "r-mode-count", "A number of equal groups"))
            div.row {
                div { label for="r-groups" { "Number of groups" } input #r-groups name="groups" type="number" min="1" max=(plan::MAX_GROUPS) value=(count); }
                div { label for="r-success" { "Success threshold (%)" } input #r-success name="success" type="number" min="0" max="100" value=(success) required aria-describedby="r-thresholds"; }
                div { label for="r-error" { "Error threshold (%)" } input #r-error name="error" type="number" min="0" max="100" value=(error) required aria-describedby="r-thresholds"; }
                div {
                    label for="r-then" { "On success" }
                    select #r-then name="success_action" {
                        option value="NEXTGROUP" selected[then == "NEXTGROUP"] { "start the next group" }
                        option value="PAUSE" selected[then == "PAUSE"] { "pause the rollout" }
                    }
                }
            }
            p #r-thresholds .muted {
                "A group that reaches the success threshold (finished devices) starts the next one; a group whose errors exceed the error threshold pauses the rollout. Explicit groups take these unless their row says otherwise."
            }
            (radio("groups_mode", "explicit", f.explicit(), "r-mode-explicit", "Groups one by one"))
            div.table-wrap { table #r-group-rows {
                caption.muted { "Each group takes its percentage of the devices its filter adds to the rollout's filter (empty filter: all of them). Empty rows are left out; each Preview adds rows." }
                thead { tr {
                    th scope="col" { "Group" } th scope="col" { "Its filter" } th scope="col" { "Percentage" }
                    th scope="col" { "Success %" } th scope="col" { "Error %" }
                } }
                tbody {
                    @for i in 0..rows {
                        (group_row(i, f.rows.get(i).unwrap_or(&empty)))
                    }
                }
            } }
            label.choice for="r-dynamic" {
                input #r-dynamic type="checkbox" name="dynamic" value="1" checked[f.dynamic];
                " Dynamic: devices that match the filter later join new groups"
            }
            label for="r-dynsize" { "Devices per dynamic group" }
            input #r-dynsize name="dynamic_size" type="number" min="1" max=(plan::MAX_TARGETS_PER_GROUP) value=(or(&f.dynamic_size, "100"));
        }
    }
}

fn soak_fields(f: &NewForm) -> Markup {
    html! {
        div.row {
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
    }
}

/// The whole page. `flow`: the tenant's consent flow, the default of "devices must confirm".
pub fn form_page(
    ctx: &Ctx,
    f: &NewForm,
    sets: &[(i64, String)],
    saved: &[(String, String)],
    flow: bool,
    fb: &Feedback,
) -> Markup {
    let confirmation = if f.fresh { flow } else { f.confirmation };
    let body = html! {
        h1 { "New rollout" }
        form.card #rollout-form method="post" action="/ui/rollouts" {
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
            (target_filter(f, saved, fb))
            (action_and_start(f, confirmation))
            (groups(f))
            (soak_fields(f))
            button type="submit" { "Create rollout" }
        }
    };
    layout::page(Some(ctx), "New rollout", &body)
}

#[cfg(test)]
mod tests {
    use super::{PREVIEW_CAP, preview_text};

    #[test]
    fn preview_says_more_than_the_cap() {
        let exact = preview_text(&Ok(PREVIEW_CAP)).into_string();
        assert!(exact.contains("<strong>10000</strong> devices match"), "{exact}");
        let more = preview_text(&Ok(PREVIEW_CAP + 1)).into_string();
        assert!(
            more.contains("more than <strong>10,000</strong> devices match"),
            "{more}"
        );
    }
}
