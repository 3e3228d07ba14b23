//! What the import tells its operator: a progress bar per entity type on a terminal (plain lines
//! otherwise), and the final report of what was imported, updated, already there or skipped and why.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::store::import::Outcome;

/// The progress of one entity type.
pub struct Progress {
    label: &'static str,
    total: u64,
    done: u64,
    tty: bool,
    drawn: Instant,
    started: Instant,
}

impl Progress {
    /// Starts showing progress over `total` entities (0 when not known yet).
    pub fn new(label: &'static str, total: u64) -> Self {
        let now = Instant::now();
        let tty = std::io::stderr().is_terminal();
        Self {
            label,
            total,
            done: 0,
            tty,
            // A terminal shows the bar at once; a log gets a line every ten seconds and the last one.
            drawn: if tty {
                now.checked_sub(Duration::from_secs(60)).unwrap_or(now)
            } else {
                now
            },
            started: now,
        }
    }

    /// Learns the total once the first page told it.
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
    }

    /// Counts `n` more entities done.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(10)
        };
        if self.drawn.elapsed() >= every {
            self.draw(false);
        }
    }

    /// Shows the final count of this type.
    pub fn finish(mut self) {
        self.draw(true);
    }

    fn draw(&mut self, last: bool) {
        self.drawn = Instant::now();
        let total = self.total.max(self.done);
        let secs = self.started.elapsed().as_secs_f64();
        let mut line = format!("{:<22}", self.label);
        if self.tty {
            const WIDTH: u64 = 30;
            let filled = (self.done * WIDTH).checked_div(total).unwrap_or(WIDTH);
            let _ = write!(
                line,
                " [{}{}]",
                "#".repeat(filled as usize),
                "-".repeat((WIDTH - filled) as usize)
            );
        }
        let _ = write!(line, " {}/{} ({secs:.1} s)", self.done, total);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r{line}\x1b[K");
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
}

/// The counts of one entity type.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: Vec<String>,
}

impl Tally {
    /// Counts one entity's outcome.
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Added => self.added += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }
}

/// What one run did, entity type by entity type, in the order they were imported.
#[derive(Debug, Default)]
pub struct Report {
    /// A dry run's: what a run would do, nothing written.
    pub dry_run: bool,
    pub entities: Vec<(&'static str, Tally)>,
    /// Rollouts that were running in the source: listed, not recreated.
    pub rollouts: Vec<String>,
    pub artifact_bytes: u64,
    pub seconds: f64,
}

impl Report {
    /// The tally of `label`, created on first use.
    pub fn tally(&mut self, label: &'static str) -> &mut Tally {
        let i = match self.entities.iter().position(|(l, _)| *l == label) {
            Some(i) => i,
            None => {
                self.entities.push((label, Tally::default()));
                self.entities.len() - 1
            }
        };
        &mut self.entities[i].1
    }

    /// The tally of `label`, if anything was counted for it.
    pub fn get(&self, label: &str) -> Option<&Tally> {
        self.entities.iter().find(|(l, _)| *l == label).map(|(_, t)| t)
    }

    /// The report as the command prints it.
    pub fn render(&self) -> String {
        let (title, columns) = if self.dry_run {
            (
                "Dry run: what an import would do (nothing was written)",
                ["to add", "to update", "unchanged", "to skip"],
            )
        } else {
            ("Import report", ["added", "updated", "unchanged", "skipped"])
        };
        let mut out = format!("\n{title}\n");
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>9} {:>10} {:>8}",
            "", columns[0], columns[1], columns[2], columns[3]
        );
        for (label, t) in &self.entities {
            let _ = writeln!(
                out,
                "{label:<22} {:>9} {:>9} {:>10} {:>8}",
                t.added,
                t.updated,
                t.unchanged,
                t.skipped.len()
            );
        }
        for (label, t) in &self.entities {
            for why in t.skipped.iter().take(20) {
                let _ = writeln!(out, "skipped {label}: {why}");
            }
            if t.skipped.len() > 20 {
                let _ = writeln!(out, "skipped {label}: … and {} more", t.skipped.len() - 20);
            }
        }
        if !self.rollouts.is_empty() {
            out.push_str(
                "\nRollouts in progress are not recreated: their groups, thresholds and progress belong to the \
                 old server's run. Their actions are in the imported history, and devices with an open action \
                 are offered it by the new server. Finish, stop or recreate these rollouts:\n",
            );
            for r in &self.rollouts {
                let _ = writeln!(out, "  {r}");
            }
        }
        let mb = self.artifact_bytes as f64 / 1_000_000.0;
        let _ = if self.dry_run {
            writeln!(
                out,
                "\nArtifact bytes to transfer: {mb:.1} MB. Compared in {:.1} s.",
                self.seconds
            )
        } else {
            writeln!(
                out,
                "\nArtifact bytes transferred: {mb:.1} MB in {:.1} s.",
                self.seconds
            )
        };
        out.push_str(
            "Users are not imported: hawkBit keeps them in its configuration files, and its Management \
             API has no user list. Create them with `updraft-server user add`.\n",
        );
        out
    }
}
