//! The canonical encoding (PROTOCOL.md §2): a domain label followed by fields, each a
//! 4-byte big-endian length and its bytes. Unambiguous (no two field lists encode the
//! same), trivial to write in any language, and the same bytes are what is shown,
//! signed and verified (P5, P6).

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("malformed canonical message")]
pub struct Malformed;

/// Builds a message: `Canon::new("sigillo/…/v1").str(…).bytes(…).finish()`.
#[derive(Debug, Clone)]
pub struct Canon(Vec<u8>);

impl Canon {
    pub fn new(domain: &str) -> Self {
        Self(Vec::with_capacity(128)).bytes(domain.as_bytes())
    }

    #[must_use]
    pub fn bytes(mut self, field: &[u8]) -> Self {
        let len = u32::try_from(field.len()).unwrap_or_else(|_| unreachable!("fields are far below 4 GiB"));
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(field);
        self
    }

    #[must_use]
    pub fn str(self, field: &str) -> Self {
        self.bytes(field.as_bytes())
    }

    /// Integers are 8 bytes, big-endian.
    #[must_use]
    pub fn u64(self, value: u64) -> Self {
        self.bytes(&value.to_be_bytes())
    }

    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Reads a message back, field by field (the phone renders what it signs from these).
#[derive(Debug)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    /// Starts reading `message`, which must begin with `domain`.
    pub fn open(message: &'a [u8], domain: &str) -> Result<Self, Malformed> {
        let mut fields = Self { rest: message };
        if fields.bytes()? != domain.as_bytes() {
            return Err(Malformed);
        }
        Ok(fields)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let (len, rest) = self.rest.split_first_chunk::<4>().ok_or(Malformed)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| Malformed)?;
        if rest.len() < len {
            return Err(Malformed);
        }
        let (field, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(field)
    }

    pub fn str(&mut self) -> Result<&'a str, Malformed> {
        std::str::from_utf8(self.bytes()?).map_err(|_| Malformed)
    }

    pub fn u64(&mut self) -> Result<u64, Malformed> {
        let field: [u8; 8] = self.bytes()?.try_into().map_err(|_| Malformed)?;
        Ok(u64::from_be_bytes(field))
    }

    /// Ends reading: trailing bytes make the whole message malformed.
    pub fn end(self) -> Result<(), Malformed> {
        if self.rest.is_empty() { Ok(()) } else { Err(Malformed) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_length_prefixed_fields_and_reads_them_back() {
        let msg = Canon::new("d").str("ab").u64(258).bytes(&[]).finish();
        assert_eq!(
            msg,
            [&[0, 0, 0, 1, b'd'][..], &[0, 0, 0, 2, b'a', b'b'], &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 2], &[0, 0, 0, 0]]
                .concat()
        );
        let mut f = Fields::open(&msg, "d").unwrap();
        assert_eq!(f.str().unwrap(), "ab");
        assert_eq!(f.u64().unwrap(), 258);
        assert_eq!(f.bytes().unwrap(), b"");
        f.end().unwrap();
    }

    #[test]
    fn rejects_other_domains_truncation_and_trailing_bytes() {
        let msg = Canon::new("d").str("ab").finish();
        assert!(Fields::open(&msg, "e").is_err());
        let mut f = Fields::open(&msg[..msg.len() - 1], "d").unwrap();
        assert!(f.str().is_err());
        let mut long = msg.clone();
        long.push(0);
        let mut f = Fields::open(&long, "d").unwrap();
        f.str().unwrap();
        assert!(f.end().is_err());
        // Field boundaries matter: ("ab","c") and ("a","bc") differ.
        assert_ne!(Canon::new("d").str("ab").str("c").finish(), Canon::new("d").str("a").str("bc").finish());
    }
}
