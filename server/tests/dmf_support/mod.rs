//! DMF test fixture: a RabbitMQ vhost of the test's own (so tests run in parallel without seeing
//! each other's messages), a server connected to it, and a conformance client that speaks the
//! hawkBit SDK's wire format (headers as long strings, `reply_to` = `reply.queue`, the SDK's
//! properties) and listens on the reply queue and on the dead-letter queue, as hawkBit's own
//! `ReplyToListener` and `DeadletterListener` do.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::process::Command;
use std::time::{Duration, Instant};

use lapin::message::Delivery;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;
use updraft_server::config::Config;

use crate::support::Fixture;

pub const REPLY_EXCHANGE: &str = "reply.queue";
pub const REPLY_QUEUE: &str = "reply_queue";
pub const TENANT: &str = "DEFAULT";
const WAIT: Duration = Duration::from_secs(30);

/// Generates each behaviour `fn(&Dmf)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! dmf_tests {
    ($($name:ident),* $(,)?) => {
        dmf_tests!(@tweak |_: &mut updraft_server::config::Config| {}; $($name),*);
    };
    (@tweak $tweak:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() {
                if let Some(d) = super::dmf_support::Dmf::start(false, $tweak) { super::$name(&d); }
            } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if let Some(d) = super::dmf_support::Dmf::start(true, $tweak) { super::$name(&d); }
            } )*
        }
    };
}

/// The configuration the dispatch and fleet tests share: the rollout scheduler every 100 ms, and an
/// action timeout far beyond any test's length (tests that need one advance the clock).
pub fn fast(c: &mut Config) {
    c.scheduler_interval_ms = 100;
    c.action_timeout_secs = 600;
}

pub fn rabbitmqctl(args: &[&str]) -> Result<(), String> {
    let out = Command::new("rabbitmqctl")
        .env("RABBITMQ_NODENAME", "rabbit@localhost")
        .args(args)
        .output()
        .map_err(|e| format!("rabbitmqctl cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rabbitmqctl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A vhost of its own on the local RabbitMQ, deleted on drop.
pub struct Vhost {
    pub name: String,
}

impl Vhost {
    pub fn create() -> Result<Self, String> {
        std::net::TcpStream::connect("127.0.0.1:5672")
            .map_err(|e| format!("RabbitMQ is not reachable on 127.0.0.1:5672: {e}"))?;
        let name = format!("dmf-{}", updraft_server::auth::random_token());
        rabbitmqctl(&["add_vhost", &name])?;
        let v = Self { name };
        rabbitmqctl(&["set_permissions", "-p", &v.name, "guest", ".*", ".*", ".*"])?;
        Ok(v)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["delete_vhost", &self.name]);
    }
}

/// A message as a DMF client sends it.
#[derive(Clone, Debug, Default)]
pub struct Msg {
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub reply_to: Option<String>,
    pub correlation_id: Option<String>,
    pub body: Vec<u8>,
}

impl Msg {
    pub fn new(kind: &str) -> Self {
        Self {
            headers: vec![("type".into(), kind.into()), ("tenant".into(), TENANT.into())],
            content_type: Some("application/json".into()),
            ..Self::default()
        }
    }

    pub fn event(topic: &str, thing: Option<&str>, body: &Value) -> Self {
        let mut m = Self::new("EVENT").header("topic", topic);
        if let Some(t) = thing {
            m = m.header("thingId", t);
        }
        m.body = serde_json::to_vec(body).unwrap();
        m
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.retain(|(key, _)| key != k);
        self.headers.push((k.into(), v.into()));
        self
    }

    pub fn without(mut self, k: &str) -> Self {
        self.headers.retain(|(key, _)| key != k);
        self
    }
}

/// A reply read from the reply queue.
#[derive(Debug, Clone)]
pub struct Reply {
    pub headers: std::collections::HashMap<String, String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub correlation_id: Option<String>,
    pub delivery_mode: Option<u8>,
    pub body: Vec<u8>,
}

impl Reply {
    fn from(d: &Delivery) -> Self {
        let p = &d.properties;
        let headers = p
            .headers()
            .as_ref()
            .map(|h| {
                h.inner()
                    .iter()
                    .filter_map(|(k, v)| match v {
                        AMQPValue::LongString(s) => Some((
                            k.as_str().to_owned(),
                            String::from_utf8_lossy(s.as_bytes()).into_owned(),
                        )),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            headers,
            content_type: p.content_type().as_ref().map(|s| s.as_str().to_owned()),
            content_encoding: p.content_encoding().as_ref().map(|s| s.as_str().to_owned()),
            correlation_id: p.correlation_id().as_ref().map(|s| s.as_str().to_owned()),
            delivery_mode: *p.delivery_mode(),
            body: d.data.clone(),
        }
    }

    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).map(String::as_str)
    }

    /// The EVENT topic (or the message type when not an event).
    pub fn topic(&self) -> &str {
        self.header("topic").or(self.header("type")).unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A server with DMF on, the gateway's connection, and the HTTP fixture.
pub struct Dmf {
    pub f: Fixture,
    rt: tokio::runtime::Runtime,
    conn: std::cell::RefCell<Connection>,
    ch: std::cell::RefCell<Channel>,
    pending: std::cell::RefCell<VecDeque<Reply>>,
    pub vhost: Vhost,
}

fn required(why: String) -> Option<Dmf> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "RabbitMQ required under CI: {why}"
    );
    eprintln!("skipping DMF test: {why}");
    None
}

/// How many panics happened on the server's DMF threads (the transport's thread and its runtime's,
/// all named `dmf`) since the first call; the first call installs the counting panic hook.
pub fn dmf_thread_panics() -> usize {
    static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some("dmf") {
                PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            previous(info);
        }));
    });
    PANICS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Waits (bounded) until `check` holds.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT * 2;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {:?}",
            WAIT * 2
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The gateway's connection, with its reply exchange and queue (hawkBit's test names).
async fn client(url: &str) -> lapin::Result<(Connection, Channel)> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.exchange_declare(
        REPLY_EXCHANGE.into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(
        REPLY_QUEUE.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        REPLY_QUEUE.into(),
        REPLY_EXCHANGE.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    Ok((conn, ch))
}

impl Dmf {
    /// Connects the gateway again (after a broker restart), waiting for the broker.
    pub fn reconnect(&self) {
        let deadline = Instant::now() + WAIT * 2;
        loop {
            match self.rt.block_on(client(&self.vhost.url())) {
                Ok((conn, ch)) => {
                    *self.conn.borrow_mut() = conn;
                    *self.ch.borrow_mut() = ch;
                    return;
                }
                Err(e) => assert!(Instant::now() < deadline, "the broker did not come back: {e}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Declares a durable fanout exchange `name` with a durable queue `name_q`: replies that
    /// survive a broker restart.
    pub fn durable_reply(&self, name: &str) -> String {
        let queue = format!("{name}_q");
        let ch = self.ch.borrow().clone();
        self.rt.block_on(async {
            let durable = ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            };
            ch.exchange_declare(name.into(), ExchangeKind::Fanout, durable, FieldTable::default())
                .await
                .unwrap();
            ch.queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await
            .unwrap();
            ch.queue_bind(
                queue.as_str().into(),
                name.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        });
        queue
    }

    /// None (with a printed reason) when RabbitMQ, or PostgreSQL for `postgres`, is unavailable
    /// outside CI.
    pub fn start(postgres: bool, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let vhost = match Vhost::create() {
            Ok(v) => v,
            Err(why) => return required(why),
        };
        let url = vhost.url();
        let config = move |c: &mut Config| {
            c.dmf.enabled = true;
            c.dmf.url = url;
            tweak(c);
        };
        let f = if postgres {
            Fixture::postgres_with(config)?
        } else {
            Fixture::with(None, config)
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (conn, ch) = rt.block_on(client(&vhost.url())).unwrap();
        let d = Self {
            f,
            rt,
            conn: conn.into(),
            ch: ch.into(),
            pending: std::cell::RefCell::default(),
            vhost,
        };
        d.wait_for_consumers(1);
        Some(d)
    }

    /// Another server node on the same database and vhost (PostgreSQL only: several processes on one
    /// SQLite file is not a supported set-up).
    pub fn node(&self) -> updraft_server::testing::TestServer {
        let url = self.vhost.url();
        updraft_server::testing::TestServer::start_with(
            self.f.srv.state.config.database_url.clone(),
            move |c| {
                c.dmf.enabled = true;
                c.dmf.url = url;
                c.scheduler_interval_ms = 100;
            },
        )
    }

    pub fn postgres(&self) -> bool {
        self.f.srv.state.db.backend() == updraft_server::store::Backend::Postgres
    }

    /// Waits until `n` server nodes consume `dmf_receiver`.
    pub fn wait_for_consumers(&self, n: u32) {
        let deadline = Instant::now() + WAIT;
        loop {
            let conn = self.conn.borrow();
            let count = self.rt.block_on(async {
                let ch = conn.create_channel().await.ok()?;
                let q = ch
                    .queue_declare(
                        "dmf_receiver".into(),
                        QueueDeclareOptions::default().passive(),
                        FieldTable::default(),
                    )
                    .await
                    .ok()?;
                let _ = ch.close(200, "".into()).await;
                Some(q.consumer_count())
            });
            if count.is_some_and(|c| c >= n) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server never consumed dmf_receiver"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Publishes to `dmf.exchange` as the SDK does.
    pub fn send(&self, m: &Msg) {
        let mut headers = FieldTable::default();
        for (k, v) in &m.headers {
            headers.insert(k.as_str().into(), AMQPValue::LongString(v.as_str().into()));
        }
        // Persistent, as Spring AMQP (the SDK) publishes by default.
        let mut props = BasicProperties::default()
            .with_headers(headers)
            .with_delivery_mode(2);
        if let Some(c) = &m.content_type {
            props = props.with_content_type(c.as_str().into());
        }
        if let Some(r) = &m.reply_to {
            props = props.with_reply_to(r.as_str().into());
        }
        if let Some(c) = &m.correlation_id {
            props = props.with_correlation_id(c.as_str().into());
        }
        let ch = self.ch.borrow().clone();
        self.rt.block_on(async {
            ch.basic_publish(
                "dmf.exchange".into(),
                "".into(),
                BasicPublishOptions::default(),
                &m.body,
                props,
            )
            .await
            .unwrap();
        });
    }

    /// `THING_CREATED` for `cid` with reply_to `reply.queue` and an optional body.
    pub fn thing_created(&self, cid: &str, body: Option<&Value>) {
        let mut m = Msg::new("THING_CREATED")
            .header("thingId", cid)
            .header("sender", "hawkBit-sdk");
        m.reply_to = Some(REPLY_EXCHANGE.into());
        if let Some(b) = body {
            m.body = serde_json::to_vec(b).unwrap();
        }
        self.send(&m);
    }

    /// `UPDATE_ACTION_STATUS` with the SDK's body.
    pub fn status(&self, action: i64, status: &str, messages: &[&str]) {
        let body = serde_json::json!({
            "actionId": action, "softwareModuleId": 0, "actionStatus": status,
            "message": messages, "timestamp": 1_704_070_800_000_i64,
        });
        let mut m = Msg::event("UPDATE_ACTION_STATUS", None, &body);
        m.correlation_id = Some(format!("cid-{action}-{status}"));
        self.send(&m);
    }

    /// One message from `queue`, if there is one.
    pub fn get(&self, queue: &str) -> Option<Reply> {
        let ch = self.ch.borrow().clone();
        self.rt.block_on(async {
            ch.basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
                .map(|m| Reply::from(&m.delivery))
        })
    }

    /// Waits until the server handled everything sent so far and pushed everything it owes: a PING
    /// is answered after the messages before it, and the outbox then drains.
    pub fn settle(&self) {
        let cid = updraft_server::auth::random_token();
        let mut ping = Msg::new("PING");
        ping.content_type = Some("text/plain".into());
        ping.reply_to = Some(REPLY_EXCHANGE.into());
        ping.correlation_id = Some(cid.clone());
        self.send(&ping);
        let deadline = Instant::now() + WAIT;
        loop {
            match self.get(REPLY_QUEUE) {
                Some(r) if r.correlation_id.as_deref() == Some(&cid) => break,
                Some(r) => self.pending.borrow_mut().push_back(r),
                None => {
                    assert!(Instant::now() < deadline, "no PING_RESPONSE within {WAIT:?}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        self.wait_outbox_empty();
        while let Some(r) = self.get(REPLY_QUEUE) {
            self.pending.borrow_mut().push_back(r);
        }
    }

    /// How many messages the server owes DMF targets (its outbox).
    pub fn owed(&self) -> i64 {
        let db = self.f.srv.state.db.clone();
        db.read_blocking(updraft_server::store::dmf::pending).unwrap()
    }

    /// Puts the gateway's channel in confirm mode (again after [`Dmf::reconnect`]).
    pub fn confirm_select(&self) {
        let ch = self.ch.borrow().clone();
        self.rt
            .block_on(ch.confirm_select(lapin::options::ConfirmSelectOptions::default()))
            .unwrap();
    }

    /// In confirm mode: waits until the broker took responsibility for everything sent so far.
    pub fn wait_for_confirms(&self) {
        let ch = self.ch.borrow().clone();
        let returned = self.rt.block_on(ch.wait_for_confirms()).unwrap();
        assert!(returned.is_empty(), "the broker returned messages: {returned:?}");
    }

    pub fn wait_outbox_empty(&self) {
        let deadline = Instant::now() + WAIT;
        let db = self.f.srv.state.db.clone();
        loop {
            let db = db.clone();
            let n = db.read_blocking(updraft_server::store::dmf::pending).unwrap();
            if n == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{n} DMF messages still owed after {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The next message on the reply queue (waiting for it).
    pub fn reply(&self) -> Reply {
        if let Some(r) = self.pending.borrow_mut().pop_front() {
            return r;
        }
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(r) = self.get(REPLY_QUEUE) {
                return r;
            }
            assert!(Instant::now() < deadline, "no reply within {WAIT:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The next reply with this topic (or type), skipping others.
    pub fn reply_with(&self, topic: &str) -> Reply {
        loop {
            let r = self.reply();
            if r.topic() == topic {
                return r;
            }
        }
    }

    /// After [`Dmf::settle`]: every reply received, in order.
    pub fn replies(&self) -> Vec<Reply> {
        self.settle();
        self.pending.borrow_mut().drain(..).collect()
    }

    /// After [`Dmf::settle`]: the topics (or types) of every reply received, in order.
    pub fn topics(&self) -> Vec<String> {
        self.replies().iter().map(|r| r.topic().to_owned()).collect()
    }

    /// Waits for `n` dead letters, then checks there are no more and nothing waits in
    /// `dmf_receiver` (no requeue loop).
    pub fn dead_letters(&self, n: usize) -> Vec<Reply> {
        let mut got = Vec::new();
        let deadline = Instant::now() + WAIT;
        while got.len() < n {
            match self.get("dmf_connector_deadletter_ttl") {
                Some(r) => got.push(r),
                None => {
                    assert!(
                        Instant::now() < deadline,
                        "{} of {n} dead letters within {WAIT:?}",
                        got.len()
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        self.settle();
        assert!(
            self.get("dmf_connector_deadletter_ttl").is_none(),
            "more than {n} dead letters"
        );
        got
    }

    pub fn target(&self, cid: &str) -> Value {
        self.f.target(cid)
    }

    pub fn targets_total(&self) -> i64 {
        let (s, v) = self.f.get("/rest/v1/targets");
        assert_eq!(s, 200, "{v}");
        v["total"].as_i64().unwrap()
    }

    /// The statuses of an action's history, oldest first.
    pub fn history(&self, cid: &str, action: i64) -> Vec<String> {
        let (s, v) = self.f.get(&format!(
            "/rest/v1/targets/{cid}/actions/{action}/status?sort=id:ASC&limit=100"
        ));
        assert_eq!(s, 200, "{v}");
        v["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The messages of an action's history.
    pub fn messages(&self, cid: &str, action: i64) -> Vec<String> {
        let (s, v) = self.f.get(&format!(
            "/rest/v1/targets/{cid}/actions/{action}/status?limit=100"
        ));
        assert_eq!(s, 200, "{v}");
        v["content"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["messages"].as_array().cloned().unwrap_or_default())
            .map(|m| m.as_str().unwrap().to_owned())
            .collect()
    }

    /// Creates and starts a rollout of `ds` over the targets `filter` selects, in `groups` groups,
    /// the next group starting at 100 % success; its id.
    pub fn rollout(&self, name: &str, ds: i64, filter: &str, groups: u32) -> i64 {
        let (s, r) = self.f.post(
            "/rest/v1/rollouts",
            serde_json::json!({"name": name, "distributionSetId": ds, "targetFilterQuery": filter,
                "amountGroups": groups, "successCondition": {"condition": "THRESHOLD", "expression": "100"}}),
        );
        assert_eq!(s, 201, "{r}");
        let id = r["id"].as_i64().unwrap();
        let (s, v) = self
            .f
            .post(&format!("/rest/v1/rollouts/{id}/start"), serde_json::json!({}));
        assert!(s == 204 || s == 200, "{s} {v}");
        id
    }

    /// The rollout, once it is finished.
    pub fn rollout_finished(&self, id: i64) -> Option<Value> {
        let (_, r) = self.f.get(&format!("/rest/v1/rollouts/{id}"));
        (r["status"] == "finished").then_some(r)
    }

    /// Waits (bounded) until the rollout is finished; the rollout.
    pub fn wait_rollout_finished(&self, id: i64) -> Value {
        let mut done = None;
        eventually("the rollout finishes", || {
            done = self.rollout_finished(id);
            done.is_some()
        });
        done.unwrap()
    }

    /// A registered thing with a distribution set assigned; returns (ds, action). The
    /// registration's own (empty) answer is consumed.
    pub fn registered_with_assignment(&self, cid: &str, extra: Value) -> (i64, i64) {
        self.thing_created(cid, None);
        self.settle();
        let (_, ds) = self
            .f
            .distribution_set(&format!("ds-{cid}"), "image.swu", b"image");
        let action = self.f.assign(ds, cid, extra);
        (ds, action)
    }
}
