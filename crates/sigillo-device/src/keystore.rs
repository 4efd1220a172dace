//! Where the phone's possession and biometry private keys live. In a real app this is
//! the platform keystore (keys generated inside, never exported, signing and ECDH done
//! inside); the SDK only ever asks it to generate, sign and agree. The CLI keeps them in
//! a JSON file next to the state, written atomically with mode 0600.

use crate::error::{DeviceError, Result};
use crate::state::write_private;
use sigillo_core::device::keys::KeyPair;
use std::collections::BTreeMap;
use std::path::PathBuf;
use zeroize::Zeroizing;

pub trait Keystore {
    /// Generates a key under `alias` (replacing any) and returns its public key.
    fn generate(&mut self, alias: &str) -> Result<Vec<u8>>;
    fn sign(&self, alias: &str, message: &[u8]) -> Result<Vec<u8>>;
    /// ECDH with a peer's public key (the server's binding key).
    fn agree(&self, alias: &str, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>>;
    fn delete(&mut self, alias: &str) -> Result<()>;
    fn contains(&self, alias: &str) -> bool;
    /// Moves a key to a new alias (the CLI's file keystore can; a platform keystore
    /// would generate under the final alias instead).
    fn rename(&mut self, from: &str, to: &str) -> Result<()>;
}

/// Keys in memory, saved to `path` (if any) after every change.
#[derive(Default)]
pub struct FileKeystore {
    path: Option<PathBuf>,
    keys: BTreeMap<String, KeyPair>,
}

impl std::fmt::Debug for FileKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeystore").field("path", &self.path).field("aliases", &self.keys.keys()).finish()
    }
}

impl FileKeystore {
    /// A keystore that lives only in memory (tests).
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Opens (or starts) the keystore file at `path`.
    pub fn open(path: PathBuf) -> Result<Self> {
        let mut keys = BTreeMap::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                let stored: BTreeMap<String, String> = serde_json::from_slice(&bytes)
                    .map_err(|e| DeviceError::State(format!("keystore {} is corrupt: {e}", path.display())))?;
                for (alias, hex_key) in stored {
                    let raw = Zeroizing::new(
                        hex::decode(hex_key.as_bytes())
                            .map_err(|_| DeviceError::State(format!("keystore entry {alias} is corrupt")))?,
                    );
                    let key = KeyPair::from_bytes(&raw)
                        .map_err(|_| DeviceError::State(format!("keystore entry {alias} is corrupt")))?;
                    keys.insert(alias, key);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Self { path: Some(path), keys })
    }

    fn save(&self) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let map: BTreeMap<&str, Zeroizing<String>> = self
            .keys
            .iter()
            .map(|(alias, key)| (alias.as_str(), Zeroizing::new(hex::encode(&*key.to_bytes()))))
            .collect();
        let json = Zeroizing::new(
            serde_json::to_vec_pretty(&map.iter().map(|(a, k)| (*a, k.as_str())).collect::<BTreeMap<_, _>>())
                .map_err(|e| DeviceError::State(e.to_string()))?,
        );
        write_private(path, &json)
    }

    fn key(&self, alias: &str) -> Result<&KeyPair> {
        self.keys.get(alias).ok_or_else(|| DeviceError::State(format!("no key {alias} in the keystore")))
    }
}

impl Keystore for FileKeystore {
    fn generate(&mut self, alias: &str) -> Result<Vec<u8>> {
        let key = KeyPair::generate(&mut rand::rngs::OsRng);
        let public = key.public_key();
        self.keys.insert(alias.to_owned(), key);
        self.save()?;
        Ok(public)
    }

    fn sign(&self, alias: &str, message: &[u8]) -> Result<Vec<u8>> {
        Ok(self.key(alias)?.sign(message))
    }

    fn agree(&self, alias: &str, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        self.key(alias)?.agree(peer).map_err(|_| DeviceError::Protocol("the server key is not a P-256 point".into()))
    }

    fn delete(&mut self, alias: &str) -> Result<()> {
        if self.keys.remove(alias).is_some() {
            self.save()?;
        }
        Ok(())
    }

    fn contains(&self, alias: &str) -> bool {
        self.keys.contains_key(alias)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        let key = self.keys.remove(from).ok_or_else(|| DeviceError::State(format!("no key {from} in the keystore")))?;
        self.keys.insert(to.to_owned(), key);
        self.save()
    }
}
