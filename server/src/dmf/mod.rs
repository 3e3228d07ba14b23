//! The DMF front door: hawkBit's Device Management Federation API over AMQP 0-9-1 (RabbitMQ), the
//! second device transport beside DDI onto the same domain operations.
//!
//! One broker connection per node, on a runtime of its own: hawkBit's exchanges and queues are
//! declared, `dmf_receiver` is consumed with manual acknowledgement, several messages at once but
//! in order per target (`consumer`; a message is acked only after its transaction committed,
//! dead-lettered when malformed or naming what does not exist, requeued when the database is away),
//! and the outbox the domain fills is pushed to the targets' reply-to exchanges with publisher
//! confirms. A lost connection is re-opened with back-off; whatever was not confirmed stays in the
//! outbox and goes out then.

mod consumer;
mod inbound;
mod outbound;
mod publisher;
pub mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{
    BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Notify;

use crate::state::AppState;
pub use publisher::Publisher;

/// hawkBit's names (`AmqpSettings`, `AmqpProperties`).
pub const DMF_EXCHANGE: &str = "dmf.exchange";
pub const RECEIVER_QUEUE: &str = "dmf_receiver";
pub const DEAD_LETTER_EXCHANGE: &str = "dmf.connector.deadletter";
pub const DEAD_LETTER_QUEUE: &str = "dmf_connector_deadletter_ttl";
/// 21 days, hawkBit's `hawkbit.dmf.rabbitmq.dead-letter.ttl`.
const DEAD_LETTER_TTL_MS: i64 = 1_814_400_000;
/// Declared for byte-compatibility only: nothing consumes it since hawkBit 0.6.
const AUTHENTICATION_QUEUE: &str = "authentication_receiver";

/// Wakes this node's outbox dispatcher after a committed change (`AppState::apply`).
#[derive(Default, Clone)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Something may be owed to DMF targets.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    async fn wait(&self) {
        self.0.notified().await;
    }
}

/// The running transport; dropping it (or [`DmfHandle::stop`]) closes the connection.
pub struct DmfHandle {
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DmfHandle {
    /// Closes the connection and waits for the transport's thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for DmfHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the transport on a thread and runtime of its own, so broker I/O never waits behind HTTP
/// work (and the other way round).
pub fn start(state: Arc<AppState>) -> anyhow::Result<DmfHandle> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("dmf")
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("dmf".into())
        .spawn(move || runtime.block_on(run(state, stopped)))?;
    Ok(DmfHandle {
        stop,
        thread: Some(thread),
    })
}

/// Connects, serves until the connection breaks, and connects again, until stopped.
///
/// Stopping is orderly: the session finishes the outbox batch in hand (its transaction publishes
/// on this runtime from a blocking thread, so the runtime must outlive it) and the deliveries its
/// workers hold, then closes the connection; only then does this return and the runtime go.
async fn run(state: Arc<AppState>, stopped: tokio::sync::watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let session = session(&state, stopped.clone()).await;
        if *stopped.borrow() {
            if let Err(e) = session {
                tracing::debug!(error = %e, "DMF: the broker connection ended while stopping");
            }
            return;
        }
        if let Err(e) = session {
            let message = format!("DMF: the broker connection failed; connecting again in {backoff:?}");
            tracing::warn!(error = %e, "{message}");
        } else {
            backoff = Duration::from_millis(250);
        }
        let mut stop = stopped.clone();
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// The vhost of the broker URL: reply-to addresses are stored as `amqp://<vhost>/<exchange>`.
pub fn vhost_of(url: &str) -> String {
    url.parse::<lapin::uri::AMQPUri>()
        .map_or_else(|_| "/".to_owned(), |u| u.vhost)
}

/// One connection's life: declare, consume and dispatch until something breaks (an error) or
/// until stopped (Ok, after the work in hand is done).
async fn session(state: &Arc<AppState>, stopped: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut stop = stopped.clone();
    // Nothing is in hand while connecting: stopping may cut it short.
    let conn = tokio::select! {
        c = Connection::connect(&state.config.dmf.url, ConnectionProperties::default()) => Arc::new(c?),
        _ = stop.wait_for(|s| *s) => return Ok(()),
    };
    let served = serve(state, &conn, stopped).await;
    // Deliveries not acknowledged go back to the queue at once, for another node or the next start.
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.close(200, "updraft stopping".into())).await;
    served
}

/// Declares the topology, then consumes and dispatches on `conn` until it breaks or until stopped.
async fn serve(
    state: &Arc<AppState>,
    conn: &Arc<Connection>,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    tracing::info!("DMF: connected to the broker");
    declare_topology(conn).await?;
    let publisher = Arc::new(Publisher::open(Arc::clone(conn)).await?);
    let consumer_channel = conn.create_channel().await?;
    consumer_channel
        .basic_qos(state.config.dmf.prefetch, BasicQosOptions::default())
        .await?;
    let consumer = consumer_channel
        .basic_consume(
            RECEIVER_QUEUE.into(),
            "updraft".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let ctx = inbound::Context {
        state: Arc::clone(state),
        publisher: Arc::clone(&publisher),
        vhost: vhost_of(&state.config.dmf.url),
    };
    let dispatcher = outbound::Dispatcher::new(Arc::clone(state), Arc::clone(&publisher));
    let stopping = || *stopped.borrow();
    let dispatching = async {
        let mut stop = stopped.clone();
        // Never cancelled inside `drain`: a batch is published and committed, or not begun.
        while !stopping() {
            dispatcher.drain(&stopping).await?;
            tokio::select! {
                () = state.dmf.wait() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
        anyhow::Ok(())
    };
    // On PostgreSQL as many deliveries in hand as the prefetch allows, within the connections the
    // pool has. SQLite writes one transaction at a time whatever the number of workers: more would
    // only queue for its writer (measured alike, 1,501 against 1,531 status updates/s).
    let workers = match state.db.backend() {
        crate::store::Backend::Sqlite => 1,
        crate::store::Backend::Postgres => {
            usize::from(state.config.dmf.prefetch).min(state.config.db_pool_size as usize)
        }
    };
    let consuming = consumer::consume(&ctx, consumer, workers, stopped.clone());
    // Both end on their own when stopped; when one fails, the other is dropped (the connection is
    // broken: whatever it held is requeued, or stays owed).
    tokio::try_join!(dispatching, consuming).map(drop)
}

/// hawkBit's `DmfAmqpDeclarationConfiguration`. A queue that exists with other arguments does not
/// stop the server (hawkBit ignores declaration errors too): it is logged and used as it is.
async fn declare_topology(conn: &Connection) -> anyhow::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    let mut receiver_args = FieldTable::default();
    receiver_args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(DEAD_LETTER_EXCHANGE.into()),
    );
    let mut dead_letter_args = FieldTable::default();
    dead_letter_args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(DEAD_LETTER_TTL_MS));
    let mut auth_args = FieldTable::default();
    auth_args.insert("x-message-ttl".into(), AMQPValue::LongInt(30_000));
    auth_args.insert("x-max-length".into(), AMQPValue::LongInt(1000));
    let queues = [
        (RECEIVER_QUEUE, durable, receiver_args, Some(DMF_EXCHANGE)),
        (
            DEAD_LETTER_QUEUE,
            durable,
            dead_letter_args,
            Some(DEAD_LETTER_EXCHANGE),
        ),
        (
            AUTHENTICATION_QUEUE,
            QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            auth_args,
            None,
        ),
    ];
    for exchange in [DMF_EXCHANGE, DEAD_LETTER_EXCHANGE] {
        let ch = conn.create_channel().await?;
        ch.exchange_declare(
            exchange.into(),
            ExchangeKind::Fanout,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    }
    for (queue, options, args, bound_to) in queues {
        // A failed declaration closes its channel: each gets a fresh one.
        let ch = conn.create_channel().await?;
        if let Err(e) = ch.queue_declare(queue.into(), options, args).await {
            tracing::warn!(queue, error = %e, "DMF: queue exists with other arguments; using it as it is");
        }
        if let Some(exchange) = bound_to {
            let ch = conn.create_channel().await?;
            ch.queue_bind(
                queue.into(),
                exchange.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
    }
    Ok(())
}

/// Header values as strings: Java writes them as long strings, others as short strings or bytes.
fn header_string(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        AMQPValue::ByteArray(b) => Some(String::from_utf8_lossy(b.as_slice()).into_owned()),
        AMQPValue::Boolean(b) => Some(b.to_string()),
        AMQPValue::LongInt(i) => Some(i.to_string()),
        AMQPValue::LongLongInt(i) => Some(i.to_string()),
        _ => None,
    }
}

fn short(s: Option<&ShortString>) -> Option<String> {
    s.map(|s| s.as_str().to_owned())
}

fn envelope(p: &lapin::BasicProperties) -> wire::Envelope {
    let headers: HashMap<String, String> = p
        .headers()
        .as_ref()
        .map(|h| {
            h.inner()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), header_string(v)?)))
                .collect()
        })
        .unwrap_or_default();
    wire::Envelope {
        headers,
        content_type: short(p.content_type().as_ref()),
        reply_to: short(p.reply_to().as_ref()),
        correlation_id: short(p.correlation_id().as_ref()),
    }
}
