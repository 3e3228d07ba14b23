//! A small libconfig parser for the subset sw-description uses, plus JSON into the same tree.
//!
//! `libconfig-rs` rejects real sw-description files (comments, hex ints, string
//! concatenation), so this is our own: groups `{}`, lists `()`, arrays `[]`,
//! `name = value;` / `name : value;`, escaped strings with adjacent-string concatenation,
//! decimal/hex ints (optional `L`), floats, booleans, `#`, `//` and `/* */` comments.

use std::fmt::{self, Write as _};

/// Largest accepted sw-description.
pub const MAX_INPUT: usize = 1024 * 1024;
/// Deepest accepted nesting of groups, lists and arrays.
pub const MAX_DEPTH: usize = 32;

/// A libconfig value; JSON objects become groups and JSON arrays lists.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Group(Vec<(String, Value)>),
    List(Vec<Value>),
    Array(Vec<Value>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Value {
    /// The member `key` of a group.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Group(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Value::Group(_) => "group",
            Value::List(_) => "list",
            Value::Array(_) => "array",
            Value::Str(_) => "string",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Bool(_) => "boolean",
        }
    }
}

/// A syntax error with its 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sw-description: line {line}, column {column}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses libconfig text into the root group.
pub fn parse(text: &str) -> Result<Value, SyntaxError> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    if text.len() > MAX_INPUT {
        return Err(p.err(format!("input larger than {MAX_INPUT} bytes")));
    }
    let root = p.settings(None)?;
    Ok(Value::Group(root))
}

/// Parses JSON into the same tree.
pub fn parse_json(text: &str) -> Result<Value, SyntaxError> {
    let err = |message: String| SyntaxError {
        line: 0,
        column: 0,
        message,
    };
    if text.len() > MAX_INPUT {
        return Err(err(format!("input larger than {MAX_INPUT} bytes")));
    }
    // serde_json limits recursion to 128 itself; we apply our own depth after. Its map is
    // ordered by key, which sw-description semantics never depend on.
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| SyntaxError {
        line: e.line(),
        column: e.column(),
        message: format!("JSON: {e}"),
    })?;
    from_json(json, 0).map_err(err)
}

fn from_json(v: serde_json::Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nesting deeper than {MAX_DEPTH}"));
    }
    Ok(match v {
        serde_json::Value::Null => return Err("null is not a libconfig value".into()),
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(a) => Value::List(
            a.into_iter()
                .map(|v| from_json(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(o) => {
            let mut members = Vec::with_capacity(o.len());
            for (k, v) in o {
                members.push((k, from_json(v, depth + 1)?));
            }
            Value::Group(members)
        }
    })
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> SyntaxError {
        let upto = &self.s[..self.pos.min(self.s.len())];
        let line = upto.split(|&b| b == b'\n').count();
        let column = upto.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        SyntaxError {
            line,
            column,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'#') => self.skip_line(),
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'/') => self.skip_line(),
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'*') => {
                    let start = self.pos;
                    self.pos += 2;
                    loop {
                        match self.peek() {
                            None => {
                                self.pos = start;
                                return Err(self.err("unterminated /* comment"));
                            }
                            Some(b'*') if self.s.get(self.pos + 1) == Some(&b'/') => {
                                self.pos += 2;
                                break;
                            }
                            Some(_) => self.pos += 1,
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.peek() {
            self.pos += 1;
            if b == b'\n' {
                break;
            }
        }
    }

    /// Settings until `close` (or end of input for the root).
    fn settings(&mut self, close: Option<u8>) -> Result<Vec<(String, Value)>, SyntaxError> {
        let mut out: Vec<(String, Value)> = Vec::new();
        loop {
            self.skip_ws()?;
            match (self.peek(), close) {
                (None, None) => return Ok(out),
                (None, Some(c)) => return Err(self.err(format!("missing '{}'", c as char))),
                (Some(b), Some(c)) if b == c => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => {}
            }
            let name_pos = self.pos;
            let name = self.name()?;
            self.skip_ws()?;
            match self.peek() {
                Some(b'=' | b':') => self.pos += 1,
                _ => return Err(self.err(format!("expected '=' or ':' after {name:?}"))),
            }
            let value = self.value()?;
            self.skip_ws()?;
            if matches!(self.peek(), Some(b';' | b',')) {
                self.pos += 1;
            }
            if out.iter().any(|(k, _)| *k == name) {
                self.pos = name_pos;
                return Err(self.err(format!("duplicate setting {name:?}")));
            }
            out.push((name, value));
        }
    }

    fn name(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'*' => self.pos += 1,
            Some(b'@') => return Err(self.err("@include is not supported")),
            _ => return Err(self.err("expected a setting name")),
        }
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*') {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("nesting deeper than {MAX_DEPTH}")));
        }
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        self.skip_ws()?;
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                let g = self.settings(Some(b'}'))?;
                self.depth -= 1;
                Ok(Value::Group(g))
            }
            Some(b'(') => {
                self.enter()?;
                let l = self.elements(b')', false)?;
                self.depth -= 1;
                Ok(Value::List(l))
            }
            Some(b'[') => {
                self.enter()?;
                let a = self.elements(b']', true)?;
                self.depth -= 1;
                Ok(Value::Array(a))
            }
            Some(b'"') => {
                let mut s = self.string()?;
                loop {
                    self.skip_ws()?;
                    if self.peek() == Some(b'"') {
                        s.push_str(&self.string()?);
                    } else {
                        return Ok(Value::Str(s));
                    }
                }
            }
            Some(_) => self.scalar(),
            None => Err(self.err("expected a value, found end of input")),
        }
    }

    fn elements(&mut self, close: u8, scalars_only: bool) -> Result<Vec<Value>, SyntaxError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws()?;
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(out);
            }
            let v = self.value()?;
            if scalars_only && matches!(v, Value::Group(_) | Value::List(_) | Value::Array(_)) {
                return Err(self.err("arrays [] may hold only scalar values"));
            }
            out.push(v);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b) if b == close => {}
                _ => return Err(self.err(format!("expected ',' or '{}'", close as char))),
            }
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    out.push(match e {
                        b'\\' => b'\\',
                        b'"' => b'"',
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'f' => 0x0c,
                        b'x' => {
                            let hex = self.s.get(self.pos..self.pos + 2).unwrap_or_default();
                            let v = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u8::from_str_radix(h, 16).ok())
                                .ok_or_else(|| self.err("bad \\x escape"))?;
                            self.pos += 2;
                            v
                        }
                        _ => return Err(self.err(format!("unknown escape \\{}", e as char))),
                    });
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }

    fn scalar(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let tok = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default();
        if tok.is_empty() {
            return Err(self.err("expected a value"));
        }
        let bad = |p: &Self| {
            let mut e = p.err(format!("invalid value {tok:?}"));
            e.column = e.column.saturating_sub(tok.len());
            e
        };
        if tok.eq_ignore_ascii_case("true") {
            return Ok(Value::Bool(true));
        }
        if tok.eq_ignore_ascii_case("false") {
            return Ok(Value::Bool(false));
        }
        let num = tok
            .strip_suffix("LL")
            .or_else(|| tok.strip_suffix('L'))
            .unwrap_or(tok);
        let (neg, digits) = match num.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, num.strip_prefix('+').unwrap_or(num)),
        };
        if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
            let v = u64::from_str_radix(hex, 16).map_err(|_| bad(self))? as i64;
            return Ok(Value::Int(if neg { v.wrapping_neg() } else { v }));
        }
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return num.parse::<i64>().map(Value::Int).map_err(|_| bad(self));
        }
        if digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
            && let Ok(f) = num.parse::<f64>()
        {
            return Ok(Value::Float(f));
        }
        Err(bad(self))
    }
}

/// Quotes a string for libconfig output.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Group(m) => {
                f.write_str("{ ")?;
                for (k, v) in m {
                    write!(f, "{k} = {v}; ")?;
                }
                f.write_str("}")
            }
            Value::List(l) | Value::Array(l) => {
                let (o, c) = if matches!(self, Value::List(_)) {
                    ("( ", ")")
                } else {
                    ("[ ", "]")
                };
                f.write_str(o)?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(c)
            }
            Value::Str(s) => f.write_str(&quote(s)),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sw_description_subset() {
        let text = r##"
        # comment
        software = {
            version = "1.0" ".1";   // concatenated
            /* block
               comment */
            hardware-compatibility: [ "1.0", "#RE:^1\\." ];
            n = 0x1F; m = -5L; f = 1.5; b = TRUE;
            images: ( { filename = "a\x41\"b"; }, );
        };"##;
        let v = parse(text).unwrap();
        let sw = v.get("software").unwrap();
        assert_eq!(sw.get("version"), Some(&Value::Str("1.0.1".into())));
        assert_eq!(sw.get("n"), Some(&Value::Int(31)));
        assert_eq!(sw.get("m"), Some(&Value::Int(-5)));
        assert_eq!(sw.get("f"), Some(&Value::Float(1.5)));
        assert_eq!(sw.get("b"), Some(&Value::Bool(true)));
        let Some(Value::Array(hw)) = sw.get("hardware-compatibility") else {
            panic!()
        };
        assert_eq!(hw[1], Value::Str("#RE:^1\\.".into()));
        let Some(Value::List(imgs)) = sw.get("images") else {
            panic!()
        };
        assert_eq!(imgs[0].get("filename"), Some(&Value::Str("aA\"b".into())));
        // Display output parses back to the same tree.
        let again = parse(&format!("x = {v};")).unwrap();
        assert_eq!(again.get("x"), Some(&v));
    }

    #[test]
    fn malformed_input_is_refused_with_position() {
        for (text, what) in [
            ("a = ;", "expected a value"),
            ("a = \"x", "unterminated string"),
            ("a = { b = 1;", "missing '}'"),
            ("a = 1; a = 2;", "duplicate setting"),
            ("a = [ { } ];", "scalar"),
            ("a = 12abc;", "invalid value"),
            ("a 1;", "expected '='"),
            ("/* x", "unterminated"),
            ("@include \"x\"", "@include"),
            ("a = \"\\q\";", "unknown escape"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.to_string().contains(what), "{text}: {e}");
        }
        let deep = format!("a = {}{};", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).unwrap_err().message.contains("nesting"));
        let e = parse("a = 1;\n  b = ;").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn json_maps_to_the_same_tree() {
        let v = parse_json(r#"{"software": {"version": "1", "images": [{"filename": "a", "size": 3}]}}"#)
            .unwrap();
        let l =
            parse(r#"software = { images = ( { filename = "a"; size = 3; } ); version = "1"; };"#).unwrap();
        assert_eq!(v, l);
        assert!(parse_json("{").is_err());
    }
}
