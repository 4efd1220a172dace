// DESIGN flow 10 in real Chromium: "Attivazione Internet Banking" for the customers of
// acquired banks (issue 6), imported with `sigillo admin legacy import`. Covered: the
// first seed guide (an app customer: the bank → the old customer code and password → the
// SMS code to the certified phone → the phone confirmed and the imported email → the
// email's link in the same browser → a new password and an alias → the new user code,
// the security code and the next steps for the app → the confirmation email → a login
// with the alias, password and SMS code → the phone bound with `sigillo-device` → the
// next login is a push); the second seed guide (a hardware-token customer without an
// imported email: the address typed, a typo corrected with "Usa un altro indirizzo", the
// link sent again and opened in another browser, the earlier links refused, "continua"
// in the first → the next steps for the hardware token → every login lands on
// /app-recommended until a phone is bound); a bank not open yet (only its date, in the
// list and on its page, and nothing looked at before it) and one whose activation has
// closed; the uniform answer to an unknown code and a wrong password (P9), the SMS code
// sent again (the first then refused), the old credentials spent at the end (P8), an
// abandoned activation started again in another browser and the abandoned one unable to
// finish; the pages in English after the language switch; five wrong old passwords lock
// the credential and alert its phone (P2).

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { E2E_DIR, EN, IT, openPage, setup, withPage, wrongCode } from '../harness.js';

const DAY = 86_400_000;
/** `YYYY-MM-DD`, `days` from now (UTC). The server runs on the real clock, so the banks'
 *  dates are relative to today: these tests do not expire. */
function isoDay(days) {
  return new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
}

/** The acquired banks: two open, one not open yet, one whose activation has closed. */
const BANKS = {
  carige: { id: 'carige', name: 'Banca Carige', label: 'Codice Cliente Carige Online e password', opensAt: `${isoDay(-30)}T00:00:00+01:00` },
  ubi: { id: 'ubi', name: 'UBI Banca', label: 'Codice Cliente Qui UBI e password', opensAt: `${isoDay(-7)}T00:00:00+01:00` },
  lucca: { id: 'lucca', name: 'Banca del Monte di Lucca', label: 'Codice cliente e password', opensAt: `${isoDay(90)}T00:00:00+01:00` },
  tercas: {
    id: 'tercas',
    name: 'Banca Tercas',
    label: 'Codice cliente e password',
    opensAt: `${isoDay(-200)}T00:00:00+01:00`,
    closesAt: `${isoDay(-10)}T00:00:00+01:00`,
  },
};

const config = Object.values(BANKS).map((b) => [
  '[[legacy.banks]]',
  `id = "${b.id}"`,
  `name = "${b.name}"`,
  `credentials_label = "${b.label}"`,
  `opens_at = "${b.opensAt}"`,
  ...(b.closesAt ? [`closes_at = "${b.closesAt}"`] : []),
].join('\n')).join('\n\n');

const env = setup(test, 'activation', { config });

/** Hashes the old banks' systems made, with their passwords (the core's test vectors). */
const VECTORS = JSON.parse(readFileSync(join(E2E_DIR, '..', 'crates', 'sigillo-core', 'tests', 'vectors', 'legacy_hashes.json'), 'utf8')).vectors;
function vector(tool, password) {
  const v = VECTORS.find((x) => x.tool === tool && x.password === password);
  assert.ok(v, `a ${tool} vector for ${password}`);
  return v;
}
const HASHES = {
  bcrypt: vector('bcrypt', 'carige2024'),
  pbkdf2: vector('hashlib.pbkdf2_hmac', 'Passw0rd!'),
  passlib: vector('passlib pbkdf2_sha256', 'città-è-più'),
};

/** The pages' texts (locales/it.toml, en.toml: `migration_*`, `app_reco_*`, …). */
const ACT = {
  it: {
    title: 'Attivazione Internet Banking',
    intro: 'Eri cliente di una banca che è entrata a far parte della nostra? Scegli la tua banca: entrerai con le credenziali che usavi e creerai le nuove.',
    loginLink: 'Eri cliente di una banca entrata nel nostro gruppo? Attiva le nuove credenziali',
    from: 'attivazione dal',
    bankClosed: 'attivazione chiusa',
    notYetOpen: "L'attivazione delle nuove credenziali per i clienti di questa banca sarà disponibile dal",
    closed: 'Il periodo di attivazione per i clienti di questa banca è terminato: rivolgiti alla tua filiale.',
    back: 'Torna alla scelta della banca',
    failed: "L'attivazione non è andata a buon fine o è scaduta. Puoi ricominciare dall'inizio.",
    loginIntro: "Accedi con le credenziali che usavi per l'Internet Banking della tua banca:",
    otpIntro: 'Abbiamo inviato un codice di 6 cifre al tuo numero certificato.',
    confirmTitle: 'Conferma i tuoi recapiti',
    phoneIntro: 'Il tuo cellulare certificato è',
    emailTitle: 'Valida il tuo indirizzo email',
    emailVerifyTitle: 'Verifica email',
    emailVerified: `Indirizzo email validato. Torna al browser in cui stai facendo l'attivazione e premi "Ho validato l'email, continua" per scegliere la nuova password.`,
    emailInvalid: 'Indirizzo email non valido.',
    emailRequired: "Indica l'indirizzo email da validare.",
    emailResent: 'Ti abbiamo inviato un nuovo link.',
    passwordTitle: 'Crea le nuove credenziali',
    passwordTrivial: 'La password è troppo facile da indovinare (sequenze, ripetizioni o schemi).',
    doneTitle: 'Nuove credenziali attive',
    doneIntro: "Da ora accedi con il nuovo codice utente (o l'alias) e la password che hai scelto. Ti abbiamo inviato un'email di conferma.",
    nextApp: "Scarica l'app e associa il tuo smartphone (Dispositivi → Associa un nuovo dispositivo): gli accessi successivi e le operazioni si autorizzano con una notifica sull'app, con lo Smart PIN o la biometria.",
    nextHardware: "Il tuo token fisico non serve più: fino a quando non associ l'app, ti invieremo un codice via SMS al cellulare certificato a ogni accesso. Ti consigliamo di scaricare l'app e associare il tuo smartphone (Dispositivi → Associa un nuovo dispositivo).",
    goLogin: 'Accedi con le nuove credenziali',
    appRecoTitle: "Usa l'app per accedere e autorizzare",
    appRecoIntro: "Per ora ricevi un codice via SMS a ogni accesso. Con l'app approvi accessi e operazioni con una notifica, con lo Smart PIN o la biometria, anche senza campo usando i codici generati dall'app.",
    appRecoBind: 'Associa ora lo smartphone',
    appRecoContinue: "Continua senza l'app",
  },
  en: {
    title: 'Internet Banking activation',
    intro: 'Were you a customer of a bank that has joined ours? Choose your bank: you will sign in with the credentials you used and create new ones.',
    from: 'activation from',
    loginIntro: "Sign in with the credentials you used for your bank's Internet Banking:",
    codeLabel: 'Customer code',
    continue: 'Continue',
    back: 'Back to the choice of bank',
    otpTitle: 'Confirm with the SMS code',
    otpIntro: 'We sent a 6-digit code to your certified number.',
    confirmTitle: 'Confirm your contact details',
    emailLabel: 'Email address to validate',
    confirmSubmit: 'I confirm the number, send the link to my email',
    emailTitle: 'Validate your email address',
    emailContinue: 'I validated my email, continue',
    emailVerifyTitle: 'Verify your email',
    passwordTitle: 'Create your new credentials',
    aliasLabel: 'Alias (optional): a name to use instead of the user code',
    passwordSubmit: 'Activate my new credentials',
    doneTitle: 'Your new credentials are active',
    nextTitle: 'Next steps',
    nextApp: 'Download the app and bind your smartphone (Devices → Bind a new device): later sign-ins and operations are approved with a notification in the app, with your Smart PIN or biometrics.',
    goLogin: 'Sign in with your new credentials',
  },
};

/** The bank's password policy: 8+ digits, no runs or repeats. */
const NEW_PASSWORD = '58301649';
const SECURITY_CODE = /^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/;

/** `+393338000001` → `+•••••••••001`, as the confirm page shows the certified phone. */
function masked(phone) {
  return [...phone].map((c, i) => (i === 0 || i >= phone.length - 3 ? c : '•')).join('');
}

let customerNo = 0;
/** One customer of `bank` imported with the admin command: `{ bank, code, password,
 *  wrong, phone, email, token }` (`email` is the customer's address even when the row
 *  carried none). */
async function importCustomer(server, bank, { hash = HASHES.bcrypt, token = 'app', withEmail = true, name = 'Mario Rossi' } = {}) {
  const { phone, email } = server.newIdentity();
  customerNo += 1;
  const code = `${bank.slice(0, 2).toUpperCase()}${String(4_700_000 + customerNo * 37)}`;
  const report = await server.importLegacy(bank, [
    { legacy_code: code, password_hash: hash.hash, phone, email: withEmail ? email : '', name, token },
  ]);
  assert.deepEqual(report.rejected, [], JSON.stringify(report));
  assert.equal(report.imported, 1, JSON.stringify(report));
  return { bank, code, password: hash.password, wrong: hash.wrong, phone, email, token };
}

/** The old credentials on the bank's page (opened if needed); the response of the post. */
async function oldCredentials(v, customer, password = customer.password, label) {
  if (v.path() !== `/activation/${customer.bank}` || (await v.page.locator('#activation-login-form').count()) === 0) {
    await v.goto(`/activation/${customer.bank}`);
  }
  await v.page.fill('#legacy_code', customer.code);
  await v.page.fill('#password', password);
  return v.submit('#activation-login-form', label);
}

/** The SMS code of an activation, sent to the certified phone after `since`. */
function activationCode(server, customer, since) {
  return server.smsCode(customer.phone, since, 'attivare le nuove credenziali');
}

/** The link in the newest validation email to `address` after `since`. */
async function emailLink(server, address, since) {
  const mail = await server.waitForMessage(
    (m) => m.channel === 'email' && m.to === address && /\/activation\/email\?token=/.test(m.text),
    { since },
  );
  assert.match(mail.subject, /Conferma il tuo indirizzo email/);
  const link = mail.text.match(/https?:\/\/\S+\/activation\/email\?token=[A-Za-z0-9_-]+/)[0];
  assert.ok(link.startsWith(`${server.url}/activation/email?token=`), `the link points at this server: ${link}`);
  return link;
}

/** The new password (twice) and the alias; the response of the post. */
async function newCredentials(v, password, alias = '', confirm = password, label) {
  await v.page.fill('#new_password', password);
  await v.page.fill('#confirm_password', confirm);
  await v.page.fill('#alias', alias);
  return v.submit('#activation-password-form', label);
}

/** A whole activation in one browser, from the bank's page to the done page:
 *  `{ user_code, alias, security_code }`. */
async function activate(server, v, customer, { password = NEW_PASSWORD, alias = '' } = {}) {
  let since = await server.mark();
  await oldCredentials(v, customer);
  assert.equal(v.path(), '/activation/otp', await v.page.locator('main').innerText());
  await v.page.fill('#code', await activationCode(server, customer, since));
  await v.submit('#otp-form');
  assert.equal(v.path(), '/activation/confirm');
  since = await server.mark();
  await v.submit('#activation-confirm-form');
  assert.equal(v.path(), '/activation/email');
  await v.goto(await emailLink(server, customer.email, since), 'email-link');
  await v.submit('#email-verify-form');
  assert.equal(v.path(), '/activation/password');
  const done = await newCredentials(v, password, alias, password, 'done');
  assert.equal(done.status(), 200, await v.page.locator('main').innerText());
  assert.equal(await v.page.locator('#user-code').count(), 1, 'the done page');
  return {
    user_code: await v.text('#user-code'),
    alias: alias ? await v.text('#alias') : null,
    security_code: await v.text('#security-code'),
  };
}

/** The page's HTML without its CSRF tokens and with `code` replaced: what two "same
 *  answer" pages must share. */
async function pageWithout(v, code) {
  return (await v.page.content()).replace(/name="csrf" value="[^"]*"/g, 'name="csrf"').replaceAll(code, 'CODE');
}

/** From home, "Dispositivi" → "Associa un nuovo dispositivo", and the phone scans the
 *  code: the first phone is active at once. */
async function bindPhone(v, phone, pin) {
  if (v.path() !== '/devices') await v.click('#devices-link', 'devices');
  assert.equal(v.path(), '/devices');
  await v.submit('#bind-form', 'bind');
  const code = await v.text('#activation-code');
  const bound = await phone.activate(code, pin);
  assert.equal(bound.status, 'active');
  return bound;
}

/** A login with a bound phone: the password, then the push approved with the number the
 *  page shows; ends on home. */
async function pushLogin(v, customer, username, password, phone, pin) {
  const number = await v.loginToPush(customer, username, password);
  const op = await phone.pendingOne('login');
  assert.ok(op.numbers.includes(number), `${number} is among ${op.numbers}`);
  await v.page.waitForSelector('#wait[data-state="waiting"]');
  const home = v.page.waitForURL((u) => new URL(u).pathname === '/');
  assert.deepEqual(await phone.ok('approve', op.id, '--pin', pin, '--match', number), { approved: op.id });
  await home;
  await v.snap('home-after-push');
}

// Requirements: DESIGN flow 10 (the seed guide "Attivazione Internet Banking", app
// customer), R43 (the certified phone confirmed after an SMS code), R44 (the new
// credentials activated before use), P3 (logins pushed to the bound phone).
test('activation: the first seed guide: old credentials → SMS code → phone and email → link → new password and alias → login → app bound → push', async () => {
  const { server, browser } = env;
  const customer = await importCustomer(server, 'carige', { hash: HASHES.bcrypt, token: 'app' });
  const alias = 'Mario.Rossi';
  const phone = server.phone('Pixel 8 di Mario');
  const pin = '24680';

  await withPage(browser, server, 'activation-seed-app', async (v) => {
    // "Accedi" → "Attivazione Internet Banking" → the bank.
    await v.goto('/login');
    assert.equal(await v.text('#activation-link'), ACT.it.loginLink);
    await v.click('#activation-link');
    assert.equal(v.path(), '/activation');
    assert.equal(await v.h1(), ACT.it.title);
    assert.ok((await v.page.locator('main').innerText()).includes(ACT.it.intro));
    assert.equal(await v.text('#choose-carige'), BANKS.carige.name);
    await v.click('#choose-carige');
    assert.equal(v.path(), '/activation/carige');
    assert.equal(await v.h1(), `${BANKS.carige.name}: ${ACT.it.title}`);
    assert.equal(await v.text('#credentials-label'), BANKS.carige.label);
    assert.ok((await v.page.locator('main').innerText()).includes(ACT.it.loginIntro));

    // The old customer code and password: an SMS code to the certified phone, naming
    // the bank; nothing to anyone else.
    let since = await server.mark();
    await oldCredentials(v, customer);
    assert.equal(v.path(), '/activation/otp');
    assert.equal(await v.h1(), 'Conferma con il codice SMS');
    assert.ok((await v.page.locator('main').innerText()).includes(ACT.it.otpIntro));
    const sent = await server.waitForMessages((m) => m.to === customer.phone, { since });
    assert.equal(sent.length, 1, JSON.stringify(sent));
    assert.match(sent[0].text, /^sigillo: \d{6} e' il codice per attivare le nuove credenziali \(cliente Banca Carige\)\./);
    assert.deepEqual((await server.newMessages(since)).filter((m) => m.to !== customer.phone), [], 'nothing to anyone else');
    // The activation is held in an HttpOnly cookie, never in an address or a page.
    const cookie = (await v.context.cookies()).find((c) => c.name === 'sg_act');
    assert.ok(cookie && cookie.httpOnly, 'the activation is an HttpOnly cookie');
    assert.ok(!v.page.url().includes(cookie.value));
    assert.ok(!(await v.page.content()).includes(cookie.value), 'the handle is not in the page');

    // The SMS code → the phone to confirm (masked) and the imported email, prefilled.
    await v.page.fill('#code', sent[0].text.match(/\b(\d{6})\b/)[1]);
    await v.submit('#otp-form');
    assert.equal(v.path(), '/activation/confirm');
    assert.equal(await v.h1(), ACT.it.confirmTitle);
    assert.equal(await v.text('#phone'), masked(customer.phone));
    assert.ok((await v.page.locator('main').innerText()).includes(`${ACT.it.phoneIntro} ${masked(customer.phone)}`));
    assert.ok(!(await v.page.content()).includes(customer.phone), 'the full number is not on the page');
    assert.equal(await v.page.inputValue('#email'), customer.email);

    // "Confermo il cellulare": the validation link goes to that address.
    since = await server.mark();
    await v.submit('#activation-confirm-form');
    assert.equal(v.path(), '/activation/email');
    assert.equal(await v.h1(), ACT.it.emailTitle);
    assert.equal(await v.text('#email'), customer.email);
    const link = await emailLink(server, customer.email, since);

    // The link in the same browser: a button (a mail scanner confirms nothing), then
    // straight on to the new credentials.
    await v.goto(link, 'email-link');
    assert.equal(v.path(), '/activation/email');
    assert.equal(await v.h1(), ACT.it.emailVerifyTitle);
    await v.submit('#email-verify-form');
    assert.equal(v.path(), '/activation/password');
    assert.equal(await v.h1(), ACT.it.passwordTitle);

    // Two passwords that differ: refused, the alias kept.
    const mismatch = await newCredentials(v, NEW_PASSWORD, alias, '58301694', 'mismatch');
    assert.equal(mismatch.status(), 422);
    assert.equal(await v.text('#field-error'), IT.passwordMismatch);
    assert.equal(await v.page.inputValue('#alias'), alias);

    // The new password and the alias: the new user code, the security code (once) and
    // the next steps for an app customer.
    since = await server.mark();
    const done = await newCredentials(v, NEW_PASSWORD, alias, NEW_PASSWORD, 'done');
    assert.equal(done.status(), 200);
    assert.equal(await v.h1(), ACT.it.doneTitle);
    assert.ok((await v.page.locator('main').innerText()).includes(ACT.it.doneIntro));
    const userCode = await v.text('#user-code');
    assert.match(userCode, /^\d{8}$/);
    assert.equal(await v.text('#alias'), alias);
    assert.match(await v.text('#security-code'), SECURITY_CODE);
    assert.equal(await v.text('#next-app'), ACT.it.nextApp);
    assert.equal(await v.page.locator('#next-hardware').count(), 0);
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_act'), 'the activation cookie is gone');

    // The confirmation email: the user code and the alias.
    const confirmation = await server.waitForMessage(
      (m) => m.channel === 'email' && m.to === customer.email && /Il tuo accesso e' attivo/.test(m.subject ?? ''),
      { since },
    );
    assert.ok(confirmation.text.includes(userCode) && confirmation.text.includes(alias), confirmation.text);

    // The activation's pages are over: each leads back to the start.
    await v.goto('/activation/password', 'password-after-done');
    assert.equal(v.path(), '/activation');

    // Login with the alias and the new password; no phone yet, so an SMS code.
    await v.goto('/login');
    await v.login(customer, alias, NEW_PASSWORD);
    assert.equal(v.path(), '/', 'an app customer goes straight home');
    assert.equal(await v.h1(), `${IT.welcome}, ${alias}`);
    assert.equal(await v.text('#user-code'), userCode);
    assert.equal(await v.text('#email-status'), `(${IT.emailVerified})`, 'the email was validated during the activation');

    // The next steps: the phone bound from "Dispositivi" …
    since = await server.mark();
    const bound = await bindPhone(v, phone, pin);
    assert.equal(bound.user, userCode);
    await server.waitForMessage((m) => m.channel === 'sms' && m.to === customer.phone && m.text.includes(phone.name), { since });
    await v.click('#logout', 'logged-out');

    // … and from now on a login is a push to it: no SMS code.
    since = await server.mark();
    await pushLogin(v, customer, alias, NEW_PASSWORD, phone, pin);
    assert.equal(await v.h1(), `${IT.welcome}, ${alias}`);
    assert.deepEqual((await server.newMessages(since)).filter((m) => m.channel === 'sms'), [], 'no SMS code');
  });
});

// Requirements: DESIGN flow 10 (the seed guide for hardware-token customers: SMS codes
// until the app is bound, the app recommended at every login).
test('activation: the second seed guide: a hardware-token customer, the link opened in another browser, /app-recommended at every login', async () => {
  const { server, browser } = env;
  // Imported without an email: the customer types one.
  const customer = await importCustomer(server, 'ubi', { hash: HASHES.pbkdf2, token: 'hardware', withEmail: false, name: 'Lucia Bianchi' });
  const phone = server.phone('Galaxy di Lucia');
  const pin = '97531';

  await withPage(browser, server, 'activation-seed-hardware', async (v) => {
    await v.goto('/activation');
    await v.click('#choose-ubi');
    assert.equal(await v.h1(), `${BANKS.ubi.name}: ${ACT.it.title}`);
    let since = await server.mark();
    await oldCredentials(v, customer);
    assert.equal(v.path(), '/activation/otp');
    await v.page.fill('#code', await activationCode(server, customer, since));
    await v.submit('#otp-form');
    assert.equal(v.path(), '/activation/confirm');
    assert.equal(await v.text('#phone'), masked(customer.phone));
    assert.equal(await v.page.inputValue('#email'), '', 'no email was imported');

    // No address, then a malformed one: said next to the field, nothing sent.
    since = await server.mark();
    const empty = await v.submit('#activation-confirm-form', 'email-missing');
    assert.equal(empty.status(), 422);
    assert.equal(await v.text('#email-error'), ACT.it.emailRequired);
    assert.equal(await v.page.getAttribute('#email', 'aria-invalid'), 'true');
    await v.page.fill('#email', 'lucia.bianchi@');
    const bad = await v.submit('#activation-confirm-form', 'email-malformed');
    assert.equal(bad.status(), 422);
    assert.equal(await v.text('#email-error'), ACT.it.emailInvalid);
    assert.equal(await v.page.inputValue('#email'), 'lucia.bianchi@', 'what was typed is kept');
    assert.deepEqual(await server.newMessages(since), [], 'nothing sent');

    // An address with a typo: the link goes there, the waiting page shows it.
    const typo = customer.email.replace('example.it', 'exmaple.it');
    await v.page.fill('#email', typo);
    await v.submit('#activation-confirm-form', 'email-typo');
    assert.equal(v.path(), '/activation/email');
    assert.equal(await v.h1(), ACT.it.emailTitle);
    assert.equal(await v.text('#email'), typo);
    const typoLink = await emailLink(server, typo, since);

    // "Usa un altro indirizzo": the confirm page again, the typo prefilled; the right
    // address this time.
    await v.click('#change-email');
    assert.equal(v.path(), '/activation/confirm');
    assert.equal(await v.page.inputValue('#email'), typo);
    since = await server.mark();
    await v.page.fill('#email', customer.email);
    await v.submit('#activation-confirm-form');
    assert.equal(v.path(), '/activation/email');
    assert.equal(await v.text('#email'), customer.email);
    const firstLink = await emailLink(server, customer.email, since);

    // "Invia di nuovo il link": a new link to the same address, which replaces the first.
    since = await server.mark();
    const resent = await v.click('#resend', 'email-resent');
    assert.equal(resent.status(), 200);
    assert.equal(await v.text('#notice'), ACT.it.emailResent);
    const link = await emailLink(server, customer.email, since);
    assert.notEqual(link, firstLink);
    assert.deepEqual((await server.newMessages(since)).filter((m) => m.to === typo), [], 'nothing more to the typo');

    // Before the link is opened, "continua" stays on the waiting page.
    await v.click('#continue', 'continue-too-early');
    assert.equal(v.path(), '/activation/email');

    // The link opened in another browser (the phone's mail app): the button, then a
    // message to go back to the activation; no new credentials there.
    const mail = await openPage(browser, server, 'activation-seed-hardware-mail-client');
    try {
      // The links sent before the last one validate nothing (the same page as any
      // spent link).
      for (const [what, stale] of [['typo', typoLink], ['first', firstLink]]) {
        await mail.goto(stale, `email-link-${what}`);
        const r = await mail.submit('#email-verify-form', `email-link-${what}-refused`);
        assert.equal(r.status(), 410, what);
        assert.equal(await mail.text('#message'), IT.flowOver, what);
      }
      await mail.goto(link, 'email-link');
      assert.equal(await mail.h1(), ACT.it.emailVerifyTitle);
      const verified = await mail.submit('#email-verify-form', 'email-verified');
      assert.equal(verified.status(), 200);
      assert.equal(mail.path(), '/activation/email/verify');
      assert.equal(await mail.text('#message'), ACT.it.emailVerified);
      await mail.goto('/activation/password', 'password-elsewhere');
      assert.equal(mail.path(), '/activation', 'another browser cannot go on with the activation');
      // The link works once.
      await mail.goto(link, 'email-link-again');
      const again = await mail.submit('#email-verify-form', 'email-link-spent');
      assert.equal(again.status(), 410);
      assert.equal(await mail.text('#message'), IT.flowOver);
      assert.deepEqual(mail.cspViolations(), []);
    } catch (e) {
      await mail.snap('failure').catch(() => {});
      throw e;
    } finally {
      await mail.close();
    }

    // "Ho validato l'email, continua" in the first browser.
    await v.click('#continue');
    assert.equal(v.path(), '/activation/password');

    // A trivial password is refused by the bank's policy.
    const trivial = await newCredentials(v, '12345678', '', '12345678', 'password-trivial');
    assert.equal(trivial.status(), 422);
    assert.equal(await v.text('#field-error'), ACT.it.passwordTrivial);

    // No alias: the user code alone; the next steps for a hardware token.
    since = await server.mark();
    await newCredentials(v, NEW_PASSWORD, '', NEW_PASSWORD, 'done');
    assert.equal(await v.h1(), ACT.it.doneTitle);
    const userCode = await v.text('#user-code');
    assert.match(userCode, /^\d{8}$/);
    assert.equal(await v.page.locator('#alias').count(), 0, 'no alias chosen');
    assert.match(await v.text('#security-code'), SECURITY_CODE);
    assert.equal(await v.text('#next-hardware'), ACT.it.nextHardware);
    assert.equal(await v.page.locator('#next-app').count(), 0);
    const confirmation = await server.waitForMessage(
      (m) => m.channel === 'email' && m.to === customer.email && /Il tuo accesso e' attivo/.test(m.subject ?? ''),
      { since },
    );
    assert.ok(confirmation.text.includes(userCode));

    // The first login (SMS code): the app recommended; "Continua senza l'app" → home.
    assert.equal(await v.text('#login-link'), ACT.it.goLogin);
    await v.click('#login-link');
    assert.equal(v.path(), '/login');
    await v.login(customer, userCode, NEW_PASSWORD);
    assert.equal(v.path(), '/app-recommended');
    assert.equal(await v.h1(), ACT.it.appRecoTitle);
    assert.ok((await v.page.locator('main').innerText()).includes(ACT.it.appRecoIntro));
    assert.equal(await v.page.locator('#app-steps li').count(), 3);
    assert.equal(await v.text('#bind-now'), ACT.it.appRecoBind);
    assert.equal(await v.text('#continue'), ACT.it.appRecoContinue);
    await v.click('#continue', 'home-without-app');
    assert.equal(v.path(), '/');
    assert.equal(await v.text('#user-code'), userCode);
    await v.click('#logout', 'logged-out');

    // The second login: again; "Associa ora lo smartphone" → Dispositivi, the phone bound.
    await v.login(customer, userCode, NEW_PASSWORD);
    assert.equal(v.path(), '/app-recommended', 'recommended at every login');
    await v.click('#bind-now');
    assert.equal(v.path(), '/devices');
    await bindPhone(v, phone, pin);
    await v.goto('/');
    await v.click('#logout', 'logged-out-bound');

    // With a phone bound the recommendation stops: the login is a push, then home.
    await pushLogin(v, customer, userCode, NEW_PASSWORD, phone, pin);
    assert.equal(v.path(), '/');
  });
});

// Requirements: DESIGN flow 10 ("before the date the page says that date and nothing
// else"; the activation window's end).
test('activation: a bank not open yet shows only its date; nothing is looked at before it', async () => {
  const { server, browser } = env;
  const customer = await importCustomer(server, 'lucca', { hash: HASHES.bcrypt });
  const date = BANKS.lucca.opensAt.slice(0, 10);

  await withPage(browser, server, 'activation-not-yet-open', async (v) => {
    // The list: the open banks as links, the others with their date or closed.
    await v.goto('/activation');
    assert.equal(await v.page.locator('#banks li').count(), 4);
    assert.equal(await v.page.locator('#choose-lucca').count(), 0, 'no link to a bank not open yet');
    assert.equal(await v.text('#bank-lucca'), `${BANKS.lucca.name} — ${ACT.it.from} ${date}`);
    assert.equal(await v.page.locator('#choose-tercas').count(), 0, 'no link to a closed bank');
    assert.equal(await v.text('#bank-tercas'), `${BANKS.tercas.name} — ${ACT.it.bankClosed}`);
    assert.equal(await v.page.locator('#choose-carige').count(), 1);
    assert.equal(await v.page.locator('#choose-ubi').count(), 1);

    // The bank's page: its date and nothing else (no form).
    const page = await v.goto('/activation/lucca', 'lucca');
    assert.equal(page.status(), 200);
    assert.equal(await v.h1(), ACT.it.title);
    assert.equal(await v.text('#opens-on'), date);
    assert.equal(await v.text('#message'), `${ACT.it.notYetOpen} ${date}.`);
    assert.equal(await v.page.locator('main form').count(), 0, 'no form');
    assert.equal(await v.page.locator('#activation-login-form').count(), 0);
    assert.equal(await v.text('#message-link'), ACT.it.back);
    assert.ok(!(await v.page.content()).includes(BANKS.lucca.label), 'not even the credentials asked');

    // A post with the right credentials anyway (the open bank's form pointed at it): the
    // same date page, and no SMS code.
    await v.goto('/activation/carige');
    await v.page.evaluate(() => { document.querySelector('#activation-login-form').action = '/activation/lucca'; });
    const since = await server.mark();
    const posted = await oldCredentials(v, { ...customer, bank: 'carige' }, customer.password, 'lucca-posted');
    assert.equal(posted.status(), 200);
    assert.equal(v.path(), '/activation/lucca');
    assert.equal(await v.text('#opens-on'), date);
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_act'), 'no activation started');
    assert.deepEqual(await server.newMessages(since), [], 'nothing sent');

    // A bank whose activation has closed: a message, no form.
    const closed = await v.goto('/activation/tercas', 'tercas');
    assert.equal(closed.status(), 410);
    assert.equal(await v.text('#message'), ACT.it.closed);
    assert.equal(await v.page.locator('main form').count(), 0);

    // A bank nobody configured.
    const unknown = await v.goto('/activation/nessuna', 'unknown-bank');
    assert.equal(unknown.status(), 404);
  });
});

// Requirements: P9 (one answer for an unknown code and a wrong password), P8 (the old
// credentials and each SMS code spent once), R46 (replaced credentials stop working),
// DESIGN flow 10 (an abandoned activation starts again).
test('activation: an unknown code and a wrong password get the same page; an abandoned activation starts again; the old credentials then fail', async () => {
  const { server, browser } = env;
  const customer = await importCustomer(server, 'carige', { hash: HASHES.passlib, name: 'Giulia Verdi' });

  // The first try: refused twice, then abandoned after the SMS code.
  const first = await openPage(browser, server, 'activation-uniform-abandoned');
  try {
    let since = await server.mark();
    const unknown = await oldCredentials(first, { ...customer, code: 'CA9999999' }, customer.password, 'unknown-code');
    assert.equal(unknown.status(), 401);
    assert.equal(first.path(), '/activation/carige');
    assert.equal(await first.text('#error'), IT.authFailed);
    assert.equal(await first.page.inputValue('#legacy_code'), 'CA9999999', 'the code is kept');
    assert.equal(await first.page.inputValue('#password'), '', 'the password is not');
    const unknownPage = await pageWithout(first, 'CA9999999');
    const wrong = await oldCredentials(first, customer, customer.wrong, 'wrong-password');
    assert.equal(wrong.status(), 401);
    assert.equal(await first.text('#error'), IT.authFailed);
    assert.equal(await pageWithout(first, customer.code), unknownPage, 'one answer for both (P9)');
    assert.deepEqual(await server.newMessages(since), [], 'no SMS code for either');

    // The right ones (the password with accents, as the old bank hashed it), the SMS
    // code, and the customer stops at the confirm page.
    since = await server.mark();
    await oldCredentials(first, customer);
    assert.equal(first.path(), '/activation/otp');
    const code = await activationCode(server, customer, since);

    // "Invia un nuovo codice": a new code replaces the first, which is now a wrong one.
    since = await server.mark();
    const resent = await first.click('#resend', 'code-resent');
    assert.equal(resent.status(), 200);
    assert.equal(await first.text('#notice'), IT.otpResent);
    const newCode = await activationCode(server, customer, since);
    await first.page.fill('#code', code === newCode ? wrongCode(code) : code);
    const stale = await first.submit('#otp-form', 'first-code-refused');
    assert.equal(stale.status(), 401);
    assert.equal(await first.text('#error'), IT.authFailed);
    await first.page.fill('#code', newCode);
    await first.submit('#otp-form');
    assert.equal(first.path(), '/activation/confirm');

    // Later, in another browser: from "Attivazione Internet Banking" again, the whole
    // activation, with a new SMS code.
    let userCode;
    await withPage(browser, server, 'activation-uniform-restarted', async (v) => {
      await v.goto('/activation');
      await v.click('#choose-carige');
      const done = await activate(server, v, customer, { alias: 'Giulia.Verdi' });
      userCode = done.user_code;
      assert.equal(done.alias, 'Giulia.Verdi');
      assert.match(done.security_code, SECURITY_CODE);

      // The old credentials are spent: the same answer as an unknown code, no SMS.
      since = await server.mark();
      const spent = await oldCredentials(v, customer, customer.password, 'old-credentials-spent');
      assert.equal(spent.status(), 401);
      assert.equal(await v.text('#error'), IT.authFailed);
      assert.equal(await pageWithout(v, customer.code), unknownPage, 'a spent credential reads like an unknown one');
      assert.deepEqual(await server.newMessages(since), [], 'no SMS code');
    });

    // The abandoned activation cannot finish any more. Where it stops is the server's
    // choice (today only at the last step: its pages go on until the new password is
    // submitted); what matters is that it ends without a second user or a confirmation.
    since = await server.mark();
    const over = async () => first.path() === '/activation' || (await first.page.locator('#message').count()) > 0;
    await first.goto('/activation/confirm', 'abandoned-taken-up');
    if (!(await over())) await first.submit('#activation-confirm-form', 'abandoned-confirm');
    if (!(await over()) && first.path() === '/activation/email') {
      await first.goto(await emailLink(server, customer.email, since), 'abandoned-email-link');
      await first.submit('#email-verify-form', 'abandoned-email-verified');
    }
    if (!(await over()) && first.path() === '/activation/password') {
      const r = await newCredentials(first, '74920385', '', '74920385', 'abandoned-password');
      assert.equal(r.status(), 410, 'the abandoned activation does not finish');
    }
    assert.ok(await over(), `the abandoned activation ended (on ${first.path()})`);
    assert.equal(await first.page.locator('#user-code').count(), 0, 'no done page for the abandoned activation');
    if (first.path() !== '/activation') assert.equal(await first.text('#message'), ACT.it.failed);
    const confirmations = (await server.newMessages(since)).filter((m) => /Il tuo accesso e' attivo/.test(m.subject ?? ''));
    assert.deepEqual(confirmations, [], 'no second confirmation email');

    // The new credentials work.
    await withPage(browser, server, 'activation-uniform-login', async (v) => {
      await v.login(customer, userCode, NEW_PASSWORD);
      assert.equal(v.path(), '/');
      assert.equal(await v.h1(), `${IT.welcome}, Giulia.Verdi`);
    });
    assert.deepEqual(first.cspViolations(), []);
  } catch (e) {
    await first.snap('failure').catch(() => {});
    throw e;
  } finally {
    await first.close();
  }
});

// Requirements: the pages in Italian and English (language switch), DESIGN flow 10.
test('activation: after the language switch the activation pages are in English', async () => {
  const { server, browser } = env;
  const customer = await importCustomer(server, 'carige', { hash: HASHES.pbkdf2, name: 'John Smith' });
  const date = BANKS.lucca.opensAt.slice(0, 10);

  await withPage(browser, server, 'activation-english', async (v) => {
    await v.goto('/activation');
    assert.equal(await v.page.getAttribute('html', 'lang'), 'it');
    assert.equal(await v.text('#lang-switch'), IT.switchLanguage);
    await v.click('#lang-switch', 'switched-to-english');
    assert.equal(v.path(), '/activation', 'the switch stays on the page');
    assert.equal(await v.page.getAttribute('html', 'lang'), 'en');
    assert.equal(await v.h1(), ACT.en.title);
    assert.ok((await v.page.locator('main').innerText()).includes(ACT.en.intro));
    assert.equal(await v.text('#bank-lucca'), `${BANKS.lucca.name} — ${ACT.en.from} ${date}`);
    assert.equal(await v.text('#lang-switch'), EN.switchLanguage);

    // The bank's page and a failed try.
    await v.click('#choose-carige');
    assert.equal(await v.h1(), `${BANKS.carige.name}: ${ACT.en.title}`);
    assert.ok((await v.page.locator('main').innerText()).includes(ACT.en.loginIntro));
    assert.equal(await v.text('label[for=legacy_code]'), ACT.en.codeLabel);
    assert.equal(await v.text('#activation-login-form button[type=submit]'), ACT.en.continue);
    assert.equal(await v.text('#activation-back'), ACT.en.back);
    const failed = await oldCredentials(v, customer, customer.wrong, 'failed-english');
    assert.equal(failed.status(), 401);
    assert.equal(await v.text('#error'), EN.authFailed);

    // The SMS code page.
    let since = await server.mark();
    await oldCredentials(v, customer);
    assert.equal(v.path(), '/activation/otp');
    assert.equal(await v.h1(), ACT.en.otpTitle);
    assert.ok((await v.page.locator('main').innerText()).includes(ACT.en.otpIntro));
    await v.page.fill('#code', await activationCode(server, customer, since));
    await v.submit('#otp-form');

    // Confirm, email, link, password.
    assert.equal(v.path(), '/activation/confirm');
    assert.equal(await v.h1(), ACT.en.confirmTitle);
    assert.equal(await v.text('label[for=email]'), ACT.en.emailLabel);
    assert.equal(await v.text('#activation-confirm-form button[type=submit]'), ACT.en.confirmSubmit);
    since = await server.mark();
    await v.submit('#activation-confirm-form');
    assert.equal(await v.h1(), ACT.en.emailTitle);
    assert.equal(await v.text('#continue'), ACT.en.emailContinue);
    await v.goto(await emailLink(server, customer.email, since), 'email-link');
    assert.equal(await v.h1(), ACT.en.emailVerifyTitle);
    await v.submit('#email-verify-form');
    assert.equal(v.path(), '/activation/password');
    assert.equal(await v.h1(), ACT.en.passwordTitle);
    assert.equal(await v.text('label[for=alias]'), ACT.en.aliasLabel);
    assert.equal(await v.text('#activation-password-form button[type=submit]'), ACT.en.passwordSubmit);

    // The done page.
    await newCredentials(v, NEW_PASSWORD, 'John.Smith', NEW_PASSWORD, 'done');
    assert.equal(await v.page.getAttribute('html', 'lang'), 'en');
    assert.equal(await v.h1(), ACT.en.doneTitle);
    assert.equal(await v.text('main h2'), ACT.en.nextTitle);
    assert.equal(await v.text('#next-app'), ACT.en.nextApp);
    assert.equal(await v.text('#login-link'), ACT.en.goLogin);
  });
});

// Requirements: P2 / R10–R11 (five failures lock, the customer alerted at once).
test('activation: five wrong old passwords lock the credential and alert the certified phone', async () => {
  const { server, browser } = env;
  const customer = await importCustomer(server, 'ubi', { hash: HASHES.bcrypt, token: 'hardware', name: 'Paolo Neri' });

  await withPage(browser, server, 'activation-lockout', async (v) => {
    const since = await server.mark();
    for (let i = 1; i <= 4; i++) {
      const r = await oldCredentials(v, customer, `${customer.wrong}x${i}`, `wrong-${i}`);
      assert.equal(r.status(), 401);
    }
    assert.deepEqual(await server.newMessages(since), [], 'four failures send nothing');

    // The fifth: the same page, and the phone hears of it.
    const fifth = await oldCredentials(v, customer, customer.wrong, 'wrong-5');
    assert.equal(fifth.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);
    const alert = await server.waitForMessage((m) => m.channel === 'sms' && m.to === customer.phone, { since });
    assert.match(alert.text, /troppi tentativi/);
    assert.ok(!/\b\d{6}\b/.test(alert.text), 'no code in the alert');

    // Locked: the right password gets the same answer and no SMS code.
    const after = await server.mark();
    const right = await oldCredentials(v, customer, customer.password, 'right-password-locked');
    assert.equal(right.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);
    assert.equal(v.path(), '/activation/ubi');
    assert.deepEqual(await server.newMessages(after), [], 'no SMS code while locked');
  });
});
