//! Legacy password hashes made by independent tools (Python's bcrypt, hashlib, passlib and
//! argon2-cffi; `tests/vectors/legacy_crosscheck.py`): sigillo accepts each one's password
//! and refuses a wrong one (issue 6).

use sigillo_core::legacy::{LegacyHash, Scheme};

#[test]
fn hashes_from_independent_tools_verify() {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("vectors/legacy_hashes.json")).expect("legacy_hashes.json");
    let vectors = file["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 40, "{}", vectors.len());
    let mut schemes = std::collections::HashSet::new();
    for v in vectors {
        let (tool, hash) = (v["tool"].as_str().unwrap(), v["hash"].as_str().unwrap());
        let parsed = LegacyHash::parse(hash).unwrap_or_else(|e| panic!("{tool}: {hash}: {e}"));
        schemes.insert(parsed.scheme());
        assert!(parsed.verify(v["password"].as_str().unwrap()), "{tool}: {hash}");
        assert!(!parsed.verify(v["wrong"].as_str().unwrap()), "{tool}: {hash} accepts a wrong password");
    }
    for s in [Scheme::Bcrypt, Scheme::Pbkdf2Sha256, Scheme::Argon2, Scheme::SaltedSha256] {
        assert!(schemes.contains(&s), "{s:?} untested");
    }
}
