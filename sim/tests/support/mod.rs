//! An in-process updraft-server with the gateway token enabled, set up through its Management API.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use updraft_server::testing::TestServer;
use updraft_sim::{DeviceAuth, FleetConfig};

pub const GW: &str = "sim-gateway-secret";

pub struct Fixture {
    pub srv: TestServer,
    pub http: Client,
}

impl Fixture {
    pub fn start() -> Self {
        let f = Self {
            srv: TestServer::start(),
            http: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        f.set_config("authentication.gatewaytoken.enabled", json!(true));
        f.set_config("authentication.gatewaytoken.key", json!(GW));
        f
    }

    /// A fleet of `devices` on this server: gateway token, 50 ms polls (the server's own minimum
    /// is 1 s), ids `dev-00000`...
    pub fn fleet(&self, devices: usize) -> FleetConfig {
        FleetConfig {
            server: self.srv.url.clone(),
            devices,
            id_prefix: "dev-".into(),
            auth: DeviceAuth::GatewayToken(GW.into()),
            poll_interval: Some(Duration::from_millis(50)),
            concurrency: 16,
            ..FleetConfig::default()
        }
    }

    fn mgmt(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.srv.url))
            .basic_auth(&self.srv.admin_user, Some(&self.srv.admin_password))
    }

    pub fn get(&self, path: &str) -> Value {
        let (s, v) = read(self.mgmt(Method::GET, path).send().unwrap());
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        read(self.mgmt(Method::POST, path).json(&body).send().unwrap())
    }

    pub fn delete(&self, path: &str) -> u16 {
        self.mgmt(Method::DELETE, path).send().unwrap().status().as_u16()
    }

    pub fn set_config(&self, key: &str, value: Value) {
        let (s, b) = read(
            self.mgmt(Method::PUT, &format!("/rest/v1/system/configs/{key}"))
                .json(&json!({ "value": value }))
                .send()
                .unwrap(),
        );
        assert_eq!(s, 200, "{b}");
    }

    pub fn create_targets(&self, ids: &[String]) {
        let body: Vec<Value> = ids.iter().map(|id| json!({ "controllerId": id })).collect();
        let (s, v) = self.post("/rest/v1/targets", Value::Array(body));
        assert_eq!(s, 201, "{v}");
    }

    /// An `os` module with these artifacts in a distribution set; returns the set's id and each
    /// artifact's JSON (with its hashes) as the server stored it.
    pub fn distribution_set(&self, name: &str, files: &[(&str, Vec<u8>)]) -> (i64, Vec<Value>) {
        let (s, v) = self.post(
            "/rest/v1/softwaremodules",
            json!([{ "name": name, "version": "1.0", "type": "os" }]),
        );
        assert_eq!(s, 201, "{v}");
        let sm = v[0]["id"].as_i64().unwrap();
        let mut artifacts = Vec::new();
        for (file, content) in files {
            let part =
                reqwest::blocking::multipart::Part::bytes(content.clone()).file_name((*file).to_owned());
            let form = reqwest::blocking::multipart::Form::new().part("file", part);
            let (s, v) = read(
                self.mgmt(Method::POST, &format!("/rest/v1/softwaremodules/{sm}/artifacts"))
                    .multipart(form)
                    .send()
                    .unwrap(),
            );
            assert_eq!(s, 201, "{v}");
            artifacts.push(v);
        }
        let (s, v) = self.post(
            "/rest/v1/distributionsets",
            json!([{ "name": name, "version": "1.0", "type": "os", "modules": [{ "id": sm }] }]),
        );
        assert_eq!(s, 201, "{v}");
        (v[0]["id"].as_i64().unwrap(), artifacts)
    }

    /// Assigns `ds` to every target in `ids` in one call.
    pub fn assign(&self, ds: i64, ids: &[String]) {
        self.assign_with(ds, ids, &json!({}));
    }

    /// [`Fixture::assign`] with more fields per target (`type`, `maintenanceWindow`, ...).
    pub fn assign_with(&self, ds: i64, ids: &[String], extra: &Value) {
        let body: Vec<Value> = ids
            .iter()
            .map(|id| {
                let mut req = extra.clone();
                req["id"] = json!(id);
                req
            })
            .collect();
        let (s, v) = self.post(
            &format!("/rest/v1/distributionsets/{ds}/assignedTargets"),
            Value::Array(body),
        );
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["assigned"], ids.len(), "{v}");
    }

    /// The target's one action.
    pub fn only_action(&self, id: &str) -> Value {
        let acts = self.get(&format!("/rest/v1/targets/{id}/actions"));
        assert_eq!(acts["total"], 1, "{id}: {acts}");
        acts["content"][0].clone()
    }

    pub fn target(&self, id: &str) -> Value {
        self.get(&format!("/rest/v1/targets/{id}"))
    }
}

/// Waits (up to a minute) until `done` holds.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gave up waiting until {what}");
}

pub fn read(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Reproducible test content that does not compress.
pub fn content(len: usize, seed: u8) -> Vec<u8> {
    let mut x = u32::from(seed) | 0x1000;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Every file under `dir` named `name`.
pub fn find_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.file_name().is_some_and(|n| n == name) {
                found.push(path);
            }
        }
    }
    found
}
