//! A small blocking client for the hawkBit Management API (`/rest/v1`), covering the calls
//! rauc-hawkbit-updater's `hawkbit_mgmt.py` fixture makes.

use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

pub struct Mgmt {
    url: String,
    user: String,
    password: String,
    http: Client,
}

/// What one `deploy` created.
pub struct Deployment {
    pub distribution_set: i64,
    pub action: i64,
}

/// One entry of `GET /rest/v1/targets/{id}/actions/{aid}/status`.
pub struct ActionStatus {
    pub kind: String,
    pub messages: Vec<String>,
}

impl Mgmt {
    pub fn new(server_url: &str, user: &str, password: &str) -> Self {
        Self {
            url: format!("{server_url}/rest/v1"),
            user: user.to_owned(),
            password: password.to_owned(),
            http: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("build HTTP client"),
        }
    }

    pub fn set_config(&self, key: &str, value: &Value) {
        self.send(
            &Method::PUT,
            &format!("/system/configs/{key}"),
            Some(&json!({ "value": value })),
            200,
        );
    }

    /// Creates a target; `security_token` None lets the server generate one.
    pub fn create_target(&self, controller_id: &str, security_token: Option<&str>) -> Value {
        let mut target = json!({ "controllerId": controller_id, "name": controller_id });
        if let Some(token) = security_token {
            target["securityToken"] = json!(token);
        }
        first(&self.send(&Method::POST, "/targets", Some(&json!([target])), 201))
    }

    /// The target, or None while it does not exist (404).
    pub fn target(&self, controller_id: &str) -> Option<Value> {
        let (status, body) = self.request(Method::GET, &format!("/targets/{controller_id}"), None);
        match status {
            200 => Some(body),
            404 => None,
            _ => panic!("GET /rest/v1/targets/{controller_id}: unexpected {status}: {body}"),
        }
    }

    /// `GET /rest/v1/targets/{id}/attributes`: what the device reported (configData).
    /// An empty object while there are none (204).
    pub fn attributes(&self, controller_id: &str) -> Value {
        let path = format!("/targets/{controller_id}/attributes");
        let (status, body) = self.request(Method::GET, &path, None);
        match status {
            200 => body,
            204 => json!({}),
            _ => panic!("GET /rest/v1{path}: unexpected {status}: {body}"),
        }
    }

    /// Id of the installed distribution set, None if the target has none (204).
    pub fn installed_distribution_set(&self, controller_id: &str) -> Option<i64> {
        let path = format!("/targets/{controller_id}/installedDS");
        let (status, body) = self.request(Method::GET, &path, None);
        match status {
            200 => Some(id(&body)),
            204 => None,
            _ => panic!("GET /rest/v1{path}: unexpected {status}: {body}"),
        }
    }

    /// Software module + `.swu` artifact + distribution set, assigned (forced) to the target.
    pub fn deploy(&self, controller_id: &str, name: &str, swu: &[u8]) -> Deployment {
        let module = id(&first(&self.send(
            &Method::POST,
            "/softwaremodules",
            Some(&json!([{ "name": name, "version": "1.0", "type": "os" }])),
            201,
        )));
        // SWUpdate installs only artifacts whose filename ends in `.swu`.
        self.upload_artifact(module, &format!("{name}-1.0.swu"), swu);
        let distribution_set = id(&first(&self.send(
            &Method::POST,
            "/distributionsets",
            Some(&json!([{ "name": name, "version": "1.0", "type": "os", "modules": [{ "id": module }] }])),
            201,
        )));
        let assignment = self.send(
            &Method::POST,
            &format!("/distributionsets/{distribution_set}/assignedTargets"),
            Some(&json!([{ "id": controller_id, "type": "forced" }])),
            200,
        );
        assert_eq!(
            assignment["assigned"],
            json!(1),
            "assignment response: {assignment}"
        );
        let action = id(&assignment["assignedActions"][0]);
        Deployment {
            distribution_set,
            action,
        }
    }

    fn upload_artifact(&self, module: i64, filename: &str, bytes: &[u8]) -> Value {
        let boundary = "updraft-compat-test-boundary-7d2f";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let path = format!("/softwaremodules/{module}/artifacts");
        let request = self
            .http
            .post(format!("{}{path}", self.url))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let (status, response) = self.execute(request);
        assert_eq!(status, 201, "POST /rest/v1{path}: {response}");
        response
    }

    pub fn action(&self, controller_id: &str, action: i64) -> Value {
        self.send(
            &Method::GET,
            &format!("/targets/{controller_id}/actions/{action}"),
            None,
            200,
        )
    }

    /// Action status history, newest first.
    pub fn action_statuses(&self, controller_id: &str, action: i64) -> Vec<ActionStatus> {
        let path = format!("/targets/{controller_id}/actions/{action}/status?offset=0&limit=50&sort=id:DESC");
        let page = self.send(&Method::GET, &path, None, 200);
        let content = page["content"]
            .as_array()
            .unwrap_or_else(|| panic!("GET {path}: no content: {page}"));
        content
            .iter()
            .map(|entry| ActionStatus {
                kind: entry["type"].as_str().unwrap_or_default().to_owned(),
                messages: entry["messages"]
                    .as_array()
                    .map(|m| m.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Soft cancel (hawkBit: action becomes CANCELING until the device acknowledges).
    pub fn cancel_action(&self, controller_id: &str, action: i64) {
        self.send(
            &Method::DELETE,
            &format!("/targets/{controller_id}/actions/{action}"),
            None,
            204,
        );
    }

    fn send(&self, method: &Method, path: &str, body: Option<&Value>, expected: u16) -> Value {
        let (status, response) = self.request(method.clone(), path, body);
        assert_eq!(
            status, expected,
            "{method} /rest/v1{path} answered {status}: {response}"
        );
        response
    }

    fn request(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.execute(request)
    }

    fn execute(&self, request: RequestBuilder) -> (u16, Value) {
        let response = request
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .unwrap_or_else(|e| panic!("Management API request failed: {e}"));
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }
}

fn first(array: &Value) -> Value {
    array
        .get(0)
        .cloned()
        .unwrap_or_else(|| panic!("expected a non-empty array, got {array}"))
}

fn id(entity: &Value) -> i64 {
    entity["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no numeric id in {entity}"))
}
