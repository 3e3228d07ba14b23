//! A progress bar for interactive use: on a terminal, reading through [`Progress`] redraws one
//! line on stderr (bytes, percent, rate) at most ten times a second; elsewhere (journald, pipes,
//! tests) it prints nothing and costs one branch per read.

use std::io::{self, IsTerminal, Read, Write};
use std::time::{Duration, Instant};

pub struct Progress<R> {
    inner: R,
    label: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
    drawn: Option<Instant>,
    enabled: bool,
}

impl<R: Read> Progress<R> {
    /// Shows progress of `inner` when stderr is a terminal; `total` is the expected size if known.
    pub fn new(inner: R, label: impl Into<String>, total: Option<u64>) -> Self {
        Progress {
            inner,
            label: label.into(),
            total,
            done: 0,
            started: Instant::now(),
            drawn: None,
            enabled: io::stderr().is_terminal(),
        }
    }

    fn draw(&mut self, force: bool) {
        let now = Instant::now();
        if !force && self.drawn.is_some_and(|t| now - t < Duration::from_millis(100)) {
            return;
        }
        self.drawn = Some(now);
        let secs = (now - self.started).as_secs_f64().max(0.001);
        let rate = self.done as f64 / secs / 1e6;
        let line = render(&self.label, self.done, self.total, rate);
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r{line}");
        let _ = err.flush();
    }
}

/// `label [########------------]  42%  430.0/1024.0 MB  112.3 MB/s`.
fn render(label: &str, done: u64, total: Option<u64>, rate_mb: f64) -> String {
    const WIDTH: usize = 24;
    let mb = |b: u64| b as f64 / 1e6;
    match total.filter(|t| *t > 0) {
        Some(total) => {
            let frac = (done as f64 / total as f64).clamp(0.0, 1.0);
            let filled = (frac * WIDTH as f64).round() as usize;
            format!(
                "{label} [{}{}] {:>3.0}%  {:.1}/{:.1} MB  {rate_mb:.1} MB/s",
                "#".repeat(filled),
                "-".repeat(WIDTH - filled),
                frac * 100.0,
                mb(done),
                mb(total)
            )
        }
        None => format!("{label} {:.1} MB  {rate_mb:.1} MB/s", mb(done)),
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.enabled {
            self.done += n as u64;
            if n == 0 {
                self.draw(true);
                eprintln!();
                self.enabled = false;
            } else {
                self.draw(false);
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_and_unknown_sizes() {
        let line = render("installing", 512_000_000, Some(1_024_000_000), 100.0);
        assert!(
            line.starts_with("installing [############------------]  50%"),
            "{line}"
        );
        assert!(line.ends_with("512.0/1024.0 MB  100.0 MB/s"), "{line}");
        assert_eq!(
            render("downloading", 2_500_000, None, 1.25),
            "downloading 2.5 MB  1.2 MB/s"
        );
    }

    #[test]
    fn passes_data_through_unchanged() {
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        Progress::new(&data[..], "x", Some(data.len() as u64))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
