//! Server configuration: defaults, then an optional TOML file, then `UPDRAFT_*` environment variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// Every option, with its TOML key (the field name) and its environment variable in the doc.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `UPDRAFT_LISTEN`: address to listen on (hawkBit's port by default).
    pub listen: String,
    /// `UPDRAFT_DATA_DIR`: SQLite database, artifacts and the generated admin password live here.
    pub data_dir: PathBuf,
    /// `UPDRAFT_DATABASE_URL`: an SQLite file path or a `postgres://` URL; `<data_dir>/updraft.db` if unset.
    pub database_url: Option<String>,
    /// `UPDRAFT_EXTERNAL_URL`: base URL for links when behind a proxy, e.g. `https://ota.example.com`.
    /// Without it, links come from `Forwarded` / `X-Forwarded-Proto` / `X-Forwarded-Host` (from
    /// trusted proxies) and `Host`.
    pub external_url: Option<String>,
    /// `UPDRAFT_TRUSTED_PROXIES` (comma-separated): the peers, as addresses or ranges such as
    /// `10.0.0.0/8`, whose client-certificate headers (`X-Controller-Id`, `X-Authority`,
    /// `X-Ssl-Client-Cn`, ...) and `Forwarded` / `X-Forwarded-*` headers are believed. From anyone
    /// else these headers are removed. Empty (the default): nobody, not even loopback.
    pub trusted_proxies: Vec<crate::proxy::Cidr>,
    /// `UPDRAFT_ADMIN_PASSWORD`: password of user `admin` on first start; random if unset.
    pub admin_password: Option<String>,
    /// `UPDRAFT_LOG_FORMAT`: `human` or `json`.
    pub log_format: LogFormat,
    /// `UPDRAFT_LOG`: a `tracing` filter such as `info` or `updraft_server=debug`.
    pub log: String,
    /// `UPDRAFT_WORKERS`: HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// `UPDRAFT_DB_POOL_SIZE`: database connections.
    pub db_pool_size: u32,
    /// `UPDRAFT_POLL_FLUSH_INTERVAL_MS`: device poll times are written in batches this often.
    pub poll_flush_interval_ms: u64,
    /// `UPDRAFT_MAX_BODY_SIZE`: largest JSON request body in bytes (413 above).
    pub max_body_size: usize,
    /// `UPDRAFT_MAX_ARTIFACT_SIZE`: largest artifact upload in bytes (413 above); hawkBit's default 1 GiB.
    pub max_artifact_size: u64,
    /// `UPDRAFT_TRACK_REMOTE_IP`: store the device address (`http://<ip>`) on poll.
    pub track_remote_ip: bool,
    /// Tenants whose devices may read any artifact of the tenant, as hawkBit's
    /// `hawkbit.ddi.skip-artifact-access-check.tenants` (`*` for all). Empty: the access check applies.
    pub skip_artifact_access_check_tenants: Vec<String>,
    /// hawkBit's per-client-IP request limiter (`hawkbit.server.security.dos.filter.*`).
    pub dos_filter: DosFilterConfig,
    /// Shortest and longest polling interval a tenant may configure (`HH:MM:SS`).
    pub min_polling_time: String,
    pub max_polling_time: String,
    /// hawkBit's `hawkbit.server.security.dos.*` quotas; `<= 0` disables one.
    pub quotas: Quotas,
    /// `UPDRAFT_LEGACY_STATUS_CODES`: answer the Management API as hawkBit ≤ 0.9 did, for old scripts
    /// that check exact codes: 200 instead of 204 for body-less successes, 403 instead of 429 for quotas.
    pub legacy_status_codes: bool,
    /// `UPDRAFT_SCHEDULER_INTERVAL_MS`: how often background work runs (scheduled rollout starts,
    /// rollout evaluation sweeps, auto-assignment, timeouts, cleanup). Rollouts are also evaluated as
    /// soon as their devices report, and new targets auto-assigned as soon as they register.
    /// `0` turns this process's background work off (other nodes on the same database do it).
    pub scheduler_interval_ms: u64,
    /// `UPDRAFT_ACTION_TIMEOUT_SECS`: an open action without device feedback for this long is closed
    /// as an error (`0`: never), so a silent device cannot hold up a rollout.
    pub action_timeout_secs: u64,
    /// `UPDRAFT_ACTION_RETENTION_DAYS`: closed actions (finished, error, canceled) older than this are
    /// deleted with their status history (`0`: kept forever). A target's installing action stays.
    pub action_retention_days: u64,
    /// `[dmf]`: hawkBit's Device Management Federation API over AMQP (off by default).
    pub dmf: DmfConfig,
}

/// hawkBit's Device Management Federation API over AMQP 0-9-1 (RabbitMQ): the broker to connect
/// to. The exchanges and queues are hawkBit's (`dmf.exchange`, `dmf_receiver`, ...), so gateways
/// written for hawkBit connect unchanged.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DmfConfig {
    /// `UPDRAFT_DMF_ENABLED`: connect to the broker and serve DMF.
    pub enabled: bool,
    /// `UPDRAFT_DMF_URL`: `amqp://user:pass@host:5672/vhost` or `amqps://…`; the vhost is the one
    /// reply-to exchanges are looked up in (`%2f` is the default vhost `/`).
    pub url: String,
    /// `UPDRAFT_DMF_DOWNLOAD_URL`: base of the DDI download links put in DOWNLOAD_AND_INSTALL
    /// messages, e.g. `https://ota.example.com`; `external_url` if unset, else
    /// `http://localhost:<listen port>`.
    pub download_url: Option<String>,
    /// `UPDRAFT_DMF_PREFETCH`: unacknowledged inbound messages the broker hands this node at once
    /// (hawkBit's default 250).
    pub prefetch: u16,
}

impl Default for DmfConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            download_url: None,
            prefetch: 250,
        }
    }
}

impl DmfConfig {
    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = var("UPDRAFT_DMF_ENABLED") {
            self.enabled = v
                .parse()
                .map_err(|_| anyhow::anyhow!("UPDRAFT_DMF_ENABLED={v:?} must be `true` or `false`"))?;
        }
        if let Some(v) = var("UPDRAFT_DMF_URL") {
            self.url = v;
        }
        if let Some(v) = var("UPDRAFT_DMF_DOWNLOAD_URL") {
            self.download_url = Some(v);
        }
        if let Some(v) = var("UPDRAFT_DMF_PREFETCH") {
            self.prefetch = v
                .parse()
                .map_err(|_| anyhow::anyhow!("UPDRAFT_DMF_PREFETCH={v:?} is not a number up to 65535"))?;
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.enabled && !(self.url.starts_with("amqp://") || self.url.starts_with("amqps://")) {
            bail!("dmf.url must start with amqp:// or amqps://");
        }
        if let Some(url) = &self.download_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("dmf.download_url = {url:?} must start with http:// or https://");
        }
        if self.prefetch == 0 {
            bail!("dmf.prefetch must be at least 1");
        }
        Ok(())
    }
}

/// Requests per second and client IP above which hawkBit answers 429. Clients in private and
/// loopback ranges are never limited (hawkBit's default whitelist); behind a proxy listed in
/// `trusted_proxies` the client IP is the address it forwarded (`X-Forwarded-For`), else the peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DosFilterConfig {
    pub enabled: bool,
    /// GET/HEAD requests per second and client.
    pub max_read: u32,
    /// Other requests per second and client.
    pub max_write: u32,
    /// Client IPs refused outright with 403 (hawkBit's `clients.blacklist`).
    pub blacklist: Vec<String>,
    /// Also limit private and loopback addresses (off in hawkBit; tests turn it on).
    pub limit_private: bool,
}

impl Default for DosFilterConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_read: 200,
            max_write: 50,
            blacklist: Vec::new(),
            limit_private: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Quotas {
    pub max_status_entries_per_action: i64,
    pub max_messages_per_action_status: i64,
    pub max_attribute_entries_per_target: i64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            max_status_entries_per_action: 1000,
            max_messages_per_action_status: 50,
            max_attribute_entries_per_target: 100,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            data_dir: PathBuf::from("./updraft-data"),
            database_url: None,
            external_url: None,
            trusted_proxies: Vec::new(),
            admin_password: None,
            log_format: LogFormat::Human,
            log: "info".into(),
            workers: None,
            db_pool_size: 8,
            poll_flush_interval_ms: 10_000,
            max_body_size: 512 * 1024,
            max_artifact_size: 1 << 30,
            track_remote_ip: true,
            legacy_status_codes: false,
            skip_artifact_access_check_tenants: Vec::new(),
            dos_filter: DosFilterConfig::default(),
            min_polling_time: "00:00:30".into(),
            max_polling_time: "23:59:59".into(),
            quotas: Quotas::default(),
            scheduler_interval_ms: 2000,
            action_timeout_secs: 0,
            action_retention_days: 0,
            dmf: DmfConfig::default(),
        }
    }
}

impl Config {
    /// Loads the file (if given) and applies the environment on top.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => Self::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parse<T: std::str::FromStr>(name: &str, v: &str) -> anyhow::Result<T> {
            v.parse()
                .map_err(|_| anyhow::anyhow!("{name}={v:?} is not a valid value"))
        }
        if let Some(v) = var("UPDRAFT_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = var("UPDRAFT_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("UPDRAFT_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = var("UPDRAFT_EXTERNAL_URL") {
            self.external_url = Some(v);
        }
        if let Some(v) = var("UPDRAFT_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    s.parse()
                        .map_err(|e| anyhow::anyhow!("UPDRAFT_TRUSTED_PROXIES: {e}"))
                })
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(v) = var("UPDRAFT_ADMIN_PASSWORD") {
            self.admin_password = Some(v);
        }
        if let Some(v) = var("UPDRAFT_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "human" => LogFormat::Human,
                "json" => LogFormat::Json,
                _ => bail!("UPDRAFT_LOG_FORMAT={v:?} must be `human` or `json`"),
            };
        }
        if let Some(v) = var("UPDRAFT_LOG") {
            self.log = v;
        }
        if let Some(v) = var("UPDRAFT_WORKERS") {
            self.workers = Some(parse("UPDRAFT_WORKERS", &v)?);
        }
        if let Some(v) = var("UPDRAFT_DB_POOL_SIZE") {
            self.db_pool_size = parse("UPDRAFT_DB_POOL_SIZE", &v)?;
        }
        if let Some(v) = var("UPDRAFT_POLL_FLUSH_INTERVAL_MS") {
            self.poll_flush_interval_ms = parse("UPDRAFT_POLL_FLUSH_INTERVAL_MS", &v)?;
        }
        if let Some(v) = var("UPDRAFT_MAX_BODY_SIZE") {
            self.max_body_size = parse("UPDRAFT_MAX_BODY_SIZE", &v)?;
        }
        if let Some(v) = var("UPDRAFT_MAX_ARTIFACT_SIZE") {
            self.max_artifact_size = parse("UPDRAFT_MAX_ARTIFACT_SIZE", &v)?;
        }
        if let Some(v) = var("UPDRAFT_LEGACY_STATUS_CODES") {
            self.legacy_status_codes = parse("UPDRAFT_LEGACY_STATUS_CODES", &v)?;
        }
        if let Some(v) = var("UPDRAFT_TRACK_REMOTE_IP") {
            self.track_remote_ip = parse("UPDRAFT_TRACK_REMOTE_IP", &v)?;
        }
        if let Some(v) = var("UPDRAFT_SCHEDULER_INTERVAL_MS") {
            self.scheduler_interval_ms = parse("UPDRAFT_SCHEDULER_INTERVAL_MS", &v)?;
        }
        if let Some(v) = var("UPDRAFT_ACTION_TIMEOUT_SECS") {
            self.action_timeout_secs = parse("UPDRAFT_ACTION_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = var("UPDRAFT_ACTION_RETENTION_DAYS") {
            self.action_retention_days = parse("UPDRAFT_ACTION_RETENTION_DAYS", &v)?;
        }
        if let Some(v) = var("UPDRAFT_MIN_POLLING_TIME") {
            self.min_polling_time = v;
        }
        self.dmf.apply_env(var)?;
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        for (name, v) in [
            ("min_polling_time", &self.min_polling_time),
            ("max_polling_time", &self.max_polling_time),
        ] {
            if crate::polling::parse_hms(v).is_none() {
                bail!("{name} = {v:?} is not HH:MM:SS");
            }
        }
        if let Some(url) = &self.external_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("external_url = {url:?} must start with http:// or https://");
        }
        if self.db_pool_size == 0 {
            bail!("db_pool_size must be at least 1");
        }
        self.dmf.validate()
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| self.data_dir.join("updraft.db").to_string_lossy().into_owned())
    }

    pub fn min_polling(&self) -> Duration {
        crate::polling::parse_hms(&self.min_polling_time).unwrap_or(Duration::from_secs(30))
    }

    pub fn max_polling(&self) -> Duration {
        crate::polling::parse_hms(&self.max_polling_time).unwrap_or(Duration::from_secs(86_399))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_values() {
        let mut c: Config = toml::from_str("listen = \"127.0.0.1:1\"\ndata_dir = \"/x\"").unwrap();
        c.apply_env(|k| (k == "UPDRAFT_LISTEN").then(|| "127.0.0.1:2".to_owned()))
            .unwrap();
        assert_eq!(c.listen, "127.0.0.1:2");
        assert_eq!(c.data_dir, PathBuf::from("/x"));
    }

    #[test]
    fn the_shipped_example_config_parses() {
        let c: Config = toml::from_str(include_str!("../dist/server.example.toml")).unwrap();
        assert_eq!(c.listen, "0.0.0.0:8080");
        assert_eq!(c.dos_filter.max_read, 200);
        assert_eq!(c.quotas.max_status_entries_per_action, 1000);
        c.validate().unwrap();
    }

    #[test]
    fn dmf_is_off_by_default_and_turned_on_by_file_or_env() {
        assert!(!Config::default().dmf.enabled);
        let c: Config = toml::from_str("[dmf]\nenabled = true\nurl = \"amqps://u:p@mq/vh\"").unwrap();
        assert!(c.dmf.enabled);
        c.validate().unwrap();
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "UPDRAFT_DMF_ENABLED" => Some("true".to_owned()),
            "UPDRAFT_DMF_URL" => Some("amqp://mq:5672/%2f".to_owned()),
            _ => None,
        })
        .unwrap();
        assert!(c.dmf.enabled);
        assert_eq!(c.dmf.url, "amqp://mq:5672/%2f");
        c.dmf.url = "http://mq".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn unknown_keys_and_bad_env_values_are_errors() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let mut c = Config::default();
        assert!(
            c.apply_env(|k| (k == "UPDRAFT_WORKERS").then(|| "many".to_owned()))
                .is_err()
        );
    }
}
