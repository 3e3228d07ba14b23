//! Management API users: the first-start admin account and HTTP basic authentication.

use std::path::Path;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use dashmap::DashMap;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::permissions::{Permission, Permissions};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::Db;
use crate::store::schema::users;

pub const DEFAULT_TENANT: &str = "DEFAULT";
const ADMIN_PASSWORD_FILE: &str = "admin-password";

fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("random source failed: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?
        .to_string())
}

/// Creates user `admin` on first start (no users at all). Without a configured password a random one is generated,
/// printed once and stored in a 0600 file in the data dir: there is no well-known default.
pub fn ensure_admin(db: &Db, data_dir: &Path, configured: Option<&str>, now: i64) -> anyhow::Result<()> {
    // Only on a server without users: a deliberately removed admin does not come back.
    let exists = db
        .tx_blocking(|c| Ok(users::table.count().get_result::<i64>(c)? > 0))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if exists {
        return Ok(());
    }
    let (password, generated) = match configured {
        Some(p) if !p.is_empty() => (p.to_owned(), false),
        _ => (super::random_token(), true),
    };
    add_user(
        db,
        DEFAULT_TENANT,
        "admin",
        &password,
        "TENANT_ADMIN,SYSTEM_ADMIN",
        now,
    )
    .map_err(|e| anyhow::anyhow!("creating user admin failed: {e}"))?;
    if generated {
        let path = data_dir.join(ADMIN_PASSWORD_FILE);
        crate::storage::write_file_atomically(&path, format!("{password}\n").as_bytes(), 0o600)?;
        // Printed once, on the console, so the operator can log in; it is not logged again.
        println!(
            "Created user 'admin' with password {password}\n(also stored in {}; change it or set UPDRAFT_ADMIN_PASSWORD)",
            path.display()
        );
    }
    Ok(())
}

/// Creates a user of `tenant` with an argon2 hash of `password`: 409 when the name is taken, 400
/// when the tenant does not exist or a permission name is unknown.
pub fn add_user(
    db: &Db,
    tenant: &str,
    username: &str,
    password: &str,
    permissions: &str,
    now: i64,
) -> ApiResult<()> {
    Permissions::parse(permissions).map_err(|e| ApiError::constraint_violation(e.to_string()))?;
    let hash = hash_password(password).map_err(ApiError::internal)?;
    db.tx_blocking(|c| {
        if !crate::store::tenants::exists(c, tenant)? {
            return Err(ApiError::tenant_not_exists(tenant));
        }
        let taken: bool = diesel::select(diesel::dsl::exists(
            users::table.filter(users::username.eq(username)),
        ))
        .get_result(c)?;
        if taken {
            return Err(ApiError::already_exists(format!(
                "User {username} already exists."
            )));
        }
        diesel::insert_into(users::table)
            .values((
                users::tenant.eq(tenant),
                users::username.eq(username),
                users::password_hash.eq(&hash),
                users::permissions.eq(permissions),
                users::created_at.eq(now),
            ))
            .execute(c)?;
        Ok(())
    })
}

/// Deletes `username`: 404 when there is none, 409 when it is the last user holding
/// `SYSTEM_ADMIN`, since nobody could then manage users or tenants any more.
pub fn delete_user(c: &mut crate::store::AnyConnection, username: &str) -> ApiResult<()> {
    let all: Vec<(String, String)> = users::table
        .select((users::username, users::permissions))
        .load(c)?;
    let Some((_, perms)) = all.iter().find(|(u, _)| u == username) else {
        return Err(ApiError::not_found("User", username));
    };
    let is_admin = |p: &str| Permissions::parse(p).is_ok_and(|p| p.has(Permission::SystemAdmin));
    if is_admin(perms) && all.iter().filter(|(_, p)| is_admin(p)).count() == 1 {
        return Err(ApiError::user_not_deletable(format!(
            "{username} is the last user with SYSTEM_ADMIN; create another one first."
        )));
    }
    diesel::delete(users::table.filter(users::username.eq(username))).execute(c)?;
    Ok(())
}

/// An authenticated Management API user.
#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub tenant: String,
    pub permissions: Permissions,
}

impl User {
    /// `Ok` when the user holds `p`, else hawkBit's 403 `insufficientPermission`.
    pub fn require(&self, p: Permission) -> ApiResult<()> {
        self.permissions.require(p)
    }
}

/// Verified credentials, so scripts do not pay an argon2 hash on every call. An entry holds the
/// password hash it was verified against; every request still reads the user's row (one indexed
/// query), so a removed user, a changed password or changed permissions count at once on every
/// node, also when the change came from the CLI of another process.
#[derive(Default)]
pub struct CredentialCache {
    verified: DashMap<[u8; 32], String>,
    throttle: super::throttle::LoginThrottle,
    bus: std::sync::Arc<crate::cluster::Bus>,
}

/// Verified entries kept at most; past it the cache starts afresh (each entry is a working password).
const CREDENTIAL_CACHE_MAX: usize = 10_000;

impl CredentialCache {
    /// Drops every cached login, so a deleted or changed user is checked against the database again.
    pub fn forget_all(&self) {
        self.forget_local();
        self.bus.publish(crate::cluster::Invalidation::Credentials);
    }

    /// [`CredentialCache::forget_all`] in this process only.
    pub fn forget_local(&self) {
        self.verified.clear();
    }

    pub fn with_bus(bus: std::sync::Arc<crate::cluster::Bus>) -> Self {
        Self {
            verified: DashMap::new(),
            throttle: super::throttle::LoginThrottle::default(),
            bus,
        }
    }
}

fn credential_key(username: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(username.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    h.finalize().into()
}

/// Why a login was refused; each renders as the Management API's answer.
#[derive(Debug)]
pub enum LoginRefused {
    /// Unknown user or wrong password (the two are not told apart).
    Wrong,
    /// Too many recent failures from this address: try again after this many seconds.
    Throttled(u64),
    /// A malformed credential or an unavailable database.
    Error(ApiError),
}

impl From<ApiError> for LoginRefused {
    fn from(e: ApiError) -> Self {
        Self::Error(e)
    }
}

impl From<LoginRefused> for actix_web::Error {
    fn from(r: LoginRefused) -> Self {
        match r {
            LoginRefused::Wrong => unauthorized(),
            LoginRefused::Throttled(secs) => {
                let body = crate::error::ExceptionInfo {
                    exception_class: "io.updraft.server.LoginThrottledException".into(),
                    error_code: "updraft.server.error.login.throttled".into(),
                    message: format!(
                        "Too many failed logins from this address; try again in {secs} seconds."
                    ),
                    info: None,
                };
                actix_web::error::InternalError::from_response(
                    "throttled",
                    HttpResponse::build(StatusCode::TOO_MANY_REQUESTS)
                        .insert_header(("retry-after", secs.to_string()))
                        .json(body),
                )
                .into()
            }
            LoginRefused::Error(e) => e.into(),
        }
    }
}

fn unauthorized() -> actix_web::Error {
    // hawkBit answers 401 without a body; the realm tells curl and browsers to ask for credentials.
    actix_web::error::InternalError::from_response(
        "unauthorized",
        HttpResponse::build(StatusCode::UNAUTHORIZED)
            .insert_header(("www-authenticate", "Basic realm=\"hawkBit\""))
            .finish(),
    )
    .into()
}

fn parse_basic(req: &HttpRequest) -> Option<(String, String)> {
    use base64_engine::decode;
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(decode(encoded.trim())?).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// An argon2 hash of a random password, verified against for unknown users so that an unknown
/// name takes as long as a wrong password and timing does not tell which users exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&super::random_token()).unwrap_or_default())
}

/// Checks a username and password as basic authentication does (the web UI's login uses it too).
pub(crate) async fn verify_credentials(
    state: &AppState,
    client: Option<std::net::IpAddr>,
    username: String,
    password: String,
) -> Result<User, LoginRefused> {
    if crate::guard::has_control(&username) || crate::guard::has_control(&password) {
        return Err(
            ApiError::constraint_violation("The username or password contains a control character.").into(),
        );
    }
    let ip = client.unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
    let throttle = &state.credentials.throttle;
    if let Some(ms) = throttle.wait_ms(ip, &username, state.now()) {
        return Err(LoginRefused::Throttled((ms as u64).div_ceil(1000)));
    }
    let name = username.clone();
    let row: Option<(String, String, String)> = state
        .db
        .run(move |c| {
            Ok(users::table
                .filter(users::username.eq(&name))
                .select((users::tenant, users::password_hash, users::permissions))
                .first(c)
                .optional()?)
        })
        .await?;
    let key = credential_key(&username, &password);
    let cached = row.as_ref().is_some_and(|(_, hash, _)| {
        state
            .credentials
            .verified
            .get(&key)
            .is_some_and(|h| h.value() == hash)
    });
    if !cached {
        let hash = row
            .as_ref()
            .map_or_else(|| dummy_hash().to_owned(), |(_, h, _)| h.clone());
        let ok = web::block(move || {
            PasswordHash::new(&hash).is_ok_and(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
        })
        .await
        .map_err(ApiError::internal)?;
        if !ok || row.is_none() {
            throttle.failed(ip, &username, state.now());
            return Err(LoginRefused::Wrong);
        }
    }
    let Some((tenant, hash, permissions)) = row else {
        return Err(LoginRefused::Wrong);
    };
    throttle.succeeded(ip, &username);
    if !cached {
        if state.credentials.verified.len() >= CREDENTIAL_CACHE_MAX {
            state.credentials.verified.clear();
        }
        state.credentials.verified.insert(key, hash);
    }
    // Stored lists are validated on write; a name removed since then grants nothing.
    let permissions = Permissions::parse(&permissions).unwrap_or_else(|e| {
        tracing::warn!(user = %username, error = %e, "ignoring the stored permissions of a user");
        Permissions::default()
    });
    Ok(User {
        username,
        tenant,
        permissions,
    })
}

impl FromRequest for User {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let state = req
            .app_data::<web::Data<AppState>>()
            .map(|s| Arc::clone(&s.clone().into_inner()));
        let creds = parse_basic(req);
        let client = crate::proxy::ClientIp::of(req);
        let req = req.clone();
        Box::pin(async move {
            let (Some(state), Some((u, p))) = (state, creds) else {
                return Err(unauthorized());
            };
            let user = verify_credentials(&state, client, u, p).await?;
            actix_web::HttpMessage::extensions_mut(&req).insert(crate::middleware::Principal::User {
                tenant: user.tenant.clone(),
                username: user.username.clone(),
            });
            Ok(user)
        })
    }
}

/// A minimal standard base64 decoder (the only place we need base64).
mod base64_engine {
    pub fn decode(s: &str) -> Option<Vec<u8>> {
        fn val(c: u8) -> Option<u32> {
            Some(u32::from(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            }))
        }
        let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
        let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
        for chunk in bytes.chunks(4) {
            let mut n = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                n |= val(c)? << (18 - 6 * i);
            }
            let take = match chunk.len() {
                4 => 3,
                3 => 2,
                2 => 1,
                _ => return None,
            };
            out.extend_from_slice(&n.to_be_bytes()[1..=take]);
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn decodes_basic_credentials() {
            assert_eq!(super::decode("YWRtaW46c2VjcmV0").unwrap(), b"admin:secret");
            assert_eq!(super::decode("YQ==").unwrap(), b"a");
            assert!(super::decode("!!!!").is_none());
        }
    }
}
