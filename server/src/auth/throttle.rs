//! Back-off after failed logins (Management API basic auth and the web UI's form).
//!
//! Failures are counted per client address and user, and per client address alone, never per user
//! alone: an attacker guessing `admin`'s password from one address slows down only that address, and
//! cannot lock the real `admin` out from another. After a few free failures each further one doubles
//! the wait, up to [`MAX_BLOCK_MS`]; a success clears that address's count for the user.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};

use dashmap::DashMap;

/// Failures of one user from one address before waits begin.
const FREE_PER_USER: u32 = 5;
/// Failures from one address, over all users, before waits begin (credential stuffing).
const FREE_PER_ADDRESS: u32 = 20;
const FIRST_BLOCK_MS: i64 = 1000;
const MAX_BLOCK_MS: i64 = 5 * 60 * 1000;
/// Counts untouched this long are forgotten.
const FORGET_AFTER_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    last_ms: i64,
    blocked_until_ms: i64,
}

impl Failures {
    fn record(&mut self, now: i64, free: u32) {
        if now - self.last_ms > FORGET_AFTER_MS {
            *self = Self::default();
        }
        self.count += 1;
        self.last_ms = now;
        if self.count > free {
            let doublings = (self.count - free - 1).min(20);
            let wait = (FIRST_BLOCK_MS << doublings).min(MAX_BLOCK_MS);
            self.blocked_until_ms = now + wait;
        }
    }
}

#[derive(Default)]
pub struct LoginThrottle {
    per_user: DashMap<(IpAddr, String), Failures>,
    per_address: DashMap<IpAddr, Failures>,
    last_sweep_ms: AtomicI64,
}

impl LoginThrottle {
    /// Milliseconds this address must still wait before trying `username` again, if any.
    pub fn wait_ms(&self, ip: IpAddr, username: &str, now: i64) -> Option<i64> {
        let until = [
            self.per_user
                .get(&(ip, username.to_owned()))
                .map(|f| f.blocked_until_ms),
            self.per_address.get(&ip).map(|f| f.blocked_until_ms),
        ]
        .into_iter()
        .flatten()
        .max()?;
        (until > now).then_some(until - now)
    }

    pub fn failed(&self, ip: IpAddr, username: &str, now: i64) {
        self.sweep(now);
        self.per_user
            .entry((ip, username.to_owned()))
            .or_default()
            .record(now, FREE_PER_USER);
        self.per_address
            .entry(ip)
            .or_default()
            .record(now, FREE_PER_ADDRESS);
    }

    pub fn succeeded(&self, ip: IpAddr, username: &str) {
        self.per_user.remove(&(ip, username.to_owned()));
    }

    /// Forgets stale counts, at most once a minute, so guessing many names cannot grow memory for ever.
    fn sweep(&self, now: i64) {
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now - last > 60_000
            && self
                .last_sweep_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let fresh = |f: &Failures| now - f.last_ms < FORGET_AFTER_MS || f.blocked_until_ms > now;
            self.per_user.retain(|_, f| fresh(f));
            self.per_address.retain(|_, f| fresh(f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_guessing_does_not_block_another() {
        let t = LoginThrottle::default();
        let (attacker, admin): (IpAddr, IpAddr) =
            ("198.51.100.7".parse().unwrap(), "10.0.0.5".parse().unwrap());
        let now = 1_000_000;
        for _ in 0..FREE_PER_USER {
            t.failed(attacker, "admin", now);
        }
        assert_eq!(
            t.wait_ms(attacker, "admin", now),
            None,
            "the first failures are free"
        );
        t.failed(attacker, "admin", now);
        assert_eq!(t.wait_ms(attacker, "admin", now), Some(FIRST_BLOCK_MS));
        t.failed(attacker, "admin", now);
        assert_eq!(
            t.wait_ms(attacker, "admin", now),
            Some(2 * FIRST_BLOCK_MS),
            "waits double"
        );
        assert_eq!(
            t.wait_ms(admin, "admin", now),
            None,
            "another address is not affected"
        );
        assert_eq!(
            t.wait_ms(attacker, "admin", now + 2 * FIRST_BLOCK_MS),
            None,
            "the wait ends"
        );
        t.succeeded(attacker, "admin");
        assert_eq!(t.wait_ms(attacker, "admin", now), None);
    }

    #[test]
    fn many_users_from_one_address_are_throttled_too() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "198.51.100.9".parse().unwrap();
        for i in 0..=FREE_PER_ADDRESS {
            t.failed(ip, &format!("user{i}"), 0);
        }
        assert!(t.wait_ms(ip, "someone-else", 0).is_some());
        for _ in 0..100 {
            t.failed(ip, "user0", 0);
        }
        assert_eq!(t.wait_ms(ip, "user0", 0), Some(MAX_BLOCK_MS), "waits are capped");
    }
}
