//! The consecutive-failure rule (RTS art. 4(3)(b), DESIGN P2).
//!
//! Every secret (password, SMS OTP, security code, later PIN, Key6, activation code)
//! has a counter per subject. An attempt first *reserves* a slot: the store increments
//! the counter only while it is below the limit, atomically, so 50 parallel wrong
//! guesses still get at most 5 verifications. A success resets the counter. Reaching
//! the limit locks the secret: temporarily at first, permanently after
//! `temporary_locks` temporary locks. The customer is alerted at every temporary lock,
//! so the alert always comes before the lock becomes permanent (RTS art. 4, R11).

use crate::time::UnixMillis;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// RTS art. 4(3)(b): "shall not exceed five".
pub const MAX_CONSECUTIVE_FAILURES: u32 = 5;

/// The secrets that have a counter. The string form is what the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Secret {
    Password,
    /// SMS codes of logins and password changes.
    SmsOtp,
    SecurityCode,
    /// SMS codes of recoveries: counted apart, so that a customer whose login codes are
    /// locked can still recover (after proving the security code) as the alerts say.
    RecoveryOtp,
    /// A bound phone's approvals and offline codes, counted per binding: a wrong PIN
    /// makes a wrong signature or code (P1, P2).
    Binding,
    /// A card's Key6 together with the SMS OTPs of its 3-D Secure challenges, counted per
    /// card: a wrong Key6 and a wrong OTP count alike (issue 5).
    Key6,
    /// The card data (PAN and expiry) typed in the card portal, together with the SMS
    /// OTPs of its registrations, counted per card: a stranger cannot test card data or
    /// guess codes without limit (P2).
    CardData,
    /// Not a secret: the SMS that typed card data make the portal send to the card's
    /// phone (codes, UserIDs), counted per card so that knowing a card's data cannot
    /// flood its holder's phone.
    CardSms,
}

impl Secret {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::SmsOtp => "sms_otp",
            Self::SecurityCode => "security_code",
            Self::RecoveryOtp => "recovery_otp",
            Self::Binding => "binding",
            Self::Key6 => "key6",
            Self::CardData => "card_data",
            Self::CardSms => "card_sms",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the secret (at most 5).
    pub max_failures: u32,
    /// How long a temporary lock lasts, in seconds.
    pub temporary_lock_secs: u64,
    /// Temporary locks before the next one is permanent.
    pub temporary_locks: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self { max_failures: MAX_CONSECUTIVE_FAILURES, temporary_lock_secs: 15 * 60, temporary_locks: 1 }
    }
}

/// What reaching the limit does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    Temporary { until: UnixMillis, permanent_after_next: bool },
    Permanent,
}

impl LockoutPolicy {
    /// The effective limit: configuration may lower it, never raise it above the RTS's five.
    pub fn limit(&self) -> u32 {
        self.max_failures.clamp(1, MAX_CONSECUTIVE_FAILURES)
    }

    /// The lock to apply when the limit is reached, given how many locks came before.
    pub fn lock_after(&self, previous_locks: u32, now: UnixMillis) -> Lock {
        if previous_locks >= self.temporary_locks {
            Lock::Permanent
        } else {
            Lock::Temporary {
                until: now.plus(Duration::from_secs(self.temporary_lock_secs)),
                permanent_after_next: previous_locks + 1 >= self.temporary_locks,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R10: configuration can lower the failure limit, never raise it above five (RTS art. 4(3)(b)).
    #[test]
    fn limit_never_exceeds_five() {
        let p = LockoutPolicy { max_failures: 9, ..LockoutPolicy::default() };
        assert_eq!(p.limit(), 5);
        assert_eq!(LockoutPolicy { max_failures: 3, ..p }.limit(), 3);
        assert_eq!(LockoutPolicy { max_failures: 0, ..p }.limit(), 1);
    }

    /// R11: a lock is temporary (and alerted) until `temporary_locks` temporary locks came before.
    #[test]
    fn temporary_then_permanent() {
        let p = LockoutPolicy::default();
        let now = UnixMillis(1_000);
        assert_eq!(
            p.lock_after(0, now),
            Lock::Temporary { until: UnixMillis(1_000 + 900_000), permanent_after_next: true }
        );
        assert_eq!(p.lock_after(1, now), Lock::Permanent);
        let lenient = LockoutPolicy { temporary_locks: 3, ..p };
        assert!(matches!(lenient.lock_after(1, now), Lock::Temporary { permanent_after_next: false, .. }));
        assert!(matches!(lenient.lock_after(2, now), Lock::Temporary { permanent_after_next: true, .. }));
        assert_eq!(lenient.lock_after(3, now), Lock::Permanent);
        let strict = LockoutPolicy { temporary_locks: 0, ..p };
        assert_eq!(strict.lock_after(0, now), Lock::Permanent);
    }
}
