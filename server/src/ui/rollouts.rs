//! ROLLOUTS: placeholder for the rollout pages (list, create with filter preview and the count of
//! matched devices, groups and thresholds, start/pause/resume/approve, and a live view of groups
//! filling up). They come with the rollout engine (`server/src/rollouts/`, `mgmt/rollouts.rs`);
//! add a "Rollouts" entry to `layout::nav` then, and fill `overview::running_rollouts`.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
