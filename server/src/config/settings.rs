//! One definition per setting: [`settings!`] turns a list of `key: Type = default => "UPDRAFT_…"`
//! entries, each with its doc comment, into the TOML-deserializable struct, its `Default`, its
//! `UPDRAFT_*` overrides and the reference rows that `updraft-server --help` and the README's table
//! are rendered from, so the four cannot drift apart.

use std::fmt::Write;

/// A setting's value as an environment variable reads it and as the reference shows its default.
pub trait Value: Sized {
    /// Parses an environment variable's text; the error says what was expected.
    fn parse_env(text: &str) -> Result<Self, String>;
    /// The value as the reference shows a default (Markdown).
    fn show(&self) -> String;
}

impl Value for String {
    fn parse_env(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn show(&self) -> String {
        format!("`{self}`")
    }
}

impl Value for std::path::PathBuf {
    fn parse_env(text: &str) -> Result<Self, String> {
        Ok(text.into())
    }
    fn show(&self) -> String {
        format!("`{}`", self.display())
    }
}

impl Value for bool {
    fn parse_env(text: &str) -> Result<Self, String> {
        match text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("expected `true` or `false`".into()),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

macro_rules! whole_numbers {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn parse_env(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|_| {
                    format!("expected a whole number from {} to {}", <$t>::MIN, <$t>::MAX)
                })
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
whole_numbers!(u16, u32, u64, usize, i64);

/// Unset when the variable is empty, so a deployment template can pass `""` for "not set".
impl<T: Value> Value for Option<T> {
    fn parse_env(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            Ok(None)
        } else {
            T::parse_env(text).map(Some)
        }
    }
    fn show(&self) -> String {
        self.as_ref().map_or_else(|| "unset".into(), Value::show)
    }
}

/// A list is comma-separated in the environment (`a,b`); blanks between commas are ignored.
impl<T: Value> Value for Vec<T> {
    fn parse_env(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| T::parse_env(s).map_err(|e| format!("{s:?}: {e}")))
            .collect()
    }
    fn show(&self) -> String {
        if self.is_empty() {
            "`[]`".into()
        } else {
            self.iter().map(Value::show).collect::<Vec<_>>().join(", ")
        }
    }
}

impl Value for crate::proxy::Cidr {
    fn parse_env(text: &str) -> Result<Self, String> {
        text.parse()
    }
    fn show(&self) -> String {
        format!("`{self}`")
    }
}

/// One line of the settings reference.
#[derive(Debug, Clone)]
pub struct Row {
    /// The TOML key, dotted for a section's keys (`dos_filter.max_read`).
    pub key: String,
    pub env: &'static str,
    /// The default, in Markdown.
    pub default: String,
    /// The doc comment's lines.
    pub help: &'static [&'static str],
}

impl Row {
    /// The doc comment as one paragraph.
    pub fn help_text(&self) -> String {
        self.help.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
    }
}

/// What [`settings!`] generates for a settings struct, top level or section.
pub trait Section {
    /// Overrides fields from `UPDRAFT_*` variables, as `var` returns them.
    fn apply_env(&mut self, var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()>;
    /// Appends the reference rows of this struct's current values, keys prefixed with `prefix`.
    fn rows(&self, prefix: &str, out: &mut Vec<Row>);
}

/// Parses one variable for [`settings!`]: the error names the variable, its text and what was expected.
pub fn parse_var<T: Value>(env: &str, text: &str) -> anyhow::Result<T> {
    T::parse_env(text).map_err(|e| anyhow::anyhow!("{env}={text:?} is not a valid value: {e}"))
}

/// The reference as the README's Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from("| TOML key | environment | default | what |\n| --- | --- | --- | --- |\n");
    for r in rows {
        let help = r.help_text().replace('|', "\\|");
        let _ = writeln!(out, "| `{}` | `{}` | {} | {help} |", r.key, r.env, r.default);
    }
    out
}

/// The reference as plain text for `--help`: each setting with its variable, default and meaning.
pub fn plain(rows: &[Row]) -> String {
    let mut out = String::from(
        "Settings (TOML key in the --config file, then the UPDRAFT_* variable that overrides it):\n",
    );
    for r in rows {
        let default = r.default.replace('`', "");
        let _ = write!(out, "\n  {}, {} [default: {default}]\n", r.key, r.env);
        let text = r.help_text().replace('`', "");
        let mut line = String::from("     ");
        for word in text.split_whitespace() {
            if line.len() + word.len() > 96 {
                out.push_str(line.trim_end());
                out.push('\n');
                line = String::from("     ");
            }
            line.push(' ');
            line.push_str(word);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The TOML key of a field: its name, or the `#[key = "…"]` given.
macro_rules! key_of {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $key:literal) => {
        $key
    };
}
pub(crate) use key_of;

/// Declares a settings struct from one list. Each entry is
///
/// ```text
/// /// What it does (the doc comment is also the `--help` and README text).
/// #[key = "camelCaseKey"]          // optional: a TOML key other than the field's name
/// field: Type = default_expression => "UPDRAFT_ENV_NAME";
/// ```
///
/// and an optional `sections { name: Type, }` list names nested TOML tables, themselves declared
/// with `settings!`. An optional `code { name: Type, }` list adds fields that only code sets (never
/// the file or the environment; they start as `Default`). Every setting's type implements [`Value`].
macro_rules! settings {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[key = $key:literal])?
                $field:ident : $ty:ty = $default:expr => $env:literal;
            )*
        }
        $(sections {
            $( $(#[doc = $secdoc:literal])* $sfield:ident : $sty:ty ),* $(,)?
        })?
        $(code {
            $( $(#[doc = $cdoc:literal])* $cfield:ident : $cty:ty ),* $(,)?
        })?
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!("Environment: `", $env, "`.")]
                $(#[serde(rename = $key)])?
                pub $field: $ty,
            )*
            $($( $(#[doc = $secdoc])* pub $sfield: $sty, )*)?
            $($( $(#[doc = $cdoc])* #[serde(skip)] pub $cfield: $cty, )*)?
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $( $field: $default, )*
                    $($( $sfield: <$sty>::default(), )*)?
                    $($( $cfield: <$cty>::default(), )*)?
                }
            }
        }

        impl $crate::config::settings::Section for $name {
            fn apply_env(&mut self, var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()> {
                $(
                    if let Some(text) = var($env) {
                        self.$field = $crate::config::settings::parse_var($env, &text)?;
                    }
                )*
                $($( self.$sfield.apply_env(var)?; )*)?
                Ok(())
            }

            fn rows(&self, prefix: &str, out: &mut Vec<$crate::config::settings::Row>) {
                $(
                    out.push($crate::config::settings::Row {
                        key: format!("{prefix}{}", $crate::config::settings::key_of!($field $(, $key)?)),
                        env: $env,
                        default: $crate::config::settings::Value::show(&self.$field),
                        help: &[$($doc),*],
                    });
                )*
                $($(
                    self.$sfield.rows(&format!("{prefix}{}.", stringify!($sfield)), out);
                )*)?
            }
        }
    };
}
pub(crate) use settings;
