//! A hand-written parser for RSQL/FIQL as hawkBit accepts it (`cz.jirutka.rsql:rsql-parser` 2.1 with
//! the extra `=is=`/`=eq=`/`=not=`/`=ne=` operators).
//!
//! ```text
//! or         = and (("," | " or ") and)*
//! and        = constraint ((";" | " and ") constraint)*
//! constraint = "(" or ")" | selector operator arguments
//! arguments  = "(" value ("," value)* ")" | value
//! value      = unreserved | '…' | "…"      (backslash escapes inside quotes)
//! ```
//!
//! Every node keeps the byte position it starts at, so errors can point into the query.

/// The longest query accepted; longer ones are refused before parsing.
pub const MAX_LEN: usize = 4096;
/// The deepest parenthesis nesting accepted (protects the recursive descent's stack).
pub const MAX_DEPTH: usize = 32;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Out,
    /// `=is=`/`=eq=`: equality where the unquoted argument `null` means SQL NULL.
    Is,
    /// `=not=`/`=ne=`: inequality where the unquoted argument `null` means SQL NULL.
    Not,
}

impl Op {
    fn from_token(t: &str) -> Option<Self> {
        Some(match t {
            "==" => Self::Eq,
            "!=" => Self::Ne,
            "=lt=" | "<" => Self::Lt,
            "=le=" | "<=" => Self::Le,
            "=gt=" | ">" => Self::Gt,
            "=ge=" | ">=" => Self::Ge,
            "=in=" => Self::In,
            "=out=" => Self::Out,
            "=is=" | "=eq=" => Self::Is,
            "=not=" | "=ne=" => Self::Not,
            _ => return None,
        })
    }

    /// Whether the operator takes a parenthesised list.
    pub fn takes_list(self) -> bool {
        matches!(self, Self::In | Self::Out)
    }
}

/// One argument of a comparison, unescaped except that `\*` stays `\*` (a literal star, not a wildcard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub value: String,
    pub quoted: bool,
    pub pos: usize,
}

impl Arg {
    /// The unquoted literal `null` (only meaningful for `=is=`/`=not=`).
    pub fn is_null(&self) -> bool {
        !self.quoted && self.value == "null"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub selector: String,
    pub pos: usize,
    pub op: Op,
    pub op_pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Cmp(Comparison),
}

/// A syntax error at byte `pos` of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub pos: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RSQL syntax error at position {}: {}", self.pos, self.message)
    }
}

/// Parses a whole query.
pub fn parse(input: &str) -> Result<Node, ParseError> {
    if input.len() > MAX_LEN {
        return Err(ParseError {
            pos: MAX_LEN,
            message: format!("query longer than {MAX_LEN} bytes"),
        });
    }
    let mut p = Parser { s: input, pos: 0 };
    let node = p.or(0)?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.error("';', ',', ' and ', ' or ' or end of query"));
    }
    Ok(node)
}

/// Characters that end an unquoted selector or argument.
fn reserved(c: char) -> bool {
    matches!(c, '"' | '\'' | '(' | ')' | ';' | ',' | '=' | '<' | '>' | '!' | '~') || c.is_whitespace()
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.s.len() - trimmed.len();
    }

    fn error(&self, expected: &str) -> ParseError {
        let found = match self.peek() {
            Some(c) => format!("'{c}'"),
            None => "end of query".to_owned(),
        };
        ParseError {
            pos: self.pos,
            message: format!("expected {expected} but found {found}"),
        }
    }

    /// Consumes a `;`/`,` or a whitespace-delimited `and`/`or` keyword; answers whether it did.
    fn keyword(&mut self, symbol: char, word: &str) -> bool {
        let start = self.pos;
        self.skip_ws();
        if self.peek() == Some(symbol) {
            self.pos += 1;
            return true;
        }
        let had_space = self.pos > start;
        let rest = self.rest();
        let is_word = rest.len() > word.len()
            && rest.is_char_boundary(word.len())
            && rest[..word.len()].eq_ignore_ascii_case(word)
            && rest[word.len()..].starts_with(char::is_whitespace);
        if had_space && is_word {
            self.pos += word.len();
            return true;
        }
        self.pos = start;
        false
    }

    fn or(&mut self, depth: usize) -> Result<Node, ParseError> {
        let mut items = vec![self.and(depth)?];
        while self.keyword(',', "or") {
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Node::Or(items) })
    }

    fn and(&mut self, depth: usize) -> Result<Node, ParseError> {
        let mut items = vec![self.constraint(depth)?];
        while self.keyword(';', "and") {
            items.push(self.constraint(depth)?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Node::And(items) })
    }

    fn constraint(&mut self, depth: usize) -> Result<Node, ParseError> {
        self.skip_ws();
        if self.peek() == Some('(') {
            if depth >= MAX_DEPTH {
                return Err(ParseError {
                    pos: self.pos,
                    message: format!("parentheses nested deeper than {MAX_DEPTH}"),
                });
            }
            self.pos += 1;
            let node = self.or(depth + 1)?;
            self.skip_ws();
            if self.peek() != Some(')') {
                return Err(self.error("')'"));
            }
            self.pos += 1;
            return Ok(node);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Node, ParseError> {
        let pos = self.pos;
        let selector = self.unreserved();
        if selector.is_empty() {
            return Err(self.error("a field name or '('"));
        }
        self.skip_ws();
        let op_pos = self.pos;
        let op = self.operator()?;
        self.skip_ws();
        let args = if self.peek() == Some('(') {
            self.arg_list()?
        } else {
            vec![self.argument()?]
        };
        if args.len() > 1 && !op.takes_list() {
            return Err(ParseError {
                pos: args[0].pos,
                message: format!("expected a single value for operator at position {op_pos}, not a list"),
            });
        }
        Ok(Node::Cmp(Comparison {
            selector: selector.to_owned(),
            pos,
            op,
            op_pos,
            args,
        }))
    }

    fn unreserved(&mut self) -> &'a str {
        let s: &'a str = self.s;
        let start = self.pos;
        let len = s[start..].find(reserved).unwrap_or(s.len() - start);
        self.pos += len;
        &s[start..self.pos]
    }

    /// `=alpha*=`, `==`, `!=`, `<`, `<=`, `>`, `>=`.
    fn operator(&mut self) -> Result<Op, ParseError> {
        let start = self.pos;
        let rest = self.rest();
        let len = if rest.starts_with("!=") || rest.starts_with("<=") || rest.starts_with(">=") {
            2
        } else if rest.starts_with('<') || rest.starts_with('>') {
            1
        } else if let Some(after) = rest.strip_prefix('=') {
            match after.find(|c: char| !(c.is_ascii_alphabetic() || c == '-')) {
                Some(i) if after[i..].starts_with('=') => i + 2,
                _ => 0,
            }
        } else {
            0
        };
        let token = &rest[..len];
        match Op::from_token(token) {
            Some(op) => {
                self.pos += len;
                Ok(op)
            }
            None if len > 0 => Err(ParseError {
                pos: start,
                message: format!(
                    "unknown operator '{token}'; expected one of ==, !=, =lt=, <, =le=, <=, =gt=, >, \
                     =ge=, >=, =in=, =out=, =is=, =eq=, =not=, =ne="
                ),
            }),
            None => Err(self.error("a comparison operator such as '==' after the field name")),
        }
    }

    fn arg_list(&mut self) -> Result<Vec<Arg>, ParseError> {
        self.pos += 1;
        let mut args = vec![self.argument()?];
        loop {
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.pos += 1;
                    args.push(self.argument()?);
                }
                Some(')') => {
                    self.pos += 1;
                    return Ok(args);
                }
                _ => return Err(self.error("',' or ')' in the value list")),
            }
        }
    }

    fn argument(&mut self) -> Result<Arg, ParseError> {
        self.skip_ws();
        let pos = self.pos;
        match self.peek() {
            Some(q @ ('\'' | '"')) => self.quoted(q),
            _ => {
                let value = self.unreserved();
                if value.is_empty() {
                    return Err(self.error("a value"));
                }
                Ok(Arg {
                    value: value.to_owned(),
                    quoted: false,
                    pos,
                })
            }
        }
    }

    /// A quoted value: `\x` stands for `x`, except `\*`, kept so the star stays literal.
    fn quoted(&mut self, quote: char) -> Result<Arg, ParseError> {
        let pos = self.pos;
        let mut value = String::new();
        let mut chars = self.s[pos + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '*')) => value.push_str("\\*"),
                    Some((_, e)) => value.push(e),
                    None => break,
                },
                c if c == quote => {
                    self.pos = pos + 1 + i + 1;
                    return Ok(Arg {
                        value,
                        quoted: true,
                        pos,
                    });
                }
                c => value.push(c),
            }
        }
        self.pos = self.s.len();
        Err(ParseError {
            pos,
            message: format!("expected closing {quote} for the value starting here but found end of query"),
        })
    }
}
