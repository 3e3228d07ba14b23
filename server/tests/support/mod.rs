//! Test fixture: an in-process server (SQLite or a fresh PostgreSQL database) and helpers that drive
//! it through its public HTTP APIs only.
#![allow(dead_code)]

pub mod browser;
pub mod fleet;
pub mod process;
pub mod s3;

use std::collections::BTreeMap;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use updraft_server::config::Config;
use updraft_server::testing::TestServer;

pub const GW: &str = "gateway-secret";

pub struct Fixture {
    pub srv: TestServer,
    pub http: Client,
}

/// Generates one test per backend for each named behaviour function `fn(&Fixture)`; with
/// `@tweak f;` each server's configuration first goes through `f` (a path seen from a child module).
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        backend_tests!(@tweak |_: &mut updraft_server::config::Config| {}; $($name),*);
    };
    (@tweak $tweak:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&super::support::Fixture::with(None, $tweak)); } )*
        }
        mod postgres {
            $( #[test] fn $name() {
                if let Some(f) = super::support::Fixture::postgres_with($tweak) { super::$name(&f); }
            } )*
        }
    };
}

impl Fixture {
    pub fn sqlite() -> Self {
        Self::with(None, |_| {})
    }

    /// None (with a printed reason) when PostgreSQL is unavailable outside CI; under CI=true a
    /// missing PostgreSQL fails the test.
    pub fn postgres_with(tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        match TestServer::start_postgres_with(tweak) {
            Ok(srv) => Some(Self::around(srv)),
            Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("PostgreSQL required under CI: {why}")
            }
            Err(why) => {
                eprintln!("skipping PostgreSQL variant: {why}");
                None
            }
        }
    }

    /// Another server on a fresh database of the same backend as `self`, configured by `tweak`.
    pub fn sibling(&self, tweak: impl FnOnce(&mut Config)) -> Self {
        if self.srv.state.db.backend() == updraft_server::store::Backend::Postgres {
            Self::postgres_with(tweak).expect("PostgreSQL answered a moment ago")
        } else {
            Self::with(None, tweak)
        }
    }

    /// Sends `raw` (a whole HTTP/1.1 request) over a fresh connection and returns the status code:
    /// for paths an HTTP client library would normalize (`%2E`, `..`).
    pub fn raw_status(&self, raw: &str) -> u16 {
        use std::io::{Read, Write};
        let addr = self.srv.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        String::from_utf8_lossy(&head[9..12]).parse().unwrap()
    }

    pub fn with(database_url: Option<String>, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::around(TestServer::start_with(database_url, tweak))
    }

    /// Wraps a server started by hand (the gateway token set up as for every fixture).
    pub fn around(srv: TestServer) -> Self {
        let http = Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        let f = Self { srv, http };
        f.set_config("authentication.gatewaytoken.enabled", json!(true));
        f.set_config("authentication.gatewaytoken.key", json!(GW));
        f
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.srv.url)
    }

    pub fn mgmt(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .basic_auth(&self.srv.admin_user, Some(&self.srv.admin_password))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        read(self.mgmt(reqwest::Method::GET, path).send().unwrap())
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        read(self.mgmt(reqwest::Method::POST, path).json(&body).send().unwrap())
    }

    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        read(self.mgmt(reqwest::Method::PUT, path).json(&body).send().unwrap())
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        read(self.mgmt(reqwest::Method::DELETE, path).send().unwrap())
    }

    pub fn set_config(&self, key: &str, value: Value) {
        let (s, b) = self.put(
            &format!("/rest/v1/system/configs/{key}"),
            json!({ "value": value }),
        );
        assert_eq!(s, 200, "{b}");
    }

    /// A DDI request as a device authenticated with the gateway token.
    pub fn ddi(&self, method: reqwest::Method, cid: &str, rest: &str) -> RequestBuilder {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("GatewayToken {GW}")).unwrap(),
        );
        self.http
            .request(method, self.url(&format!("/DEFAULT/controller/v1/{cid}{rest}")))
            .headers(h)
    }

    pub fn poll(&self, cid: &str) -> Value {
        let (s, v) = read(self.ddi(reqwest::Method::GET, cid, "").send().unwrap());
        assert_eq!(s, 200, "{v}");
        v
    }

    /// Feedback on a deployment, as a device posts it.
    pub fn feedback(&self, cid: &str, action: i64, execution: &str, finished: &str) -> (u16, Value) {
        self.feedback_with(
            cid,
            action,
            execution,
            finished,
            &[&format!("{execution} {finished}")],
        )
    }

    /// Deployment feedback with the device's own `details` lines (the last one is the message the
    /// console groups failures by).
    pub fn feedback_with(
        &self,
        cid: &str,
        action: i64,
        execution: &str,
        finished: &str,
        details: &[&str],
    ) -> (u16, Value) {
        self.post_feedback(
            cid,
            &format!("/deploymentBase/{action}/feedback"),
            execution,
            finished,
            details,
        )
    }

    /// Feedback on a cancellation (`cancelAction/{id}/feedback`).
    pub fn cancel_feedback(&self, cid: &str, action: i64, execution: &str, finished: &str) -> (u16, Value) {
        self.post_feedback(
            cid,
            &format!("/cancelAction/{action}/feedback"),
            execution,
            finished,
            &[&format!("{execution} {finished}")],
        )
    }

    fn post_feedback(
        &self,
        cid: &str,
        rest: &str,
        execution: &str,
        finished: &str,
        details: &[&str],
    ) -> (u16, Value) {
        let body = json!({ "status": { "execution": execution, "result": { "finished": finished }, "details": details } });
        read(
            self.ddi(reqwest::Method::POST, cid, rest)
                .json(&body)
                .send()
                .unwrap(),
        )
    }

    pub fn create_target(&self, cid: &str) -> String {
        let (s, v) = self.post("/rest/v1/targets", json!([{ "controllerId": cid }]));
        assert_eq!(s, 201, "{v}");
        v[0]["securityToken"].as_str().unwrap().to_owned()
    }

    /// A software module of type `os` with one artifact, in a distribution set; returns (sm, ds).
    pub fn distribution_set(&self, name: &str, file: &str, content: &[u8]) -> (i64, i64) {
        let (s, v) = self.post(
            "/rest/v1/softwaremodules",
            json!([{ "name": name, "version": "1.0", "type": "os" }]),
        );
        assert_eq!(s, 201, "{v}");
        let sm = v[0]["id"].as_i64().unwrap();
        let (s, v) = self.upload(sm, file, content.to_vec());
        assert_eq!(s, 201, "{v}");
        let (s, v) = self.post(
            "/rest/v1/distributionsets",
            json!([{ "name": name, "version": "1.0", "type": "os", "modules": [{ "id": sm }] }]),
        );
        assert_eq!(s, 201, "{v}");
        (sm, v[0]["id"].as_i64().unwrap())
    }

    pub fn upload(&self, sm: i64, file: &str, content: Vec<u8>) -> (u16, Value) {
        let part = reqwest::blocking::multipart::Part::bytes(content).file_name(file.to_owned());
        let form = reqwest::blocking::multipart::Form::new().part("file", part);
        read(
            self.mgmt(
                reqwest::Method::POST,
                &format!("/rest/v1/softwaremodules/{sm}/artifacts"),
            )
            .multipart(form)
            .send()
            .unwrap(),
        )
    }

    pub fn assign(&self, ds: i64, cid: &str, extra: Value) -> i64 {
        let mut req = json!({ "id": cid });
        if let Value::Object(m) = extra {
            for (k, v) in m {
                req[k] = v;
            }
        }
        let (s, v) = self.post(
            &format!("/rest/v1/distributionsets/{ds}/assignedTargets"),
            json!([req]),
        );
        assert_eq!(s, 200, "{v}");
        v["assignedActions"][0]["id"].as_i64().unwrap()
    }

    /// A device's GET of `rest` (an artifact path) for the byte range `range` (`bytes=10-19`).
    pub fn ddi_range(&self, cid: &str, rest: &str, range: &str) -> Response {
        self.ddi(reqwest::Method::GET, cid, rest)
            .header("range", range)
            .send()
            .unwrap()
    }

    /// Asserts that `cid`'s latest action logs a download in its status history, as hawkBit does
    /// for a full download of an active action's artifact.
    pub fn assert_download_logged(&self, cid: &str) {
        let (_, actions) = self.get(&format!("/rest/v1/targets/{cid}/actions?limit=1"));
        let action = actions["content"][0]["id"].as_i64().unwrap();
        let (_, st) = self.get(&format!("/rest/v1/targets/{cid}/actions/{action}/status"));
        assert!(
            st["content"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["type"] == "download"),
            "{st}"
        );
    }

    pub fn target(&self, cid: &str) -> Value {
        let (s, v) = self.get(&format!("/rest/v1/targets/{cid}"));
        assert_eq!(s, 200, "{v}");
        v
    }

    pub fn action(&self, cid: &str, action: i64) -> Value {
        let (s, v) = self.get(&format!("/rest/v1/targets/{cid}/actions/{action}"));
        assert_eq!(s, 200, "{v}");
        v
    }
}

/// Status and JSON body (Null when empty or not JSON).
/// A client that does not follow redirects, so a form post's 303 and its cookie can be checked.
pub fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs `user` in through the UI's form and answers the session cookie (`name=value`).
pub fn ui_login_as(f: &Fixture, user: &str, password: &str) -> String {
    let res = browser()
        .post(f.url("/ui/login"))
        .header("origin", &f.srv.url)
        .form(&[("username", user), ("password", password), ("next", "/ui")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().unwrap());
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

/// A UI page as the holder of `cookie`: status and body.
pub fn ui_get(f: &Fixture, cookie: &str, path: &str) -> (u16, String) {
    let res = browser()
        .get(f.url(path))
        .header("cookie", cookie)
        .send()
        .unwrap();
    (res.status().as_u16(), res.text().unwrap())
}

/// [`ui_get`] of a page that must answer 200: its body.
pub fn ui_page(f: &Fixture, cookie: &str, path: &str) -> String {
    let (status, body) = ui_get(f, cookie, path);
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// A UI form post from the server's own origin as the holder of `cookie`: status, `location` (empty
/// without one) and body.
pub fn ui_form(f: &Fixture, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let res = browser()
        .post(f.url(path))
        .header("cookie", cookie)
        .header("origin", &f.srv.url)
        .form(form)
        .send()
        .unwrap();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), location, res.text().unwrap())
}

/// [`ui_form`] with the redirect's decoded `?notice=` (empty when there is none) in place of its
/// location: status, notice, body.
pub fn ui_form_notice(f: &Fixture, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let (status, location, body) = ui_form(f, cookie, path, form);
    let notice = location
        .split_once("notice=")
        .map(|(_, n)| {
            percent_encoding::percent_decode_str(n)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    (status, notice, body)
}

/// [`ui_login_as`] the server's admin.
pub fn ui_login(f: &Fixture) -> String {
    ui_login_as(f, &f.srv.admin_user, &f.srv.admin_password)
}

/// A rollout group's status and its non-zero totals per status.
pub fn group_state(f: &Fixture, rollout: i64, group: i64) -> (String, BTreeMap<String, i64>) {
    let (status, g) = f.get(&format!("/rest/v1/rollouts/{rollout}/deploygroups/{group}"));
    assert_eq!(status, 200, "{g}");
    let totals = g["totalTargetsPerStatus"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.as_i64() != Some(0))
        .map(|(k, n)| (k.clone(), n.as_i64().unwrap()))
        .collect();
    (g["status"].as_str().unwrap().to_owned(), totals)
}

/// Totals per status as [`group_state`] answers them.
pub fn totals(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

/// Waits (bounded: 30 s) until `check` holds, for work on another thread such as the scheduler's.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn read(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The `controllerId`s of a page of targets, in order.
pub fn controller_ids(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["controllerId"].as_str().unwrap().to_owned())
        .collect()
}

pub fn link(root: &Value, rel: &str) -> Option<String> {
    root["_links"][rel]["href"].as_str().map(str::to_owned)
}

/// The path and query of a link, for following it against the test server.
pub fn action_id_of(href: &str) -> i64 {
    href.rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Kills every session of the test server's PostgreSQL database, as an operator's
/// `pg_terminate_backend` or a database restart would; returns how many it killed.
pub fn terminate_backends(f: &Fixture) -> i64 {
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Killed {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let db = database_name(f);
    let mut admin = diesel::PgConnection::establish(&updraft_server::testing::postgres_admin_url()).unwrap();
    let killed: Killed = diesel::sql_query(format!(
        "SELECT count(pg_terminate_backend(pid))::bigint AS n FROM pg_stat_activity \
         WHERE datname = '{db}' AND pid <> pg_backend_pid()"
    ))
    .get_result(&mut admin)
    .unwrap();
    killed.n
}

/// The name of the test server's PostgreSQL database (the last path segment of its URL).
pub fn database_name(f: &Fixture) -> String {
    let url = f.srv.state.config.database_url();
    let path = url.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().to_owned()
}

/// Drops a test's PostgreSQL database when the test ends, passed or not.
pub struct DropDatabase(String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        updraft_server::testing::drop_postgres_database(&self.0);
    }
}

/// A fresh PostgreSQL database's URL and its guard; None (with a printed reason) when PostgreSQL
/// is unavailable outside CI, a failure under `CI=true`.
pub fn fresh_postgres() -> Option<(String, DropDatabase)> {
    match updraft_server::testing::fresh_postgres_database() {
        Ok((url, name)) => Some((url, DropDatabase(name))),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL required under CI: {why}")
        }
        Err(why) => {
            eprintln!("skipping: {why}");
            None
        }
    }
}
