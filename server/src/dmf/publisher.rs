//! Publishing to the targets' reply-to exchanges, one message at a time with a publisher confirm.
//!
//! Publishing to an exchange that does not exist closes the AMQP channel (404): the message is lost
//! the way hawkBit loses it (the gateway went away), the channel is opened again, and the caller
//! hears [`Sent::NoExchange`] so it does not retry a message nobody can receive.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use tokio::sync::Mutex;

use super::wire;

/// One outbound message.
#[derive(Debug, Clone)]
pub struct Message {
    pub exchange: String,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub correlation_id: Option<String>,
    pub body: Vec<u8>,
}

impl Message {
    /// A JSON (or empty) message with hawkBit's headers: `type`, `tenant`, optionally `thingId`,
    /// `topic` and `__TypeId__`, and `content-type` copied into a header as hawkBit does.
    pub fn json(
        exchange: &str,
        kind: &str,
        tenant: &str,
        thing: Option<&str>,
        topic: Option<&str>,
        body: Vec<u8>,
    ) -> Self {
        let mut headers = vec![(wire::TYPE, kind.to_owned()), (wire::TENANT, tenant.to_owned())];
        if let Some(thing) = thing {
            headers.push((wire::THING_ID, thing.to_owned()));
        }
        if let Some(topic) = topic {
            headers.push((wire::TOPIC, topic.to_owned()));
            if let Some(java) = wire::java_type(topic) {
                headers.push((wire::TYPE_ID, java.to_owned()));
            }
        }
        headers.push((wire::CONTENT_TYPE, wire::JSON.to_owned()));
        Self {
            exchange: exchange.to_owned(),
            headers,
            content_type: wire::JSON,
            correlation_id: None,
            body,
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The broker confirmed it.
    Confirmed,
    /// The exchange does not exist; nobody can receive it.
    NoExchange,
}

/// A confirm-mode channel on the node's connection.
pub struct Publisher {
    conn: Arc<Connection>,
    channel: Mutex<Channel>,
}

/// How long a confirm may take before the connection counts as broken.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

async fn confirm_channel(conn: &Connection) -> lapin::Result<Channel> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(ch)
}

impl Publisher {
    pub async fn open(conn: Arc<Connection>) -> lapin::Result<Self> {
        Ok(Self {
            channel: Mutex::new(confirm_channel(&conn).await?),
            conn,
        })
    }

    /// Publishes `m` and waits for the broker's confirm. An error means the connection is broken
    /// or the broker refused the message: the caller keeps it to send again.
    pub async fn send(&self, m: &Message) -> anyhow::Result<Sent> {
        let mut channel = self.channel.lock().await;
        if !channel.status().connected() {
            *channel = confirm_channel(&self.conn).await?;
        }
        let mut headers = FieldTable::default();
        for (k, v) in &m.headers {
            headers.insert((*k).into(), AMQPValue::LongString(v.as_str().into()));
        }
        let correlation = m.correlation_id.clone().unwrap_or_else(crate::auth::random_token);
        let mut props = BasicProperties::default()
            .with_content_type(m.content_type.into())
            .with_delivery_mode(2)
            .with_priority(0)
            .with_correlation_id(correlation.as_str().into())
            .with_headers(headers);
        if m.content_type == wire::JSON {
            props = props.with_content_encoding("UTF-8".into());
        }
        let outcome = async {
            channel
                .basic_publish(
                    m.exchange.as_str().into(),
                    "".into(),
                    BasicPublishOptions::default(),
                    &m.body,
                    props,
                )
                .await?
                .await
        };
        match tokio::time::timeout(CONFIRM_TIMEOUT, outcome).await {
            Err(_) => anyhow::bail!("the broker did not confirm a message within {CONFIRM_TIMEOUT:?}"),
            Ok(Ok(c)) if c.is_ack() => Ok(Sent::Confirmed),
            Ok(Ok(_)) => anyhow::bail!("the broker refused a message (nack)"),
            Ok(Err(e)) if self.conn.status().connected() => {
                tracing::info!(exchange = %m.exchange, error = %e, "DMF: reply-to exchange unavailable; message dropped");
                *channel = confirm_channel(&self.conn).await?;
                Ok(Sent::NoExchange)
            }
            Ok(Err(e)) => Err(e.into()),
        }
    }
}
