//! The data and domain layer: every query and every write, behind plain Rust functions.
//!
//! Front doors (`ddi`, `mgmt`, `ui`, and next the AMQP transport) parse, authorize, call in here and
//! render; nothing in here knows HTTP. See `docs/architecture.md` for the layers and their rules.

mod db;
pub mod error;
pub mod models;
pub mod query;
pub mod schema;

pub use db::{AnyConnection, Backend, Db, PooledConn};
pub use error::{Error, Failure, Kind, Result, Rule};
