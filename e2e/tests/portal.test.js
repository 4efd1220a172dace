// DESIGN flow 9 in real Chromium: the card holders' portal ("Area Riservata", /portal)
// for holders without web banking. Covered: the seed guide's path (a card issued by the
// operator with no holder → "Iscriviti" with the card data → the code from the card's SMS
// → a password → the UserID → login with UserID, password and SMS code → the card list
// with the last four digits only → Key6 set, then shown after an SMS-confirmed SCA →
// logout); the forgotten UserID (by SMS only) and the forgotten password (registering
// again: same UserID, the old password and the sessions gone); the uniform answers to card
// data (no card-testing oracle, P9) and the field errors for malformed data; the pages in
// English after the switch; the wall between web banking and the portal; the card's lock
// after five wrong card data or codes, with its alert SMS; and no full PAN on any page,
// in any SMS or in the server log (P10).

import test from 'node:test';
import assert from 'node:assert/strict';
import { EN, IT, openPage, setup, visaPan, withPage, wrongCode } from '../harness.js';

const env = setup(test, 'portal');

/** The portal's texts (locales/it.toml, en.toml: `portal_*`, `key6_*`, `err_card_*`). */
const PORTAL = {
  it: {
    loginTitle: 'Area Riservata carte',
    registerLink: 'Non sei iscritto? Iscriviti',
    forgotUserId: 'Hai dimenticato lo UserID?',
    forgotPassword: 'Hai dimenticato la password? Iscriviti di nuovo con i dati della carta',
    registerTitle: "Iscriviti all'Area Riservata",
    registerCodeIntro: "Se i dati della carta sono corretti, abbiamo inviato un codice SMS al numero di cellulare associato alla carta. Inseriscilo e scegli la password dell'Area Riservata.",
    registeredTitle: 'Iscrizione completata',
    userIdTitle: 'Recupera lo UserID',
    userIdSent: 'Se i dati della carta sono corretti, riceverai lo UserID via SMS al numero associato alla carta. Se non lo ricevi, il numero potrebbe non essere aggiornato: rivolgiti alla tua filiale.',
    loggedOut: "Sei uscito dall'Area Riservata.",
    panError: 'Il numero della carta non è valido: controlla le cifre.',
    expiryError: 'Inserisci la scadenza come è stampata sulla carta, nella forma MM/AA.',
    otpTitle: 'Conferma con il codice SMS',
    cardsTitle: 'Le tue carte',
    key6Title: 'Key6 della carta',
    key6Unset: 'non impostato',
    key6Active: 'attivo',
    key6Saved: 'Key6 salvato: usalo con il codice OTP per i pagamenti online.',
    key6ViewTitle: 'Autorizza la visualizzazione del Key6',
    key6SmsSent: "Ti abbiamo inviato un codice via SMS: controlla che l'SMS riporti la carta giusta.",
    key6Approved: 'Autorizzazione ricevuta.',
    key6Done: 'Mostra il Key6',
    key6ShownTitle: 'Il tuo Key6',
  },
  en: {
    loginTitle: "Card holders' area",
    registerLink: 'Not registered yet? Sign up',
    forgotUserId: 'Forgot your UserID?',
    forgotPassword: 'Forgot your password? Sign up again with your card details',
    bankingHint: 'Do you have web banking? Manage your cards and Key6 there.',
    registerTitle: "Sign up to the card holders' area",
    registerIntro: 'Enter the details of your credit or prepaid card. We will send an SMS code to the mobile number linked to the card for 3-D Secure.',
    panLabel: 'Card number',
    expiryLabel: 'Expiry date (MM/YY)',
    expiryPlaceholder: 'MM/YY',
    continue: 'Continue',
    backToLogin: "Back to the card holders' area sign-in",
    panError: 'The card number is not valid: please check the digits.',
    registerCodeIntro: "If the card details are right, we sent an SMS code to the mobile number linked to the card. Enter it and choose the password for the card holders' area.",
    registerSubmit: 'Complete sign-up',
    resend: 'Send a new code',
    userIdTitle: 'Recover your UserID',
    sendUserId: 'Send my UserID by SMS',
  },
};

/** The bank's password policy: 8+ digits, no runs or repeats. */
const PASSWORD = '73920518';
const KEY6 = '583920';


/** Each test's cards; the final test looks for all of them in the outbox and the log. */
const PANS = {
  seed: '4111111111111111',
  recover: visaPan('2222', '0002', '7'),
  uniform: visaPan('3333', '0003', '7'),
  banking: visaPan('4444', '0004', '7'),
  unknown: '4000000000000002',
  english: visaPan('5555', '0005', '7'),
  separation: visaPan('6666', '0006', '7'),
  lockout: visaPan('7777', '0007', '7'),
};

/** `4111111111111111` → `4111 1111 1111 1111`, as printed on the card. */
function spaced(pan) {
  return pan.match(/.{1,4}/g).join(' ');
}

/** A card with a 3-D Secure phone of its own: `{card_id, last4, pan, phone, expiry}`,
 *  `expiry` as printed on the card (MM/AA). */
async function issueCard(server, { pan, expiry = '3012', holder = null }) {
  const { phone } = server.newIdentity();
  const card = await server.createCard({ pan, holder, phone, expiry });
  return { ...card, pan, phone, expiry: `${expiry.slice(2)}/${expiry.slice(0, 2)}` };
}

/** Every document the browser loaded and the DOM at every screenshot: what the "no full
 *  PAN on any page" checks read. */
function recordPages(v) {
  const loads = [];
  const seen = [];
  v.page.on('response', (resp) => {
    if (resp.request().resourceType() !== 'document') return;
    if (resp.status() >= 300 && resp.status() < 400) return; // a redirect has no page
    const url = resp.url();
    loads.push(resp.text().then((body) => ({ url, body }), () => ({ url, body: null })));
  });
  const snap = v.snap.bind(v);
  v.snap = async (label) => {
    const file = await snap(label);
    seen.push({ url: v.page.url(), body: await v.page.content() });
    return file;
  };
  return {
    async assertNoPan(...pans) {
      const loaded = await Promise.all(loads);
      assert.deepEqual(loaded.filter((d) => d.body === null).map((d) => d.url), [], 'every page could be read');
      const docs = [...seen, ...loaded];
      assert.ok(docs.some((d) => d.url.includes('/portal/')), 'portal pages were read');
      for (const d of docs) {
        const compact = d.body.replace(/[\s-]+/g, '');
        for (const pan of pans) {
          assert.ok(!d.body.includes(pan), `the full PAN is on ${d.url}`);
          assert.ok(!compact.includes(pan), `the full PAN (spaced) is on ${d.url}`);
        }
      }
    },
  };
}

/** The page's HTML without its CSRF tokens: what two "same answer" pages must share. */
async function pageWithoutCsrf(v) {
  return (await v.page.content()).replace(/name="csrf" value="[^"]*"/g, 'name="csrf"');
}

/** Fills the card data form (registration or forgotten UserID) and submits it. */
async function cardData(v, formId, pan, expiry, label) {
  await v.page.fill('#pan', pan);
  await v.page.fill('#expiry', expiry);
  return v.submit(formId, label);
}

/** The registration's second step: the code, the password twice. */
async function completeRegistration(v, code, password, confirm = password, label) {
  await v.page.fill('#code', code);
  await v.page.fill('#new_password', password);
  await v.page.fill('#confirm_password', confirm);
  return v.submit('#portal-register-complete-form', label);
}

/** "Iscriviti" from start to end for `card`: its UserID (10 digits, on the page). */
async function register(v, card, password, { typed = card.pan } = {}) {
  const since = await env.server.mark();
  await v.goto('/portal/register');
  assert.equal(await v.h1(), PORTAL.it.registerTitle);
  await cardData(v, '#portal-register-form', typed, card.expiry);
  assert.equal(v.path(), '/portal/register/complete');
  const code = await env.server.smsCode(card.phone, since, 'iscriverti');
  const done = await completeRegistration(v, code, password, password, 'registered');
  assert.equal(done.status(), 200, await v.page.locator('main').innerText());
  assert.equal(await v.h1(), PORTAL.it.registeredTitle);
  const userId = await v.text('#user-id');
  assert.match(userId, /^[1-9]\d{9}$/, 'a 10-digit UserID');
  return userId;
}

/** The portal's login form; returns the response of the post. */
async function loginForm(v, userId, password, label) {
  if (v.path() !== '/portal/login' || (await v.page.locator('#portal-login-form').count()) === 0) {
    await v.goto('/portal/login');
  }
  await v.page.fill('#user_id', userId);
  await v.page.fill('#password', password);
  return v.submit('#portal-login-form', label);
}

/** A whole portal login: UserID + password, then the code the card's phone got. Ends on
 *  the card list. */
async function portalLogin(v, card, userId, password) {
  const since = await env.server.mark();
  const r = await loginForm(v, userId, password);
  assert.equal(v.path(), '/portal/login/otp', `after the password (status ${r.status()}): ${await v.page.locator('main').innerText()}`);
  const code = await env.server.smsCode(card.phone, since, "accedere all'Area Riservata");
  await v.page.fill('#code', code);
  const cards = await v.submit('#otp-form');
  assert.equal(cards.status(), 200);
  assert.equal(v.path(), '/portal/cards');
}

/** SMS messages to `phone` after `since`. */
async function smsTo(phone, since) {
  return (await env.server.newMessages(since)).filter((m) => m.channel === 'sms' && m.to === phone);
}

// Requirements: DESIGN flow 9 (registration, login, Key6), R20, R22, R23, P10.
test('portal: the seed guide: Iscriviti with the card data → UserID → login → Key6 set, then shown after the SMS SCA → logout', async () => {
  const { server, browser } = env;
  // Issued by the operator with no holder: its holder has no web banking.
  const card = await issueCard(server, { pan: PANS.seed, expiry: '3012' });

  await withPage(browser, server, 'portal-seed-guide', async (v) => {
    const pages = recordPages(v);
    await v.goto('/portal/login');
    assert.equal(await v.h1(), PORTAL.it.loginTitle);
    assert.equal(await v.text('#register'), PORTAL.it.registerLink);
    assert.equal(await v.text('#forgot-user-id'), PORTAL.it.forgotUserId);
    assert.equal(await v.text('#forgot-password'), PORTAL.it.forgotPassword);

    // "Iscriviti": the card data as printed, the PAN in groups of four.
    await v.click('#register');
    assert.equal(v.path(), '/portal/register');
    assert.equal(await v.h1(), PORTAL.it.registerTitle);
    let since = await server.mark();
    await cardData(v, '#portal-register-form', spaced(card.pan), '12/30');
    assert.equal(v.path(), '/portal/register/complete');
    assert.equal(await v.h1(), PORTAL.it.registerTitle);
    assert.ok((await v.page.locator('main').innerText()).includes(PORTAL.it.registerCodeIntro));

    // The code goes to the card's 3-D Secure phone, naming the card by its last four.
    const sms = await smsTo(card.phone, since);
    assert.equal(sms.length, 1, `one SMS to the card's phone: ${JSON.stringify(sms)}`);
    assert.match(sms[0].text, /per iscriverti all'Area Riservata con la carta che termina con 1111/);
    const code = sms[0].text.match(/\b(\d{6})\b/)[1];
    assert.deepEqual((await server.newMessages(since)).filter((m) => m.to !== card.phone), [], 'nothing to anyone else');

    // The code and the password: the UserID, on the page and by SMS.
    since = await server.mark();
    const done = await completeRegistration(v, code, PASSWORD, PASSWORD, 'registered');
    assert.equal(done.status(), 200);
    assert.equal(await v.h1(), PORTAL.it.registeredTitle);
    const userId = await v.text('#user-id');
    assert.match(userId, /^[1-9]\d{9}$/, 'a 10-digit UserID');
    await server.waitForMessage(
      (m) => m.channel === 'sms' && m.to === card.phone && m.text.includes("Iscrizione all'Area Riservata completata") && m.text.includes(userId),
      { since },
    );

    // Login: UserID + password, then the code sent at once to the card's phone.
    await v.click('#portal-login');
    assert.equal(v.path(), '/portal/login');
    since = await server.mark();
    await loginForm(v, userId, PASSWORD);
    assert.equal(v.path(), '/portal/login/otp');
    assert.equal(await v.h1(), PORTAL.it.otpTitle);
    const loginCode = await server.smsCode(card.phone, since, "accedere all'Area Riservata carte");
    await v.page.fill('#code', loginCode);
    await v.submit('#otp-form');
    assert.equal(v.path(), '/portal/cards');
    assert.ok((await v.context.cookies()).some((c) => c.name === 'sg_portal'), 'a portal session cookie');
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_session'), 'no web banking session');

    // The card list: the card by its last four digits only.
    assert.equal(await v.h1(), PORTAL.it.cardsTitle);
    const row = v.page.locator(`#card-${card.card_id}`);
    assert.equal(await v.page.locator('#cards tbody tr').count(), 1);
    assert.equal(await row.getAttribute('data-key6'), 'key6_state_unset');
    assert.equal((await row.locator('td').first().innerText()).trim(), 'Visa •••• 1111');
    assert.equal((await row.locator('.key6-state').innerText()).trim(), PORTAL.it.key6Unset);
    assert.equal(await v.page.getAttribute(`#manage-${card.card_id}`, 'href'), `/portal/cards/${card.card_id}/key6`);
    assert.equal(await v.page.locator('#home-back').count(), 0, 'no link to web banking home');

    // Key6: set, typed twice.
    await v.click(`#manage-${card.card_id}`, 'key6');
    assert.equal(v.path(), `/portal/cards/${card.card_id}/key6`);
    assert.equal(await v.h1(), PORTAL.it.key6Title);
    assert.equal(await v.text('#card-name'), 'Visa •••• 1111');
    await v.page.fill('#key6', KEY6);
    await v.page.fill('#key6-confirm', KEY6);
    await v.submit('#key6-form', 'key6-saved');
    assert.equal(v.path(), `/portal/cards/${card.card_id}/key6`);
    assert.equal(await v.text('#notice'), PORTAL.it.key6Saved);
    assert.equal(await v.page.getAttribute('#key6-state', 'data-state'), 'key6_state_active');
    assert.equal(await v.text('#key6-state'), PORTAL.it.key6Active);

    // Viewing it needs an SCA: no app here, so a code by SMS to the card's phone.
    await v.submit('#view-form', 'key6-view-authorize');
    const scaPath = v.path();
    assert.match(scaPath, new RegExp(`^/portal/cards/${card.card_id}/key6/view/[^/]+$`));
    assert.equal(await v.h1(), PORTAL.it.key6ViewTitle);
    assert.equal(await v.page.locator('#approved-form').count(), 0, 'no push to wait for');
    since = await server.mark();
    await v.click('#send-payment-sms', 'key6-sms-sent');
    assert.equal(v.path(), scaPath);
    assert.equal(await v.text('#notice'), PORTAL.it.key6SmsSent);
    const scaSms = await server.waitForMessage((m) => m.channel === 'sms' && m.to === card.phone, { since });
    assert.match(scaSms.text, /visualizzare il Key6 della carta che termina con 1111/);
    assert.ok(!scaSms.text.includes(KEY6), 'the SMS never carries the Key6');
    await v.page.fill('#sms-code', scaSms.text.match(/\b(\d{6})\b/)[1]);
    await v.submit('#sms-otp-form', 'key6-approved');
    assert.equal(v.path(), scaPath);
    assert.equal(await v.text('#result'), PORTAL.it.key6Approved);
    assert.equal(await v.text('#done'), PORTAL.it.key6Done);
    await v.submit('#done-form', 'key6-shown');
    assert.equal(await v.h1(), PORTAL.it.key6ShownTitle);
    assert.equal(await v.text('#key6-value'), KEY6);
    assert.equal(await v.text('#card-name'), 'Visa •••• 1111');
    assert.equal(await v.page.getAttribute('#key6-back', 'href'), `/portal/cards/${card.card_id}/key6`, 'the way back stays in the portal');

    // Logout: back on the portal's login page with its notice (a redirect, so the
    // language switch and a reload repeat no POST), and the card list is closed again.
    await v.click('#logout', 'logged-out');
    assert.equal(v.path(), '/portal/login');
    assert.equal(await v.text('#notice'), PORTAL.it.loggedOut);
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_portal'), 'the session cookie is gone');
    await v.goto('/portal/cards', 'cards-after-logout');
    assert.equal(v.path(), '/portal/login');

    await pages.assertNoPan(card.pan);
  });
});

// Requirements: DESIGN flow 9 (forgotten UserID, registering again), R12, R46, P8.
test('portal: a forgotten UserID comes by SMS only; a forgotten password comes back by registering again', async () => {
  const { server, browser } = env;
  const card = await issueCard(server, { pan: PANS.recover, expiry: '2907' });
  const newPassword = '60418273';

  // The holder registers and signs in; that session stays open in this browser.
  const first = await openPage(browser, server, 'portal-recover-first-session');
  const firstPages = recordPages(first);
  try {
    const userId = await register(first, card, PASSWORD);
    await portalLogin(first, card, userId, PASSWORD);

    await withPage(browser, server, 'portal-recover', async (v) => {
      const pages = recordPages(v);

      // "Hai dimenticato lo UserID?": the same message page as for any card data; the
      // UserID only in the SMS to the card's phone.
      await v.goto('/portal/login');
      await v.click('#forgot-user-id');
      assert.equal(v.path(), '/portal/user-id');
      assert.equal(await v.h1(), PORTAL.it.userIdTitle);
      let since = await server.mark();
      const sent = await cardData(v, '#portal-user-id-form', card.pan, card.expiry, 'user-id-sent');
      assert.equal(sent.status(), 200);
      assert.equal(await v.text('#message'), PORTAL.it.userIdSent);
      assert.ok(!(await v.page.content()).includes(userId), 'the UserID is never on the page');
      const reminder = await smsTo(card.phone, since);
      assert.equal(reminder.length, 1, JSON.stringify(reminder));
      assert.equal(reminder[0].text, `sigillo: il tuo UserID dell'Area Riservata e' ${userId}. Se non l'hai chiesto tu, contatta la banca.`);

      // "Hai dimenticato la password?" is "Iscriviti" again with the card.
      await v.click('#message-link');
      assert.equal(v.path(), '/portal/login');
      await v.click('#forgot-password');
      assert.equal(v.path(), '/portal/register');
      since = await server.mark();
      await cardData(v, '#portal-register-form', card.pan, card.expiry);
      assert.equal(v.path(), '/portal/register/complete');
      const code = await server.smsCode(card.phone, since, 'iscriverti');

      // Passwords that differ: refused before the code is looked at.
      const mismatch = await completeRegistration(v, code, newPassword, '60418237', 'mismatch');
      assert.equal(mismatch.status(), 422);
      assert.equal(await v.text('#error'), IT.passwordMismatch);

      // "Invia un nuovo codice": a new code replaces the first, which is now a wrong one.
      since = await server.mark();
      const resent = await v.click('#resend', 'code-resent');
      assert.equal(resent.status(), 200);
      assert.equal(await v.text('#notice'), IT.otpResent);
      const newCode = await server.smsCode(card.phone, since, 'iscriverti');
      const stale = code === newCode ? wrongCode(code) : code;
      const wrong = await completeRegistration(v, stale, newPassword, newPassword, 'first-code-refused');
      assert.equal(wrong.status(), 401);
      assert.equal(await v.text('#error'), IT.authFailed);

      // The new one: the same UserID, a new password, told by SMS.
      since = await server.mark();
      const done = await completeRegistration(v, newCode, newPassword, newPassword, 'password-reset');
      assert.equal(done.status(), 200);
      assert.equal(await v.text('#user-id'), userId, 'the same UserID');
      await server.waitForMessage(
        (m) => m.channel === 'sms' && m.to === card.phone && m.text.includes("Nuova password dell'Area Riservata impostata") && m.text.includes(userId),
        { since },
      );

      // The session signed in with the old password is over.
      await first.goto('/portal/cards', 'cards-after-reset');
      assert.equal(first.path(), '/portal/login', 'registering again ended the other session');

      // The old password no longer works (and sends no code); the new one does.
      await v.click('#portal-login');
      since = await server.mark();
      const old = await loginForm(v, userId, PASSWORD, 'old-password');
      assert.equal(old.status(), 401);
      assert.equal(v.path(), '/portal/login');
      assert.equal(await v.text('#error'), IT.authFailed);
      assert.deepEqual(await server.newMessages(since), [], 'no SMS code for the old password');
      await portalLogin(v, card, userId, newPassword);
      assert.equal(await v.page.getAttribute(`#card-${card.card_id}`, 'data-key6'), 'key6_state_unset');

      await pages.assertNoPan(card.pan);
    });
    await firstPages.assertNoPan(card.pan);
    assert.deepEqual(first.cspViolations(), [], 'no page was blocked by its own Content-Security-Policy');
  } catch (e) {
    await first.snap('failure').catch(() => {});
    throw e;
  } finally {
    await first.close();
  }
});

// Requirements: R9 (no hint which element was wrong), P9 (no card-testing oracle), P10.
test('portal: an unknown card, a wrong expiry, a web banking card and the right data get the same next page; malformed data a field error', async () => {
  const { server, browser } = env;
  const card = await issueCard(server, { pan: PANS.uniform, expiry: '2811' });
  // A web banking customer's card: managed there, never registered in the portal.
  const customer = await server.createUser();
  const bankingCard = await issueCard(server, { pan: PANS.banking, expiry: '2811', holder: customer.user_code });

  await withPage(browser, server, 'portal-uniform', async (v) => {
    const pages = recordPages(v);
    const since = await server.mark();

    // "Iscriviti" with four kinds of card data: one next page for all.
    const cases = [
      { what: 'unknown-card', pan: PANS.unknown, expiry: '11/28' },
      { what: 'wrong-expiry', pan: card.pan, expiry: '10/28' },
      { what: 'web-banking-card', pan: bankingCard.pan, expiry: '11/28' },
      { what: 'right-data', pan: card.pan, expiry: '11/28' },
    ];
    const nextPages = [];
    for (const c of cases) {
      await v.goto('/portal/register', `register-${c.what}`);
      const r = await cardData(v, '#portal-register-form', c.pan, c.expiry, `next-${c.what}`);
      assert.equal(r.status(), 200, c.what);
      assert.equal(v.path(), '/portal/register/complete', c.what);
      assert.equal(await v.page.locator('#error').count(), 0, c.what);
      nextPages.push(await pageWithoutCsrf(v));
      if (c.what === 'unknown-card') {
        // A code for a registration without a card fails like any wrong code.
        const r2 = await completeRegistration(v, '123456', PASSWORD, PASSWORD, 'unknown-card-code');
        assert.equal(r2.status(), 401);
        assert.equal(await v.text('#error'), IT.authFailed);
      }
    }
    for (let i = 1; i < cases.length; i++) {
      assert.equal(nextPages[i], nextPages[0], `${cases[i].what} leads to the same page as ${cases[0].what}`);
    }

    // "Hai dimenticato lo UserID?": one message page for all.
    const messages = [];
    for (const c of cases) {
      await v.goto('/portal/user-id', `user-id-${c.what}`);
      const r = await cardData(v, '#portal-user-id-form', c.pan, c.expiry, `user-id-sent-${c.what}`);
      assert.equal(r.status(), 200, c.what);
      assert.equal(await v.text('#message'), PORTAL.it.userIdSent, c.what);
      messages.push(await pageWithoutCsrf(v));
    }
    for (let i = 1; i < cases.length; i++) {
      assert.equal(messages[i], messages[0], `${cases[i].what}: the same message page`);
    }

    // Only the cards' phones heard, and only for data that were right.
    const sent = await server.newMessages(since);
    const toCard = sent.filter((m) => m.to === card.phone).map((m) => m.text);
    assert.equal(toCard.length, 2, JSON.stringify(toCard));
    assert.match(toCard[0], /per iscriverti all'Area Riservata con la carta che termina con 3333/);
    assert.match(toCard[1], /la carta che termina con 3333 non ha ancora un UserID/);
    const toBanking = sent.filter((m) => m.to === bankingCard.phone).map((m) => m.text);
    assert.equal(toBanking.length, 2, JSON.stringify(toBanking));
    for (const text of toBanking) assert.match(text, /la carta che termina con 4444 si gestisce da web banking/);
    assert.equal(sent.length, 4, `nothing to anyone else: ${JSON.stringify(sent)}`);

    // Malformed data: said next to the field, nothing looked up or sent.
    const before = await server.mark();
    await v.goto('/portal/register', 'register-malformed');
    const badPan = await cardData(v, '#portal-register-form', '4111 1111', '11/28', 'pan-error');
    assert.equal(badPan.status(), 422);
    assert.equal(v.path(), '/portal/register');
    assert.equal(await v.text('#pan-error'), PORTAL.it.panError);
    assert.equal(await v.page.getAttribute('#pan', 'aria-invalid'), 'true');
    assert.equal(await v.page.getAttribute('#pan', 'aria-describedby'), 'pan-error');
    assert.equal(await v.page.inputValue('#pan'), '', 'the PAN is never written back into a page');
    assert.equal(await v.page.inputValue('#expiry'), '11/28', 'the expiry is kept');
    assert.equal(await v.page.locator('#expiry-error').count(), 0);
    const badExpiry = await cardData(v, '#portal-register-form', card.pan, '13/28', 'expiry-error');
    assert.equal(badExpiry.status(), 422);
    assert.equal(await v.text('#expiry-error'), PORTAL.it.expiryError);
    assert.equal(await v.page.getAttribute('#expiry', 'aria-invalid'), 'true');
    assert.equal(await v.page.locator('#pan-error').count(), 0);
    assert.equal(await v.page.inputValue('#pan'), '');
    await v.goto('/portal/user-id', 'user-id-malformed');
    const badUserId = await cardData(v, '#portal-user-id-form', card.pan, '2028', 'user-id-expiry-error');
    assert.equal(badUserId.status(), 422);
    assert.equal(v.path(), '/portal/user-id');
    assert.equal(await v.text('#expiry-error'), PORTAL.it.expiryError);
    assert.deepEqual(await server.newMessages(before), [], 'nothing sent for malformed data');

    // No page, SMS or log line shows any of the full numbers typed.
    await pages.assertNoPan(card.pan, bankingCard.pan, PANS.unknown);
    const outbox = JSON.stringify(await server.outbox());
    const log = server.logText();
    for (const pan of [card.pan, bankingCard.pan, PANS.unknown]) {
      assert.ok(!outbox.includes(pan), 'no PAN in the outbox');
      assert.ok(!log.includes(pan), 'no PAN in the server log');
    }
  });
});

// Requirements: the pages in Italian and English (language switch), DESIGN flow 9.
test('portal: after the language switch the login and registration pages are in English', async () => {
  const { server, browser } = env;
  await withPage(browser, server, 'portal-english', async (v) => {
    const pages = recordPages(v);
    await v.goto('/portal/login');
    assert.equal(await v.page.getAttribute('html', 'lang'), 'it');
    assert.equal(await v.h1(), PORTAL.it.loginTitle);
    assert.equal(await v.text('#lang-switch'), IT.switchLanguage);

    await v.click('#lang-switch', 'switched-to-english');
    assert.equal(v.path(), '/portal/login', 'the switch stays on the portal page');
    assert.equal(await v.page.getAttribute('html', 'lang'), 'en');
    assert.equal(await v.h1(), PORTAL.en.loginTitle);
    assert.equal(await v.text('#lang-switch'), EN.switchLanguage);
    assert.equal(await v.text('#register'), PORTAL.en.registerLink);
    assert.equal(await v.text('#forgot-user-id'), PORTAL.en.forgotUserId);
    assert.equal(await v.text('#forgot-password'), PORTAL.en.forgotPassword);
    assert.ok((await v.text('.hint')).startsWith(PORTAL.en.bankingHint));

    // A failed login, in English.
    const failed = await loginForm(v, '1234567890', '90817263', 'login-failed-english');
    assert.equal(failed.status(), 401);
    assert.equal(await v.text('#error'), EN.authFailed);

    // Registration: the card data page.
    await v.click('#register');
    assert.equal(v.path(), '/portal/register');
    assert.equal(await v.page.getAttribute('html', 'lang'), 'en');
    assert.equal(await v.h1(), PORTAL.en.registerTitle);
    assert.ok((await v.page.locator('main').innerText()).includes(PORTAL.en.registerIntro));
    assert.equal(await v.text('label[for=pan]'), PORTAL.en.panLabel);
    assert.equal(await v.text('label[for=expiry]'), PORTAL.en.expiryLabel);
    assert.equal(await v.page.getAttribute('#expiry', 'placeholder'), PORTAL.en.expiryPlaceholder);
    assert.equal(await v.text('#portal-register-form button[type=submit]'), PORTAL.en.continue);
    assert.equal(await v.text('#portal-back'), PORTAL.en.backToLogin);

    // A malformed PAN, in English.
    const bad = await cardData(v, '#portal-register-form', '4000 0000', '12/30', 'pan-error-english');
    assert.equal(bad.status(), 422);
    assert.equal(await v.text('#pan-error'), PORTAL.en.panError);

    // The next step, in English (a card nobody issued: nothing is sent).
    const since = await server.mark();
    await cardData(v, '#portal-register-form', spaced(PANS.english), '12/30', 'register-complete-english');
    assert.equal(v.path(), '/portal/register/complete');
    assert.equal(await v.h1(), PORTAL.en.registerTitle);
    assert.ok((await v.page.locator('main').innerText()).includes(PORTAL.en.registerCodeIntro));
    assert.equal(await v.text('#portal-register-complete-form button[type=submit]'), PORTAL.en.registerSubmit);
    assert.equal(await v.text('#resend'), PORTAL.en.resend);
    assert.deepEqual(await server.newMessages(since), []);

    // The forgotten UserID page too.
    await v.goto('/portal/user-id');
    assert.equal(await v.h1(), PORTAL.en.userIdTitle);
    assert.equal(await v.text('#portal-user-id-form button[type=submit]'), PORTAL.en.sendUserId);
    await pages.assertNoPan(PANS.english);
  });
});

// Requirements: DESIGN flow 9 (web banking and the portal share no users or sessions), P9.
test('portal: web banking credentials fail on the portal like a wrong password; neither session opens the other', async () => {
  const { server, browser } = env;
  const customer = await server.createActiveUser();
  const card = await issueCard(server, { pan: PANS.separation, expiry: '2704' });

  await withPage(browser, server, 'portal-separation', async (v) => {
    const pages = recordPages(v);
    const userId = await register(v, card, PASSWORD);

    // The web banking customer's user code and password on the portal: refused, nothing
    // sent, and the page the same as for a portal UserID with a wrong password.
    let since = await server.mark();
    const banking = await loginForm(v, customer.user_code, customer.password, 'banking-credentials');
    assert.equal(banking.status(), 401);
    assert.equal(v.path(), '/portal/login');
    assert.equal(await v.text('#error'), IT.authFailed);
    const bankingPage = (await pageWithoutCsrf(v)).replace(customer.user_code, 'USER');
    const wrong = await loginForm(v, userId, '58301694', 'wrong-password');
    assert.equal(wrong.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);
    const wrongPage = (await pageWithoutCsrf(v)).replace(userId, 'USER');
    assert.equal(bankingPage, wrongPage, 'one answer for both (P9)');
    assert.deepEqual(await server.newMessages(since), [], 'no SMS code for either');

    // The portal's UserID and password are no web banking login either.
    await v.goto('/login', 'banking-login');
    await v.page.fill('#username', userId);
    await v.page.fill('#password', PASSWORD);
    const portalOnBanking = await v.submit('#login-form', 'portal-credentials-on-banking');
    assert.equal(portalOnBanking.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);

    // A portal session does not open web banking's pages.
    await portalLogin(v, card, userId, PASSWORD);
    for (const path of ['/', '/cards']) {
      await v.goto(path, `portal-session-on-${path === '/' ? 'home' : 'cards'}`);
      assert.equal(v.path(), '/login', `${path} with a portal session`);
    }
    await v.goto('/portal/cards', 'portal-cards-still-open');
    assert.equal(v.path(), '/portal/cards', 'the portal session is still good');

    // Nor a web banking session the portal's.
    await withPage(browser, server, 'portal-separation-banking', async (w) => {
      await w.login(customer);
      assert.equal(w.path(), '/');
      await w.goto('/portal/cards', 'banking-session-on-portal');
      assert.equal(w.path(), '/portal/login');
      assert.equal(await w.h1(), PORTAL.it.loginTitle);
      assert.equal(await w.page.locator('#logout').count(), 0, 'not signed in to the portal');
    });
    await pages.assertNoPan(card.pan);
  });
});

// Requirements: R10 (five failures), R11 (the alert at once), P2.
test('portal: five wrong card data or codes lock the card\'s registration and alert its phone', async () => {
  const { server, browser } = env;
  const card = await issueCard(server, { pan: PANS.lockout, expiry: '3106' });

  await withPage(browser, server, 'portal-lockout', async (v) => {
    const pages = recordPages(v);
    const since = await server.mark();

    // Four wrong expiries (three to "Iscriviti", one to the forgotten UserID): nothing sent.
    let registerPage;
    for (const [i, expiry] of ['05/31', '07/31', '06/30'].entries()) {
      await v.goto('/portal/register', `register-wrong-${i + 1}`);
      await cardData(v, '#portal-register-form', card.pan, expiry, `next-wrong-${i + 1}`);
      assert.equal(v.path(), '/portal/register/complete');
      registerPage ??= await pageWithoutCsrf(v);
    }
    await v.goto('/portal/user-id');
    await cardData(v, '#portal-user-id-form', card.pan, '06/32', 'user-id-wrong');
    assert.equal(await v.text('#message'), PORTAL.it.userIdSent);
    const userIdPage = await pageWithoutCsrf(v);
    assert.deepEqual(await smsTo(card.phone, since), [], 'wrong data send nothing');

    // The right data: a code. A wrong one is the fifth failure: locked, and alerted.
    await v.goto('/portal/register');
    await cardData(v, '#portal-register-form', card.pan, card.expiry);
    const code = await server.smsCode(card.phone, since, 'iscriverti');
    const lockMark = await server.mark();
    const wrong = await completeRegistration(v, wrongCode(code), PASSWORD, PASSWORD, 'fifth-failure');
    assert.equal(wrong.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);
    const alert = await server.waitForMessage((m) => m.channel === 'sms' && m.to === card.phone, { since: lockMark });
    assert.match(alert.text, /troppi tentativi/);
    assert.match(alert.text, /carta che termina con 7777/);

    // Locked: the right code no longer completes, the right data open a registration that
    // sends nothing, and the forgotten UserID sends nothing either. The pages are the same.
    const lockedCode = await completeRegistration(v, code, PASSWORD, PASSWORD, 'right-code-locked');
    assert.equal(lockedCode.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);
    const after = await server.mark();
    await v.goto('/portal/register', 'register-locked');
    await cardData(v, '#portal-register-form', card.pan, card.expiry, 'next-locked');
    assert.equal(v.path(), '/portal/register/complete');
    assert.equal(await pageWithoutCsrf(v), registerPage, 'a locked card reads like wrong data');
    await v.goto('/portal/user-id', 'user-id-locked');
    await cardData(v, '#portal-user-id-form', card.pan, card.expiry, 'user-id-sent-locked');
    assert.equal(await v.text('#message'), PORTAL.it.userIdSent);
    assert.equal(await pageWithoutCsrf(v), userIdPage);
    assert.deepEqual(await server.newMessages(after), [], 'nothing sent while locked');
    await pages.assertNoPan(card.pan);
  });
});

// Requirements: P10 (no full PAN in any message or log), on top of the per-page checks.
test('portal: the full PANs are in no SMS, no email and no server log line', async () => {
  const { server } = env;
  const outbox = JSON.stringify(await server.outbox());
  const log = server.logText();
  assert.ok(log.length > 0, 'the server logged something');
  for (const pan of Object.values(PANS)) {
    assert.ok(!outbox.includes(pan), 'no PAN in the outbox');
    assert.ok(!log.includes(pan), 'no PAN in the server log');
  }
});
