//! The typed sw-description model (libconfig or JSON) and SWUpdate's selection rules.

use std::collections::BTreeSet;

use crate::libconfig::{self, SyntaxError, Value};

/// Handler types SWUpdate ships (`handlers/*.c`, 2022.12 to 2026.05) plus their aliases.
/// Anything else is almost always a typo that would only fail on the device.
pub const KNOWN_TYPES: &[&str] = &[
    "raw",
    "rawfile",
    "rawcopy",
    "archive",
    "tar",
    "ubivol",
    "ubipartition",
    "ubiswap",
    "flash",
    "flash-hamming1",
    "lua",
    "shellscript",
    "preinstall",
    "postinstall",
    "postfailure",
    "bootloader",
    "uboot",
    "grub",
    "remote",
    "rdiff",
    "rdiffimage",
    "delta",
    // Updraft's per-source patch (docs/delta.md), chained to `raw`.
    "patch",
    "diskpart",
    "diskformat",
    "gptpart",
    "gptswap",
    "toggleboot",
    "ssbl",
    "ucfw",
    "swuforward",
    "emmc_csd",
    "emmc_boot",
    "emmc_boot_toggle",
    "docker_imageload",
    "docker_imagedelete",
    "docker_containercreate",
    "docker_containerdelete",
    "btrfs",
    "copy",
    "readback",
];

#[derive(Debug, thiserror::Error)]
pub enum SwDescriptionError {
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    #[error("sw-description: not UTF-8")]
    NotUtf8,
    #[error("sw-description: no top-level `software` group")]
    MissingSoftware,
    #[error("sw-description: {path}: {message}")]
    Field { path: String, message: String },
    #[error("sw-description: {path}: unknown type {kind:?} (not a SWUpdate handler)")]
    UnknownType { path: String, kind: String },
    #[error("sw-description: {filename:?} is described twice with different sha256")]
    Duplicate { filename: String },
    #[error("sw-description: selection {0:?} not found")]
    NoSuchSelection(String),
    #[error("sw-description: {0} is not supported")]
    Unsupported(String),
}

fn field_err(path: &str, message: impl Into<String>) -> SwDescriptionError {
    SwDescriptionError::Field {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Whether an artifact came from `images`, `files` or `scripts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    Image,
    File,
    Script,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zlib,
    Zstd,
}

/// One entry of `images`, `files` or `scripts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub kind: ArtifactKind,
    pub filename: Option<String>,
    /// The handler (`type`); defaults as SWUpdate: `raw`, `rawfile`, `lua`.
    pub handler: String,
    pub device: Option<String>,
    pub volume: Option<String>,
    pub path: Option<String>,
    pub filesystem: Option<String>,
    /// SHA-256 of the bytes stored in the cpio (after compression/encryption).
    pub sha256: Option<[u8; 32]>,
    pub compressed: Option<Compression>,
    pub encrypted: bool,
    pub ivt: Option<String>,
    pub installed_directly: bool,
    pub install_if_different: bool,
    pub install_if_higher: bool,
    pub name: Option<String>,
    pub version: Option<String>,
    pub offset: Option<String>,
    /// `properties`: each value a string or a list of strings.
    pub properties: Vec<(String, Vec<String>)>,
    /// The whole entry, for handler-specific settings not modelled here.
    pub raw: Value,
}

/// The effective content for one board/selection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    pub hardware_compatibility: Vec<String>,
    pub images: Vec<Artifact>,
    pub files: Vec<Artifact>,
    pub scripts: Vec<Artifact>,
    /// `bootenv` (or the old `uboot`) name/value pairs; an empty value unsets.
    pub bootenv: Vec<(String, String)>,
}

impl Selection {
    /// SWUpdate's hardware check against the device revision (`/etc/hwrevision` "board rev"
    /// or `-H board:rev`): an entry matches by equality, or `#RE:<regex>` by an unanchored
    /// regex search (SWUpdate uses POSIX ERE; `regex-lite` agrees on the usual patterns).
    /// An empty list is incompatible, as in the Debian build.
    pub fn is_hardware_compatible(&self, revision: &str) -> Result<bool, SwDescriptionError> {
        for entry in &self.hardware_compatibility {
            let ok = match entry.strip_prefix("#RE:") {
                Some(re) => regex_lite::Regex::new(re)
                    .map_err(|e| field_err("hardware-compatibility", format!("{entry:?}: {e}")))?
                    .is_match(revision),
                None => entry == revision,
            };
            if ok {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn artifacts(&self) -> impl Iterator<Item = &Artifact> {
        self.images
            .iter()
            .chain(self.files.iter())
            .chain(self.scripts.iter())
    }
}

/// A parsed sw-description.
#[derive(Debug, Clone, PartialEq)]
pub struct SwDescription {
    pub version: Option<String>,
    pub description: Option<String>,
    /// The `software` group as parsed.
    pub software: Value,
    filenames: BTreeSet<String>,
    extra_types: Vec<String>,
}

impl SwDescription {
    /// Parses libconfig or (when the text starts with `{`) JSON, and checks every artifact
    /// list anywhere under `software`. Handler types must be in [`KNOWN_TYPES`].
    pub fn parse(bytes: &[u8]) -> Result<Self, SwDescriptionError> {
        Self::parse_with_handlers(bytes, &[])
    }

    /// As [`SwDescription::parse`], also accepting the product's own handler types (SWUpdate
    /// handlers registered by the product, like the docs' `type = "fpga"`).
    pub fn parse_with_handlers(bytes: &[u8], extra_types: &[String]) -> Result<Self, SwDescriptionError> {
        if bytes.len() > libconfig::MAX_INPUT {
            return Err(SyntaxError {
                line: 0,
                column: 0,
                message: format!("input larger than {} bytes", libconfig::MAX_INPUT),
            }
            .into());
        }
        let text = std::str::from_utf8(bytes).map_err(|_| SwDescriptionError::NotUtf8)?;
        let root = if text.trim_start().starts_with('{') {
            libconfig::parse_json(text)?
        } else {
            libconfig::parse(text)?
        };
        let software = root
            .get("software")
            .cloned()
            .ok_or(SwDescriptionError::MissingSoftware)?;
        if !matches!(software, Value::Group(_)) {
            return Err(field_err("software", "must be a group"));
        }
        let mut filenames = BTreeSet::new();
        check_tree(&software, "software", extra_types, &mut filenames)?;
        Ok(Self {
            extra_types: extra_types.to_vec(),
            version: opt_string(&software, "software", "version")?,
            description: opt_string(&software, "software", "description")?,
            software,
            filenames,
        })
    }

    /// Every file name referenced anywhere (any board or selection).
    pub fn referenced_filenames(&self) -> &BTreeSet<String> {
        &self.filenames
    }

    /// Resolves the effective content as SWUpdate does for `-H board:rev -e set,mode`: each
    /// setting is taken from the first of `software.<board>.<set>.<mode>`,
    /// `software.<set>.<mode>`, `software.<board>`, `software` that has it.
    pub fn select(
        &self,
        board: Option<&str>,
        selection: Option<&str>,
    ) -> Result<Selection, SwDescriptionError> {
        let mut nodes: Vec<(String, &Value)> = Vec::new();
        if let Some(sel) = selection {
            let (set, mode) = sel
                .split_once(',')
                .map(|(a, b)| (a.trim(), b.trim()))
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .ok_or_else(|| {
                    SwDescriptionError::NoSuchSelection(format!("{sel} (expected \"set,mode\")"))
                })?;
            if let Some(b) = board
                && let Some(n) = self.software.get(b).and_then(|n| n.get(set)?.get(mode))
            {
                nodes.push((format!("software.{b}.{set}.{mode}"), n));
            }
            if let Some(n) = self.software.get(set).and_then(|n| n.get(mode)) {
                nodes.push((format!("software.{set}.{mode}"), n));
            }
            if nodes.is_empty() {
                return Err(SwDescriptionError::NoSuchSelection(sel.to_owned()));
            }
        }
        if let Some(b) = board
            && let Some(n @ Value::Group(_)) = self.software.get(b)
        {
            nodes.push((format!("software.{b}"), n));
        }
        nodes.push(("software".to_owned(), &self.software));
        for (path, node) in &nodes {
            if node.get("ref").is_some() {
                return Err(SwDescriptionError::Unsupported(format!("`ref` link at {path}")));
            }
        }
        let find = |key: &str| {
            nodes
                .iter()
                .find_map(|(p, n)| n.get(key).map(|v| (format!("{p}.{key}"), v)))
        };
        let mut out = Selection::default();
        if let Some((p, v)) = find("hardware-compatibility") {
            out.hardware_compatibility = string_list(v, &p)?;
        }
        for (key, kind) in [
            ("images", ArtifactKind::Image),
            ("files", ArtifactKind::File),
            ("scripts", ArtifactKind::Script),
        ] {
            if let Some((p, v)) = find(key) {
                let list = parse_artifacts(v, &p, kind, &self.extra_types)?;
                match kind {
                    ArtifactKind::Image => out.images = list,
                    ArtifactKind::File => out.files = list,
                    ArtifactKind::Script => out.scripts = list,
                }
            }
        }
        if let Some((p, v)) = find("bootenv").or_else(|| find("uboot")) {
            out.bootenv = parse_bootenv(v, &p)?;
        }
        let mut seen: Vec<(&str, Option<[u8; 32]>)> = Vec::new();
        for a in out.artifacts() {
            if let Some(f) = a.filename.as_deref() {
                if let Some((_, sha)) = seen.iter().find(|(n, _)| *n == f) {
                    if *sha != a.sha256 {
                        return Err(SwDescriptionError::Duplicate {
                            filename: f.to_owned(),
                        });
                    }
                } else {
                    seen.push((f, a.sha256));
                }
            }
        }
        Ok(out)
    }
}

/// Walks groups under `software`, parsing every artifact list so errors show at parse time.
fn check_tree(
    node: &Value,
    path: &str,
    extra_types: &[String],
    filenames: &mut BTreeSet<String>,
) -> Result<(), SwDescriptionError> {
    let Value::Group(members) = node else {
        return Ok(());
    };
    for (key, v) in members {
        let p = format!("{path}.{key}");
        let kind = match key.as_str() {
            "images" => Some(ArtifactKind::Image),
            "files" => Some(ArtifactKind::File),
            "scripts" => Some(ArtifactKind::Script),
            "bootenv" | "uboot" => {
                parse_bootenv(v, &p)?;
                None
            }
            "hardware-compatibility" => {
                string_list(v, &p)?;
                None
            }
            _ => {
                check_tree(v, &p, extra_types, filenames)?;
                None
            }
        };
        if let Some(kind) = kind {
            for a in parse_artifacts(v, &p, kind, extra_types)? {
                filenames.extend(a.filename);
            }
        }
    }
    Ok(())
}

fn entries<'v>(v: &'v Value, path: &str) -> Result<&'v [Value], SwDescriptionError> {
    match v {
        Value::List(l) | Value::Array(l) => Ok(l),
        other => Err(field_err(
            path,
            format!("must be a list, found a {}", other.kind()),
        )),
    }
}

fn string_list(v: &Value, path: &str) -> Result<Vec<String>, SwDescriptionError> {
    entries(v, path)?
        .iter()
        .enumerate()
        .map(|(i, e)| match e {
            Value::Str(s) => Ok(s.clone()),
            other => Err(field_err(
                &format!("{path}[{i}]"),
                format!("must be a string, found a {}", other.kind()),
            )),
        })
        .collect()
}

fn opt_string(g: &Value, path: &str, key: &str) -> Result<Option<String>, SwDescriptionError> {
    match g.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        // SWUpdate reads numbers where strings are expected leniently for a few fields.
        Some(Value::Int(i)) if key == "offset" => Ok(Some(i.to_string())),
        Some(other) => Err(field_err(
            &format!("{path}.{key}"),
            format!("must be a string, found a {}", other.kind()),
        )),
    }
}

fn opt_bool(g: &Value, path: &str, key: &str) -> Result<bool, SwDescriptionError> {
    match g.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(field_err(
            &format!("{path}.{key}"),
            format!("must be a boolean, found a {}", other.kind()),
        )),
    }
}

fn parse_artifacts(
    v: &Value,
    path: &str,
    kind: ArtifactKind,
    extra_types: &[String],
) -> Result<Vec<Artifact>, SwDescriptionError> {
    entries(v, path)?
        .iter()
        .enumerate()
        .map(|(i, e)| parse_artifact(e, &format!("{path}[{i}]"), kind, extra_types))
        .collect()
}

fn parse_artifact(
    e: &Value,
    path: &str,
    kind: ArtifactKind,
    extra_types: &[String],
) -> Result<Artifact, SwDescriptionError> {
    if !matches!(e, Value::Group(_)) {
        return Err(field_err(path, format!("must be a group, found a {}", e.kind())));
    }
    let filename = opt_string(e, path, "filename")?;
    if let Some(f) = &filename
        && crate::cpio::check_name(f).is_err()
    {
        return Err(field_err(
            &format!("{path}.filename"),
            format!("{f:?} is not a plain file name"),
        ));
    }
    let volume = opt_string(e, path, "volume")?;
    // SWUpdate's defaults (parser.c): images with a `volume` are `ubivol`, other images
    // `raw`; files `rawfile`; scripts `lua`.
    let handler = opt_string(e, path, "type")?.unwrap_or_else(|| {
        match kind {
            ArtifactKind::Image if volume.is_some() => "ubivol",
            ArtifactKind::Image => "raw",
            ArtifactKind::File => "rawfile",
            ArtifactKind::Script => "lua",
        }
        .to_owned()
    });
    if !KNOWN_TYPES.contains(&handler.as_str()) && !extra_types.contains(&handler) {
        return Err(SwDescriptionError::UnknownType {
            path: format!("{path}.type"),
            kind: handler,
        });
    }
    let sha256 = match opt_string(e, path, "sha256")? {
        None => None,
        Some(h) => Some(
            parse_sha256(&h).ok_or_else(|| field_err(&format!("{path}.sha256"), "must be 64 hex digits"))?,
        ),
    };
    let compressed = match e.get("compressed") {
        None | Some(Value::Bool(false)) => None,
        // Before 2021 `compressed = true` meant zlib; SWUpdate still accepts it.
        Some(Value::Bool(true)) => Some(Compression::Zlib),
        Some(Value::Str(s)) if s == "zlib" => Some(Compression::Zlib),
        Some(Value::Str(s)) if s == "zstd" => Some(Compression::Zstd),
        Some(other) => {
            return Err(field_err(
                &format!("{path}.compressed"),
                format!("must be \"zlib\", \"zstd\" or a boolean, found {other}"),
            ));
        }
    };
    let ivt = opt_string(e, path, "ivt")?;
    if let Some(iv) = &ivt
        && (iv.len() != 32 || !iv.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(field_err(&format!("{path}.ivt"), "must be 32 hex digits"));
    }
    let properties = match e.get("properties") {
        None => Vec::new(),
        Some(Value::Group(m)) => m
            .iter()
            .map(|(k, v)| {
                let p = format!("{path}.properties.{k}");
                Ok((
                    k.clone(),
                    match v {
                        Value::Str(s) => vec![s.clone()],
                        other => string_list(other, &p)?,
                    },
                ))
            })
            .collect::<Result<_, SwDescriptionError>>()?,
        Some(other) => {
            return Err(field_err(
                &format!("{path}.properties"),
                format!("must be a group, found a {}", other.kind()),
            ));
        }
    };
    Ok(Artifact {
        kind,
        filename,
        handler,
        device: opt_string(e, path, "device")?,
        volume,
        path: opt_string(e, path, "path")?,
        filesystem: opt_string(e, path, "filesystem")?,
        sha256,
        compressed,
        encrypted: opt_bool(e, path, "encrypted")?,
        ivt,
        installed_directly: opt_bool(e, path, "installed-directly")?,
        install_if_different: opt_bool(e, path, "install-if-different")?,
        install_if_higher: opt_bool(e, path, "install-if-higher")?,
        name: opt_string(e, path, "name")?,
        version: opt_string(e, path, "version")?,
        offset: opt_string(e, path, "offset")?,
        properties,
        raw: e.clone(),
    })
}

fn parse_bootenv(v: &Value, path: &str) -> Result<Vec<(String, String)>, SwDescriptionError> {
    entries(v, path)?
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let p = format!("{path}[{i}]");
            let name = opt_string(e, &p, "name")?.ok_or_else(|| field_err(&p, "needs a `name`"))?;
            Ok((name, opt_string(e, &p, "value")?.unwrap_or_default()))
        })
        .collect()
}

/// Decodes 64 hex digits.
pub fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let b = hex.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let s = std::str::from_utf8(&b[2 * i..2 * i + 2]).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Lower-case hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AB: &str = r#"
software = {
    version = "2.1.0";
    description = "A/B";
    hardware-compatibility = [ "1.0" ];
    rpi4 = {
        hardware-compatibility = [ "rpi4-1" ];
        stable = {
            copy1 = {
                images: ( { filename = "rootfs.ext4.zst"; device = "/dev/mmcblk0p2";
                            compressed = "zstd"; installed-directly = true;
                            sha256 = "0000000000000000000000000000000000000000000000000000000000000001"; } );
                bootenv: ( { name = "rootpart"; value = "2"; } );
            };
        };
    };
    stable = {
        copy1 = {
            images: ( { filename = "rootfs.ext4"; device = "/dev/sda2"; } );
            bootenv: ( { name = "rootpart"; value = "2"; } );
        };
        copy2 = {
            images: ( { filename = "rootfs.ext4"; device = "/dev/sda3"; type = "raw";
                        properties = { flags = ["a", "b"]; one = "x"; }; } );
            bootenv: ( { name = "rootpart"; value = "3"; }, { name = "upgrade_available"; } );
        };
    };
    images: ( { filename = "top.img"; device = "/dev/null"; } );
    scripts: ( { filename = "post.sh"; type = "postinstall"; } );
};
"#;

    #[test]
    fn selection_follows_swupdate_lookup_order() {
        let d = SwDescription::parse(AB.as_bytes()).unwrap();
        assert_eq!(d.version.as_deref(), Some("2.1.0"));
        let top = d.select(None, None).unwrap();
        assert_eq!(top.images[0].filename.as_deref(), Some("top.img"));
        assert_eq!(top.images[0].handler, "raw");
        assert_eq!(top.scripts[0].handler, "postinstall");

        let c2 = d.select(None, Some("stable,copy2")).unwrap();
        assert_eq!(c2.images[0].device.as_deref(), Some("/dev/sda3"));
        assert_eq!(c2.bootenv[0], ("rootpart".into(), "3".into()));
        assert_eq!(c2.bootenv[1], ("upgrade_available".into(), String::new()));
        assert_eq!(c2.images[0].properties[0].1, vec!["a", "b"]);
        // Scripts and hardware-compatibility fall back to the top level.
        assert_eq!(c2.scripts.len(), 1);
        assert_eq!(c2.hardware_compatibility, vec!["1.0"]);

        let rpi = d.select(Some("rpi4"), Some("stable,copy1")).unwrap();
        let img = &rpi.images[0];
        assert_eq!(img.filename.as_deref(), Some("rootfs.ext4.zst"));
        assert_eq!(img.compressed, Some(Compression::Zstd));
        assert!(img.installed_directly);
        assert_eq!(img.sha256.unwrap()[31], 1);
        assert_eq!(rpi.hardware_compatibility, vec!["rpi4-1"]);
        // A board without its own node falls back to the generic selection.
        let other = d.select(Some("imx8"), Some("stable,copy1")).unwrap();
        assert_eq!(other.images[0].device.as_deref(), Some("/dev/sda2"));

        assert!(matches!(
            d.select(None, Some("stable,copy3")),
            Err(SwDescriptionError::NoSuchSelection(_))
        ));
        assert!(d.select(None, Some("stable")).is_err());
        assert!(top.is_hardware_compatible("1.0").unwrap());
        assert!(!top.is_hardware_compatible("1.1").unwrap());
        assert!(rpi.is_hardware_compatible("rpi4-1").unwrap());
        let re = Selection {
            hardware_compatibility: vec!["#RE:^1\\.[0-9]+$".into()],
            ..Selection::default()
        };
        assert!(re.is_hardware_compatible("1.12").unwrap());
        assert!(!re.is_hardware_compatible("2.1").unwrap());
        assert!(!Selection::default().is_hardware_compatible("1.0").unwrap());
        let bad = Selection {
            hardware_compatibility: vec!["#RE:(".into()],
            ..Selection::default()
        };
        assert!(bad.is_hardware_compatible("1").is_err());
        let names: Vec<_> = d.referenced_filenames().iter().cloned().collect();
        assert_eq!(names, ["post.sh", "rootfs.ext4", "rootfs.ext4.zst", "top.img"]);
    }

    #[test]
    fn product_handlers_can_be_allowed() {
        let text = b"software = { images = ( { filename = \"f\"; type = \"fpga\"; }, { filename = \"u\"; volume = \"rootfs\"; } ); };";
        assert!(matches!(
            SwDescription::parse(text),
            Err(SwDescriptionError::UnknownType { .. })
        ));
        let d = SwDescription::parse_with_handlers(text, &["fpga".to_owned()]).unwrap();
        let s = d.select(None, None).unwrap();
        assert_eq!(s.images[0].handler, "fpga");
        assert_eq!(s.images[1].handler, "ubivol");
    }

    #[test]
    fn json_is_accepted() {
        let d = SwDescription::parse(
            br#"{ "software": { "version": "1", "images": [ { "filename": "a", "compressed": true } ] } }"#,
        )
        .unwrap();
        let s = d.select(None, None).unwrap();
        assert_eq!(s.images[0].compressed, Some(Compression::Zlib));
    }

    #[test]
    fn nonsense_is_refused() {
        for (text, what) in [
            (
                "software = { images = ( { filename = \"a\"; type = \"rwa\"; } ); };",
                "unknown type",
            ),
            (
                "software = { images = ( { filename = \"../a\"; } ); };",
                "plain file name",
            ),
            (
                "software = { images = ( { filename = \"a\"; sha256 = \"xyz\"; } ); };",
                "64 hex",
            ),
            (
                "software = { images = ( { filename = \"a\"; compressed = \"lzma\"; } ); };",
                "zstd",
            ),
            (
                "software = { images = { filename = \"a\"; }; };",
                "must be a list",
            ),
            ("software = { images = ( { encrypted = 1; } ); };", "boolean"),
            ("software = { images = ( { ivt = \"12\"; } ); };", "32 hex"),
            ("software = { bootenv = ( { value = \"1\"; } ); };", "name"),
            ("software = { version = 3; };", "must be a string"),
            ("version = \"1\";", "no top-level"),
            ("software = { version = ; };", "expected a value"),
        ] {
            let e = SwDescription::parse(text.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(what), "{text}: {e}");
        }
        let dup = "software = { images = ( \
            { filename = \"a\"; sha256 = \"0000000000000000000000000000000000000000000000000000000000000001\"; }, \
            { filename = \"a\"; sha256 = \"0000000000000000000000000000000000000000000000000000000000000002\"; } ); };";
        let d = SwDescription::parse(dup.as_bytes()).unwrap();
        assert!(matches!(
            d.select(None, None),
            Err(SwDescriptionError::Duplicate { .. })
        ));
        assert!(matches!(
            SwDescription::parse(&[0xff, 0xfe]),
            Err(SwDescriptionError::NotUtf8)
        ));
    }
}
