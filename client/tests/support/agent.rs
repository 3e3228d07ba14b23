//! The agent tests' world: a real `updraft-server` on loopback with the Management API calls they
//! make, the simulated firmware's power cycle, and one `updraft agent --once` run whose output must
//! be words, never Rust `Debug`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::blocking::Client;
use serde_json::{Value, json};
use updraft_client::slots::Slot;
use updraft_client::slots::sim::{Firmware, SimFirmware};
use updraft_server::testing::TestServer;

/// A real `updraft-server` on loopback and the Management API calls the agent tests make about
/// their one device, `cid`.
pub struct Fleet {
    pub srv: TestServer,
    pub cid: String,
    http: Client,
}

impl Fleet {
    /// A fresh server (SQLite) whose tests are about device `cid`.
    pub fn start(cid: &str) -> Fleet {
        Fleet {
            srv: TestServer::start(),
            cid: cid.to_owned(),
            http: Client::new(),
        }
    }

    pub fn mgmt(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.srv.url))
            .basic_auth(&self.srv.admin_user, Some(&self.srv.admin_password))
    }

    pub fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.mgmt(method.clone(), path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().unwrap();
        let status = r.status();
        let text = r.text().unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Registers the device as `name` and answers its security token.
    pub fn register(&self, name: &str) -> String {
        let v = self.json(
            reqwest::Method::POST,
            "/rest/v1/targets",
            Some(json!([{ "controllerId": self.cid, "name": name }])),
        );
        v[0]["securityToken"].as_str().unwrap().to_owned()
    }

    /// Uploads `bundle` as a distribution set and assigns it; answers the action id.
    pub fn assign(&self, name: &str, bundle: &Path) -> i64 {
        self.assign_artifacts(name, &[(bundle, format!("{name}.swu"))])
    }

    /// Uploads `files` (path, artifact file name) into one software module of a distribution
    /// set and assigns it; answers the action id.
    pub fn assign_artifacts(&self, name: &str, files: &[(&Path, String)]) -> i64 {
        let sm = self.json(
            reqwest::Method::POST,
            "/rest/v1/softwaremodules",
            Some(json!([{ "name": name, "version": "1.1.0", "type": "os" }])),
        )[0]["id"]
            .as_i64()
            .unwrap();
        for (path, file_name) in files {
            let part = reqwest::blocking::multipart::Part::bytes(std::fs::read(path).unwrap())
                .file_name(file_name.clone());
            let r = self
                .mgmt(
                    reqwest::Method::POST,
                    &format!("/rest/v1/softwaremodules/{sm}/artifacts"),
                )
                .multipart(reqwest::blocking::multipart::Form::new().part("file", part))
                .send()
                .unwrap();
            assert_eq!(r.status(), 201);
        }
        let ds = self.json(
            reqwest::Method::POST,
            "/rest/v1/distributionsets",
            Some(json!([{ "name": name, "version": "1.1.0", "type": "os", "modules": [{ "id": sm }] }])),
        )[0]["id"]
            .as_i64()
            .unwrap();
        let v = self.json(
            reqwest::Method::POST,
            &format!("/rest/v1/targets/{}/assignedDS", self.cid),
            Some(json!({ "id": ds, "type": "forced" })),
        );
        v["assignedActions"][0]["id"].as_i64().unwrap()
    }

    pub fn action(&self, action: i64) -> Value {
        self.json(
            reqwest::Method::GET,
            &format!("/rest/v1/targets/{}/actions/{action}", self.cid),
            None,
        )
    }

    pub fn messages(&self, action: i64) -> String {
        self.json(
            reqwest::Method::GET,
            &format!("/rest/v1/targets/{}/actions/{action}/status?limit=100", self.cid),
            None,
        )
        .to_string()
    }

    /// Every message of the action's status history, one detail line each.
    pub fn message_lines(&self, action: i64) -> Vec<String> {
        let status = self.json(
            reqwest::Method::GET,
            &format!("/rest/v1/targets/{}/actions/{action}/status?limit=100", self.cid),
            None,
        );
        status["content"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["messages"].as_array().unwrap().clone())
            .map(|m| m.as_str().unwrap().to_owned())
            .collect()
    }

    pub fn target(&self) -> Value {
        self.json(
            reqwest::Method::GET,
            &format!("/rest/v1/targets/{}", self.cid),
            None,
        )
    }

    /// The device's attributes, as the Management API shows them.
    pub fn attributes(&self) -> Value {
        self.json(
            reqwest::Method::GET,
            &format!("/rest/v1/targets/{}/attributes", self.cid),
            None,
        )
    }
}

/// Keys a test adds to the sections of [`sim_config`], each as TOML lines.
#[derive(Default)]
pub struct SimKeys<'a> {
    pub device: &'a str,
    pub server: &'a str,
    pub agent: &'a str,
    /// Whole tables after the others (`[bundle]`, `[agent.attributes]`, ...).
    pub tables: &'a str,
}

/// Writes `dir/updraft.toml` for a device on the simulated bootloader and answers its path: state
/// in `dir/sim`, file slots `dir/a.img` and `dir/b.img`, boot id in `dir/boot_id`, data in
/// `dir/data`; board `testboard` 1.0 at version 1.0.0, polling `url` every second as `cid` with
/// `token`, and no reboot command (the test power-cycles with [`power_cycle`]).
pub fn sim_config(dir: &Path, url: &str, cid: &str, token: &str, keys: SimKeys) -> PathBuf {
    std::fs::create_dir_all(dir.join("sim")).unwrap();
    let p = |name: &str| dir.join(name).display().to_string();
    let config = dir.join("updraft.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[bootloader]\nbackend = \"sim\"\nstate_dir = {:?}\n\
             [slots.a]\ndevice = {:?}\n[slots.b]\ndevice = {:?}\n\
             [device]\nboard = \"testboard\"\nhardware_revision = \"1.0\"\nversion = \"1.0.0\"\n{}\n\
             [server]\nurl = {url:?}\ncontroller_id = {cid:?}\ntarget_token = {token:?}\npoll_secs = 1\n{}\n\
             [agent]\nreboot_command = \"\"\nboot_id_file = {:?}\n{}\n{}",
            p("data"),
            p("sim"),
            p("a.img"),
            p("b.img"),
            keys.device,
            keys.server,
            p("boot_id"),
            keys.agent,
            keys.tables,
        ),
    )
    .unwrap();
    config
}

/// A device's directory: a self-signed certificate `trusted.pem` (key `trusted.key`, subject
/// `cn`) to sign its bundles, slot A (`a.img`) holding `active` and an empty slot B (`b.img`).
pub fn signer_and_slots(cn: &str, active: &[u8]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let st = Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"])
        .args(["-keyout", "trusted.key", "-out", "trusted.pem", "-subj"])
        .arg(format!("/CN={cn}"))
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    std::fs::write(dir.join("a.img"), active).unwrap();
    std::fs::write(dir.join("b.img"), vec![0u8; 4096]).unwrap();
    tmp
}

/// A device on the simulated bootloader, in the directory of [`signer_and_slots`] with the config
/// of [`sim_config`].
pub struct Device {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub config: PathBuf,
}

impl Device {
    /// The device powered on for the first time: it boots slot A.
    pub fn booted(tmp: tempfile::TempDir, config: PathBuf) -> Device {
        let d = Device {
            dir: tmp.path().to_owned(),
            _tmp: tmp,
            config,
        };
        assert_eq!(d.reboot(), Slot::A);
        d
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A power cycle: a new boot id, and the firmware boots the armed slot once.
    pub fn reboot(&self) -> Slot {
        power_cycle(&self.dir)
    }

    pub fn agent_once(&self) -> String {
        agent_once(&self.config)
    }
}

/// A device booted from slot A holding `active` ([`signer_and_slots`] with `cn`), accepting only
/// bundles signed by its own `trusted.pem`, polling `url` as `cid` with `token`; `server` adds
/// keys to its `[server]` table.
pub fn signed_device(cn: &str, url: &str, cid: &str, token: &str, active: &[u8], server: &str) -> Device {
    let tmp = signer_and_slots(cn, active);
    let dir = tmp.path().to_owned();
    let tables = format!(
        "[bundle]\nca = {:?}\n",
        dir.join("trusted.pem").display().to_string()
    );
    let keys = SimKeys {
        server,
        tables: &tables,
        ..SimKeys::default()
    };
    let config = sim_config(&dir, url, cid, token, keys);
    Device::booted(tmp, config)
}

/// A power cycle of the device in `dir`: a new boot id in `dir/boot_id`, and the simulated
/// firmware (state in `dir/sim`) boots the armed slot once.
pub fn power_cycle(dir: &Path) -> Slot {
    let n = std::fs::read_to_string(dir.join("boot_id"))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    std::fs::write(dir.join("boot_id"), format!("{}\n", n + 1)).unwrap();
    SimFirmware { dir: dir.join("sim") }.boot().unwrap()
}

/// `updraft agent --once --config <config>`, which must succeed; answers its stdout. Logs and
/// results are words, never Rust `Debug` output (`RolledBack { reason: .. }`).
pub fn agent_once(config: &Path) -> String {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_updraft"))
        .args(["agent", "--once", "--config"])
        .arg(config)
        .env_remove("UPDRAFT_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("updraft agent --once: {}\n{stdout}{stderr}", out.status);
    assert!(out.status.success(), "the agent failed");
    for shape in ["{ ", "(Custom", "Error(", "Some(", "Committed(", "RolledBack"] {
        assert!(
            !stdout.contains(shape) && !stderr.contains(shape),
            "{shape:?} in {stdout}{stderr}"
        );
    }
    stdout
}
