//! How the customer unlocks a two-factor signature: the Smart PIN, or biometry. A real
//! app asks at the moment it signs; the CLI takes `--pin` or `--biometry`.

use zeroize::Zeroizing;

#[derive(Clone, Debug)]
pub enum Unlock {
    /// The 5-digit Smart PIN as typed; it unwraps the knowledge key and is then dropped.
    Pin(Zeroizing<String>),
    /// The platform's biometric check passed: it releases the biometry key.
    Biometry,
}

impl Unlock {
    pub fn pin(pin: &str) -> Self {
        Self::Pin(Zeroizing::new(pin.to_owned()))
    }
}
