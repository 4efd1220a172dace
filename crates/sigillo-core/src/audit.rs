//! The audit trail's hash chain (P11).
//!
//! Each record's hash is SHA-256 over the previous record's hash and the record's own
//! fields in an unambiguous length-prefixed encoding. Editing, deleting or reordering
//! any record breaks every hash after it; [`verify`] names the first broken record.

use sha2::{Digest, Sha256};

/// The hash that precedes the first record.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// One record as stored. `detail` is a JSON object; it never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub seq: i64,
    pub at_ms: i64,
    /// Who acted: `user:<id>`, `operator:<name>`, `system`.
    pub actor: String,
    /// What happened, e.g. `login.failed`, `user.created`.
    pub action: String,
    /// Whom it concerns (a user id), or empty.
    pub subject: String,
    pub detail: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The hash of a record with the given fields following `prev_hash`.
pub fn chain_hash(
    prev_hash: &[u8],
    seq: i64,
    at_ms: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"sigillo-audit-v1");
    h.update(prev_hash);
    h.update(seq.to_be_bytes());
    h.update(at_ms.to_be_bytes());
    for field in [actor, action, subject, detail] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// Where and why the chain breaks.
#[derive(Debug, PartialEq, Eq)]
pub enum Break {
    /// A sequence number is missing (a record was deleted) or out of order.
    Gap { expected: i64, found: i64 },
    /// The record does not point to the hash of the one before it.
    Link { seq: i64 },
    /// The record's content does not match its hash (it was edited).
    Content { seq: i64 },
    /// The last record is not the head the store remembers (records were cut off the end).
    Head { last_seq: i64, head_seq: i64 },
}

/// Incremental verifier, so a long trail can be checked in pages.
#[derive(Debug)]
pub struct Verifier {
    next_seq: i64,
    prev: Vec<u8>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self { next_seq: 1, prev: GENESIS.to_vec() }
    }
}

impl Verifier {
    pub fn push(&mut self, r: &Record) -> Result<(), Break> {
        if r.seq != self.next_seq {
            return Err(Break::Gap { expected: self.next_seq, found: r.seq });
        }
        if r.prev_hash != self.prev {
            return Err(Break::Link { seq: r.seq });
        }
        let expected = chain_hash(&r.prev_hash, r.seq, r.at_ms, &r.actor, &r.action, &r.subject, &r.detail);
        if r.hash != expected {
            return Err(Break::Content { seq: r.seq });
        }
        self.next_seq += 1;
        self.prev = r.hash.clone();
        Ok(())
    }

    /// Checks the end of the trail against the head (last sequence and hash) the store keeps.
    pub fn finish(&self, head_seq: i64, head_hash: &[u8]) -> Result<i64, Break> {
        let last = self.next_seq - 1;
        if last != head_seq || (last > 0 && self.prev != head_hash) {
            return Err(Break::Head { last_seq: last, head_seq });
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Record> {
        let mut prev = GENESIS.to_vec();
        (1..=n)
            .map(|seq| {
                let detail = format!("{{\"n\":{seq}}}");
                let hash = chain_hash(&prev, seq, seq * 10, "system", "test", "u1", &detail).to_vec();
                let r = Record {
                    seq,
                    at_ms: seq * 10,
                    actor: "system".into(),
                    action: "test".into(),
                    subject: "u1".into(),
                    detail,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    fn verify_all(records: &[Record], head_seq: i64, head_hash: &[u8]) -> Result<i64, Break> {
        let mut v = Verifier::default();
        for r in records {
            v.push(r)?;
        }
        v.finish(head_seq, head_hash)
    }

    #[test]
    fn intact_chain_verifies() {
        let records = chain(5);
        assert_eq!(verify_all(&records, 5, &records[4].hash), Ok(5));
        assert_eq!(verify_all(&[], 0, &[]), Ok(0));
    }

    /// P11: an edited, deleted, relinked or cut-off record is found.
    #[test]
    fn every_kind_of_tampering_is_found() {
        let records = chain(5);
        let head = records[4].hash.clone();
        let mut edited = records.clone();
        edited[2].detail = "{\"n\":99}".into();
        assert_eq!(verify_all(&edited, 5, &head), Err(Break::Content { seq: 3 }));
        let mut deleted = records.clone();
        deleted.remove(1);
        assert_eq!(verify_all(&deleted, 5, &head), Err(Break::Gap { expected: 2, found: 3 }));
        let mut relinked = records.clone();
        relinked[3].prev_hash = GENESIS.to_vec();
        assert_eq!(verify_all(&relinked, 5, &head), Err(Break::Link { seq: 4 }));
        assert_eq!(verify_all(&records[..4], 5, &head), Err(Break::Head { last_seq: 4, head_seq: 5 }));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        assert_ne!(chain_hash(&GENESIS, 1, 0, "ab", "c", "", ""), chain_hash(&GENESIS, 1, 0, "a", "bc", "", ""));
    }
}
