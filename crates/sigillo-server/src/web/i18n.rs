//! The web pages' two languages: Italian by default, English on request
//! (`Accept-Language`, or the switch, which sets a cookie).

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    It,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::It => "it",
            Self::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "it" => Some(Self::It),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::It => Self::En,
            Self::En => Self::It,
        }
    }

    /// The first of `it`/`en` in an `Accept-Language` header, by quality; Italian otherwise.
    pub fn from_accept_language(header: &str) -> Self {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or_default();
            if let Some(lang) = Lang::parse(primary) {
                if best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, lang));
                }
            }
        }
        best.map_or(Self::It, |(_, l)| l)
    }
}

/// Both dictionaries, parsed once at start-up.
#[derive(Debug)]
pub struct Texts {
    it: BTreeMap<String, String>,
    en: BTreeMap<String, String>,
}

impl Texts {
    pub fn load() -> anyhow::Result<Self> {
        Ok(Self {
            it: toml::from_str(include_str!("../../locales/it.toml"))?,
            en: toml::from_str(include_str!("../../locales/en.toml"))?,
        })
    }

    pub fn dict(&self, lang: Lang) -> &BTreeMap<String, String> {
        match lang {
            Lang::It => &self.it,
            Lang::En => &self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let t = Texts::load().unwrap();
        let it: Vec<_> = t.it.keys().collect();
        let en: Vec<_> = t.en.keys().collect();
        assert_eq!(it, en);
    }

    #[test]
    fn every_error_code_is_translated() {
        let t = Texts::load().unwrap();
        use sigillo_core::password::PasswordError as P;
        let mut codes: Vec<&str> = [P::TooShort, P::TooLong, P::NotNumeric, P::Trivial, P::Common, P::ContainsIdentity]
            .iter()
            .map(|e| e.code())
            .collect();
        codes.extend([
            "authentication_failed",
            "unauthenticated",
            "forbidden",
            "flow_over",
            "too_many_codes",
            "taken",
            "not_found",
            "internal",
            "password_unchanged",
            "password_mismatch",
            "alias_length",
            "alias_characters",
            "alias_all_digits",
            "csrf",
            "email_nothing_to_verify",
            "rate_limited",
            "otp_required",
            "alias_not_here",
            "phone",
            "email",
            "malformed_request",
        ]);
        for code in codes {
            assert!(t.it.contains_key(&format!("err_{code}")), "it: err_{code}");
        }
    }

    #[test]
    fn accept_language_picks_by_quality() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9,it;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept_language("de-DE,it;q=0.5,en;q=0.4"), Lang::It);
        assert_eq!(Lang::from_accept_language("fr-FR"), Lang::It);
        assert_eq!(Lang::from_accept_language(""), Lang::It);
    }
}
