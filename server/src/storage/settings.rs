//! Where artifacts live: `storage = "fs" | "s3"` and the `[s3]` table, with their `UPDRAFT_*`
//! variables. Kept in one place so the server's configuration only embeds these two fields.

use anyhow::bail;
use serde::Deserialize;

use crate::config::settings::{Value, settings};

/// Where artifacts live: `fs` (under `<data_dir>/artifacts`) or `s3` (the `[s3]` bucket).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    Fs,
    S3,
}

impl Value for StorageKind {
    fn parse_env(text: &str) -> Result<Self, String> {
        match text {
            "fs" => Ok(Self::Fs),
            "s3" => Ok(Self::S3),
            _ => Err("expected `fs` or `s3`".into()),
        }
    }
    fn show(&self) -> String {
        match self {
            Self::Fs => "`fs`".into(),
            Self::S3 => "`s3`".into(),
        }
    }
}

settings! {
    /// The `[s3]` table: an S3-compatible bucket (AWS S3, MinIO, Garage, Ceph RGW, R2). Credentials
    /// are not settings: they come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN`), or the AWS chain (web identity, ECS task role, EC2 instance metadata).
    pub struct S3Settings {
        /// The bucket for `storage = "s3"`; it must exist.
        bucket: String = String::new() => "UPDRAFT_S3_BUCKET";
        /// Key prefix, so one bucket can serve several installations.
        prefix: String = String::new() => "UPDRAFT_S3_PREFIX";
        /// The bucket's region (`us-east-1` when unset; most S3-compatible stores accept any).
        region: Option<String> = None => "UPDRAFT_S3_REGION";
        /// The store's URL for anything but AWS, e.g. `http://127.0.0.1:9000`.
        endpoint: Option<String> = None => "UPDRAFT_S3_ENDPOINT";
        /// Address the bucket as `<endpoint>/<bucket>` rather than `<bucket>.<endpoint host>`
        /// (MinIO, Garage and Ceph usually want `true`).
        path_style: bool = false => "UPDRAFT_S3_PATH_STYLE";
        /// DDI artifact downloads answer `302` with a presigned URL, so the bytes go from the bucket
        /// to the device without passing through this server. Devices must reach the endpoint and
        /// follow redirects (SWUpdate and curl-based clients do).
        redirect: bool = false => "UPDRAFT_S3_REDIRECT";
        /// How long a presigned download URL stays valid, in seconds.
        redirect_expiry_secs: u64 = 300 => "UPDRAFT_S3_REDIRECT_EXPIRY_SECS";
    }
    code {
        /// Access key and secret given by code (tests, embedding), overriding the AWS variables.
        credentials: Option<(String, String)>,
    }
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
        use crate::config::settings::Section;
        let mut s3 = S3Settings::default();
        let env = |k: &str| match k {
            "UPDRAFT_S3_BUCKET" => Some("b".to_owned()),
            "UPDRAFT_S3_PATH_STYLE" => Some("true".to_owned()),
            _ => None,
        };
        s3.apply_env(&env).unwrap();
        assert_eq!(StorageKind::parse_env("s3"), Ok(StorageKind::S3));
        assert_eq!(s3.bucket, "b");
        assert!(s3.path_style);
        validate(&s3, 1 << 30).unwrap();
        assert!(validate(&S3Settings::default(), 1 << 30).is_err());
        assert!(StorageKind::parse_env("nfs").is_err());
    }
}
