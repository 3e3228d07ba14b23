//! Where artifacts live: `storage = "fs" | "s3"` and the `[s3]` table, with their `UPDRAFT_*`
//! variables. Kept in one place so the server's configuration only embeds these two fields.

use anyhow::bail;
use serde::Deserialize;

/// `UPDRAFT_STORAGE`: `fs` (artifacts under `<data_dir>/artifacts`) or `s3` (the `[s3]` bucket).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    Fs,
    S3,
}

/// The `[s3]` table: an S3-compatible bucket (AWS S3, MinIO, Garage, Ceph RGW, R2). Credentials are
/// not settings: they come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and
/// `AWS_SESSION_TOKEN`), or the AWS chain (web identity, ECS task role, EC2 instance metadata).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// `UPDRAFT_S3_BUCKET`: the bucket; it must exist.
    pub bucket: String,
    /// `UPDRAFT_S3_PREFIX`: key prefix, so one bucket can serve several installations.
    pub prefix: String,
    /// `UPDRAFT_S3_REGION`: the bucket's region (`us-east-1` when unset; most S3-compatible stores
    /// accept any).
    pub region: Option<String>,
    /// `UPDRAFT_S3_ENDPOINT`: the store's URL for anything but AWS, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// `UPDRAFT_S3_PATH_STYLE`: address the bucket as `<endpoint>/<bucket>` rather than
    /// `<bucket>.<endpoint host>` (MinIO, Garage and Ceph usually want `true`).
    pub path_style: bool,
    /// `UPDRAFT_S3_REDIRECT`: DDI artifact downloads answer `302` with a presigned URL, so the bytes
    /// go from the bucket to the device without passing through this server. Devices must reach
    /// the endpoint and follow redirects (SWUpdate and curl-based clients do).
    pub redirect: bool,
    /// `UPDRAFT_S3_REDIRECT_EXPIRY_SECS`: how long a presigned download URL stays valid.
    pub redirect_expiry_secs: u64,
    /// Access key and secret given by code (tests, embedding), overriding the AWS variables;
    /// never read from the file or the environment's `UPDRAFT_*` names.
    #[serde(skip)]
    pub credentials: Option<(String, String)>,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            prefix: String::new(),
            region: None,
            endpoint: None,
            path_style: false,
            redirect: false,
            redirect_expiry_secs: 300,
            credentials: None,
        }
    }
}

/// Applies `UPDRAFT_STORAGE` and the `UPDRAFT_S3_*` variables read through `var`.
pub fn apply_env(
    kind: &mut StorageKind,
    s3: &mut S3Settings,
    var: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let flag = |name: &str, v: &str| -> anyhow::Result<bool> {
        match v {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => bail!("{name}={v:?} must be `true` or `false`"),
        }
    };
    if let Some(v) = var("UPDRAFT_STORAGE") {
        *kind = match v.as_str() {
            "fs" => StorageKind::Fs,
            "s3" => StorageKind::S3,
            _ => bail!("UPDRAFT_STORAGE={v:?} must be `fs` or `s3`"),
        };
    }
    if let Some(v) = var("UPDRAFT_S3_BUCKET") {
        s3.bucket = v;
    }
    if let Some(v) = var("UPDRAFT_S3_PREFIX") {
        s3.prefix = v;
    }
    if let Some(v) = var("UPDRAFT_S3_REGION") {
        s3.region = Some(v);
    }
    if let Some(v) = var("UPDRAFT_S3_ENDPOINT") {
        s3.endpoint = Some(v);
    }
    if let Some(v) = var("UPDRAFT_S3_PATH_STYLE") {
        s3.path_style = flag("UPDRAFT_S3_PATH_STYLE", &v)?;
    }
    if let Some(v) = var("UPDRAFT_S3_REDIRECT") {
        s3.redirect = flag("UPDRAFT_S3_REDIRECT", &v)?;
    }
    if let Some(v) = var("UPDRAFT_S3_REDIRECT_EXPIRY_SECS") {
        s3.redirect_expiry_secs = v.parse().map_err(|_| {
            anyhow::anyhow!("UPDRAFT_S3_REDIRECT_EXPIRY_SECS={v:?} is not a number of seconds")
        })?;
    }
    Ok(())
}

/// Checks the `[s3]` table when S3 is chosen (or asked for by `storage migrate`).
pub fn validate(s3: &S3Settings, max_artifact_size: u64) -> anyhow::Result<()> {
    if s3.bucket.is_empty() {
        bail!("storage = \"s3\" needs a bucket: set [s3] bucket or UPDRAFT_S3_BUCKET");
    }
    if let Some(e) = &s3.endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        bail!("[s3] endpoint = {e:?} must start with http:// or https://");
    }
    // A finished multipart upload is copied to its content address with one CopyObject, which S3
    // limits to 5 GiB.
    if max_artifact_size > 5 << 30 {
        bail!("max_artifact_size may be at most 5 GiB (5368709120) with S3 storage");
    }
    if !(1..=7 * 24 * 3600).contains(&s3.redirect_expiry_secs) {
        bail!("[s3] redirect_expiry_secs must be between 1 and 604800 (S3's limit of 7 days)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_chooses_s3_and_fills_the_table() {
        let (mut kind, mut s3) = (StorageKind::Fs, S3Settings::default());
        let env = |k: &str| match k {
            "UPDRAFT_STORAGE" => Some("s3".to_owned()),
            "UPDRAFT_S3_BUCKET" => Some("b".to_owned()),
            "UPDRAFT_S3_PATH_STYLE" => Some("true".to_owned()),
            _ => None,
        };
        apply_env(&mut kind, &mut s3, &env).unwrap();
        assert_eq!(kind, StorageKind::S3);
        assert_eq!(s3.bucket, "b");
        assert!(s3.path_style);
        validate(&s3, 1 << 30).unwrap();
        assert!(validate(&S3Settings::default(), 1 << 30).is_err());
        let bad = |k: &str| (k == "UPDRAFT_STORAGE").then(|| "nfs".to_owned());
        assert!(apply_env(&mut kind, &mut s3, &bad).is_err());
    }
}
