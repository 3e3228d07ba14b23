//! Reading the source's fleet: targets with attributes, tokens and types, what each has installed
//! and assigned, target filters with auto-assignment, and the action history.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use super::progress::Progress;
use super::source::Source;
use super::wire::{self, link};
use super::{Ctx, ImportError};
use crate::links::encode_segment;
use crate::store::import::Outcome;
use crate::store::import::fleet::{
    self as store, ActionIn, AutoConfirm, FilterIn, SetState, StatusIn, TargetIn,
};
use crate::store::metadata::{self, Entry, Found};
use crate::store::models::{ActionStatus, ActionType, UpdateStatus};

const TARGETS: &str = "targets";
const ACTIONS: &str = "actions";

/// Runs `get` for every item on `parallel` threads; the answers in the items' order.
fn fetch_all<I: Sync, T: Send>(
    items: &[I],
    parallel: usize,
    get: impl Fn(&I) -> Result<T, ImportError> + Sync,
) -> Result<Vec<T>, ImportError> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<T, ImportError>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, 32) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = get(item);
                    let failed = r.is_err();
                    out.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(r);
                    if failed {
                        // The others stop at their next item.
                        next.store(items.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(ImportError::Source(
                    "a request was not made because another failed".into(),
                ))
            })
        })
        .collect()
}

/// What the source holds of one target beyond its list entry.
struct Details {
    /// Its controller attributes (none when it reported none).
    attributes: Vec<(String, String)>,
    metadata: Vec<Entry>,
    auto_confirm: Option<AutoConfirm>,
}

/// The attributes and metadata of the source's target `cid`, and its auto-confirm state when
/// `auto_confirmed` says it has one on.
fn details_of(src: &Source, cid: &str, auto_confirmed: bool) -> Result<Details, ImportError> {
    let base = format!("/rest/v1/targets/{}", encode_segment(cid));
    let map: Option<BTreeMap<String, Value>> = src.get_optional(&format!("{base}/attributes"))?;
    let attributes = map
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect();
    let metadata = src
        .list::<wire::Metadata>(&format!("{base}/metadata"))?
        .into_iter()
        .map(|e| Entry {
            target_visible: false,
            ..e.entry()
        })
        .collect();
    let auto_confirm = if auto_confirmed {
        src.get_optional::<wire::AutoConfirm>(&format!("{base}/autoConfirm"))?
            .filter(|a| a.active)
            .map(|a| AutoConfirm {
                activated_at: a.activated_at.unwrap_or(0),
                initiator: a.initiator,
                remark: a.remark,
            })
    } else {
        None
    };
    Ok(Details {
        attributes,
        metadata,
        auto_confirm,
    })
}

/// The controller ids of the source's targets with auto-confirm on: one query instead of a request
/// per target. A hawkBit older than 0.3.0M8 has no auto-confirm and refuses the query field.
fn auto_confirmed(src: &Source) -> Result<HashSet<String>, ImportError> {
    const PATH: &str = "/rest/v1/targets?q=autoConfirm%3D%3Dtrue";
    if !src.accepts(&format!("{PATH}&offset=0&limit=1"))? {
        return Ok(HashSet::new());
    }
    Ok(src
        .list::<wire::Target>(PATH)?
        .into_iter()
        .map(|t| t.controller_id)
        .collect())
}

/// Targets, page by page: each page with its attributes, metadata and auto-confirm state in one
/// transaction.
pub fn targets(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    let (tenant, now, parallel) = (cx.tenant.clone(), cx.now, cx.opts.parallel);
    let max = cx.opts.max_targets.unwrap_or(u64::MAX);
    let auto = auto_confirmed(&cx.src)?;
    let mut progress = Progress::new(TARGETS, 0);
    let src = cx.src.clone();
    src.first_pages("/rest/v1/targets", max, |page: Vec<wire::Target>, total| {
        progress.set_total(total);
        let mut details = fetch_all(&page, parallel, |t| {
            details_of(&cx.src, &t.controller_id, auto.contains(&t.controller_id))
        })?;
        let mut inputs = Vec::with_capacity(page.len());
        for (t, d) in page.iter().zip(details.iter_mut()) {
            let token = match &t.security_token {
                Some(token) if !token.is_empty() => token.clone(),
                _ => {
                    cx.report.tally(TARGETS).skipped.push(format!(
                        "{}: the source did not show its security token (the user needs READ_TARGET_SECURITY_TOKEN)",
                        t.controller_id
                    ));
                    continue;
                }
            };
            let status = t.update_status.as_deref().unwrap_or("unknown");
            let input = TargetIn {
                controller_id: t.controller_id.clone(),
                name: t.name.clone().unwrap_or_else(|| t.controller_id.clone()),
                description: t.description.clone(),
                security_token: token,
                address: t.address.clone(),
                last_poll: t.last_controller_request_at,
                update_status: UpdateStatus::parse(&status.to_ascii_lowercase()).unwrap_or(UpdateStatus::Unknown),
                installation_date: t.installed_at,
                request_attributes: t.request_attributes,
                target_type_id: t.type_id.and_then(|id| cx.target_types.get(&id).copied()),
                group: t.group.clone(),
                auto_confirm: d.auto_confirm.take(),
                audit: t.audited.audit(now),
            };
            inputs.push((input, &*d));
        }
        let outcomes = cx.write(|c| {
            let mut outcomes = Vec::with_capacity(inputs.len());
            for (t, d) in &inputs {
                let (id, outcome) = store::target(c, &tenant, t)?;
                let changed = store::attributes(c, id, &d.attributes)?;
                let written = metadata::merge(c, Found::Target(id), &d.metadata)?;
                outcomes.push(if outcome == Outcome::Unchanged && (changed || written > 0) {
                    Outcome::Updated
                } else {
                    outcome
                });
            }
            Ok(outcomes)
        })?;
        for o in outcomes {
            cx.report.tally(TARGETS).count(o);
        }
        progress.inc(page.len() as u64);
        Ok(())
    })?;
    progress.finish();
    Ok(())
}

/// What each target has installed and is assigned, read per set (two lists per set instead of two
/// requests per target).
pub fn set_state(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    const LABEL: &str = "installed/assigned";
    let tenant = cx.tenant.clone();
    let sets: Vec<(i64, i64)> = cx.sets.iter().map(|(s, l)| (*s, *l)).collect();
    let mut progress = Progress::new(LABEL, sets.len() as u64);
    let mut changed = 0u64;
    for (src_id, local) in sets {
        for (list, state) in [
            ("installedTargets", SetState::Installed),
            ("assignedTargets", SetState::Assigned),
        ] {
            cx.src.pages(
                &format!("/rest/v1/distributionsets/{src_id}/{list}"),
                |page: Vec<wire::Target>, _| {
                    let cids: Vec<String> = page.into_iter().map(|t| t.controller_id).collect();
                    changed += cx.write(|c| {
                        let ids: Vec<i64> = store::target_ids(c, &tenant, &cids)?.into_values().collect();
                        store::set_state(c, state, local, &ids)
                    })? as u64;
                    Ok(())
                },
            )?;
        }
        progress.inc(1);
    }
    progress.finish();
    cx.report.tally(LABEL).updated += changed;
    Ok(())
}

/// Target filters with their auto-assigned set.
pub fn filters(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    const LABEL: &str = "target filters";
    let (tenant, now) = (cx.tenant.clone(), cx.now);
    for f in cx.src.all::<wire::Filter>(LABEL, "/rest/v1/targetfilters")? {
        let auto_assign = match f.auto_assign_distribution_set {
            None => None,
            Some(src) => match cx.sets.get(&src) {
                Some(&ds) => {
                    let kind = f
                        .auto_assign_action_type
                        .as_deref()
                        .unwrap_or("forced")
                        .to_ascii_lowercase();
                    Some((
                        ds,
                        ActionType::parse(&kind).unwrap_or(ActionType::Forced),
                        f.auto_assign_weight,
                    ))
                }
                None => {
                    cx.report.tally(LABEL).skipped.push(format!(
                        "{}: its auto-assigned set {src} was not imported",
                        f.name
                    ));
                    continue;
                }
            },
        };
        let input = FilterIn {
            name: f.name.clone(),
            query: f.query.clone(),
            auto_assign,
            confirmation_required: f.confirmation_required.unwrap_or(false),
            audit: f.audited.audit(now),
        };
        let (_, outcome) = cx.write(|c| store::filter(c, &tenant, &input))?;
        cx.report.tally(LABEL).count(outcome);
    }
    Ok(())
}

/// The last path segment of `href` (percent-decoded): a controller id or a set id in hawkBit's links.
fn last_segment(href: &str) -> Option<String> {
    let path = href.split(['?', '#']).next()?;
    let seg = path.trim_end_matches('/').rsplit('/').next()?;
    Some(
        percent_encoding::percent_decode_str(seg)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The controller id of the action's target, from its `target` link or else its `self` link
/// (`…/targets/{id}/actions/{action}`).
fn controller_id(a: &wire::Action) -> Option<String> {
    if let Some(href) = link(&a.links, "target") {
        return last_segment(&href);
    }
    let href = link(&a.links, "self")?;
    let (before, _) = href.rsplit_once("/actions/")?;
    last_segment(before)
}

fn action_in(a: &wire::Action, target_id: i64, ds_id: i64, now: i64) -> Result<ActionIn, String> {
    // hawkBit ≤0.9 had pending/finished in `status` and the real state in `detailStatus`.
    let text = a
        .detail_status
        .as_deref()
        .or(a.status.as_deref())
        .unwrap_or("finished")
        .to_ascii_lowercase();
    let status = ActionStatus::parse(&text)
        .or_else(|| (text == "pending").then_some(ActionStatus::Running))
        .ok_or_else(|| format!("action {}: unknown status {text}", a.id))?;
    let kind = a.force_type.as_deref().unwrap_or("forced").to_ascii_lowercase();
    let action_type =
        ActionType::parse(&kind).ok_or_else(|| format!("action {}: unknown type {kind}", a.id))?;
    let active = a.active.unwrap_or(!matches!(
        status,
        ActionStatus::Finished | ActionStatus::Error | ActionStatus::Canceled
    ));
    Ok(ActionIn {
        target_id,
        ds_id,
        active,
        action_type,
        forced_time: a.force_time.unwrap_or(0),
        weight: a.weight.unwrap_or(1000),
        status,
        maintenance: a
            .maintenance_window
            .as_ref()
            .map(|w| (w.schedule.clone(), w.duration.clone(), w.timezone.clone())),
        last_status_code: a.last_status_code,
        external_ref: a.external_ref.clone(),
        audit: a.audited.audit(now),
    })
}

/// The status history of the source's action, oldest first.
fn history_of(src: &Source, cid: &str, action: i64, now: i64) -> Result<Vec<StatusIn>, ImportError> {
    let path = format!(
        "/rest/v1/targets/{}/actions/{action}/status?sort=id:ASC",
        encode_segment(cid)
    );
    Ok(src
        .list::<wire::ActionStatus>(&path)?
        .into_iter()
        .filter_map(|s| {
            let status = ActionStatus::parse(&s.kind.to_ascii_lowercase())?;
            let reported = s.reported_at.or(s.timestamp).unwrap_or(now);
            Some(StatusIn {
                status,
                occurred_at: s.timestamp.unwrap_or(reported),
                reported_at: reported,
                code: s.code,
                messages: s.messages,
            })
        })
        .collect())
}

/// The action history, as it is: closed actions for audit, open ones still open.
pub fn actions(cx: &mut Ctx<'_>) -> Result<(), ImportError> {
    let (tenant, now, parallel) = (cx.tenant.clone(), cx.now, cx.opts.parallel);
    let mut progress = Progress::new(ACTIONS, 0);
    let src = cx.src.clone();
    src.pages(
        "/rest/v1/actions?representation=full&sort=id:ASC",
        |page: Vec<wire::Action>, total| {
            progress.set_total(total);
            progress.inc(page.len() as u64);
            let cids: Vec<String> = page.iter().filter_map(controller_id).collect();
            let targets = cx.write(|c| store::target_ids(c, &tenant, &cids))?;
            let mut todo = Vec::new();
            for a in &page {
                let local = controller_id(a).and_then(|cid| targets.get(&cid).map(|id| (cid, *id)));
                let ds = link(&a.links, "distributionset")
                    .and_then(|h| last_segment(&h))
                    .and_then(|s| s.parse::<i64>().ok())
                    .and_then(|s| cx.sets.get(&s).copied());
                let (Some((cid, target_id)), Some(ds_id)) = (local, ds) else {
                    cx.report
                        .tally(ACTIONS)
                        .skipped
                        .push(format!("action {}: its target or set was not imported", a.id));
                    continue;
                };
                match action_in(a, target_id, ds_id, now) {
                    Ok(input) => todo.push((cid, a.id, input)),
                    Err(why) => cx.report.tally(ACTIONS).skipped.push(why),
                }
            }
            let known = cx.write(|c| {
                todo.iter()
                    .map(|(_, _, a)| store::has_action(c, &tenant, a.target_id, a.ds_id, a.audit.created_at))
                    .collect::<Result<Vec<bool>, _>>()
            })?;
            let candidates = todo.len();
            let new: Vec<_> = todo
                .into_iter()
                .zip(known)
                .filter(|(_, k)| !k)
                .map(|(t, _)| t)
                .collect();
            cx.report.tally(ACTIONS).unchanged += (candidates - new.len()) as u64;
            // A dry run only counts the actions it would add: their histories stay unread.
            let histories = if cx.dry() {
                vec![Vec::new(); new.len()]
            } else {
                fetch_all(&new, parallel, |(cid, id, _)| history_of(&cx.src, cid, *id, now))?
            };
            let outcomes = cx.write(|c| {
                new.iter()
                    .zip(&histories)
                    .map(|((_, _, a), h)| store::action(c, &tenant, a, h))
                    .collect::<Result<Vec<_>, _>>()
            })?;
            for (o, (_, id, _)) in outcomes.into_iter().zip(&new) {
                match o {
                    Ok(o) => cx.report.tally(ACTIONS).count(o),
                    Err(why) => cx
                        .report
                        .tally(ACTIONS)
                        .skipped
                        .push(format!("action {id}: {why}")),
                }
            }
            Ok(())
        },
    )?;
    progress.finish();
    Ok(())
}
