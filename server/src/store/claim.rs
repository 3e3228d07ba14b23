//! Claiming work among several nodes.

/// Loads the rows of the Diesel query `$query` and locks them for the rest of the transaction,
/// skipping rows another transaction holds: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so nodes
/// sweeping together each take different work. SQLite needs no row lock: its write transactions
/// already run one at a time. `$query` is written once and may be a builder chain.
macro_rules! claim {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::store::AnyConnection::Postgresql(pg) => $query.for_update().skip_locked().load(pg),
            $crate::store::AnyConnection::Sqlite(s) => $query.load(s),
        }
    };
}
pub(crate) use claim;
