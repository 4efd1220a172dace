//! Dev mode's push "provider": logs a line and keeps the notes for `GET /dev/push`.

use super::{PushError, PushNote, PushTarget};
use crate::clock::Clock;
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// Notes kept in memory; older ones are forgotten.
const KEEP: usize = 500;

/// One recorded note, as `GET /dev/push` shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DevNote {
    pub provider: String,
    pub token: String,
    pub op: String,
    pub kind: String,
    /// RFC 3339, UTC.
    pub at: String,
}

/// Cheap to clone: the router and the worker share one recorder.
#[derive(Clone, Debug)]
pub struct DevPush {
    clock: Arc<dyn Clock>,
    notes: Arc<Mutex<Vec<DevNote>>>,
}

impl DevPush {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, notes: Arc::default() }
    }

    pub fn send(&self, target: &PushTarget, note: &PushNote) -> Result<(), PushError> {
        tracing::info!(
            "push: op={} kind={} provider={} token={}",
            note.op,
            note.kind,
            target.provider,
            target.token_prefix()
        );
        let mut notes = self.notes.lock().map_err(|_| PushError::retryable("dev push recorder poisoned"))?;
        notes.push(DevNote {
            provider: target.provider.clone(),
            token: target.token.clone(),
            op: note.op.clone(),
            kind: note.kind.clone(),
            at: crate::router::rfc3339(self.clock.now().0),
        });
        if notes.len() > KEEP {
            let extra = notes.len() - KEEP;
            notes.drain(..extra);
        }
        Ok(())
    }

    /// The recorded notes, oldest first.
    pub fn notes(&self) -> Vec<DevNote> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }
}
