//! The client configuration, `/etc/updraft/updraft.toml` (`--config` or `UPDRAFT_CONFIG` override
//! the path). Every key is documented on its field; `client/dist/updraft.example.toml` shows them all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::journal::JournalStore;
use crate::slots::tryboot::MarkerFile;
use crate::slots::uboot::EnvLayout;
use crate::slots::{GrubEnv, RealFs, RpiTryboot, SimBootloader, Slot, SlotBackend, Storage, UbootEnv};

/// Where the config is read from when neither `--config` nor `UPDRAFT_CONFIG` is given.
pub const DEFAULT_PATH: &str = "/etc/updraft/updraft.toml";

/// SWUpdate's hardware revision file: one line `board revision`.
pub const HWREVISION_FILE: &str = "/etc/hwrevision";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[bootloader]`: which backend switches slots, and its files.
    pub bootloader: Bootloader,
    /// `[slots.a]` and `[slots.b]`: where each slot's image goes.
    pub slots: Slots,
    /// `[bundle]`: how bundles are verified and which part of them this device installs.
    #[serde(default)]
    pub bundle: BundleConfig,
    /// `[device]`: what is running now.
    #[serde(default)]
    pub device: Device,
    /// Directory for the update journal (`journal.json`) and the last install result
    /// (`last-install.json`); on the data partition, shared by both slots. Default `/var/lib/updraft`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `[server]`: the hawkBit-compatible server `updraft agent` polls. Optional for local installs.
    pub server: Option<ServerConfig>,
    /// `[agent]`: health check, reboot, device attributes and consent for `updraft agent`.
    #[serde(default)]
    pub agent: AgentConfig,
}

/// `[server]`: where and as whom the agent polls (hawkBit DDI v1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Base URL, e.g. `https://ota.example.com` (the DDI paths are appended).
    pub url: String,
    /// The tenant. Default `DEFAULT`.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// This device's controller id. Default: the host name.
    pub controller_id: Option<String>,
    /// Target security token (`Authorization: TargetToken ...`), or a file holding it.
    pub target_token: Option<String>,
    pub target_token_file: Option<PathBuf>,
    /// Gateway token (`Authorization: GatewayToken ...`), when the server has one instead.
    pub gateway_token: Option<String>,
    /// PEM file of the CA to trust for `https` besides the system's.
    pub ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Seconds between polls until the server names its interval. Default 60.
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
    /// How often an interrupted download is resumed (HTTP Range) before the update fails. Default 10.
    #[serde(default = "default_download_retries")]
    pub download_retries: u32,
}

/// `[agent]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Command (`sh -c`) run after a trial boot: exit 0 commits the new slot, anything else (or the
    /// timeout) rolls back. Without it the trial is healthy when the agent starts.
    pub health_check: Option<String>,
    /// Seconds the health check may take. Default 300.
    #[serde(default = "default_health_timeout")]
    pub health_timeout_secs: u64,
    /// Post-commit health window: for this many seconds after an update was committed, the agent
    /// keeps running `health_check` every `health_interval_secs` and reports the verdict as the
    /// `updraft.health` attribute (`ok` or `failed: <reason>`), so a rollout's soak time sees a slot
    /// that turns bad after its commit. Default 0: off.
    #[serde(default)]
    pub health_window_secs: u64,
    /// Seconds between health checks during the health window. Default 60.
    #[serde(default = "default_health_interval")]
    pub health_interval_secs: u64,
    /// Command (`sh -c`) that reboots into the armed slot. Default `systemctl reboot`; with the sim
    /// backend the default only records the request in `<state_dir>/reboot-requested` (never the
    /// host's reboot), carried out by `updraft sim reboot`. An empty string leaves the reboot to
    /// someone else (the agent reports and waits).
    #[serde(default = "default_reboot_command")]
    pub reboot_command: String,
    /// Device attributes reported to the server (`configData`).
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// Command (`sh -c`) printing more attributes as `key=value` lines.
    pub attributes_command: Option<String>,
    /// Confirm actions that ask for the device's consent (hawkBit's confirmation flow). Default true;
    /// false denies them.
    #[serde(default = "default_true")]
    pub confirm: bool,
    /// A file whose content changes on every boot. Default `/proc/sys/kernel/random/boot_id`; with
    /// the sim backend `<state_dir>/boot-id`, which each simulated boot rewrites.
    #[serde(default = "default_boot_id_file")]
    pub boot_id_file: PathBuf,
    /// Directory of Mender-style state scripts (`Download_Enter_10_check`, ...); `agent/state_scripts.rs`.
    pub state_scripts_dir: Option<PathBuf>,
    /// Directory of inventory executables printing `key=value` attributes; `agent/inventory.rs`.
    pub inventory_dir: Option<PathBuf>,
    /// Seconds one state or inventory script may run before it is killed and counts as failed. Default 60.
    #[serde(default = "default_script_timeout")]
    pub script_timeout_secs: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            health_check: None,
            health_timeout_secs: default_health_timeout(),
            health_window_secs: 0,
            health_interval_secs: default_health_interval(),
            reboot_command: default_reboot_command(),
            attributes: std::collections::BTreeMap::new(),
            attributes_command: None,
            confirm: true,
            boot_id_file: default_boot_id_file(),
            state_scripts_dir: None,
            inventory_dir: None,
            script_timeout_secs: default_script_timeout(),
        }
    }
}

fn default_tenant() -> String {
    "DEFAULT".into()
}
fn default_poll_secs() -> u64 {
    60
}
fn default_download_retries() -> u32 {
    10
}
fn default_health_timeout() -> u64 {
    300
}
fn default_health_interval() -> u64 {
    60
}
fn default_reboot_command() -> String {
    "systemctl reboot".into()
}
fn default_boot_id_file() -> PathBuf {
    PathBuf::from("/proc/sys/kernel/random/boot_id")
}
fn default_script_timeout() -> u64 {
    60
}
fn default_true() -> bool {
    true
}

/// `path` as one single-quoted `sh` word.
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/updraft")
}

/// `[bootloader] backend = "sim" | "uboot" | "grub" | "rpi-tryboot"` plus that backend's keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Bootloader {
    /// The simulated bootloader (tests, demos): its state lives in `state_dir`.
    Sim {
        /// Directory holding `sim-state.json` and `sim-booted.json`.
        state_dir: PathBuf,
    },
    /// U-Boot with the `boot.scr` of the `slots::uboot` docs.
    Uboot {
        /// A `fw_env.config` to take the env layout from (one line single, two lines redundant).
        /// Either this or `env_file` + `env_size`.
        fw_env_config: Option<PathBuf>,
        /// A single (non-redundant) env: the file or device holding it, at offset 0.
        env_file: Option<PathBuf>,
        /// Size of the env in bytes (with `env_file`). Default 0x4000.
        env_size: Option<usize>,
        /// Where `updraft.slot=` is read from. Default `/proc/cmdline`.
        cmdline: Option<PathBuf>,
        /// Lock file shared with `fw_setenv`. Default none.
        lock: Option<PathBuf>,
        /// Trial boots before U-Boot falls back. Default 1.
        bootlimit: Option<u32>,
    },
    /// GRUB with the `grub.cfg` of the `slots::grub` docs.
    Grub {
        /// The `grubenv` file, e.g. `/boot/efi/EFI/updraft/grubenv`.
        grubenv: PathBuf,
        /// Where `updraft.slot=` is read from. Default `/proc/cmdline`.
        cmdline: Option<PathBuf>,
    },
    /// Raspberry Pi firmware tryboot.
    RpiTryboot {
        /// `autoboot.txt` on the mounted boot (config) partition, e.g. `/boot/firmware/autoboot.txt`.
        autoboot: PathBuf,
        /// Device-tree root. Default `/proc/device-tree`.
        device_tree: Option<PathBuf>,
        /// Marker file the reboot step turns into `reboot '0 tryboot'`. Default
        /// `<data_dir>/tryboot-pending`.
        tryboot_marker: Option<PathBuf>,
        /// Boot partition numbers of slot A and B. Default `[2, 3]`.
        partitions: Option<[u32; 2]>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slots {
    pub a: SlotConfig,
    pub b: SlotConfig,
}

impl Slots {
    pub fn get(&self, slot: Slot) -> &SlotConfig {
        match slot {
            Slot::A => &self.a,
            Slot::B => &self.b,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotConfig {
    /// The slot's block device (`/dev/mmcblk0p2`) or a regular image file. `raw` images whose
    /// `device` names it (or that name no device) are written here.
    pub device: PathBuf,
    /// Optional: directory where this slot's filesystem is mounted while it is the inactive one;
    /// `rawfile` artifacts of an install into this slot are written under it. Without it, bundles
    /// with `rawfile` artifacts are refused.
    pub files_root: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleConfig {
    /// PEM file with the trusted signer certificate or CA chain (SWUpdate `-k`). Without it,
    /// unsigned bundles are accepted: only for development.
    pub ca: Option<PathBuf>,
    /// Require this CN in the signer certificate. Optional.
    pub signer_cn: Option<String>,
    /// SWUpdate's AES key file (`-K`): `<key hex> <32 hex iv>`, the key 64, 48 or 32 hex digits for
    /// AES-256/192/128-CBC, for images marked `encrypted`. Without it, encrypted images are refused.
    pub aes_key_file: Option<PathBuf>,
    /// SWUpdate software set (`-e <set>,<mode>`): `stable` selects `stable,copy1` when installing
    /// to slot A and `stable,copy2` for slot B. Without it the top level of `software` is used.
    pub software_set: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Board name for `software.<board>` lookups. Default: the first word of `/etc/hwrevision`
    /// (SWUpdate's "board revision" line).
    pub board: Option<String>,
    /// Hardware revision checked against `hardware-compatibility`. Default: the second word of
    /// `/etc/hwrevision`; without either, the check is skipped.
    pub hardware_revision: Option<String>,
    /// The running software version. Bundles not newer than it are refused unless `--force`.
    pub version: Option<String>,
    /// A file whose first line is the running version (e.g. `/etc/sw-versions`-like), used
    /// when `version` is not set. Without both, any version is accepted.
    pub version_file: Option<PathBuf>,
    /// SWUpdate's `sw-versions` file: `name version` lines of the images installed on the device,
    /// compared with an image's `name` and `version` when sw-description marks it
    /// `install-if-different` or `install-if-higher`. Default `/etc/sw-versions`; a missing file
    /// means nothing is installed.
    pub sw_versions_file: Option<PathBuf>,
}

impl Config {
    /// The config file path: `--config`, else `UPDRAFT_CONFIG` (both handled by clap), else
    /// [`DEFAULT_PATH`].
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let path = path.unwrap_or_else(|| Path::new(DEFAULT_PATH));
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("config {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let mut config: Config = toml::from_str(text)?;
        if config.slots.a.device == config.slots.b.device {
            bail!("slots.a.device and slots.b.device are the same");
        }
        if let Bootloader::Sim { state_dir } = &config.bootloader {
            // The simulated device must never reboot (or read the boot id of) the host it runs on.
            let table: toml::Table = toml::from_str(text)?;
            let given = |key: &str| table.get("agent").and_then(|a| a.get(key)).is_some();
            if !given("reboot_command") {
                config.agent.reboot_command = format!(
                    "touch {}",
                    shell_quote(&state_dir.join(crate::slots::sim::REBOOT_REQUESTED_FILE))
                );
            }
            if !given("boot_id_file") {
                config.agent.boot_id_file = state_dir.join(crate::slots::sim::BOOT_ID_FILE);
            }
        }
        Ok(config)
    }

    pub fn journal(&self) -> JournalStore {
        JournalStore::new(Arc::new(RealFs), self.data_dir.join("journal.json"))
    }

    /// The configured bootloader backend.
    pub fn backend(&self) -> anyhow::Result<Box<dyn SlotBackend>> {
        let storage: Arc<dyn Storage> = Arc::new(RealFs);
        let proc_cmdline = || PathBuf::from("/proc/cmdline");
        Ok(match &self.bootloader {
            Bootloader::Sim { state_dir } => Box::new(SimBootloader::new(storage, state_dir)),
            Bootloader::Uboot {
                fw_env_config,
                env_file,
                env_size,
                cmdline,
                lock,
                bootlimit,
            } => {
                let layout = match (fw_env_config, env_file) {
                    (Some(cfg), None) => {
                        let text = std::fs::read_to_string(cfg)
                            .with_context(|| format!("reading {}", cfg.display()))?;
                        EnvLayout::from_fw_env_config(&text)?
                    }
                    (None, Some(file)) => EnvLayout::single(file, env_size.unwrap_or(0x4000)),
                    _ => bail!("[bootloader] uboot needs exactly one of fw_env_config, env_file"),
                };
                let mut env = UbootEnv::new(storage, layout, cmdline.clone().unwrap_or_else(proc_cmdline));
                if let Some(lock) = lock {
                    env = env.with_lock(lock);
                }
                if let Some(limit) = bootlimit {
                    env = env.with_bootlimit(*limit);
                }
                Box::new(env)
            }
            Bootloader::Grub { grubenv, cmdline } => Box::new(GrubEnv::new(
                storage,
                grubenv,
                cmdline.clone().unwrap_or_else(proc_cmdline),
            )),
            Bootloader::RpiTryboot {
                autoboot,
                device_tree,
                tryboot_marker,
                partitions,
            } => {
                let marker = tryboot_marker
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("tryboot-pending"));
                let [a, b] = partitions.unwrap_or([2, 3]);
                Box::new(
                    RpiTryboot::new(
                        storage.clone(),
                        autoboot,
                        device_tree
                            .clone()
                            .unwrap_or_else(|| PathBuf::from("/proc/device-tree")),
                        Box::new(MarkerFile::new(storage, marker)),
                    )
                    .with_partitions(a, b),
                )
            }
        })
    }

    /// `(board, hardware revision)`: each from the config, else from `/etc/hwrevision`.
    pub fn hardware(&self) -> (Option<String>, Option<String>) {
        if self.device.board.is_some() && self.device.hardware_revision.is_some() {
            return (self.device.board.clone(), self.device.hardware_revision.clone());
        }
        let file = std::fs::read_to_string(HWREVISION_FILE).unwrap_or_default();
        let mut words = file.split_whitespace().map(str::to_owned);
        let (board, rev) = (words.next(), words.next());
        (
            self.device.board.clone().or(board),
            self.device.hardware_revision.clone().or(rev),
        )
    }

    /// The running version, if known.
    pub fn current_version(&self) -> anyhow::Result<Option<String>> {
        if let Some(v) = &self.device.version {
            return Ok(Some(v.clone()));
        }
        let Some(file) = &self.device.version_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        Ok(text
            .lines()
            .next()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty()))
    }

    /// The installed images by name, from [`Device::sw_versions_file`] (SWUpdate's format: one
    /// `name version` pair a line, `#` comments; a later line for a name wins).
    pub fn installed_images(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let file = self
            .device
            .sw_versions_file
            .as_deref()
            .unwrap_or(Path::new("/etc/sw-versions"));
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "cannot read [device] sw_versions_file {}; fix its permissions or point the \
                     key at the right file",
                    file.display()
                )));
            }
        };
        Ok(text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                Some((words.next()?.to_owned(), words.next()?.to_owned()))
            })
            .collect())
    }

    /// SWUpdate's `-e set,mode` for an install into `target`: `copy1` is slot A, `copy2` slot B.
    pub fn selection_for(&self, target: Slot) -> Option<String> {
        let set = self.bundle.software_set.as_deref()?;
        let mode = match target {
            Slot::A => "copy1",
            Slot::B => "copy2",
        };
        Some(format!("{set},{mode}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn example_config_parses() {
        let config = Config::parse(include_str!("../dist/updraft.example.toml")).unwrap();
        assert!(matches!(config.bootloader, Bootloader::Uboot { .. }));
        assert_eq!(config.selection_for(Slot::A).as_deref(), Some("stable,copy1"));
        assert_eq!(config.selection_for(Slot::B).as_deref(), Some("stable,copy2"));
        assert_eq!(config.slots.get(Slot::B).device, Path::new("/dev/mmcblk0p3"));
    }

    /// The keys serde accepts in `section` of `base`: the "expected one of" list of the error an
    /// unknown key there gets (the derived deserializers name every field they know).
    fn accepted_keys(base: &str, section: &str) -> Vec<String> {
        let text = if section.is_empty() {
            format!("zz_unknown = 1\n{base}")
        } else {
            base.replacen(
                &format!("[{section}]\n"),
                &format!("[{section}]\nzz_unknown = 1\n"),
                1,
            )
        };
        assert!(text.contains("zz_unknown"), "no [{section}] in the base config");
        let err = format!("{:#}", Config::parse(&text).unwrap_err());
        let expected = err
            .split_once("unknown field `zz_unknown`, expected")
            .unwrap_or_else(|| panic!("[{section}]: unexpected error {err}"))
            .1;
        let expected = expected.lines().next().unwrap_or_default();
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    /// Keys mentioned (set, or commented out as `# key = ...`) in each `[section]` of the example.
    fn example_keys() -> std::collections::BTreeMap<String, Vec<String>> {
        let mut keys = std::collections::BTreeMap::<String, Vec<String>>::new();
        let mut section = String::new();
        for line in include_str!("../dist/updraft.example.toml").lines() {
            if let Some(name) = line.strip_prefix('[') {
                section = name.trim_end_matches(']').to_owned();
                continue;
            }
            let line = line.trim_start_matches(['#', ' ']);
            if let Some((key, _)) = line.split_once('=')
                && !key.trim().is_empty()
                && key.trim().chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                keys.entry(section.clone())
                    .or_default()
                    .push(key.trim().to_owned());
            }
        }
        keys
    }

    #[test]
    fn example_config_shows_every_key() {
        let tail = "[slots.a]\ndevice = \"/a\"\n[slots.b]\ndevice = \"/b\"\n[bundle]\n[device]\n\
                    [server]\nurl = \"http://127.0.0.1\"\n[agent]\n";
        let sim = format!("[bootloader]\nbackend = \"sim\"\nstate_dir = \"/s\"\n{tail}");
        let mut wanted: Vec<(&str, Vec<String>)> =
            ["", "slots.a", "slots.b", "bundle", "device", "server", "agent"]
                .into_iter()
                .map(|section| (section, accepted_keys(&sim, section)))
                .collect();
        let mut bootloader = vec!["backend".to_owned()];
        for backend in [
            "backend = \"sim\"\nstate_dir = \"/s\"",
            "backend = \"uboot\"",
            "backend = \"grub\"\ngrubenv = \"/g\"",
            "backend = \"rpi-tryboot\"\nautoboot = \"/a\"",
        ] {
            bootloader.extend(accepted_keys(
                &format!("[bootloader]\n{backend}\n{tail}"),
                "bootloader",
            ));
        }
        wanted.push(("bootloader", bootloader));
        let example = example_keys();
        let mut missing = Vec::new();
        for (section, keys) in &wanted {
            assert!(!keys.is_empty(), "no keys found for [{section}]");
            for key in keys {
                // Tables of their own ([server], [slots.a], [agent.attributes]) are sections there.
                let table = if section.is_empty() {
                    key.clone()
                } else {
                    format!("{section}.{key}")
                };
                let shown =
                    example.get(*section).is_some_and(|k| k.contains(key)) || example.contains_key(&table);
                if !shown && key != "slots" {
                    missing.push(format!("[{section}] {key}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "client/dist/updraft.example.toml lacks {missing:?}"
        );
    }

    #[test]
    fn sim_backend_never_reboots_the_host() {
        let config = Config::parse(
            "[bootloader]\nbackend = \"sim\"\nstate_dir = \"/tmp/it's sim\"\n[slots.a]\ndevice = \"/a\"\n[slots.b]\ndevice = \"/b\"\n",
        )
        .unwrap();
        assert_eq!(
            config.agent.reboot_command,
            r"touch '/tmp/it'\''s sim/reboot-requested'"
        );
        assert_eq!(config.agent.boot_id_file, Path::new("/tmp/it's sim/boot-id"));
        let explicit = Config::parse(
            "[bootloader]\nbackend = \"sim\"\nstate_dir = \"/s\"\n[slots.a]\ndevice = \"/a\"\n[slots.b]\ndevice = \"/b\"\n\
             [agent]\nreboot_command = \"\"\nboot_id_file = \"/b/id\"\n",
        )
        .unwrap();
        assert_eq!(explicit.agent.reboot_command, "");
        assert_eq!(explicit.agent.boot_id_file, Path::new("/b/id"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::parse(
            "[bootloader]\nbackend = \"sim\"\nstate_dir = \"/x\"\nbogus = 1\n[slots.a]\ndevice = \"/a\"\n[slots.b]\ndevice = \"/b\"\n",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("bogus"), "{err:#}");
    }
}
