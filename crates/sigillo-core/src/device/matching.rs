//! Number matching for pushed logins: the web page shows one 2-digit number, the phone
//! shows three and the customer taps the one on screen. Someone who gets a customer to
//! approve a login started elsewhere (push fatigue, a phished password) must also see the
//! attacker's screen. The three numbers are in the operation bytes the phone shows and
//! signs; the choice is in the approval it signs ([`super::messages::approval_with_answer`]).

use super::messages::Operation;
use crate::Csprng;

/// The operation kind of a pushed login.
pub const LOGIN_KIND: &str = "login";
/// The label of the three numbers in a login operation.
pub const NUMBERS_LABEL: &str = "numbers";

/// One login's numbers: `correct` is shown on the web page and kept by the server; `shown`
/// (which contains it) goes to the phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Numbers {
    pub correct: u8,
    pub shown: [u8; 3],
}

/// A uniform value in `0..n` by rejection (no modulo bias).
fn uniform(rng: &mut impl Csprng, n: u32) -> u32 {
    let zone = u32::MAX - u32::MAX % n;
    loop {
        let x = rng.next_u32();
        if x < zone {
            return x % n;
        }
    }
}

/// Three distinct numbers in 10..=99, one of them correct, in random order.
pub fn draw(rng: &mut impl Csprng) -> Numbers {
    let mut shown = [0u8; 3];
    let mut filled = 0;
    while filled < 3 {
        let n = 10 + uniform(rng, 90) as u8;
        if !shown[..filled].contains(&n) {
            shown[filled] = n;
            filled += 1;
        }
    }
    // The first drawn is the correct one; a Fisher–Yates shuffle hides which it was.
    let correct = shown[0];
    for i in (1..3).rev() {
        let j = uniform(rng, i as u32 + 1) as usize;
        shown.swap(i, j);
    }
    Numbers { correct, shown }
}

/// A pushed login as the phone shows it: the three numbers, then what the bank wants the
/// customer to see about where the login comes from (channel, time, …).
pub fn login_operation(id: &str, expires_at_ms: u64, shown: [u8; 3], about: &[(&str, &str)]) -> Operation {
    let numbers = shown.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" ");
    let mut fields = vec![(NUMBERS_LABEL.to_owned(), numbers)];
    fields.extend(about.iter().map(|(l, v)| ((*l).to_owned(), (*v).to_owned())));
    Operation { id: id.to_owned(), kind: LOGIN_KIND.to_owned(), expires_at_ms, fields }
}

/// The numbers a login operation offers, if it is one and well formed.
pub fn offered(op: &Operation) -> Option<[u8; 3]> {
    if op.kind != LOGIN_KIND {
        return None;
    }
    let (_, value) = op.fields.iter().find(|(l, _)| l == NUMBERS_LABEL)?;
    let parsed: Vec<u8> = value.split(' ').map(|n| n.parse().ok()).collect::<Option<_>>()?;
    let shown: [u8; 3] = parsed.try_into().ok()?;
    shown.iter().all(|n| (10..=99).contains(n)).then_some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn numbers_are_distinct_two_digit_and_include_the_correct_one() {
        let mut positions = [0u32; 3];
        for _ in 0..3000 {
            let n = draw(&mut OsRng);
            assert!(n.shown.iter().all(|x| (10..=99).contains(x)));
            assert!(n.shown[0] != n.shown[1] && n.shown[1] != n.shown[2] && n.shown[0] != n.shown[2]);
            let at = n.shown.iter().position(|x| *x == n.correct).unwrap();
            positions[at] += 1;
        }
        // The correct number is not always in the same place (each ≈ 1000 of 3000).
        assert!(positions.iter().all(|p| (800..1200).contains(p)), "{positions:?}");
    }

    #[test]
    fn a_login_operation_offers_its_numbers_back() {
        let op = login_operation("op1", 9, [12, 47, 83], &[("channel", "web")]);
        assert_eq!(offered(&Operation::decode(&op.encode()).unwrap()), Some([12, 47, 83]));
        let mut payment = op.clone();
        payment.kind = "payment.credit_transfer".into();
        assert_eq!(offered(&payment), None);
        let mut odd = op;
        odd.fields[0].1 = "12 47 7".into();
        assert_eq!(offered(&odd), None);
    }
}
