//! When a replica may judge the others' leases on running answers (see [`SweepGate`]).

use std::time::Duration;

use tokio::time::Instant;

/// When a replica may judge the others' leases. One that could not reach the database, or
/// reached it late, does not until it has renewed its own for a whole lease again: the others
/// were likely cut off too (the database restarting, an RDS failover), and get that long to
/// renew theirs before their live answers could be taken for a crashed replica's. So it is with
/// a replica that has just started (it may be starting because the database was out of reach),
/// unless no other replica shares the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SweepGate {
    /// From when sweeping is allowed; `None` while the lease cannot be renewed.
    from: Option<Instant>,
    /// The last renewal.
    renewed: Instant,
    lease: Duration,
}

impl SweepGate {
    /// At start-up (`now`): open at once when the database is this process's alone.
    pub(super) fn new(now: Instant, lease: Duration, shared: bool) -> Self {
        Self { from: Some(if shared { now + lease } else { now }), renewed: now, lease }
    }

    /// The lease was renewed at `now`: whether to sweep. A renewal more than two of its
    /// intervals (a third of the lease) after the last one is a break too: the database
    /// answered late, or this process was paused.
    pub(super) fn renewed(&mut self, now: Instant) -> bool {
        if now.duration_since(self.renewed) > self.lease * 2 / 3 {
            self.from = None;
        }
        self.renewed = now;
        now >= *self.from.get_or_insert(now + self.lease)
    }

    /// The lease could not be renewed.
    pub(super) fn failed(&mut self) {
        self.from = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(15);
    const TICK: Duration = Duration::from_secs(5);

    /// Whether each of `n` renewals one tick apart, from `from`, sweeps.
    fn sweeps(gate: &mut SweepGate, from: Instant, n: u32) -> Vec<bool> {
        (0..n).map(|i| gate.renewed(from + i * TICK)).collect()
    }

    #[test]
    fn after_losing_the_database_a_replica_sweeps_only_once_it_has_held_its_lease_a_whole_lease_again() {
        let start = Instant::now();
        let mut gate = SweepGate::new(start, LEASE, false);
        assert!(gate.renewed(start + TICK), "the database is its alone: at once");

        gate.failed();
        gate.failed();

        assert_eq!(sweeps(&mut gate, start + 4 * TICK, 5), [false, false, false, true, true]);
    }

    #[test]
    fn a_late_renewal_is_a_break_and_a_replica_sharing_the_database_waits_a_lease_from_its_start() {
        let start = Instant::now();
        let mut shared = SweepGate::new(start, LEASE, true);
        assert_eq!(sweeps(&mut shared, start + TICK, 4), [false, false, true, true]);

        // Answered 14 s after the last renewal, with no error: the database was out of reach.
        let late = start + 4 * TICK + Duration::from_secs(14);

        assert_eq!(sweeps(&mut shared, late, 5), [false, false, false, true, true]);
    }
}
