//! The injected clock: every "now" in the runtime comes from here, so `--as-of`
//! reproduces any output.

use phase_memory_model::Time;

/// Where "now" comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The wall clock.
    System,
    /// A fixed instant (tests, `--as-of`).
    Fixed(Time),
}

impl Clock {
    /// The current time under this clock.
    pub fn now(&self) -> Time {
        match self {
            Clock::System => Time::now(),
            Clock::Fixed(t) => *t,
        }
    }
}
