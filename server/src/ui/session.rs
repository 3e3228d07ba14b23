//! Login sessions: a random token in an HttpOnly, SameSite=Strict cookie scoped to `/ui`, stored
//! as its SHA-256 in `ui_sessions` so every server behind a load balancer knows it. Credentials are
//! checked exactly as the Management API's basic authentication checks them.
//!
//! Cross-site requests: SameSite=Strict keeps the cookie off them, and every POST must also carry an
//! `Origin` (or, lacking one, a `Referer`) of this host.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::{UiError, UiResult};
use super::layout;
use crate::auth::permissions::{Permission, Permissions};
use crate::auth::users::{DEFAULT_TENANT, User};
use crate::state::AppState;
use crate::store::{audit, sessions};

pub const COOKIE: &str = "updraft_session";
/// A session lasts a working day; logging out ends it at once.
const SESSION_MS: i64 = 12 * 3600 * 1000;

/// The logged-in user of a UI request, plus what the page needs from the request.
pub struct Ctx {
    pub user: User,
    /// A message from the action that redirected here (`?notice=`).
    pub notice: Option<String>,
}

impl Ctx {
    pub fn can(&self, p: Permission) -> bool {
        self.user.permissions.has(p)
    }

    /// Refuses the request with a 403 page unless the user holds `p`.
    pub fn require(&self, p: Permission) -> Result<(), UiError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(UiError::forbidden(format!(
                "You lack the permission {p} needed for this."
            )))
        }
    }

    pub fn tenant(&self) -> String {
        self.user.tenant.clone()
    }
}

fn token_hash(token: &str) -> String {
    crate::auth::hex(&Sha256::digest(token.as_bytes()))
}

fn cookie_token(req: &HttpRequest) -> Option<String> {
    let header = req.headers().get("cookie")?.to_str().ok()?;
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == COOKIE && !v.is_empty()).then(|| v.to_owned())
    })
}

/// True when a POST comes from a page of this server: its `Origin` (or `Referer`) names our host.
pub fn same_origin(req: &HttpRequest) -> bool {
    let info = req.connection_info();
    let host = info.host().to_ascii_lowercase();
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let Some(source) = header("origin").or_else(|| header("referer")) else {
        return false;
    };
    let Some((_, rest)) = source.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.eq_ignore_ascii_case(&host)
}

fn notice_of(req: &HttpRequest) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("notice").cloned())
        .filter(|n| !n.is_empty())
}

impl FromRequest for Ctx {
    type Error = UiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let state = req
            .app_data::<web::Data<AppState>>()
            .map(|s| Arc::clone(&s.clone().into_inner()));
        let token = cookie_token(req);
        let then = if req.method() == Method::GET {
            req.uri()
                .path_and_query()
                .map_or("/ui".to_owned(), ToString::to_string)
        } else {
            "/ui".to_owned()
        };
        let cross_site = req.method() != Method::GET && !same_origin(req);
        let notice = notice_of(req);
        let req = req.clone();
        Box::pin(async move {
            if cross_site {
                return Err(UiError::forbidden(
                    "This form was not sent from a page of this server, so it was refused.",
                ));
            }
            let (Some(state), Some(token)) = (state, token) else {
                return Err(UiError::login_required(&then));
            };
            let hash = token_hash(&token);
            let now = state.now();
            let row = state.db.read(move |c| sessions::user_of(c, &hash, now)).await?;
            let Some(sessions::SessionUser {
                username,
                tenant,
                permissions,
            }) = row
            else {
                return Err(UiError::login_required(&then));
            };
            // Who acted, for the access log and the audit trail.
            actix_web::HttpMessage::extensions_mut(&req).insert(crate::middleware::Principal::User {
                tenant: tenant.clone(),
                username: username.clone(),
            });
            Ok(Ctx {
                user: User {
                    username,
                    tenant,
                    permissions: Permissions::parse(&permissions).unwrap_or_default(),
                },
                notice,
            })
        })
    }
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

/// Only a path inside the UI, so the login form cannot send anyone elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui") && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/ui".to_owned(),
    }
}

fn login_form(next: &str, error: Option<&str>) -> maud::Markup {
    html! {
        section.card.login {
            h1 { "Log in to Updraft" }
            @if let Some(e) = error {
                p.error role="alert" { (e) }
            }
            form method="post" action="/ui/login" {
                input type="hidden" name="next" value=(next);
                label for="username" { "Username" }
                input #username name="username" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Log in" }
            }
        }
    }
}

pub async fn login_page(q: web::Query<NextParam>) -> HttpResponse {
    let next = safe_next(q.next.as_deref());
    layout::html_response(
        StatusCode::OK,
        &layout::page(None, "Log in", &login_form(&next, None)),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login(req: HttpRequest, form: web::Form<LoginForm>, state: web::Data<AppState>) -> UiResult {
    if !same_origin(&req) {
        return Err(UiError::forbidden(
            "This form was not sent from a page of this server, so it was refused.",
        ));
    }
    let LoginForm {
        username,
        password,
        next,
    } = form.into_inner();
    let next = safe_next(next.as_deref());
    let client = crate::proxy::ClientIp::of(&req);
    let verified = crate::auth::users::verify_credentials(&state, client, username.clone(), password).await;
    let tenant = match verified {
        Ok(user) => user.tenant,
        Err(refused) => {
            use crate::auth::users::LoginRefused;
            if matches!(refused, LoginRefused::Wrong) {
                let (name, now) = (username.clone(), state.now());
                let recorded = state
                    .db
                    .write(move |c| {
                        audit::record_login_failed(
                            c,
                            &name,
                            DEFAULT_TENANT,
                            now,
                            "wrong username or password on the console",
                        )
                    })
                    .await;
                if let Err(e) = recorded {
                    tracing::warn!(error = %e, "the audit entry of a failed login could not be written");
                }
            }
            let (status, message) = match refused {
                LoginRefused::Wrong => (StatusCode::UNAUTHORIZED, "Wrong username or password.".to_owned()),
                LoginRefused::Throttled(secs) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many failed logins from this address; try again in {secs} seconds."),
                ),
                LoginRefused::Error(e) => (
                    e.status,
                    e.body
                        .map_or_else(|| "Logging in failed.".to_owned(), |b| b.message),
                ),
            };
            let body = login_form(&next, Some(&message));
            return Ok(layout::html_response(
                status,
                &layout::page(None, "Log in", &body),
            ));
        }
    };
    let token = format!("{}{}", crate::auth::random_token(), crate::auth::random_token());
    let hash = token_hash(&token);
    let now = state.now();
    state
        .db
        .write(move |c| {
            sessions::start(c, &username, &hash, now, now + SESSION_MS)?;
            // In the session's transaction: a session never starts without its entry.
            audit::record(
                c,
                &audit::Entry {
                    tenant: tenant.clone(),
                    at: now,
                    actor: username.clone(),
                    action: "login",
                    object: audit::Object {
                        kind: "user".into(),
                        id: username.clone(),
                        name: username.clone(),
                    },
                    detail: "console".into(),
                },
            )
        })
        .await?;
    let secure = if req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", next))
        .insert_header((
            "set-cookie",
            format!(
                "{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                SESSION_MS / 1000
            ),
        ))
        .finish())
}

pub async fn logout(req: HttpRequest, _ctx: Ctx, state: web::Data<AppState>) -> UiResult {
    if let Some(token) = cookie_token(&req) {
        let hash = token_hash(&token);
        state.db.write(move |c| sessions::end(c, &hash)).await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/ui/login"))
        .insert_header((
            "set-cookie",
            format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
        ))
        .finish())
}
