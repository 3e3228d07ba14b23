//! A device page's slot panel: both A/B slots from the device's `updraft.*` attributes (booted,
//! committed, versions), its trial, boot count, health and client version, and its trial history
//! (the recorded changes of its health attributes, `store::fleet_health`).

use maud::{Markup, html};

use super::layout::when;
use crate::store::fleet_health::{
    BOOT_COUNT, BOOTED_SLOT, CLIENT_VERSION, COMMITTED_AT, COMMITTED_SLOT, HEALTH, HealthEvent,
    ROLLBACK_REASON, SLOT_A_VERSION, SLOT_B_VERSION, TRIAL, TRIAL_OUTCOME,
};

/// How many of the latest health events the page shows.
pub const HISTORY: i64 = 20;

fn short(key: &str) -> &str {
    key.strip_prefix("updraft.").unwrap_or(key)
}

/// The panel; None when the device sends no `updraft.*` attribute and has no recorded event.
pub fn panel(attributes: &[(String, String)], events: &[HealthEvent]) -> Option<Markup> {
    let get = |k: &str| attributes.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    if !attributes.iter().any(|(k, _)| k.starts_with("updraft.")) && events.is_empty() {
        return None;
    }
    let (booted, committed) = (get(BOOTED_SLOT), get(COMMITTED_SLOT));
    let slot_row = |name: &str, version_key: &str| {
        html! {
            tr {
                th scope="row" { (name) }
                td { (get(version_key).unwrap_or("-")) }
                td { @if booted == Some(name) { strong { "booted" } } @else { "-" } }
                td { @if committed == Some(name) { "committed" } @else { "-" } }
            }
        }
    };
    let health = get(HEALTH);
    Some(html! {
        section.card #slots {
            h2 { "Slots" }
            div.table-wrap { table {
                thead { tr { th scope="col" { "Slot" } th scope="col" { "Version" } th scope="col" { "Booted" } th scope="col" { "Committed" } } }
                tbody {
                    (slot_row("a", SLOT_A_VERSION))
                    (slot_row("b", SLOT_B_VERSION))
                    @if let Some(b) = booted.filter(|b| !["a", "b"].contains(b)) {
                        tr { th scope="row" { (b) } td { "-" } td { strong { "booted" } } td { @if committed == Some(b) { "committed" } @else { "-" } } }
                    }
                }
            } }
            dl.grid {
                div { dt { "Trial" } dd #trial { (get(TRIAL).unwrap_or("-")) } }
                div { dt { "Last trial" } dd #trial-outcome { (get(TRIAL_OUTCOME).unwrap_or("-")) } }
                div { dt { "Rollback reason" } dd #rollback-reason { (get(ROLLBACK_REASON).unwrap_or("-")) } }
                div { dt { "Health" } dd #health {
                    @match health { Some("ok") => span.badge.s-online { "ok" }, Some(h) => span.badge.s-error { (h) }, None => "-" }
                } }
                div { dt { "Boot count" } dd { (get(BOOT_COUNT).unwrap_or("-")) } }
                div { dt { "Committed at" } dd { (get(COMMITTED_AT).unwrap_or("-")) } }
                div { dt { "Client version" } dd { (get(CLIENT_VERSION).unwrap_or("-")) } }
            }
            h3 { "Trial history" }
            @if events.is_empty() {
                p.muted { "No change of slot, trial, rollback or health recorded yet." }
            } @else {
                div.table-wrap { table #trial-history {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Attribute" } th scope="col" { "Change" } th scope="col" { "Installed then" } } }
                    tbody { @for e in events {
                        tr {
                            td { time datetime=(when(e.at)) { (when(e.at)) } }
                            td { (short(&e.key)) }
                            td { (e.old.as_deref().unwrap_or("(none)")) " → " (e.new.as_deref().unwrap_or("(removed)")) }
                            td { (e.installed.as_deref().unwrap_or("-")) }
                        }
                    } }
                } }
            }
        }
    })
}
