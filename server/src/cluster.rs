//! Several server processes on one PostgreSQL: the in-memory caches of the poll path (device
//! snapshots, tenant settings, verified logins) are dropped on every node when one node changes
//! what they hold, over PostgreSQL's `LISTEN`/`NOTIFY`.
//!
//! A dedicated connection listens on channel `updraft_cache` and sends this node's invalidations
//! (after their transaction committed). Messages carry the sender's node id, so a node ignores its
//! own. When the connection drops, the node clears all its caches, since it may have missed
//! messages, and reconnects.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::state::AppState;

const CHANNEL: &str = "updraft_cache";
/// NOTIFY payloads must stay below 8000 bytes.
const MAX_PAYLOAD: usize = 7000;

/// One invalidation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    Device {
        tenant: String,
        controller_id: String,
    },
    /// Every device (sent for ids a message line cannot carry).
    AllDevices,
    Tenant(String),
    Credentials,
}

impl Invalidation {
    fn encode(&self) -> String {
        match self {
            Self::Device {
                tenant,
                controller_id,
            } if [tenant, controller_id].iter().any(|s| s.contains(['\t', '\n'])) => "a".to_owned(),
            Self::Device {
                tenant,
                controller_id,
            } => format!("d\t{tenant}\t{controller_id}"),
            Self::AllDevices => "a".to_owned(),
            Self::Tenant(t) => format!("t\t{t}"),
            Self::Credentials => "c".to_owned(),
        }
    }

    fn decode(line: &str) -> Option<Self> {
        let mut parts = line.splitn(3, '\t');
        match (parts.next()?, parts.next(), parts.next()) {
            ("d", Some(t), Some(c)) => Some(Self::Device {
                tenant: t.to_owned(),
                controller_id: c.to_owned(),
            }),
            ("t", Some(t), None) => Some(Self::Tenant(t.to_owned())),
            ("c", None, None) => Some(Self::Credentials),
            ("a", None, None) => Some(Self::AllDevices),
            _ => None,
        }
    }
}

/// This node's side: where local invalidations are queued for the other nodes.
#[derive(Default)]
pub struct Bus {
    tx: std::sync::OnceLock<Sender<Invalidation>>,
}

impl Bus {
    /// Queues an invalidation for the other nodes (nothing when running alone).
    pub fn publish(&self, i: Invalidation) {
        if let Some(tx) = self.tx.get() {
            let _ = tx.send(i);
        }
    }
}

/// Starts the listener thread for a PostgreSQL-backed server.
pub fn start(state: &Arc<AppState>, url: String) {
    let (tx, rx) = std::sync::mpsc::channel();
    if state.bus.tx.set(tx).is_err() {
        return;
    }
    let node = crate::auth::random_token();
    let weak = Arc::downgrade(state);
    let _ = std::thread::Builder::new()
        .name("updraft-cluster".into())
        .spawn(move || run(&weak, &url, &node, &rx));
}

fn run(state: &Weak<AppState>, url: &str, node: &str, rx: &Receiver<Invalidation>) {
    loop {
        if state.strong_count() == 0 {
            return;
        }
        match PgConnection::establish(url) {
            Ok(mut conn) => {
                if let Err(e) = diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn) {
                    tracing::warn!(error = %e, "LISTEN failed");
                } else {
                    // Whatever changed while we were not listening is unknown: start afresh.
                    if let Some(s) = state.upgrade() {
                        clear_all(&s);
                    }
                    match pump(state, &mut conn, node, rx) {
                        Ok(()) => return,
                        Err(e) => tracing::warn!(error = %e, "cache invalidation channel lost; reconnecting"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect the cache invalidation channel"),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn clear_all(s: &AppState) {
    s.devices.invalidate_all();
    s.tenants.invalidate_all();
    s.credentials.forget_local();
}

/// Sends and receives until the server is gone (Ok) or the connection fails (Err).
fn pump(
    state: &Weak<AppState>,
    conn: &mut PgConnection,
    node: &str,
    rx: &Receiver<Invalidation>,
) -> Result<(), diesel::result::Error> {
    let mut last_ping = std::time::Instant::now();
    loop {
        let mut outgoing = Vec::new();
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(i) => outgoing.push(i),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        outgoing.extend(rx.try_iter());
        let mut payload = String::new();
        for i in &outgoing {
            let line = i.encode();
            if !payload.is_empty() && payload.len() + line.len() + 1 > MAX_PAYLOAD {
                notify(conn, node, &payload)?;
                payload.clear();
            }
            payload.push('\n');
            payload.push_str(&line);
        }
        if !payload.is_empty() {
            notify(conn, node, &payload)?;
        }
        let Some(s) = state.upgrade() else {
            return Ok(());
        };
        // Without a round trip now and then, a dead connection would go unnoticed.
        if last_ping.elapsed() > Duration::from_secs(1) {
            diesel::sql_query("SELECT 1").execute(conn)?;
            last_ping = std::time::Instant::now();
        }
        for n in conn.notifications_iter() {
            let n = n?;
            let mut lines = n.payload.split('\n');
            if lines.next() == Some(node) {
                continue;
            }
            for i in lines.filter_map(Invalidation::decode) {
                match i {
                    Invalidation::Device {
                        tenant,
                        controller_id,
                    } => {
                        s.devices.invalidate_local(&tenant, &controller_id);
                    }
                    Invalidation::AllDevices => s.devices.invalidate_all(),
                    Invalidation::Tenant(t) => s.tenants.invalidate_local(&t),
                    Invalidation::Credentials => s.credentials.forget_local(),
                }
            }
        }
    }
}

fn notify(conn: &mut PgConnection, node: &str, lines: &str) -> Result<(), diesel::result::Error> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<diesel::sql_types::Text, _>(CHANNEL)
        .bind::<diesel::sql_types::Text, _>(format!("{node}{lines}"))
        .execute(conn)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidations_round_trip() {
        for i in [
            Invalidation::Device {
                tenant: "DEFAULT".into(),
                controller_id: "dev\u{e9}-1".into(),
            },
            Invalidation::Tenant("ACME".into()),
            Invalidation::Credentials,
        ] {
            assert_eq!(Invalidation::decode(&i.encode()), Some(i));
        }
        assert_eq!(Invalidation::decode("x\ty"), None);
        let odd = Invalidation::Device {
            tenant: "T".into(),
            controller_id: "a\tb".into(),
        };
        assert_eq!(
            Invalidation::decode(&odd.encode()),
            Some(Invalidation::AllDevices)
        );
    }
}
