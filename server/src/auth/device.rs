//! DDI device authentication, switched per tenant like hawkBit's: certificate headers from a
//! TLS-terminating proxy, then the target's own token, then the tenant's gateway token.

use actix_web::http::header::HeaderMap;

use super::secrets_equal;
use crate::tenant_config::TenantSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceAuth {
    /// The proxy vouched for the client certificate of this controller id.
    CertificateHeader,
    /// The target's own security token.
    TargetToken,
    /// The tenant's gateway token, which may act for any controller id.
    GatewayToken,
}

impl DeviceAuth {
    /// Only authenticators that do not need an existing target may register new ones.
    pub fn may_register(self) -> bool {
        !matches!(self, Self::TargetToken)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    // hawkBit matches the exact prefix, one space included, case-sensitively.
    headers
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix(scheme)?
        .strip_prefix(' ')
}

fn certificate_header(headers: &HeaderMap, settings: &TenantSettings, controller_id: &str) -> bool {
    if settings.header_authorities.is_empty() {
        return false;
    }
    let trusted = |value: &str| {
        value.split(',').any(|v| {
            settings
                .header_authorities
                .iter()
                .any(|a| a == &v.trim().to_ascii_lowercase())
        })
    };
    // hawkBit ≥ 1.0 header names.
    if header(headers, "x-controller-id") == Some(controller_id) {
        if header(headers, "x-authority").is_some_and(trusted) {
            return true;
        }
        let numbered = (0..32).map_while(|i| {
            header(headers, &format!("x-authority-{i}")).or(if i == 0 { Some("") } else { None })
        });
        if numbered.filter(|v| !v.is_empty()).any(trusted) {
            return true;
        }
    }
    // hawkBit ≤ 0.10 header names, numbered from 1.
    if header(headers, "x-ssl-client-cn") == Some(controller_id) {
        return (1..32)
            .map_while(|i| header(headers, &format!("x-ssl-issuer-hash-{i}")))
            .any(trusted);
    }
    false
}

/// Decides whether the request may act as `controller_id`; `target_token` is the stored target's
/// security token, if there is such a target.
pub fn authenticate(
    headers: &HeaderMap,
    settings: &TenantSettings,
    controller_id: &str,
    target_token: Option<&str>,
) -> Option<DeviceAuth> {
    if settings.header_auth && certificate_header(headers, settings, controller_id) {
        return Some(DeviceAuth::CertificateHeader);
    }
    if settings.target_token_auth
        && let (Some(token), Some(stored)) = (authorization(headers, "TargetToken"), target_token)
        && !stored.is_empty()
        && secrets_equal(token, stored)
    {
        return Some(DeviceAuth::TargetToken);
    }
    if settings.gateway_token_auth
        && !settings.gateway_token.is_empty()
        && let Some(token) = authorization(headers, "GatewayToken")
        && secrets_equal(token, &settings.gateway_token)
    {
        return Some(DeviceAuth::GatewayToken);
    }
    None
}
