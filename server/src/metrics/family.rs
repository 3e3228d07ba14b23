//! The few metric kinds `/metrics` needs, on atomics, and their Prometheus text exposition
//! (format 0.0.4). Hand-written because the whole registry is smaller than a dependency's feature
//! list, and an increment on the poll path is one relaxed atomic add.

use std::fmt::Write;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

/// A monotonic count.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters by label values (`K`: a tuple of label values, see [`LabelValues`]).
pub struct Counters<K: Eq + Hash> {
    series: DashMap<K, Counter>,
}

impl<K: Eq + Hash> Default for Counters<K> {
    fn default() -> Self {
        Self {
            series: DashMap::new(),
        }
    }
}

impl<K: Eq + Hash + LabelValues> Counters<K> {
    pub fn inc(&self, key: K) {
        self.add(key, 1);
    }

    pub fn add(&self, key: K, n: u64) {
        if let Some(c) = self.series.get(&key) {
            c.add(n);
            return;
        }
        self.series.entry(key).or_default().add(n);
    }

    /// The value of one series (0 when never counted).
    pub fn get(&self, key: &K) -> u64 {
        self.series.get(key).map_or(0, |c| c.get())
    }

    /// Writes one sample line per series, sorted so a scrape reads the same twice.
    pub fn write(&self, out: &mut String, name: &str, labels: &[&str]) {
        let mut lines: Vec<String> = self
            .series
            .iter()
            .map(|e| format!("{name}{} {}", label_set(labels, &e.key().values(), None), e.get()))
            .collect();
        lines.sort_unstable();
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
}

/// Upper bounds (seconds) of the request latency buckets: a warm poll takes well under a
/// millisecond, an artifact download may take minutes.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Observations counted per bucket (non-cumulative; cumulated when written).
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }

    /// Writes `_bucket`, `_sum` and `_count` lines with the series' labels.
    pub fn write(&self, out: &mut String, name: &str, labels: &[&str], values: &[&str]) {
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let le = bound.to_string();
            let _ = writeln!(
                out,
                "{name}_bucket{} {cumulative}",
                label_set(labels, values, Some(&le))
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{} {count}",
            label_set(labels, values, Some("+Inf"))
        );
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{} {sum}", label_set(labels, values, None));
        let _ = writeln!(out, "{name}_count{} {count}", label_set(labels, values, None));
    }
}

/// The label values of a series key, in the order of the family's label names.
pub trait LabelValues {
    fn values(&self) -> Vec<&str>;
}

impl LabelValues for &'static str {
    fn values(&self) -> Vec<&str> {
        vec![self]
    }
}

impl LabelValues for (&'static str, &'static str) {
    fn values(&self) -> Vec<&str> {
        vec![self.0, self.1]
    }
}

impl LabelValues for (&'static str, &'static str, &'static str) {
    fn values(&self) -> Vec<&str> {
        vec![self.0, self.1, self.2]
    }
}

/// `{a="x",b="y"}` (empty without labels), with `le` appended for a histogram bucket.
pub fn label_set(names: &[&str], values: &[&str], le: Option<&str>) -> String {
    let mut pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

/// A label value as the text format wants it: backslash, double quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `# HELP` and `# TYPE` of a family.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A family with one unlabelled sample.
pub fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn buckets_are_cumulative_and_labels_escaped() {
        let h = Histogram::default();
        h.observe(0.0001);
        h.observe(0.003);
        h.observe(60.0);
        let mut out = String::new();
        h.write(&mut out, "x", &["route"], &["/a\"b"]);
        assert!(
            out.contains("x_bucket{route=\"/a\\\"b\",le=\"0.0005\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{route=\"/a\\\"b\",le=\"0.005\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{route=\"/a\\\"b\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_count{route=\"/a\\\"b\"} 3\n"), "{out}");
    }
}
