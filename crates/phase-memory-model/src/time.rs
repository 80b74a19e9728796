//! Instants in time: milliseconds since the Unix epoch, RFC 3339 on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant with millisecond precision. Serialized as RFC 3339 in UTC
/// (`2026-01-01T00:00:00Z`, with `.mmm` only when milliseconds are non-zero),
/// so the same instant always prints the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(pub i64);

impl Time {
    /// The Unix epoch.
    pub const EPOCH: Time = Time(0);

    /// From milliseconds since the epoch.
    pub fn from_millis(ms: i64) -> Self {
        Time(ms)
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Seconds (fractional) between `earlier` and `self`.
    pub fn seconds_since(self, earlier: Time) -> f64 {
        (self.0 - earlier.0) as f64 / 1000.0
    }

    /// The current wall-clock time (only front ends and the default clock call this).
    pub fn now() -> Self {
        Time(jiff::Timestamp::now().as_millisecond())
    }

    /// Adds a number of seconds.
    pub fn plus_seconds(self, s: i64) -> Self {
        Time(self.0.saturating_add(s.saturating_mul(1000)))
    }
}

/// A timestamp that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid timestamp {input:?}: {reason} (want RFC 3339, e.g. 2026-01-01T00:00:00Z)")]
pub struct TimeError {
    /// The text that was given.
    pub input: String,
    /// Why it was refused.
    pub reason: String,
}

impl FromStr for Time {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ts: jiff::Timestamp = match s.parse() {
            Ok(ts) => ts,
            Err(e) => {
                // Accept a bare date as midnight UTC.
                if let Ok(d) = s.parse::<jiff::civil::Date>() {
                    d.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                        .map_err(|e| TimeError {
                            input: s.to_string(),
                            reason: e.to_string(),
                        })?
                        .timestamp()
                } else {
                    return Err(TimeError {
                        input: s.to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        };
        Ok(Time(ts.as_millisecond()))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) => {
                if self.0.rem_euclid(1000) == 0 {
                    write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
                } else {
                    write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
                }
            }
            Err(_) => write!(f, "invalid-time({})", self.0),
        }
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Time {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Time".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        for s in ["2026-01-01T00:00:00Z", "2026-03-05T09:10:11.250Z"] {
            let t: Time = s.parse().expect("parse");
            assert_eq!(t.to_string(), s);
        }
        let d: Time = "2026-01-02".parse().expect("date");
        assert_eq!(d.to_string(), "2026-01-02T00:00:00Z");
        assert!("yesterday".parse::<Time>().is_err());
    }
}
