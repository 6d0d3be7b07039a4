//! How fast the operator asks Nautobot: a polite client for a Nautobot that many clusters and
//! people share. Pure: the caller supplies the clock and the outcome of each request.
//!
//! - **Adaptive concurrency (AIMD).** The number of requests in flight is limited to
//!   `limit`, which starts at the spec's `maxConcurrentRequests` and never exceeds it. Each
//!   answer that comes back as fast as usual adds `1/limit` (about one more request in flight
//!   per round of answers); an answer much slower than the fastest seen lately for its kind of
//!   request (more than [`SLOW`] times: Nautobot is queueing), a 429 or 503, a 502 or 504, a timeout or a
//!   broken connection cuts it (by [`CUT_SLOW`] or [`CUT_ERROR`]), at most once per round trip,
//!   since the answers to requests already in flight say the same thing again. Several
//!   operators doing this against one Nautobot converge on fair shares, as TCP flows do.
//! - **Below one request in flight** the limit becomes a duty cycle: after each answer the
//!   next request waits `latency * (1/limit - 1)`, down to a tenth of the time ([`MIN_LIMIT`]).
//! - **Retry-After** on a 429 or 503 holds every request of this client until then (not only
//!   the one retried), at most [`MAX_PAUSE`].
//! - **A rate cap** (`spec.nautobot.maxRequestsPerSecond`) spaces requests evenly, whatever
//!   the limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// An answer this many times slower than the fastest of its kind means Nautobot is queueing
/// (a kind is a method, an endpoint and a size within a factor of 2, so its latencies vary by
/// up to about 2 when Nautobot is not busy).
pub const SLOW: f64 = 3.0;
/// The cut on a slow answer.
pub const CUT_SLOW: f64 = 0.8;
/// The cut on an error that says Nautobot is overloaded or gone.
pub const CUT_ERROR: f64 = 0.5;
/// The lowest limit: one request in flight for a tenth of the time.
pub const MIN_LIMIT: f64 = 0.1;
/// The longest a Retry-After holds requests.
pub const MAX_PAUSE: Duration = Duration::from_secs(60);
/// How fast the fastest-seen latency of a kind of request drifts towards slower answers: half
/// the way in this time. A Nautobot that became slower for good (more data, fewer workers,
/// someone else's load) is the new normal within a minute or two, so a slow Nautobot does not
/// keep the operator at its slowest.
pub const HALF_LIFE: Duration = Duration::from_secs(30);

/// What the client may do with the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send it now (counted in flight until [`Pace::done`]).
    Go,
    /// Ask again after this long (a Retry-After, a duty-cycle gap, the rate cap).
    Wait(Duration),
    /// Ask again when a request in flight is done.
    Full,
}

/// How a request ended, for the pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An answer (any status but those below).
    Answered,
    /// 429 or 503: Nautobot (or its proxy) says it is overloaded, maybe with a Retry-After.
    Overloaded(Option<Duration>),
    /// 502, 504, a timeout or a broken connection.
    Failed,
    /// Given up before an answer (the caller was cancelled): says nothing about Nautobot.
    Dropped,
}

/// Why the limit was cut (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// An answer much slower than usual.
    Slow,
    /// 429 or 503.
    Overloaded,
    /// 502, 504, a timeout or a broken connection.
    Failed,
}

impl Cut {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Cut::Slow => "slow",
            Cut::Overloaded => "overloaded",
            Cut::Failed => "failed",
        }
    }
}

/// The pace of one client.
#[derive(Debug, Clone)]
pub struct Pace {
    max: f64,
    limit: f64,
    interval: Option<Duration>,
    in_flight: usize,
    /// The fastest latency seen per kind of request (seconds), drifting up slowly, and when
    /// it was last updated.
    fastest: HashMap<String, (f64, Instant)>,
    paused_until: Option<Instant>,
    gap_until: Option<Instant>,
    next_slot: Option<Instant>,
    last_cut: Option<Instant>,
}

impl Pace {
    /// At most `max_concurrent` in flight and, with a cap, `max_per_second` requests a second.
    pub fn new(max_concurrent: usize, max_per_second: Option<u32>) -> Self {
        let max = max_concurrent.max(1) as f64;
        Pace {
            max,
            limit: max,
            interval: max_per_second
                .filter(|r| *r > 0)
                .map(|r| Duration::from_secs_f64(1.0 / f64::from(r))),
            in_flight: 0,
            fastest: HashMap::new(),
            paused_until: None,
            gap_until: None,
            next_slot: None,
            last_cut: None,
        }
    }

    /// The current limit of requests in flight (below 1: the duty cycle).
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether the next request may go at `now`.
    pub fn admit(&mut self, now: Instant) -> Admit {
        for until in [self.paused_until, self.gap_until].into_iter().flatten() {
            if now < until {
                return Admit::Wait(until - now);
            }
        }
        if self.in_flight >= (self.limit.floor() as usize).max(1) {
            return Admit::Full;
        }
        if let Some(interval) = self.interval {
            let slot = self.next_slot.map_or(now, |s| s.max(now));
            if slot > now {
                return Admit::Wait(slot - now);
            }
            self.next_slot = Some(slot + interval);
        }
        self.in_flight += 1;
        Admit::Go
    }

    /// A request of `kind` (method and endpoint, say) admitted earlier ended at `now` after
    /// `latency`; `Some` when that cut the limit.
    pub fn done(
        &mut self,
        now: Instant,
        kind: &str,
        latency: Duration,
        outcome: Outcome,
    ) -> Option<Cut> {
        self.in_flight = self.in_flight.saturating_sub(1);
        let lat = latency.as_secs_f64();
        let cut = match outcome {
            Outcome::Dropped => return None,
            Outcome::Overloaded(retry_after) => {
                if let Some(wait) = retry_after {
                    let until = now + wait.min(MAX_PAUSE);
                    self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
                }
                self.cut(now, latency, CUT_ERROR).then_some(Cut::Overloaded)
            }
            Outcome::Failed => self.cut(now, latency, CUT_ERROR).then_some(Cut::Failed),
            Outcome::Answered => {
                let (fastest, updated) = match self.fastest.get_mut(kind) {
                    Some(f) => f,
                    None => self.fastest.entry(kind.to_string()).or_insert((lat, now)),
                };
                let slow = lat > SLOW * *fastest;
                let age = now.saturating_duration_since(*updated).as_secs_f64();
                let drift = 1.0 - 0.5_f64.powf(age / HALF_LIFE.as_secs_f64());
                *fastest = if lat < *fastest {
                    lat
                } else {
                    *fastest + (lat - *fastest) * drift
                };
                *updated = now;
                if slow {
                    self.cut(now, latency, CUT_SLOW).then_some(Cut::Slow)
                } else {
                    let step = if self.limit < 1.0 {
                        MIN_LIMIT / 2.0
                    } else {
                        1.0 / self.limit
                    };
                    self.limit = (self.limit + step).min(self.max);
                    None
                }
            }
        };
        if self.limit < 1.0 {
            let gap = latency.mul_f64(1.0 / self.limit - 1.0);
            self.gap_until = Some(now + gap);
        }
        cut
    }

    /// Cuts the limit by `factor`, once per round trip (`latency`); whether it did.
    fn cut(&mut self, now: Instant, latency: Duration, factor: f64) -> bool {
        let window = latency.max(Duration::from_millis(100));
        if self
            .last_cut
            .is_some_and(|t| now.saturating_duration_since(t) < window)
        {
            return false;
        }
        self.limit = (self.limit * factor).max(MIN_LIMIT);
        self.last_cut = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Admits one request at `now` and ends it `latency` later.
    fn one(p: &mut Pace, now: Instant, latency: Duration, outcome: Outcome) -> Option<Cut> {
        assert_eq!(p.admit(now), Admit::Go);
        p.done(now + latency, "GET dcim/devices", latency, outcome)
    }

    #[test]
    fn starts_at_the_spec_limit_and_never_exceeds_it() {
        let t = Instant::now();
        let mut p = Pace::new(2, None);
        assert_eq!(p.admit(t), Admit::Go);
        assert_eq!(p.admit(t), Admit::Go);
        assert_eq!(p.admit(t), Admit::Full, "two in flight at most");
        p.done(t + ms(50), "GET a", ms(50), Outcome::Answered);
        assert_eq!(p.admit(t + ms(50)), Admit::Go);
        for i in 0..100 {
            p.done(t + ms(60 + i), "GET a", ms(50), Outcome::Answered);
            p.admit(t + ms(60 + i));
        }
        assert_eq!(p.limit(), 2.0);
    }

    #[test]
    fn slow_answers_cut_once_per_round_trip_and_fast_ones_win_it_back() {
        let t = Instant::now();
        let mut p = Pace::new(4, None);
        assert_eq!(one(&mut p, t, ms(50), Outcome::Answered), None);
        // Nautobot queues: answers five times slower
        assert_eq!(
            one(&mut p, t + ms(100), ms(250), Outcome::Answered),
            Some(Cut::Slow)
        );
        assert!((p.limit() - 3.2).abs() < 1e-9, "{}", p.limit());
        // another slow answer within the same round trip says the same again
        assert_eq!(one(&mut p, t + ms(110), ms(250), Outcome::Answered), None);
        assert!((p.limit() - 3.2).abs() < 1e-9);
        // one round trip later it cuts again
        one(&mut p, t + ms(700), ms(250), Outcome::Answered);
        assert!((p.limit() - 2.56).abs() < 1e-9, "{}", p.limit());
        // fast answers add about one per round of answers, up to the spec's limit
        let mut now = t + ms(1000);
        for _ in 0..20 {
            one(&mut p, now, ms(50), Outcome::Answered);
            now += ms(60);
        }
        assert_eq!(p.limit(), 4.0);
    }

    #[test]
    fn a_nautobot_slow_for_good_becomes_the_new_normal() {
        let t = Instant::now();
        let mut p = Pace::new(2, None);
        assert_eq!(p.admit(t), Admit::Go);
        p.done(t + ms(50), "GET a", ms(50), Outcome::Answered);
        // from now on every answer takes 500 ms: cut at first, then normal again
        let mut now = t + ms(100);
        let mut cuts = 0;
        let mut late_cuts = 0;
        while now < t + Duration::from_secs(300) {
            // one request at a time, as soon as the pace lets it go
            while let Admit::Wait(d) = p.admit(now) {
                now += d;
            }
            now += ms(500);
            if p.done(now, "GET a", ms(500), Outcome::Answered).is_some() {
                cuts += 1;
                if now > t + Duration::from_secs(200) {
                    late_cuts += 1;
                }
            }
        }
        assert!(cuts > 0);
        assert_eq!(late_cuts, 0, "500 ms is the normal now");
        assert_eq!(p.limit(), 2.0, "and the limit is back");
    }

    #[test]
    fn each_kind_of_request_is_slow_against_its_own_fastest() {
        let t = Instant::now();
        let mut p = Pace::new(2, None);
        p.admit(t);
        p.done(t + ms(40), "GET dcim/devices", ms(40), Outcome::Answered);
        // a bulk create of 100 takes 2 s: not slow for its kind
        p.admit(t);
        let cut = p.done(
            t + ms(2000),
            "POST dcim/devices",
            ms(2000),
            Outcome::Answered,
        );
        assert_eq!(cut, None);
        assert_eq!(p.limit(), 2.0);
    }

    #[test]
    fn errors_halve_and_below_one_the_limit_is_a_duty_cycle() {
        let t = Instant::now();
        let mut p = Pace::new(2, None);
        assert_eq!(one(&mut p, t, ms(100), Outcome::Failed), Some(Cut::Failed));
        assert_eq!(p.limit(), 1.0);
        let now = t + ms(400);
        assert_eq!(
            one(&mut p, now, ms(100), Outcome::Overloaded(None)),
            Some(Cut::Overloaded)
        );
        assert_eq!(p.limit(), 0.5);
        // half the time: after a 100 ms answer the next waits 100 ms
        let end = now + ms(100);
        assert_eq!(p.admit(end), Admit::Wait(ms(100)));
        assert_eq!(p.admit(end + ms(100)), Admit::Go);
        // never below a tenth
        let mut now = end + ms(100);
        for _ in 0..20 {
            p.done(now + ms(200), "GET a", ms(200), Outcome::Failed);
            now += ms(1000);
            p.admit(now);
        }
        assert!((p.limit() - MIN_LIMIT).abs() < 1e-9, "{}", p.limit());
    }

    #[test]
    fn retry_after_holds_every_request_until_then() {
        let t = Instant::now();
        let mut p = Pace::new(4, None);
        assert_eq!(p.admit(t), Admit::Go);
        assert_eq!(p.admit(t), Admit::Go);
        p.done(
            t + ms(10),
            "POST a",
            ms(10),
            Outcome::Overloaded(Some(Duration::from_secs(3))),
        );
        assert_eq!(p.admit(t + ms(10)), Admit::Wait(ms(3000)));
        assert_eq!(p.admit(t + ms(2010)), Admit::Wait(ms(1000)));
        assert_eq!(p.admit(t + ms(3010)), Admit::Go);
        // an absurd Retry-After is bounded
        p.done(
            t + ms(3100),
            "POST a",
            ms(90),
            Outcome::Overloaded(Some(Duration::from_secs(3600))),
        );
        assert_eq!(p.admit(t + ms(3100)), Admit::Wait(MAX_PAUSE));
    }

    #[test]
    fn the_rate_cap_spaces_requests_evenly() {
        let t = Instant::now();
        let mut p = Pace::new(8, Some(4));
        assert_eq!(p.admit(t), Admit::Go);
        assert_eq!(p.admit(t), Admit::Wait(ms(250)));
        assert_eq!(p.admit(t + ms(250)), Admit::Go);
        assert_eq!(p.admit(t + ms(300)), Admit::Wait(ms(200)));
        // idle for a while: no burst is saved up
        assert_eq!(p.admit(t + ms(5000)), Admit::Go);
        assert_eq!(p.admit(t + ms(5000)), Admit::Wait(ms(250)));
    }

    #[test]
    fn a_dropped_request_frees_its_place_and_says_nothing() {
        let t = Instant::now();
        let mut p = Pace::new(1, None);
        assert_eq!(p.admit(t), Admit::Go);
        assert_eq!(p.admit(t), Admit::Full);
        assert_eq!(p.done(t, "GET a", ms(5000), Outcome::Dropped), None);
        assert_eq!(p.limit(), 1.0);
        assert_eq!(p.admit(t), Admit::Go);
    }
}
