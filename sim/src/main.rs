//! `updraft-sim`: a fleet of simulated hawkBit DDI devices against updraft-server or hawkBit.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use updraft_sim::duration::parse_duration;
use updraft_sim::{DeviceAuth, FleetConfig, StopWhen};

/// Simulate a fleet of hawkBit DDI devices: each polls, follows deploymentBase, cancelAction,
/// confirmationBase and configData links, downloads and hash-checks artifacts, and reports
/// feedback. Prints a summary (or JSON) at the end; exits 1 on HTTP errors, hash mismatches
/// or when --until-done/--until-idle/--until-polls/--until-registered is not reached within
/// --duration.
#[derive(Parser, Debug)]
#[command(name = "updraft-sim", version, after_help = EXAMPLES)]
struct Args {
    /// How devices reach the server: DDI (each polls over HTTP) or DMF (behind one gateway on
    /// RabbitMQ, hawkBit's Device Management Federation API; --server is then where artifacts are
    /// downloaded from).
    #[arg(long, value_enum, default_value = "ddi")]
    api: Api,
    /// With --api dmf: the broker the server's DMF is connected to.
    #[arg(
        long,
        env = "UPDRAFT_SIM_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Server base URL.
    #[arg(long, env = "UPDRAFT_SIM_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// More server URLs; device i talks to the (i mod n)-th of --server and these.
    #[arg(long = "also-server", value_name = "URL")]
    also_servers: Vec<String>,
    /// Tenant in the DDI path (`/{tenant}/controller/v1/{id}`).
    #[arg(long, default_value = "DEFAULT")]
    tenant: String,
    /// Number of devices.
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Controller ids are <prefix><index, 5 digits>.
    #[arg(long, default_value = "sim-")]
    id_prefix: String,
    /// Index of the first device, to split a fleet over several simulators.
    #[arg(long, default_value_t = 0)]
    first_index: usize,
    /// Authenticate with the tenant's gateway token (devices register on their first poll).
    #[arg(long, env = "UPDRAFT_SIM_GATEWAY_TOKEN", conflicts_with = "target_token")]
    gateway_token: Option<String>,
    /// Authenticate with a target token; `{id}` is replaced by the controller id.
    #[arg(long, value_name = "TEMPLATE")]
    target_token: Option<String>,
    /// Poll at this interval instead of the server's polling sleep (e.g. 500ms, 10s).
    #[arg(long, value_parser = parse_duration)]
    poll_interval: Option<Duration>,
    /// Time "installing" between download and final feedback.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    feedback_delay: Duration,
    /// Fraction of devices (0.0 to 1.0) that report their updates as failed.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    failure_rate: f64,
    /// These controller ids fail (comma separated); overrides --failure-rate.
    #[arg(long, value_delimiter = ',')]
    fail_ids: Vec<String>,
    /// Report A/B slot state as `updraft.*` attributes: before each success the new slot in
    /// `updraft.slot.booted` and `updraft.health=ok` (implied by the rollback, silent and unhealthy options).
    #[arg(long)]
    slots: bool,
    /// Fraction of devices (0.0 to 1.0) that roll back --rollback-after each success: they report
    /// `updraft.slot.booted` back to the old slot and `updraft.rollback_reason=watchdog`.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    rollback_fraction: f64,
    /// These controller ids roll back (comma separated); overrides --rollback-fraction.
    #[arg(long, value_delimiter = ',')]
    rollback_ids: Vec<String>,
    /// Time from a success to the rollback of a rolling-back device.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    rollback_after: Duration,
    /// Fraction of devices (0.0 to 1.0) that stop polling for good after their first success.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    silent_fraction: f64,
    /// These controller ids go silent after their first success (comma separated); overrides
    /// --silent-fraction.
    #[arg(long, value_delimiter = ',')]
    silent_ids: Vec<String>,
    /// Fraction of devices (0.0 to 1.0) whose health check fails on the new image: with each
    /// success they report `updraft.health=failed: disk` (and keep polling).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    unhealthy_fraction: f64,
    /// These controller ids report failed health (comma separated); overrides
    /// --unhealthy-fraction.
    #[arg(long, value_delimiter = ',')]
    unhealthy_ids: Vec<String>,
    /// Report success without downloading artifacts.
    #[arg(long)]
    no_download: bool,
    /// Maximum HTTP requests in flight across the fleet (also the connection pool size).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Seed for choosing the failing devices.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Attribute sent with configData, KEY=VALUE; repeat for more.
    #[arg(long = "attribute", value_name = "KEY=VALUE", value_parser = parse_attribute)]
    attributes: Vec<(String, String)>,
    /// Spread the first polls over this time.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    ramp_up: Duration,
    /// Run this long (also the timeout of --until-done, --until-idle and --until-polls).
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    duration: Duration,
    /// Stop once every device has finished this many actions.
    #[arg(long, value_name = "N", conflicts_with = "until_idle")]
    until_done: Option<usize>,
    /// Stop once no device has seen an action for this long.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", conflicts_with = "until_polls")]
    until_idle: Option<Duration>,
    /// Stop once every device has polled this many times (e.g. 1 to register a fleet).
    #[arg(long, value_name = "N", conflicts_with = "until_done")]
    until_polls: Option<u64>,
    /// Stop once every device has registered (first poll, and the configData PUT the server asks
    /// a new device for); each device stops polling once registered. A registration storm:
    /// devices per second is devices / elapsed.
    #[arg(long, conflicts_with_all = ["until_done", "until_idle", "until_polls"])]
    until_registered: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// With --json, include every device's actions.
    #[arg(long, requires = "json")]
    per_device: bool,
}

const EXAMPLES: &str = "Examples:
  updraft-sim --server http://127.0.0.1:8080 --devices 1000 --gateway-token T \\
      --poll-interval 1s --failure-rate 0.1 --feedback-delay 2s --duration 60s
  updraft-sim --devices 50 --gateway-token T --until-done 1 --duration 5m --json
  updraft-sim --devices 100 --gateway-token T --rollback-fraction 0.1 --rollback-after 10m \\
      --silent-fraction 0.05 --duration 1h     # a bad image: rollbacks and silence after success
  updraft-sim --api dmf --amqp-url amqp://guest:guest@127.0.0.1:5672/%2f --devices 1000 \\
      --until-done 1 --duration 10m";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Ddi,
    Dmf,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("`{s}` is not a fraction between 0.0 and 1.0")),
    }
}

/// A list of controller ids given on the command line; none given is no list.
fn id_set(ids: Vec<String>) -> Option<HashSet<String>> {
    (!ids.is_empty()).then(|| ids.into_iter().collect())
}

fn parse_attribute(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let auth = match (args.gateway_token, args.target_token) {
        (Some(key), _) => DeviceAuth::GatewayToken(key),
        (None, Some(template)) => {
            DeviceAuth::TargetToken(Arc::new(move |id: &str| template.replace("{id}", id)))
        }
        (None, None) => DeviceAuth::None,
    };
    let servers = if args.also_servers.is_empty() {
        Vec::new()
    } else {
        std::iter::once(args.server.clone())
            .chain(args.also_servers)
            .collect()
    };
    let config = FleetConfig {
        server: args.server,
        tenant: args.tenant,
        devices: args.devices,
        id_prefix: args.id_prefix,
        first_index: args.first_index,
        auth,
        servers,
        poll_interval: args.poll_interval,
        feedback_delay: args.feedback_delay,
        failure_rate: args.failure_rate,
        fail_ids: id_set(args.fail_ids),
        download: !args.no_download,
        concurrency: args.concurrency as usize,
        seed: args.seed,
        attributes: (!args.attributes.is_empty())
            .then(|| args.attributes.into_iter().collect::<BTreeMap<_, _>>()),
        ramp_up: args.ramp_up,
        slots: args.slots,
        rollback_after: args.rollback_after,
        rollback_fraction: args.rollback_fraction,
        rollback_ids: id_set(args.rollback_ids),
        silent_fraction: args.silent_fraction,
        silent_ids: id_set(args.silent_ids),
        unhealthy_fraction: args.unhealthy_fraction,
        unhealthy_ids: id_set(args.unhealthy_ids),
        ..FleetConfig::default()
    };
    let stop = match (args.until_done, args.until_idle, args.until_polls) {
        _ if args.until_registered => StopWhen::Registered {
            timeout: args.duration,
        },
        (Some(per_device), _, _) => StopWhen::ActionsDone {
            per_device,
            timeout: args.duration,
        },
        (None, Some(for_), _) => StopWhen::Idle {
            for_,
            timeout: args.duration,
        },
        (None, None, Some(per_device)) => StopWhen::Polls {
            per_device,
            timeout: args.duration,
        },
        (None, None, None) => StopWhen::After(args.duration),
    };
    let mut report = match args.api {
        Api::Ddi => updraft_sim::run_blocking(config, stop),
        Api::Dmf => updraft_sim::dmf::run_blocking(config, &args.amqp_url, stop),
    };
    if args.json {
        if !args.per_device {
            report.per_device.clear();
        }
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("updraft-sim: cannot write the report as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        println!("{report}");
    }
    if report.http_errors > 0 || report.hash_mismatches > 0 || report.timed_out {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
