//! Failed authentication per client address. After `AUTH_MAX_FAILURES_PER_MINUTE` wrong keys
//! or tokens, an address gets 429 without its credentials being checked until its minute is
//! over, so keys cannot be guessed at line rate.
//!
//! Written here rather than with governor (the request rate limiter): the check comes before
//! verifying and must not count, and governor cannot ask whether a key is limited without
//! spending from it.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// How long an address's count lasts, from its first failure.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Lockout {
    max_failures: u32,
    clients: Mutex<Clients>,
}

#[derive(Debug, Default)]
struct Clients {
    /// When each address's first failure of its window was, and how many it has had since.
    windows: HashMap<IpAddr, (Instant, u32)>,
    /// The table is swept of ended windows when it grows past this, so it stays bounded by the
    /// addresses that failed within the last minute.
    sweep_at: usize,
}

impl Lockout {
    pub(super) fn new(max_failures: NonZeroU32) -> Self {
        Self { max_failures: max_failures.get(), clients: Mutex::default() }
    }

    /// How long `ip` must still wait, when it has used up its failures.
    pub(super) fn locked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let &(started, failures) = clients.windows.get(&ip)?;
        let left = WINDOW.checked_sub(now.saturating_duration_since(started))?;
        (failures >= self.max_failures && !left.is_zero()).then_some(left)
    }

    pub(super) fn record_failure(&self, ip: IpAddr, now: Instant) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let window = clients.windows.entry(ip).or_insert((now, 0));
        if now.saturating_duration_since(window.0) >= WINDOW {
            *window = (now, 0);
        }
        window.1 += 1;
        if clients.windows.len() > clients.sweep_at {
            clients.windows.retain(|_, (started, _)| now.saturating_duration_since(*started) < WINDOW);
            clients.sweep_at = (clients.windows.len() * 2).max(1024);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn an_address_is_locked_after_its_failures_until_its_minute_ends() {
        let lockout = Lockout::new(NonZeroU32::new(3).unwrap());
        let start = Instant::now();
        for _ in 0..2 {
            lockout.record_failure(CLIENT, start);
        }
        assert_eq!(lockout.locked(CLIENT, start), None, "two of three failures");
        lockout.record_failure(CLIENT, start + Duration::from_secs(10));
        assert_eq!(lockout.locked(CLIENT, start + Duration::from_secs(15)), Some(Duration::from_secs(45)));
        assert_eq!(lockout.locked(OTHER, start), None, "other addresses are not affected");
        assert_eq!(lockout.locked(CLIENT, start + WINDOW), None, "the minute is over");
    }

    #[test]
    fn a_new_minute_starts_counting_again() {
        let lockout = Lockout::new(NonZeroU32::new(2).unwrap());
        let start = Instant::now();
        lockout.record_failure(CLIENT, start);
        lockout.record_failure(CLIENT, start + WINDOW);
        assert_eq!(lockout.locked(CLIENT, start + WINDOW), None, "one failure in the new minute");
    }

    #[test]
    fn ended_windows_are_swept_as_the_table_grows() {
        let lockout = Lockout::new(NonZeroU32::MIN);
        let start = Instant::now();
        for i in 0..=1024u32 {
            lockout.record_failure(IpAddr::from(i.to_be_bytes()), start);
        }
        let later = start + WINDOW;
        for i in 0..=2048u32 {
            lockout.record_failure(IpAddr::from((i + 1_000_000).to_be_bytes()), later);
        }
        let first_of_later = IpAddr::from(1_000_000u32.to_be_bytes());
        assert!(lockout.clients.lock().unwrap().windows.keys().all(|ip| *ip >= first_of_later));
    }
}
