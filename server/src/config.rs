//! Server configuration: defaults, then an optional TOML file, then `UPDRAFT_*` environment variables.
//!
//! Every setting is declared once below with [`settings!`]: its TOML key, type, default, environment
//! variable and doc comment. The README's table and `updraft-server --help` are rendered from the
//! same list ([`reference`]); a test checks that the README carries the current table. A nested TOML
//! table is a struct declared with `settings!` plus one line in its parent's `sections`.

pub mod settings;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use self::settings::{Section, settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

impl settings::Value for LogFormat {
    fn parse_env(text: &str) -> Result<Self, String> {
        match text {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            _ => Err("expected `human` or `json`".into()),
        }
    }
    fn show(&self) -> String {
        match self {
            Self::Human => "`human`".into(),
            Self::Json => "`json`".into(),
        }
    }
}

settings! {
    /// The server's settings.
    pub struct Config {
        /// Address to listen on (hawkBit's port by default).
        listen: String = "0.0.0.0:8080".into() => "UPDRAFT_LISTEN";
        /// The SQLite database, the artifacts and the generated admin password live here.
        data_dir: PathBuf = PathBuf::from("./updraft-data") => "UPDRAFT_DATA_DIR";
        /// An SQLite file path or a `postgres://user@host/db` URL; unset: `<data_dir>/updraft.db`.
        database_url: Option<String> = None => "UPDRAFT_DATABASE_URL";
        /// Base URL for links when behind a proxy, e.g. `https://ota.example.com`. Unset: links
        /// follow `Forwarded` / `X-Forwarded-*` (from trusted proxies) and `Host`.
        external_url: Option<String> = None => "UPDRAFT_EXTERNAL_URL";
        /// Peers, as addresses or ranges (`["127.0.0.1", "10.0.0.0/8"]`; comma-separated in the
        /// environment), whose client-certificate headers (`X-Controller-Id`, `X-Ssl-Client-Cn`, ...)
        /// and `Forwarded` / `X-Forwarded-*` headers are believed; from anyone else these headers are
        /// removed. Empty: nobody, not even loopback (`docs/security.md`).
        trusted_proxies: Vec<crate::proxy::Cidr> = Vec::new() => "UPDRAFT_TRUSTED_PROXIES";
        /// Password of user `admin` on first start; unset: random, printed once and stored in
        /// `<data_dir>/admin-password`.
        admin_password: Option<String> = None => "UPDRAFT_ADMIN_PASSWORD";
        /// Log lines as `human` text or `json`.
        log_format: LogFormat = LogFormat::Human => "UPDRAFT_LOG_FORMAT";
        /// A `tracing` filter such as `info` or `updraft_server=debug`; one access-log line per request
        /// (`updraft_server::access`; device polls at `debug`).
        log: String = "info".into() => "UPDRAFT_LOG";
        /// HTTP worker threads; unset: one per core.
        workers: Option<usize> = None => "UPDRAFT_WORKERS";
        /// Database connections in the pool (at least 1).
        db_pool_size: u32 = 8 => "UPDRAFT_DB_POOL_SIZE";
        /// Device poll times are written in batches this often (hawkBit batches them too).
        poll_flush_interval_ms: u64 = 10_000 => "UPDRAFT_POLL_FLUSH_INTERVAL_MS";
        /// Largest JSON request body in bytes (413 above; 512 KiB).
        max_body_size: usize = 512 * 1024 => "UPDRAFT_MAX_BODY_SIZE";
        /// Largest artifact upload in bytes (413 above; hawkBit's 1 GiB).
        max_artifact_size: u64 = 1 << 30 => "UPDRAFT_MAX_ARTIFACT_SIZE";
        /// Store the device's address (`http://<ip>`) on each poll.
        track_remote_ip: bool = true => "UPDRAFT_TRACK_REMOTE_IP";
        /// Tenants whose devices may read any artifact of the tenant, as hawkBit's
        /// `hawkbit.ddi.skip-artifact-access-check.tenants` (`*` for all). Empty: the check applies.
        skip_artifact_access_check_tenants: Vec<String> = Vec::new()
            => "UPDRAFT_SKIP_ARTIFACT_ACCESS_CHECK_TENANTS";
        /// Shortest polling interval a tenant may configure (`HH:MM:SS`).
        min_polling_time: String = "00:00:30".into() => "UPDRAFT_MIN_POLLING_TIME";
        /// Longest polling interval a tenant may configure (`HH:MM:SS`).
        max_polling_time: String = "23:59:59".into() => "UPDRAFT_MAX_POLLING_TIME";
        /// Answer the Management API as hawkBit ≤ 0.9 did, for old scripts that check exact codes:
        /// 200 instead of 204 for body-less successes, 403 instead of 429 for quotas.
        legacy_status_codes: bool = false => "UPDRAFT_LEGACY_STATUS_CODES";
        /// How often background work runs (scheduled rollout starts, rollout sweeps, auto-assignment,
        /// timeouts, cleanup); rollouts are also evaluated as soon as their devices report. `0`: no
        /// background work in this process (other nodes on the same database do it).
        scheduler_interval_ms: u64 = 2000 => "UPDRAFT_SCHEDULER_INTERVAL_MS";
        /// An open action without device feedback for this long is closed as an error, so a silent
        /// device cannot hold up a rollout (`0`: never). An action with a maintenance window counts
        /// its silence only inside an open window.
        action_timeout_secs: u64 = 0 => "UPDRAFT_ACTION_TIMEOUT_SECS";
        /// Closed actions (finished, error, canceled) older than this are deleted with their status
        /// history (`0`: kept forever); a target's installed action stays.
        action_retention_days: u64 = 0 => "UPDRAFT_ACTION_RETENTION_DAYS";
        /// Fleet-health events (rollbacks, trial outcomes, health changes; the fleet figures and each
        /// device's trial history) older than this are deleted (`0`: kept forever). The longest
        /// window the figures take is 366 days.
        health_event_retention_days: u64 = 400 => "UPDRAFT_HEALTH_EVENT_RETENTION_DAYS";
        /// Audit-log entries (who did what, when: logins, assignments, rollouts, deletions, settings,
        /// users) older than this are deleted, at most once an hour (`0`: kept forever).
        audit_retention_days: u64 = 365 => "UPDRAFT_AUDIT_RETENTION_DAYS";
        /// Where artifacts live: `fs` (under the data dir) or `s3` (the `[s3]` bucket).
        storage: crate::storage::StorageKind = crate::storage::StorageKind::Fs => "UPDRAFT_STORAGE";
        /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>` (401
        /// otherwise); unset: anyone who reaches the server may scrape it.
        metrics_token: Option<String> = None => "UPDRAFT_METRICS_TOKEN";
        /// On SIGTERM or Ctrl-C, requests in flight get this long to finish (new connections are
        /// refused at once); then background work stops and queued poll times are written.
        shutdown_timeout_secs: u64 = 30 => "UPDRAFT_SHUTDOWN_TIMEOUT_SECS";
    }
    sections {
        /// hawkBit's per-client-IP request limiter (`hawkbit.server.security.dos.filter.*`).
        dos_filter: DosFilterConfig,
        /// hawkBit's `hawkbit.server.security.dos.*` quotas.
        quotas: Quotas,
        /// The S3-compatible bucket for `storage = "s3"`.
        s3: crate::storage::S3Settings,
        /// hawkBit's Device Management Federation API over AMQP (off by default).
        dmf: DmfConfig,
    }
}

settings! {
    /// Requests per second and client IP above which hawkBit answers 429. Clients in private and
    /// loopback ranges are never limited (hawkBit's default whitelist); behind a proxy listed in
    /// `trusted_proxies` the client IP is the address it forwarded (`X-Forwarded-For`), else the peer.
    pub struct DosFilterConfig {
        /// Limit requests per public client IP (hawkBit's DoS filter).
        enabled: bool = true => "UPDRAFT_DOS_FILTER_ENABLED";
        /// GET/HEAD requests per second and client.
        max_read: u32 = 200 => "UPDRAFT_DOS_FILTER_MAX_READ";
        /// Other requests per second and client.
        max_write: u32 = 50 => "UPDRAFT_DOS_FILTER_MAX_WRITE";
        /// Client IPs refused outright with 403 (hawkBit's `clients.blacklist`, e.g. `203.0.113.*`).
        blacklist: Vec<String> = Vec::new() => "UPDRAFT_DOS_FILTER_BLACKLIST";
        /// Also limit private and loopback addresses (off in hawkBit; tests turn it on).
        limit_private: bool = false => "UPDRAFT_DOS_FILTER_LIMIT_PRIVATE";
    }
}

settings! {
    /// hawkBit's quotas under their hawkBit names; `<= 0` disables one.
    pub struct Quotas {
        /// Status entries one action may collect from its device (`<= 0`: no limit).
        #[key = "maxStatusEntriesPerAction"]
        max_status_entries_per_action: i64 = 1000 => "UPDRAFT_QUOTAS_MAX_STATUS_ENTRIES_PER_ACTION";
        /// Messages in one status entry (`<= 0`: no limit).
        #[key = "maxMessagesPerActionStatus"]
        max_messages_per_action_status: i64 = 50 => "UPDRAFT_QUOTAS_MAX_MESSAGES_PER_ACTION_STATUS";
        /// Attributes one target may have (`<= 0`: no limit).
        #[key = "maxAttributeEntriesPerTarget"]
        max_attribute_entries_per_target: i64 = 100
            => "UPDRAFT_QUOTAS_MAX_ATTRIBUTE_ENTRIES_PER_TARGET";
    }
}

/// Every setting with its variable, default and meaning, in declaration order.
pub fn reference() -> Vec<settings::Row> {
    let mut rows = Vec::new();
    Config::default().rows("", &mut rows);
    rows
}

settings! {
    /// hawkBit's Device Management Federation API over AMQP 0-9-1 (RabbitMQ): the broker to connect
    /// to. The exchanges and queues are hawkBit's (`dmf.exchange`, `dmf_receiver`, ...), so gateways
    /// written for hawkBit connect unchanged.
    pub struct DmfConfig {
        /// Connect to the broker and serve DMF.
        enabled: bool = false => "UPDRAFT_DMF_ENABLED";
        /// `amqp://user:pass@host:5672/vhost` or `amqps://…`; the vhost is the one reply-to
        /// exchanges are looked up in (`%2f` is the default vhost `/`).
        url: String = "amqp://guest:guest@127.0.0.1:5672/%2f".into() => "UPDRAFT_DMF_URL";
        /// Base of the DDI download links put in DOWNLOAD_AND_INSTALL messages, e.g.
        /// `https://ota.example.com`; `external_url` if unset, else `http://localhost:<listen port>`.
        download_url: Option<String> = None => "UPDRAFT_DMF_DOWNLOAD_URL";
        /// Unacknowledged inbound messages the broker hands this node at once (hawkBit's 250).
        prefetch: u16 = 250 => "UPDRAFT_DMF_PREFETCH";
    }
}

impl DmfConfig {
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
        config.apply_env(&|k| std::env::var(k).ok())?;
        config.validate()?;
        Ok(config)
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
        if self.storage == crate::storage::StorageKind::S3 {
            crate::storage::settings::validate(&self.s3, self.max_artifact_size)?;
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

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn env_overrides_file_values() {
        let mut c: Config = toml::from_str("listen = \"127.0.0.1:1\"\ndata_dir = \"/x\"").unwrap();
        c.apply_env(&env(&[("UPDRAFT_LISTEN", "127.0.0.1:2")])).unwrap();
        assert_eq!(c.listen, "127.0.0.1:2");
        assert_eq!(c.data_dir, PathBuf::from("/x"));
    }

    #[test]
    fn sections_and_lists_take_env_values_too() {
        let mut c = Config::default();
        c.apply_env(&env(&[
            ("UPDRAFT_DOS_FILTER_MAX_READ", "7"),
            ("UPDRAFT_DOS_FILTER_BLACKLIST", "203.0.113.1, 198.51.100.*"),
            ("UPDRAFT_QUOTAS_MAX_ATTRIBUTE_ENTRIES_PER_TARGET", "3"),
            ("UPDRAFT_MAX_POLLING_TIME", "01:00:00"),
            ("UPDRAFT_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8"),
            ("UPDRAFT_WORKERS", ""),
        ]))
        .unwrap();
        assert_eq!(c.dos_filter.max_read, 7);
        assert_eq!(c.dos_filter.blacklist, ["203.0.113.1", "198.51.100.*"]);
        assert_eq!(c.quotas.max_attribute_entries_per_target, 3);
        assert_eq!(c.max_polling(), Duration::from_secs(3600));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.workers, None);
    }

    #[test]
    fn the_shipped_example_config_parses_and_shows_every_key() {
        let text = include_str!("../dist/server.example.toml");
        let c: Config = toml::from_str(text).unwrap();
        assert_eq!(c.listen, "0.0.0.0:8080");
        assert_eq!(c.dos_filter.max_read, 200);
        assert_eq!(c.quotas.max_status_entries_per_action, 1000);
        c.validate().unwrap();
        for row in reference() {
            let key = row.key.rsplit('.').next().unwrap_or(&row.key);
            assert!(
                text.contains(&format!("{key} =")),
                "server.example.toml lacks `{}`",
                row.key
            );
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_that_say_what_is_wrong() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        let e = toml::from_str::<Config>("[dos_filter]\nmax_reads = 1").unwrap_err();
        assert!(e.to_string().contains("max_reads"), "{e}");
        let e = toml::from_str::<Config>("db_pool_size = \"many\"").unwrap_err();
        assert!(e.to_string().contains("db_pool_size"), "{e}");
        let mut c = Config::default();
        let e = c.apply_env(&env(&[("UPDRAFT_WORKERS", "many")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "UPDRAFT_WORKERS=\"many\" is not a valid value: expected a whole number from 0 to 18446744073709551615"
        );
        let e = c.apply_env(&env(&[("UPDRAFT_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(e.to_string().contains("expected `human` or `json`"), "{e}");
    }

    #[test]
    fn every_setting_has_its_own_updraft_variable() {
        let rows = reference();
        let mut envs: Vec<&str> = rows.iter().map(|r| r.env).collect();
        assert!(envs.iter().all(|e| e.starts_with("UPDRAFT_")), "{envs:?}");
        envs.sort_unstable();
        envs.dedup();
        assert_eq!(envs.len(), rows.len(), "two settings share a variable");
        assert!(
            rows.iter().all(|r| !r.help_text().is_empty()),
            "a setting lacks its doc comment"
        );
    }

    /// The README carries the table `updraft-server settings --markdown` prints; after adding a
    /// setting, paste that output over the old table.
    #[test]
    fn the_readme_table_is_the_generated_one() {
        let table = settings::markdown(&reference());
        assert!(
            include_str!("../../README.md").contains(&table),
            "README.md's configuration table is out of date; replace it with the output of \
             `updraft-server settings --markdown`:\n{table}"
        );
    }
}
