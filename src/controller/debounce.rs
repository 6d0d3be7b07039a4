//! When a cluster change is written: a leading-edge debounce. The first change after a quiet
//! moment goes to Nautobot at once (one person's edit costs one round trip, not a wait plus a
//! round trip); changes that follow closely, the rest of a burst, are gathered for a short
//! window and written together, so a burst still costs a few bulk requests. Pure: the caller
//! supplies the clock.

use std::time::{Duration, Instant};

/// How long without a change or a pass before the next change counts as the first of a new
/// period, and how long a burst is gathered.
pub const WINDOW: Duration = Duration::from_millis(300);
/// The longest a burst is gathered before its changes are written anyway.
pub const MAX: Duration = Duration::from_secs(2);

/// What to do with a change that just arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// The first of a quiet period: write it now (with whatever is already queued).
    WriteNow,
    /// Part of a burst: gather for up to the window (and at most [`MAX`] in all) first.
    Gather,
}

/// The debounce state of one worker.
#[derive(Debug, Clone, Default)]
pub struct Debounce {
    /// The last change or end of a pass.
    last: Option<Instant>,
}

impl Debounce {
    /// A change arrived at `now`.
    pub fn arrived(&mut self, now: Instant) -> Then {
        let quiet = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= WINDOW);
        self.last = Some(now);
        if quiet { Then::WriteNow } else { Then::Gather }
    }

    /// A pass ended at `now`: changes that arrived during it, and right after, are a burst.
    pub fn passed(&mut self, now: Instant) {
        self.last = Some(now);
    }

    /// How long to wait for the next change of a burst gathered since `started`; `None` once
    /// the gathering has lasted [`MAX`].
    pub fn gather_wait(started: Instant, now: Instant) -> Option<Duration> {
        let left = MAX.saturating_sub(now.saturating_duration_since(started));
        (!left.is_zero()).then_some(WINDOW.min(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_first_change_of_a_quiet_period_is_written_at_once() {
        let t0 = Instant::now();
        let mut d = Debounce::default();
        assert_eq!(d.arrived(t0), Then::WriteNow, "the very first change");
        // a pass, then quiet: the next change goes at once again
        d.passed(t0 + ms(40));
        assert_eq!(d.arrived(t0 + ms(40) + WINDOW), Then::WriteNow);
    }

    #[test]
    fn what_follows_closely_is_gathered() {
        let t0 = Instant::now();
        let mut d = Debounce::default();
        assert_eq!(d.arrived(t0), Then::WriteNow);
        // changes queued during the first pass, read when it ends
        d.passed(t0 + ms(50));
        assert_eq!(d.arrived(t0 + ms(51)), Then::Gather);
        // a burst of 100 changes a second stays a burst
        for i in 2..100 {
            assert_eq!(d.arrived(t0 + ms(50 + 10 * i)), Then::Gather, "{i}");
        }
        // a change just inside the window of the last one is still part of it
        assert_eq!(d.arrived(t0 + ms(1040) + ms(299)), Then::Gather);
    }

    #[test]
    fn a_burst_is_gathered_for_a_window_at_a_time_and_at_most_max() {
        let t0 = Instant::now();
        assert_eq!(Debounce::gather_wait(t0, t0), Some(WINDOW));
        assert_eq!(Debounce::gather_wait(t0, t0 + ms(1900)), Some(ms(100)));
        assert_eq!(Debounce::gather_wait(t0, t0 + MAX), None);
        assert_eq!(Debounce::gather_wait(t0, t0 + MAX + ms(5)), None);
    }
}
