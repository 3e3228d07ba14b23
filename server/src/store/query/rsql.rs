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
    matches!(
        c,
        '"' | '\'' | '(' | ')' | ';' | ',' | '=' | '<' | '>' | '!' | '~'
    ) || c.is_whitespace()
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
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Or(items)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Node, ParseError> {
        let mut items = vec![self.constraint(depth)?];
        while self.keyword(';', "and") {
            items.push(self.constraint(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::And(items)
        })
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::{DISTRIBUTION_SETS, SOFTWARE_MODULES, TARGETS, filter, list_spec, order};
    use super::*;
    use crate::store::query::{ACTIONS, DS_TAGS, Part};
    use crate::store::{Error, Rule};

    /// A refusal's rule and message.
    struct Refusal {
        rule: Rule,
        message: String,
    }

    impl From<Error> for Refusal {
        fn from(e: Error) -> Self {
            match e {
                Error::Refused { rule, message } => Self { rule, message },
                other => panic!("not a refusal: {other}"),
            }
        }
    }

    fn cmp(sel: &str, op: Op, vals: &[&str]) -> Node {
        Node::Cmp(Comparison {
            selector: sel.to_owned(),
            pos: 0,
            op,
            op_pos: 0,
            args: vals
                .iter()
                .map(|v| Arg {
                    value: (*v).to_owned(),
                    quoted: false,
                    pos: 0,
                })
                .collect(),
        })
    }

    /// The tree without positions, to compare shapes.
    fn shape(n: Node) -> Node {
        match n {
            Node::And(v) => Node::And(v.into_iter().map(shape).collect()),
            Node::Or(v) => Node::Or(v.into_iter().map(shape).collect()),
            Node::Cmp(mut c) => {
                c.pos = 0;
                c.op_pos = 0;
                for a in &mut c.args {
                    a.pos = 0;
                    a.quoted = false;
                }
                Node::Cmp(c)
            }
        }
    }

    fn p(q: &str) -> Node {
        shape(parse(q).unwrap_or_else(|e| panic!("{q}: {e}")))
    }

    fn err(q: &str) -> ParseError {
        parse(q).expect_err(q)
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let a = cmp("a", Op::Eq, &["1"]);
        let b = cmp("b", Op::Eq, &["2"]);
        let c = cmp("c", Op::Eq, &["3"]);
        assert_eq!(
            p("a==1,b==2;c==3"),
            Node::Or(vec![a.clone(), Node::And(vec![b.clone(), c.clone()])])
        );
        assert_eq!(
            p("a==1;b==2,c==3"),
            Node::Or(vec![Node::And(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(
            p("a==1;(b==2,c==3)"),
            Node::And(vec![a.clone(), Node::Or(vec![b.clone(), c.clone()])])
        );
        assert_eq!(
            p("a==1 and b==2 or c==3"),
            Node::Or(vec![Node::And(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(p(" ( ( a==1 ) ) "), a);
    }

    #[test]
    fn every_operator() {
        for (tok, op) in [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("=lt=", Op::Lt),
            ("<", Op::Lt),
            ("=le=", Op::Le),
            ("<=", Op::Le),
            ("=gt=", Op::Gt),
            (">", Op::Gt),
            ("=ge=", Op::Ge),
            (">=", Op::Ge),
            ("=is=", Op::Is),
            ("=eq=", Op::Is),
            ("=not=", Op::Not),
            ("=ne=", Op::Not),
            ("=in=", Op::In),
            ("=out=", Op::Out),
        ] {
            assert_eq!(p(&format!("f{tok}5")), cmp("f", op, &["5"]), "{tok}");
        }
        assert_eq!(p("f=in=(a, b ,c)"), cmp("f", Op::In, &["a", "b", "c"]));
        assert_eq!(p("f=out=(a)"), cmp("f", Op::Out, &["a"]));
    }

    #[test]
    fn quoting_and_escapes() {
        assert_eq!(p("name=='a b;c'"), cmp("name", Op::Eq, &["a b;c"]));
        assert_eq!(p(r#"name=="it's""#), cmp("name", Op::Eq, &["it's"]));
        assert_eq!(p(r"name=='it\'s \\ \x'"), cmp("name", Op::Eq, &[r"it's \ x"]));
        assert_eq!(p(r"name=='a\*b'"), cmp("name", Op::Eq, &[r"a\*b"]));
        assert_eq!(p("name==''"), cmp("name", Op::Eq, &[""]));
        assert_eq!(p("name=in=('a,b',\"c)\")"), cmp("name", Op::In, &["a,b", "c)"]));
        let q = parse("x=is=null;y=is='null'").unwrap();
        let Node::And(v) = q else { panic!() };
        let (Node::Cmp(a), Node::Cmp(b)) = (&v[0], &v[1]) else {
            panic!()
        };
        assert!(a.args[0].is_null());
        assert!(!b.args[0].is_null());
    }

    #[test]
    fn positions_are_bytes() {
        let q = parse("a==1;bb!=(x").unwrap_err();
        assert_eq!(q.pos, 11);
        let Node::And(v) = parse("a==1; bb=lt='x'").unwrap() else {
            panic!()
        };
        let Node::Cmp(c) = &v[1] else { panic!() };
        assert_eq!((c.pos, c.op_pos, c.args[0].pos), (6, 8, 12));
    }

    #[test]
    fn syntax_errors_name_position_and_expectation() {
        let e = err("name");
        assert_eq!(e.pos, 4);
        assert!(e.message.contains("comparison operator"), "{e}");
        let e = err("name=foo=x");
        assert_eq!(e.pos, 4);
        assert!(e.message.contains("unknown operator '=foo='"), "{e}");
        let e = err("name==");
        assert_eq!(e.pos, 6);
        assert!(e.message.contains("expected a value"), "{e}");
        let e = err("name==a;");
        assert_eq!(e.pos, 8);
        let e = err("(name==a");
        assert_eq!(e.pos, 8);
        assert!(e.message.contains("')'"), "{e}");
        let e = err("name==a)");
        assert_eq!(e.pos, 7);
        assert!(e.message.contains("end of query"), "{e}");
        let e = err("name=='abc");
        assert_eq!(e.pos, 6);
        assert!(e.message.contains("closing '"), "{e}");
        let e = err("name==(a,b)");
        assert_eq!(e.pos, 7);
        let e = err("==a");
        assert_eq!(e.pos, 0);
        let e = err("f=in=(a;b)");
        assert_eq!(e.pos, 7);
        assert!(
            e.to_string()
                .starts_with("RSQL syntax error at position 7: expected"),
            "{e}"
        );
    }

    #[test]
    fn limits() {
        let deep = format!("{}a==1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse(&deep).is_ok());
        let deeper = format!("{}a==1{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert!(err(&deeper).message.contains("nested deeper"));
        let long = format!("name=={}", "x".repeat(MAX_LEN));
        assert!(err(&long).message.contains("longer than"));
    }

    fn binds(s: &super::super::SqlFilter) -> Vec<Part> {
        s.parts()
            .iter()
            .filter(|p| !matches!(p, Part::Sql(_) | Part::Dialect(..)))
            .cloned()
            .collect()
    }

    fn text(v: &str) -> Part {
        Part::Text(v.to_owned())
    }

    #[test]
    fn text_comparisons_are_case_insensitive_and_bound() {
        let f = filter(&TARGETS, Some("NAME==Dev")).unwrap();
        assert_eq!(f.debug_text(), "UPPER(targets.name) = UPPER(?)");
        assert_eq!(binds(&f), vec![text("Dev")]);
        let f = filter(&TARGETS, Some("name=='x'' OR 1=1 --'")).unwrap_err();
        assert_eq!(f.rule(), Some(Rule::QuerySyntax));
        let f = filter(&TARGETS, Some("name==\"x' OR 1=1 --\"")).unwrap();
        assert_eq!(f.debug_text(), "UPPER(targets.name) = UPPER(?)");
        assert_eq!(binds(&f), vec![text("x' OR 1=1 --")]);
        let f = filter(&TARGETS, Some("id=lt=b")).unwrap();
        assert_eq!(f.debug_text(), "UPPER(targets.controller_id) < UPPER(?)");
    }

    #[test]
    fn wildcards_become_escaped_like() {
        let f = filter(&TARGETS, Some(r"name==*a%b_c\d\*e*")).unwrap();
        assert_eq!(f.debug_text(), r"UPPER(targets.name) LIKE UPPER(?) ESCAPE '\'");
        assert_eq!(binds(&f), vec![text(r"%a\%b\_c\\d*e%")]);
        let f = filter(&TARGETS, Some(r"name!=a\*")).unwrap();
        assert_eq!(f.debug_text(), "(NOT (UPPER(targets.name) = UPPER(?)))");
        assert_eq!(binds(&f), vec![text("a*")]);
        let f = filter(&TARGETS, Some("description!=*x")).unwrap();
        assert_eq!(
            f.debug_text(),
            r"(targets.description IS NULL OR NOT (UPPER(targets.description) LIKE UPPER(?) ESCAPE '\'))"
        );
    }

    #[test]
    fn empty_and_null() {
        let f = filter(&TARGETS, Some("description==''")).unwrap();
        assert_eq!(
            f.debug_text(),
            "(targets.description IS NULL OR NOT ((targets.description IS NOT NULL AND targets.description <> '')))"
        );
        let f = filter(&TARGETS, Some("description=is=null")).unwrap();
        assert_eq!(
            f.debug_text(),
            "(targets.description IS NULL OR NOT (targets.description IS NOT NULL))"
        );
        let f = filter(&TARGETS, Some("description=not=null")).unwrap();
        assert_eq!(f.debug_text(), "targets.description IS NOT NULL");
        let f = filter(&TARGETS, Some("lastControllerRequestAt=eq=null")).unwrap();
        assert_eq!(
            f.debug_text(),
            "(targets.last_poll IS NULL OR NOT (targets.last_poll IS NOT NULL))"
        );
        let f = filter(&TARGETS, Some("autoConfirm==true")).unwrap();
        assert_eq!(f.debug_text(), "targets.auto_confirm_at IS NOT NULL");
        let f = filter(&TARGETS, Some("autoConfirm==false")).unwrap();
        assert_eq!(f.debug_text(), "(NOT (targets.auto_confirm_at IS NOT NULL))");
    }

    #[test]
    fn numbers_enums_booleans() {
        let f = filter(
            &DISTRIBUTION_SETS,
            Some("id=in=(1,2);valid==TRUE;createdAt=ge=1700000000000"),
        )
        .unwrap();
        assert_eq!(
            f.debug_text(),
            "(distribution_sets.id IN (?, ?) AND distribution_sets.valid = ? AND distribution_sets.created_at >= ?)"
        );
        assert_eq!(
            binds(&f),
            vec![
                Part::Int(1),
                Part::Int(2),
                Part::Bool(true),
                Part::Int(1_700_000_000_000)
            ]
        );
        let f = filter(&TARGETS, Some("updateStatus=out=(PENDING,In_Sync)")).unwrap();
        assert_eq!(f.debug_text(), "(NOT (targets.update_status IN (?, ?)))");
        assert_eq!(binds(&f), vec![text("pending"), text("in_sync")]);
        let f = filter(
            &ACTIONS,
            Some("status==wait_for_confirmation,lastStatusCode=lt=300"),
        )
        .unwrap();
        assert_eq!(
            f.debug_text(),
            "(actions.status = ? OR actions.last_status_code < ?)"
        );
        for (entity, bad) in [
            (&DISTRIBUTION_SETS, "id==abc"),
            (&TARGETS, "updateStatus==done"),
            (&TARGETS, "updateStatus=lt=pending"),
            (&DISTRIBUTION_SETS, "valid==yes"),
            (&DISTRIBUTION_SETS, "valid=lt=true"),
            (&DISTRIBUTION_SETS, "id==*1"),
            (&TARGETS, "autoConfirm==1"),
            (&TARGETS, "autoConfirm=in=(true)"),
            (&TARGETS, "autoConfirm=lt=true"),
            (&TARGETS, "createdAt=lt=99999999999999999999"),
        ] {
            let body: Refusal = filter(entity, Some(bad)).unwrap_err().into();
            assert_eq!(body.rule, Rule::QuerySyntax, "{bad}");
        }
        let e: Refusal = filter(&TARGETS, Some("updateStatus==done")).unwrap_err().into();
        assert!(
            e.message.contains("'done'") && e.message.contains("updateStatus"),
            "{}",
            e.message
        );
        assert!(e.message.contains("in_sync"), "{}", e.message);
    }

    #[test]
    fn maps_tags_and_joined_fields_are_subqueries() {
        let f = filter(&TARGETS, Some("attribute.hw.rev==2")).unwrap();
        assert_eq!(
            f.debug_text(),
            "EXISTS (SELECT 1 FROM target_attributes WHERE target_attributes.target_id = targets.id AND \
             target_attributes.attr_key = ? AND UPPER(target_attributes.attr_value) = UPPER(?))"
        );
        assert_eq!(binds(&f), vec![text("hw.rev"), text("2")]);
        let f = filter(&TARGETS, Some("metadata.k!=v")).unwrap();
        assert_eq!(
            f.debug_text(),
            "(NOT (EXISTS (SELECT 1 FROM target_metadata WHERE target_metadata.target_id = targets.id AND \
             target_metadata.meta_key = ? AND UPPER(target_metadata.meta_value) = UPPER(?))))"
        );
        let f = filter(&DISTRIBUTION_SETS, Some("metadata.k==v")).unwrap();
        assert!(
            f.debug_text().starts_with(
                "EXISTS (SELECT 1 FROM ds_metadata WHERE ds_metadata.ds_id = distribution_sets.id"
            )
        );
        let f = filter(&SOFTWARE_MODULES, Some("metadata.k==v")).unwrap();
        assert!(
            f.debug_text().starts_with(
                "EXISTS (SELECT 1 FROM sm_metadata WHERE sm_metadata.sm_id = software_modules.id"
            )
        );
        let f = filter(&TARGETS, Some("tag==prod*")).unwrap();
        assert_eq!(
            f.debug_text(),
            "EXISTS (SELECT 1 FROM target_tag_assignments WHERE target_tag_assignments.target_id = targets.id \
             AND target_tag_assignments.tag_id IN (SELECT target_tags.id FROM target_tags WHERE \
             UPPER(target_tags.name) LIKE UPPER(?) ESCAPE '\\'))"
        );
        let f = filter(&DISTRIBUTION_SETS, Some("tag.NAME!=x")).unwrap();
        assert_eq!(
            f.debug_text(),
            "(NOT (EXISTS (SELECT 1 FROM ds_tag_assignments WHERE ds_tag_assignments.ds_id = distribution_sets.id \
             AND ds_tag_assignments.tag_id IN (SELECT ds_tags.id FROM ds_tags WHERE \
             UPPER(ds_tags.name) = UPPER(?)))))"
        );
        let f = filter(&TARGETS, Some("assignedDS.name!=os")).unwrap();
        assert_eq!(
            f.debug_text(),
            "(targets.assigned_ds_id IS NULL OR NOT (targets.assigned_ds_id IN (SELECT distribution_sets.id \
             FROM distribution_sets WHERE UPPER(distribution_sets.name) = UPPER(?))))"
        );
        let f = filter(&ACTIONS, Some("distributionSet.type==os")).unwrap();
        assert_eq!(
            f.debug_text(),
            "actions.ds_id IN (SELECT distribution_sets.id FROM distribution_sets WHERE \
             distribution_sets.ds_type_id IN (SELECT ds_types.id FROM ds_types WHERE \
             UPPER(ds_types.type_key) = UPPER(?)))"
        );
        let f = filter(&DS_TAGS, Some("distributionSet.id==3")).unwrap();
        assert_eq!(
            f.debug_text(),
            "EXISTS (SELECT 1 FROM ds_tag_assignments WHERE ds_tag_assignments.tag_id = ds_tags.id AND \
             ds_tag_assignments.ds_id IN (SELECT distribution_sets.id FROM distribution_sets WHERE \
             distribution_sets.id = ?))"
        );
    }

    #[test]
    fn unknown_fields_list_the_valid_ones() {
        for q in ["nme==x", "attribute==x", "attribute.==x", "tag.colour==x"] {
            let e: Refusal = filter(&TARGETS, Some(q)).unwrap_err().into();
            assert_eq!(e.rule, Rule::QueryField, "{q}");
            assert!(e.message.contains("attribute.<key>") && e.message.contains("controllerId"));
        }
        let e: Refusal = filter(&TARGETS, Some("a==(")).unwrap_err().into();
        assert_eq!(e.rule, Rule::QuerySyntax);
        assert!(e.message.contains("position 4"), "{}", e.message);
    }

    #[test]
    fn sort_orders_and_ties_break_on_id() {
        assert_eq!(
            order(&TARGETS, None).unwrap().debug_text(),
            "targets.controller_id ASC, targets.id ASC"
        );
        assert_eq!(order(&ACTIONS, Some("")).unwrap().debug_text(), "actions.id DESC");
        assert_eq!(
            order(&TARGETS, Some("NAME:desc, lastControllerRequestAt:Asc"))
                .unwrap()
                .debug_text(),
            "targets.name DESC, CASE WHEN targets.last_poll IS NULL THEN 0 ELSE 1 END ASC, \
             targets.last_poll ASC, targets.id ASC"
        );
        assert_eq!(
            order(&DISTRIBUTION_SETS, Some("id:DESC")).unwrap().debug_text(),
            "distribution_sets.id DESC"
        );
        let code = |s: &str| Refusal::from(order(&TARGETS, Some(s)).unwrap_err()).rule;
        assert_eq!(code("name"), Rule::SortSyntax);
        assert_eq!(code("name:ASC,,id:ASC"), Rule::SortSyntax);
        assert_eq!(code("nope:ASC,name"), Rule::SortSyntax);
        assert_eq!(code(","), Rule::SortSyntax);
        assert_eq!(
            order(&TARGETS, Some("name:ASC,")).unwrap().debug_text(),
            "targets.name ASC, targets.id ASC"
        );
        assert_eq!(code("name:ASC:x"), Rule::SortSyntax);
        assert_eq!(code("nope:ASC"), Rule::SortField);
        assert_eq!(code("assignedDS.name:ASC"), Rule::SortField);
        assert_eq!(code("name:UP"), Rule::SortDirection);
        assert!(list_spec(&TARGETS, Some("name==a"), Some("name:ASC")).is_ok());
    }
}
