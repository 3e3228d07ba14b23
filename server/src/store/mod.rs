//! The data and domain layer: every query and every write, behind plain Rust functions.
//!
//! Front doors (`ddi`, `mgmt`, `ui`, and next the AMQP transport) parse, authorize, call in here and
//! render; nothing in here knows HTTP. See `docs/architecture.md` for the layers and their rules.

pub mod actions;
pub mod audit;
pub mod auto_assign;
pub mod auto_assign_soak;
pub mod bulk;
pub mod changes;
pub mod claim;
mod db;
pub mod distribution_sets;
pub mod dmf;
pub mod download_links;
pub mod error;
pub mod failures;
pub mod fleet;
pub mod fleet_health;
pub mod gauges;
pub mod group_commit;
pub mod housekeeping;
pub mod import;
pub mod metadata;
pub mod models;
pub mod page;
pub mod query;
pub mod rollouts;
pub mod schema;
pub mod sessions;
pub mod soak;
pub mod software_modules;
pub mod tags;
pub mod target_counts;
pub mod target_filters;
pub mod target_list;
pub mod targets;
pub mod tenants;
pub mod types;
pub mod users;

pub use changes::Changes;
pub use db::{AnyConnection, Backend, Db, PoolStatus, PooledConn};
pub use error::{Error, Failure, Kind, Result, Rule};
pub use page::{ListQuery, Page, Paged};

/// Refuses a text field longer than `max` characters.
pub fn check_len(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::refused(
            Rule::Constraint,
            format!("{field} must be at most {max} characters."),
        ));
    }
    Ok(())
}
