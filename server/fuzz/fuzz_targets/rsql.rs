#![no_main]
//! Any query string: the RSQL/FIQL parser returns a tree or an error pointing into the query, never
//! panics, and never recurses past its depth limit.

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/store/query/rsql.rs"]
mod rsql;

fn check(node: &rsql::Node, input: &str, depth: usize) {
    // Each parenthesis level can add an `or` and an `and` node.
    assert!(depth <= 2 * (rsql::MAX_DEPTH + 1), "nested deeper than the limit");
    match node {
        rsql::Node::And(children) | rsql::Node::Or(children) => {
            assert!(children.len() >= 2, "a group of fewer than two");
            for c in children {
                check(c, input, depth + 1);
            }
        }
        rsql::Node::Cmp(c) => {
            assert!(c.pos < input.len() && c.op_pos < input.len());
            assert!(!c.args.is_empty(), "a comparison without arguments");
            assert!(c.args.iter().all(|a| a.pos < input.len()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    match rsql::parse(input) {
        Ok(node) => check(&node, input, 0),
        Err(e) => assert!(e.pos <= input.len().max(rsql::MAX_LEN), "error outside the query"),
    }
});
