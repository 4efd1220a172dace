//! The words of every SMS and email. SMS stay within one or two segments and in
//! Italian, the customers' language; emails carry an English version below.
//! None of them asks for a credential: the bank never does.

/// Why an OTP is sent, named in the SMS so a customer who did not start it notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtpPurpose {
    Login,
    Recovery,
    PasswordChange,
    /// A card-portal login ("Area Riservata").
    PortalLogin,
}

impl OtpPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Recovery => "recovery",
            Self::PasswordChange => "password_change",
            Self::PortalLogin => "portal_login",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(Self::Login),
            "recovery" => Some(Self::Recovery),
            "password_change" => Some(Self::PasswordChange),
            "portal_login" => Some(Self::PortalLogin),
            _ => None,
        }
    }
}

pub fn otp_sms(purpose: OtpPurpose, code: &str, minutes: u64) -> String {
    let what = match purpose {
        OtpPurpose::Login => "accedere al servizio",
        OtpPurpose::Recovery => "recuperare la password",
        OtpPurpose::PasswordChange => "cambiare la password",
        OtpPurpose::PortalLogin => "accedere all'Area Riservata carte",
    };
    format!(
        "sigillo: {code} e' il codice per {what}. Vale {minutes} minuti. Non comunicarlo a nessuno, neanche alla banca."
    )
}

pub struct Email {
    pub subject: String,
    pub body: String,
}

fn email(subject_it: &str, subject_en: &str, body_it: &str, body_en: &str) -> Email {
    Email {
        subject: format!("{subject_it} / {subject_en}"),
        body: format!("{body_it}\n\n---\n\n{body_en}\n\n-- \nsigillo\n"),
    }
}

/// What was locked, in the customer's words.
fn secret_it(secret: &str) -> &'static str {
    match secret {
        "sms_otp" | "recovery_otp" => "codice SMS",
        "security_code" => "codice di sicurezza",
        "card_data" => "dati della carta",
        _ => "password",
    }
}

fn secret_en(secret: &str) -> &'static str {
    match secret {
        "sms_otp" | "recovery_otp" => "SMS code",
        "security_code" => "security code",
        "card_data" => "card details",
        _ => "password",
    }
}

/// RTS art. 4: the customer is alerted before a block becomes permanent.
pub fn temporary_lock_sms(secret: &str, minutes: u64, permanent_next: bool) -> String {
    let next = if permanent_next { " Dopo altri tentativi errati il blocco sara' definitivo." } else { "" };
    format!(
        "sigillo: troppi tentativi errati ({}). Accesso sospeso per {minutes} minuti.{next} Se non sei stato tu, chiama la banca.",
        secret_it(secret)
    )
}

pub fn temporary_lock_email(secret: &str, minutes: u64, permanent_next: bool) -> Email {
    let (next_it, next_en) = if permanent_next {
        (
            "Se i prossimi tentativi saranno ancora errati, l'utenza verra' bloccata in modo definitivo e potrai sbloccarla solo con il codice di sicurezza o in filiale.",
            "If the next attempts fail again, your user will be locked permanently; you will then unlock it with your security code or at your branch.",
        )
    } else {
        ("", "")
    };
    email(
        "Accesso sospeso per troppi tentativi errati",
        "Access suspended after too many failed attempts",
        &format!(
            "Abbiamo registrato troppi tentativi errati ({}). Per proteggerti abbiamo sospeso l'accesso per {minutes} minuti.\n{next_it}\nSe non sei stato tu, contatta subito la banca.",
            secret_it(secret)
        ),
        &format!(
            "We recorded too many failed attempts ({}). To protect you, access is suspended for {minutes} minutes.\n{next_en}\nIf this was not you, contact the bank at once.",
            secret_en(secret)
        ),
    )
}

pub fn permanent_lock_sms(secret: &str) -> String {
    format!(
        "sigillo: utenza bloccata per troppi tentativi errati ({}). Sbloccala con il codice di sicurezza da 'Password dimenticata' o in filiale.",
        secret_it(secret)
    )
}

pub fn permanent_lock_email(secret: &str) -> Email {
    email(
        "Utenza bloccata",
        "User locked",
        &format!(
            "La tua utenza e' stata bloccata dopo troppi tentativi errati ({}). Puoi sbloccarla e scegliere una nuova password con il codice di sicurezza, dalla pagina 'Password dimenticata', oppure in filiale.",
            secret_it(secret)
        ),
        &format!(
            "Your user was locked after too many failed attempts ({}). Unlock it and choose a new password with your security code on the 'Forgot password' page, or at your branch.",
            secret_en(secret)
        ),
    )
}

pub fn email_validation(link: &str) -> Email {
    email(
        "Conferma il tuo indirizzo email",
        "Confirm your email address",
        &format!(
            "Per confermare questo indirizzo apri il link qui sotto e premi \"Conferma\":\n{link}\n\nSe non hai chiesto tu questa verifica, ignora questo messaggio."
        ),
        &format!(
            "To confirm this address, open the link below and press \"Confirm\":\n{link}\n\nIf you did not ask for this, ignore this message."
        ),
    )
}

pub fn access_confirmed(user_code: &str, alias: Option<&str>) -> Email {
    let alias_it = alias.map(|a| format!(" e l'alias {a}")).unwrap_or_default();
    let alias_en = alias.map(|a| format!(" or your alias {a}")).unwrap_or_default();
    email(
        "Il tuo accesso e' attivo",
        "Your access is active",
        &format!(
            "Il tuo accesso a sigillo e' attivo. Accedi con il codice utente {user_code}{alias_it} e la password che hai scelto. La banca non ti chiedera' mai password o codici."
        ),
        &format!(
            "Your sigillo access is active. Sign in with user code {user_code}{alias_en} and the password you chose. The bank will never ask you for passwords or codes."
        ),
    )
}

pub fn password_changed_sms() -> String {
    "sigillo: la password della tua utenza e' stata cambiata. Se non sei stato tu, chiama subito la banca.".into()
}

pub fn password_changed_email() -> Email {
    email(
        "Password cambiata",
        "Password changed",
        "La password della tua utenza e' stata appena cambiata. Se non sei stato tu, contatta subito la banca.",
        "The password of your user has just been changed. If this was not you, contact the bank at once.",
    )
}

pub fn phone_changed_sms(masked_new: &str) -> String {
    format!(
        "sigillo: il numero certificato della tua utenza e' stato cambiato in {masked_new}. Se non l'hai chiesto tu, chiama subito la banca."
    )
}

/// P2: a phone's binding blocked after too many wrong PINs or codes (after a suspension).
pub fn binding_blocked_sms(device: &str) -> String {
    format!(
        "sigillo: lo Smart PIN del dispositivo '{device}' e' bloccato dopo troppi tentativi errati. Sbloccalo dall'area Dispositivi dell'home banking. Se non sei stato tu, chiama la banca."
    )
}

/// RTS art. 4: the alert before a phone's block becomes permanent.
pub fn binding_suspended_sms(device: &str, limit: u32, minutes: u64) -> String {
    format!(
        "sigillo: {limit} Smart PIN errati sul dispositivo '{device}'. Lo Smart PIN e' sospeso per {minutes} minuti; dopo altri {limit} tentativi errati il dispositivo sara' bloccato. Se non sei stato tu, chiama la banca."
    )
}

/// A new phone was bound to the user: always told, so a binding nobody asked for shows.
pub fn device_bound_sms(device: &str) -> String {
    format!(
        "sigillo: il dispositivo '{device}' e' stato associato alla tua utenza. Se non sei stato tu, chiama subito la banca."
    )
}

pub fn binding_suspended_email(device: &str, limit: u32, minutes: u64) -> Email {
    email(
        "Smart PIN sospeso",
        "Smart PIN suspended",
        &format!(
            "Sul dispositivo '{device}' lo Smart PIN e' stato inserito in modo errato {limit} volte. Per proteggerti lo abbiamo sospeso per {minutes} minuti.\nSe i prossimi {limit} tentativi saranno ancora errati, il dispositivo verra' bloccato e potrai sbloccarlo dall'area Dispositivi dell'home banking.\nSe non sei stato tu, contatta subito la banca."
        ),
        &format!(
            "The Smart PIN was entered wrongly {limit} times on the device '{device}'. To protect you, it is suspended for {minutes} minutes.\nIf the next {limit} attempts fail again, the device will be blocked; you can then unblock it in the Devices area of online banking.\nIf this was not you, contact the bank at once."
        ),
    )
}

pub fn binding_blocked_email(device: &str) -> Email {
    email(
        "Dispositivo bloccato",
        "Device blocked",
        &format!(
            "Lo Smart PIN del dispositivo '{device}' e' bloccato dopo troppi tentativi errati: il dispositivo non puo' autorizzare accessi ne' pagamenti.\nSe sei stato tu, sbloccalo dall'area Dispositivi dell'home banking: l'app ti chiedera' un nuovo Smart PIN. Se non sei stato tu, contatta subito la banca."
        ),
        &format!(
            "The Smart PIN of the device '{device}' is blocked after too many wrong attempts: the device cannot approve logins or payments.\nIf it was you, unblock it in the Devices area of online banking: the app will ask for a new Smart PIN. If it was not you, contact the bank at once."
        ),
    )
}

/// A phone no longer bound: always told, so a removal nobody asked for shows.
pub fn device_removed_sms(device: &str) -> String {
    format!(
        "sigillo: il dispositivo '{device}' non e' piu' associato alla tua utenza. Se non sei stato tu, chiama subito la banca."
    )
}

pub fn device_unblocked_sms(device: &str) -> String {
    format!(
        "sigillo: il dispositivo '{device}' e' stato sbloccato; l'app ti chiedera' un nuovo Smart PIN. Se non sei stato tu, chiama subito la banca."
    )
}

/// A new phone whose activation failed on wrong PINs before it was ever active.
pub fn binding_abandoned_sms(device: &str) -> String {
    format!(
        "sigillo: troppi Smart PIN errati durante l'associazione del dispositivo '{device}': l'associazione e' annullata. Puoi ripeterla dall'area Dispositivi dell'home banking. Se non sei stato tu, chiama la banca."
    )
}

/// The SMS OTP of a card purchase names the merchant, the amount and the card (dynamic
/// linking, RTS art. 5(1)(a)), and says the Key6 goes with it.
pub fn purchase_otp_sms(code: &str, amount: &str, currency: &str, merchant: &str, last4: &str, minutes: u64) -> String {
    format!(
        "sigillo: {code} e' il codice per l'acquisto di {amount} {currency} presso {merchant} con la carta che termina con {last4}. Inseriscilo con il tuo Key6. Vale {minutes} minuti. Non comunicarlo a nessuno."
    )
}

/// Sent after the fourth wrong Key6 or OTP in a row: the next one blocks Key6 (P2).
pub fn key6_last_attempt_sms(last4: &str) -> String {
    format!(
        "sigillo: codice OTP o Key6 errato per la carta che termina con {last4}. Un altro errore blocchera' il Key6. Se non sei stato tu, contatta la banca."
    )
}

/// Sent when Key6 is blocked after five consecutive failures.
pub fn key6_blocked_sms(last4: &str) -> String {
    format!(
        "sigillo: il Key6 della carta che termina con {last4} e' bloccato dopo 5 tentativi errati. Puoi sbloccarlo dall'app, da web banking o dall'Area Riservata. Se non sei stato tu, contatta la banca."
    )
}

/// The SMS OTP that lets the holder view or unlock a card's Key6 says which, and for
/// which card (its last four digits); it never carries the Key6.
pub fn key6_otp_sms(code: &str, unlock: bool, last4: &str, minutes: u64) -> String {
    let what = if unlock { "sbloccare" } else { "visualizzare" };
    format!(
        "sigillo: {code} e' il codice per {what} il Key6 della carta che termina con {last4}. Vale {minutes} minuti. Non comunicarlo a nessuno, neanche alla banca."
    )
}

/// The SMS code of an acquired bank's customer activating new credentials.
pub fn activation_otp_sms(code: &str, bank: &str, minutes: u64) -> String {
    format!(
        "sigillo: {code} e' il codice per attivare le nuove credenziali (cliente {bank}). Vale {minutes} minuti. Non comunicarlo a nessuno, neanche alla banca."
    )
}

/// The old credentials suspended after too many wrong tries (RTS art. 4: before a
/// permanent block the customer hears of it).
pub fn activation_suspended_sms(minutes: u64, permanent_next: bool) -> String {
    let next = if permanent_next { " Dopo altri tentativi errati il blocco sara' definitivo." } else { "" };
    format!(
        "sigillo: troppi tentativi errati nell'attivazione delle nuove credenziali. Attivazione sospesa per {minutes} minuti.{next} Se non sei stato tu, chiama la banca."
    )
}

/// The old credentials locked for good after too many wrong tries.
pub fn activation_blocked_sms() -> String {
    "sigillo: attivazione delle nuove credenziali bloccata per troppi tentativi errati. Rivolgiti alla tua filiale. Se non sei stato tu, chiama subito la banca.".into()
}

/// The code of a card-portal registration names the card it is for.
pub fn portal_registration_otp_sms(code: &str, last4: &str, minutes: u64) -> String {
    format!(
        "sigillo: {code} e' il codice per iscriverti all'Area Riservata con la carta che termina con {last4}. Vale {minutes} minuti. Non comunicarlo a nessuno, neanche alla banca."
    )
}

/// Sent when a registration completes: the UserID, which is no secret by itself.
pub fn portal_registered_sms(user_id: &str, created: bool) -> String {
    let what = if created {
        "Iscrizione all'Area Riservata completata"
    } else {
        "Nuova password dell'Area Riservata impostata"
    };
    format!("sigillo: {what}. Il tuo UserID e' {user_id}. Se non sei stato tu, contatta la banca.")
}

/// "Hai dimenticato lo UserID?": sent to the card's phone only.
pub fn portal_user_id_sms(user_id: &str) -> String {
    format!("sigillo: il tuo UserID dell'Area Riservata e' {user_id}. Se non l'hai chiesto tu, contatta la banca.")
}

/// The card data of a web banking customer's card were typed in the card portal.
pub fn portal_card_in_banking_sms(last4: &str) -> String {
    format!(
        "sigillo: la carta che termina con {last4} si gestisce da web banking e dall'app con il tuo codice utente, non dall'Area Riservata. Se non sei stato tu, contatta la banca."
    )
}

/// A UserID was asked for a card nobody registered yet.
pub fn portal_not_registered_sms(last4: &str) -> String {
    format!(
        "sigillo: la carta che termina con {last4} non ha ancora un UserID: iscriviti all'Area Riservata con 'Iscriviti'. Se non sei stato tu, contatta la banca."
    )
}

/// Too many wrong card data or registration codes: the card's portal access is locked.
pub fn card_data_locked_sms(last4: &str, minutes: Option<u64>) -> String {
    match minutes {
        Some(m) => format!(
            "sigillo: troppi tentativi errati con i dati della carta che termina con {last4}. Iscrizione e recupero UserID sospesi per {m} minuti; dopo altri errori il blocco sara' definitivo. Se non sei stato tu, contatta la banca."
        ),
        None => format!(
            "sigillo: iscrizione e recupero UserID bloccati per la carta che termina con {last4} dopo troppi tentativi errati. Per sbloccarli contatta la banca."
        ),
    }
}

/// A card-portal user locked for good: the way back is registering again with the card.
pub fn portal_permanent_lock_sms(secret: &str) -> String {
    format!(
        "sigillo: utenza dell'Area Riservata bloccata per troppi tentativi errati ({}). Sbloccala iscrivendoti di nuovo con i dati della carta ('Iscriviti').",
        secret_it(secret)
    )
}

/// The SMS OTP of a payment states what it authorizes (dynamic linking, RTS art. 5(1)(a)):
/// the amount and the payee, so the customer sees what they are confirming.
pub fn payment_otp_sms(code: &str, amount: &str, currency: &str, payee: &str, minutes: u64) -> String {
    format!(
        "sigillo: {code} e' il codice per autorizzare il pagamento di {amount} {currency} a {payee}. Vale {minutes} minuti. Non comunicarlo a nessuno, neanche alla banca."
    )
}
