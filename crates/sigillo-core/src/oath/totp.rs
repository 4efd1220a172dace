//! TOTP (RFC 6238): HOTP over the number of whole time steps since the Unix epoch
//! (`T0 = 0`, step `X`, 30 s by default), and the window check the server runs on a typed
//! code.
//!
//! [`Totp::verify`] checks every step of the window around `now` in constant time and
//! tells which step matched, so that the server can record it and accept each step once
//! (P8): a step at or before the last one accepted never matches again.

use super::{Hash, OathError, code_matches, decimal_code, hotp};
use crate::time::UnixMillis;
use subtle::{Choice, ConditionallySelectable, ConstantTimeGreater};

/// The RFC 6238 default time step, in seconds.
pub const DEFAULT_STEP_SECS: u64 = 30;
/// The largest window allowed on either side of the current step.
pub const MAX_WINDOW: u32 = 10;
/// The longest time step allowed, in seconds (a day).
pub const MAX_STEP_SECS: u64 = 86_400;

/// sigillo's login OTP (issue 4, "Genera OTP → OTP login"): HMAC-SHA-256, 6 digits, 30 s
/// steps, one step of clock drift accepted either way (RFC 6238 §5.2 recommends at most one
/// step back).
pub const LOGIN: Totp = Totp { hash: Hash::Sha256, digits: 6, step_secs: DEFAULT_STEP_SECS, behind: 1, ahead: 1 };

/// A TOTP profile: hash, digits, step length and the verification window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totp {
    hash: Hash,
    digits: u32,
    step_secs: u64,
    behind: u32,
    ahead: u32,
}

impl Totp {
    /// A profile with a window of one step either side of now. Refuses digits outside 6..=8
    /// and steps outside 1 s..=1 day.
    pub fn new(hash: Hash, digits: u32, step_secs: u64) -> Result<Self, OathError> {
        hotp::check_digits(digits)?;
        if step_secs == 0 || step_secs > MAX_STEP_SECS {
            return Err(OathError::Step(step_secs));
        }
        Ok(Self { hash, digits, step_secs, behind: 1, ahead: 1 })
    }

    /// The same profile accepting codes from `behind` steps before to `ahead` steps after
    /// the current one (each at most [`MAX_WINDOW`]).
    pub fn with_window(self, behind: u32, ahead: u32) -> Result<Self, OathError> {
        for side in [behind, ahead] {
            if side > MAX_WINDOW {
                return Err(OathError::Window(side));
            }
        }
        Ok(Self { behind, ahead, ..self })
    }

    pub fn hash(&self) -> Hash {
        self.hash
    }

    pub fn digits(&self) -> u32 {
        self.digits
    }

    pub fn step_secs(&self) -> u64 {
        self.step_secs
    }

    /// `(behind, ahead)`: how many steps before and after now [`Totp::verify`] accepts.
    pub fn window(&self) -> (u32, u32) {
        (self.behind, self.ahead)
    }

    /// `T = floor((unix seconds - T0) / X)` with `T0 = 0`; `None` before the epoch.
    pub fn step_at(&self, now: UnixMillis) -> Option<u64> {
        u64::try_from(now.as_secs()).ok().map(|secs| secs / self.step_secs)
    }

    /// The code of time step `step`.
    pub fn code_for_step(&self, key: &[u8], step: u64) -> String {
        decimal_code(hotp::truncated_value(key, step, self.hash), self.digits)
    }

    /// The code at `now`; `None` before the epoch.
    pub fn code_at(&self, key: &[u8], now: UnixMillis) -> Option<String> {
        self.step_at(now).map(|step| self.code_for_step(key, step))
    }

    /// Checks `typed` against every step of the window around `now` and returns the step
    /// it matched, or `None`. Steps at or before `last_accepted` (the step recorded for the
    /// last code this key had accepted) never match, so each step is accepted once (P8).
    ///
    /// Every candidate is computed and compared in constant time, and the matched step is
    /// kept with a constant-time select, so neither the time taken nor the memory touched
    /// depends on whether or which candidate matched. If two steps of the window happen to
    /// give the same code, the later one is returned.
    pub fn verify(&self, key: &[u8], now: UnixMillis, typed: &str, last_accepted: Option<u64>) -> Option<u64> {
        let current = self.step_at(now)?;
        let first = current.saturating_sub(u64::from(self.behind));
        let last = current.saturating_add(u64::from(self.ahead));
        let mut found = Choice::from(0);
        let mut matched = 0u64;
        for step in first..=last {
            let fresh = match last_accepted {
                Some(accepted) => step.ct_gt(&accepted),
                None => Choice::from(1),
            };
            let hit = code_matches(&self.code_for_step(key, step), typed) & fresh;
            matched.conditional_assign(&step, hit);
            found |= hit;
        }
        bool::from(found).then_some(matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> UnixMillis {
        UnixMillis(secs * 1000)
    }

    #[test]
    fn parameters_are_checked() {
        assert_eq!(Totp::new(Hash::Sha1, 5, 30), Err(OathError::Digits(5)));
        assert_eq!(Totp::new(Hash::Sha1, 6, 0), Err(OathError::Step(0)));
        assert_eq!(Totp::new(Hash::Sha1, 6, MAX_STEP_SECS + 1), Err(OathError::Step(MAX_STEP_SECS + 1)));
        let t = Totp::new(Hash::Sha1, 6, 30).unwrap();
        assert_eq!(t.window(), (1, 1));
        assert_eq!(t.with_window(MAX_WINDOW + 1, 0), Err(OathError::Window(MAX_WINDOW + 1)));
        assert_eq!(t.with_window(2, 0).unwrap().window(), (2, 0));
        assert_eq!(LOGIN, Totp::new(Hash::Sha256, 6, 30).unwrap());
    }

    #[test]
    fn steps_count_whole_periods_from_the_epoch() {
        let t = Totp::new(Hash::Sha1, 8, 30).unwrap();
        assert_eq!(t.step_at(at(0)), Some(0));
        assert_eq!(t.step_at(at(29)), Some(0));
        assert_eq!(t.step_at(UnixMillis(59_999)), Some(1));
        assert_eq!(t.step_at(at(1_111_111_109)), Some(0x0235_23EC));
        assert_eq!(t.step_at(UnixMillis(-1)), None);
        assert_eq!(t.code_at(b"k", UnixMillis(-1)), None);
        assert_eq!(t.verify(b"k", UnixMillis(-1), "000000", None), None);
    }

    #[test]
    fn the_window_is_clipped_at_the_epoch() {
        let key = b"12345678901234567890";
        let t = Totp::new(Hash::Sha1, 8, 30).unwrap();
        // RFC 6238 Appendix B: step 1 is 94287082; at step 0, step 1 is one step ahead.
        assert_eq!(t.verify(key, at(0), "94287082", None), Some(1));
        assert_eq!(t.verify(key, at(10), &t.code_for_step(key, 0), None), Some(0));
    }
}
