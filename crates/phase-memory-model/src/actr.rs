//! ACT-R base-level activation, shared by activation and lifecycle rules.

use crate::time::Time;

/// Smallest age (seconds) an access counts with, so an access "now" stays finite.
pub const MIN_AGE_SECONDS: f64 = 1.0;

/// `B = ln(Σ_j (t_now − t_j)^(−d))` over access/creation times `t_j` not after `now`,
/// with ages in seconds (at least [`MIN_AGE_SECONDS`]). `None` when no time is in
/// the past (the node has no history yet at `now`).
pub fn base_level(times: &[Time], now: Time, decay: f64) -> Option<f64> {
    let mut sum = 0.0;
    let mut any = false;
    for t in times {
        if *t > now {
            continue;
        }
        let age = now.seconds_since(*t).max(MIN_AGE_SECONDS);
        sum += age.powf(-decay);
        any = true;
    }
    if any && sum > 0.0 {
        Some(sum.ln())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_recent_and_more_frequent_is_higher() {
        let now = Time::from_millis(1_000_000_000);
        let old = [Time::from_millis(0)];
        let recent = [Time::from_millis(999_000_000)];
        let both = [Time::from_millis(0), Time::from_millis(999_000_000)];
        let b_old = base_level(&old, now, 0.5).expect("old");
        let b_recent = base_level(&recent, now, 0.5).expect("recent");
        let b_both = base_level(&both, now, 0.5).expect("both");
        assert!(b_recent > b_old);
        assert!(b_both > b_recent);
        assert_eq!(
            base_level(&[Time::from_millis(2_000_000_000)], now, 0.5),
            None
        );
        // One access exactly 100 s ago with d = 0.5: ln(100^-0.5) = -ln(10).
        let b = base_level(
            &[Time::from_millis(900_000_000)],
            Time::from_millis(900_100_000),
            0.5,
        )
        .expect("b");
        assert!((b + 10f64.ln()).abs() < 1e-12);
    }
}
