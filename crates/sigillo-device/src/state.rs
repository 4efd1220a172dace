//! The phone's state: the server it talks to, the master key it pinned, and the users
//! bound on it. Nothing here is a secret on its own: the knowledge key is only a
//! PIN-wrapped seed that every PIN unwraps to *some* key (P1), and the private keys are
//! in the keystore.

use crate::error::{DeviceError, Result};
use serde::{Deserialize, Serialize};
use sigillo_core::device::pin::WrappedSeed;
use std::io::Write;
use std::path::Path;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// The bank's server, e.g. `https://sca.example.it`.
    pub server: Option<String>,
    /// The master public key (base64url) pinned at first contact; a real app ships it.
    pub master_key: Option<String>,
    pub users: Vec<UserBinding>,
    /// The user the app is showing (`users switch`); the primary one when unset.
    #[serde(default)]
    pub current: Option<String>,
}

/// One user bound on this phone.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserBinding {
    pub binding: String,
    /// The user code.
    pub user: String,
    /// As last seen: pending_approval, pending_commit, active, blocked.
    pub status: String,
    /// The user this phone shows first and notifies (DESIGN flow 5).
    pub primary: bool,
    pub fingerprint: String,
    /// The server's ECDH keys (base64url) for the possession and knowledge OTP keys.
    pub server_key: String,
    pub knowledge_server_key: String,
    /// The knowledge key's seed, wrapped under the PIN.
    pub knowledge: WrappedSeed,
    pub biometry: bool,
}

impl UserBinding {
    pub fn possession_alias(&self) -> String {
        format!("possession/{}", self.binding)
    }

    pub fn biometry_alias(&self) -> String {
        format!("biometry/{}", self.binding)
    }
}

impl State {
    pub const VERSION: u32 = 1;

    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| DeviceError::State(format!("state file {} is corrupt: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Self { version: Self::VERSION, ..Self::default() })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| DeviceError::State(e.to_string()))?;
        write_private(path, &json)
    }

    /// The user `id` names (binding id or user code), or the primary one.
    pub fn user(&self, id: Option<&str>) -> Result<&UserBinding> {
        let found = match id {
            Some(id) => self.users.iter().find(|u| u.binding == id || u.user == id),
            None => self
                .current
                .as_deref()
                .and_then(|c| self.users.iter().find(|u| u.binding == c))
                .or_else(|| self.users.iter().find(|u| u.primary))
                .or(self.users.first()),
        };
        found.ok_or_else(|| DeviceError::State(format!("no user {} on this phone", id.unwrap_or("at all"))))
    }

    pub fn user_mut(&mut self, binding: &str) -> Result<&mut UserBinding> {
        self.users
            .iter_mut()
            .find(|u| u.binding == binding)
            .ok_or_else(|| DeviceError::State(format!("no user {binding} on this phone")))
    }
}

/// Writes `bytes` to `path` atomically (a temporary file in the same folder, flushed,
/// then renamed over it) with mode 0600, so a crash never leaves half a state and no
/// other local user can read it.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    Ok(())
}
