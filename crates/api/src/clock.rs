use std::fmt::Debug;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where "now" comes from. Business logic takes a clock instead of reading the system time, so
/// tests are deterministic.
pub trait Clock: Send + Sync + Debug {
    fn now_unix_s(&self) -> i64;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_s(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A clock set before 1970: treat as the epoch rather than fail an import.
            Err(_) => 0,
        }
    }
}

/// A clock that always says the same time (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_unix_s(&self) -> i64 {
        self.0
    }
}
