//! Time as the core sees it: milliseconds since the Unix epoch, always handed in.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An instant, in milliseconds since 1970-01-01T00:00:00Z. Stored as a plain integer
/// in both databases (STYLE.md: instants as integer unix milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    pub fn minus(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// Whole seconds since the epoch (for protocols such as TOTP that count in seconds).
    pub fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(UnixMillis(1_000).plus(Duration::from_secs(2)), UnixMillis(3_000));
        assert_eq!(UnixMillis(i64::MAX).plus(Duration::from_secs(1)), UnixMillis(i64::MAX));
        assert_eq!(UnixMillis(1_999).as_secs(), 1);
        assert_eq!(UnixMillis(-1).as_secs(), -1);
    }
}
