// DESIGN flow 4 on the web: the demo banking area's "Bonifico" and "Bollettino" forms,
// then the authorization page: the push approved on the phone (which shows amount,
// payee and IBAN from the signed bytes), the signed QR with the app's transaction OTP
// (P5, P6: another payment's code and a tampered QR are refused), the SMS code whose
// text names amount and payee, cancellation, and a form error next to its field.

import test from 'node:test';
import assert from 'node:assert/strict';
import { IT, setup, withPage } from '../harness.js';

const env = setup(test, 'payments');

/** The texts of the banking pages (locales/it.toml). */
const PAY = {
  bankingTitle: 'Conto e pagamenti',
  demoNote: 'Conto dimostrativo: il saldo è una cifra fissa di esempio e nessun pagamento viene eseguito davvero. Le autorizzazioni invece sono reali.',
  authorizeTitle: 'Autorizza il pagamento',
  pushIntro: 'Ti abbiamo inviato una notifica push sul tuo smartphone: apri la notifica push e autorizza con lo Smart PIN o con la biometria.',
  approved: "Pagamento autorizzato. L'operazione è stata completata.",
  rejected: 'Pagamento rifiutato dal telefono: non verrà eseguito.',
  canceled: 'Pagamento annullato: non verrà eseguito.',
  ibanError: 'IBAN non valido: controlla di averlo copiato per intero e senza errori.',
  amountError: 'Importo non valido: un numero maggiore di zero, con al massimo due decimali (per esempio 12,50).',
  statusApproved: 'autorizzata',
  statusCanceled: 'annullata',
  empty: 'Non hai ancora nessuna operazione.',
  fallback: 'Non hai ricevuto la notifica?',
};

const IBAN = 'IT60X0542811101000000123456';

/** MOD 97-10 (ISO 13616): `iban` with its check digits made right again. */
function withCheckDigits(iban) {
  const moved = `${iban.slice(4)}${iban.slice(0, 2)}00`;
  const digits = [...moved].map((c) => (/[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c)).join('');
  let rem = 0;
  for (const d of digits) rem = (rem * 10 + Number(d)) % 97;
  return `${iban.slice(0, 2)}${String(98 - rem).padStart(2, '0')}${iban.slice(4)}`;
}

/** A web login approved on the phone with the number the page shows; ends on home. */
async function signIn(v, user, phone, pin) {
  const number = await v.loginToPush(user);
  const op = await phone.pendingOne('login');
  const home = v.page.waitForURL((u) => new URL(u).pathname === '/');
  await phone.ok('approve', op.id, '--pin', pin, '--match', number);
  await home;
  await v.snap('home');
}

/** From home, "Conto e pagamenti". */
async function openBanking(v) {
  if (v.path() !== '/') await v.goto('/');
  await v.click('#banking-link', 'banking');
  assert.equal(v.path(), '/banking');
  assert.equal(await v.h1(), PAY.bankingTitle);
}

/** Fills and sends the "Bonifico" form; returns the response. */
async function transfer(v, { payee, iban, amount, description = '' }, label = 'payment') {
  await v.page.fill('#transfer-payee', payee);
  await v.page.fill('#transfer-iban', iban);
  await v.page.fill('#transfer-amount', amount);
  await v.page.fill('#transfer-description', description);
  return v.submit('#transfer-form', label);
}

/** The authorization page's summary: label id → value. */
async function summary(v) {
  return v.page.locator('#summary dd').evaluateAll((dds) => Object.fromEntries(dds.map((dd) => [dd.id.replace(/^summary-field_|^summary-/, ''), dd.textContent.trim()])));
}

/** The payment id from the page's address. */
function paymentId(v) {
  const m = v.path().match(/^\/payments\/([^/]+)$/);
  assert.ok(m, `on a payment page: ${v.path()}`);
  return m[1];
}

// Requirements: DESIGN flow 4, P5 (the phone shows what it signs).
test('payments: a bonifico approved by push; the phone shows amount, payee and IBAN; the page moves on by itself', async () => {
  const { server, browser } = env;
  const { user, phone, pin } = await server.createUserWithPhone({ alias: 'Elena.Rossi' });

  await withPage(browser, server, 'payments-push', async (v) => {
    await signIn(v, user, phone, pin);
    await openBanking(v);
    assert.equal(await v.text('#demo-note'), PAY.demoNote);
    assert.match(await v.text('#balance'), /\d/);
    assert.equal(await v.text('#no-operations'), PAY.empty);
    assert.equal(await v.page.inputValue('#transfer-currency'), 'EUR', 'EUR by default');

    const resp = await transfer(v, { payee: 'Idraulica Bianchi srl', iban: 'it60 x054 2811 1010 0000 0123 456', amount: '125,50', description: 'Fattura 42' }, 'authorize');
    assert.equal(resp.status(), 200);
    const id = paymentId(v);
    assert.equal(await v.h1(), PAY.authorizeTitle);
    assert.equal(await v.text('#payment-push-intro'), PAY.pushIntro);
    const shown = await summary(v);
    assert.equal(shown.amount, '125.50');
    assert.equal(shown.currency, 'EUR');
    assert.equal(shown.payee, 'Idraulica Bianchi srl');
    assert.equal(shown.iban, IBAN, 'the IBAN in its canonical form');
    assert.equal(shown.description, 'Fattura 42');

    // The phone: the same payment, decoded from the bytes it signs.
    const op = await phone.pendingOne('payment.credit_transfer');
    assert.equal(op.id, id);
    const fields = Object.fromEntries(op.fields);
    assert.equal(fields.amount, shown.amount);
    assert.equal(fields.currency, 'EUR');
    assert.equal(fields.payee, shown.payee);
    assert.equal(fields.iban, IBAN);

    await v.page.waitForSelector('#wait[data-state="waiting"]');
    let reloads = 0;
    v.page.on('request', (req) => { if (req.isNavigationRequest()) reloads += 1; });
    assert.deepEqual(await phone.ok('approve', op.id, '--pin', pin), { approved: op.id });
    await v.page.waitForSelector('#result');
    await v.snap('approved');
    assert.equal(await v.text('#result'), PAY.approved);
    assert.equal(v.path(), `/payments/${id}`);
    assert.equal(reloads, 1, 'one navigation, made by the event stream');
    assert.equal(await v.page.locator('#tx-otp-form').count(), 0, 'nothing left to approve');

    await v.click('#banking-back', 'banking-after');
    const row = v.page.locator(`#op-${id}`);
    assert.equal(await row.getAttribute('data-status'), 'approved');
    assert.match(await row.innerText(), new RegExp(PAY.statusApproved));
    assert.match(await row.innerText(), /Idraulica Bianchi srl/);
  });
});

// Requirements: DESIGN flow 4 (fallback), P4, P5, P6, P8.
test('payments: the QR and the transaction OTP; another payment\'s code and a tampered QR are refused', async () => {
  const { server, browser } = env;
  const { user, phone, pin } = await server.createUserWithPhone({ alias: 'Fabio.Verdi' });

  await withPage(browser, server, 'payments-qr', async (v) => {
    await signIn(v, user, phone, pin);
    await openBanking(v);
    await transfer(v, { payee: 'Mario Bianchi', iban: IBAN, amount: '980.00' }, 'authorize');
    const id = paymentId(v);
    await v.page.click('#fallback-summary');
    await v.snap('fallback');
    assert.equal(await v.text('#fallback-summary'), PAY.fallback);
    assert.equal(await v.page.locator('#payment-qr svg').count(), 1, 'the QR is inline SVG');
    const payload = await v.page.getAttribute('#payment-qr', 'data-payload');
    assert.match(payload, /^SIGILLOTX1:/);

    // The app scans it and shows the same payment.
    const scanned = await phone.ok('otp', 'scan', payload, '--pin', pin);
    assert.equal(scanned.id, id);
    const fields = Object.fromEntries(scanned.fields);
    assert.equal(fields.amount, '980.00');
    assert.equal(fields.payee, 'Mario Bianchi');
    assert.equal(fields.iban, IBAN);
    assert.match(scanned.code, /^\d{8}$/);

    // One IBAN character changed in the QR: the phone refuses it (the bank's signature
    // no longer matches) and computes nothing.
    const [prefix, opB64, nonce, sig] = payload.split(':');
    const bytes = Buffer.from(opB64, 'base64url');
    const at = bytes.indexOf(Buffer.from(IBAN));
    assert.ok(at >= 0, 'the IBAN is in the signed bytes');
    bytes[at + IBAN.length - 1] = '7'.charCodeAt(0);
    const tampered = [prefix, bytes.toString('base64url'), nonce, sig].join(':');
    const refused = await phone.fails('otp', 'scan', tampered, '--pin', pin);
    assert.match(refused.message, /signed/i, JSON.stringify(refused));

    // A genuine code for a payment that differs only in the IBAN (one account digit, and
    // so its check digits): typed here, it is refused (the code is bound to the stored
    // bytes, P5), and it counts.
    const otherIban = withCheckDigits(`${IBAN.slice(0, -1)}7`);
    await openBanking(v);
    await transfer(v, { payee: 'Mario Bianchi', iban: otherIban, amount: '980.00' }, 'authorize-other');
    const otherId = paymentId(v);
    assert.notEqual(otherId, id);
    const otherPayload = await v.page.getAttribute('#payment-qr', 'data-payload');
    const other = await phone.ok('otp', 'scan', otherPayload, '--pin', pin);
    assert.equal(Object.fromEntries(other.fields).iban, otherIban);
    assert.notEqual(other.code, scanned.code);

    await v.goto(`/payments/${id}`, 'authorize-again');
    await v.page.click('#fallback-summary');
    await v.page.fill('#tx-code', other.code);
    const bad = await v.submit('#tx-otp-form', 'tx-otp-wrong');
    assert.equal(bad.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);
    assert.ok(await v.page.locator('#tx-code').isVisible(), 'the fallback stays open');

    // The right code approves it, once.
    await v.page.fill('#tx-code', scanned.code);
    const ok = await v.submit('#tx-otp-form', 'tx-otp-approved');
    assert.equal(ok.status(), 200);
    assert.equal(v.path(), `/payments/${id}`);
    assert.equal(await v.text('#result'), PAY.approved);
    const ops = (await phone.ok('pending')).map((op) => op.id);
    assert.ok(!ops.includes(id), 'the approved payment left the phone');
    assert.ok(ops.includes(otherId), 'the other one still waits');

    // The other payment is cancelled from its page.
    await v.goto(`/payments/${otherId}`, 'other');
    await v.click('#cancel-payment', 'other-canceled');
    assert.equal(await v.text('#result'), PAY.canceled);
    assert.deepEqual(await phone.ok('pending'), []);
  });
});

// Requirements: DESIGN flow 4 (SMS OTP names amount and payee), flow 3 "non sono io".
test('payments: a bollettino by SMS code, whose text names amount and payee; a rejected one', async () => {
  const { server, browser } = env;
  const { user, phone, pin } = await server.createUserWithPhone({ alias: 'Gino.Azzurri' });

  await withPage(browser, server, 'payments-bill-sms', async (v) => {
    await signIn(v, user, phone, pin);
    await openBanking(v);
    await v.page.fill('#bill-payee', 'Acqua Spa');
    await v.page.fill('#bill-code', '0012 3456 7890');
    await v.page.fill('#bill-amount', '42,10');
    await v.submit('#bill-form', 'authorize');
    const id = paymentId(v);
    const shown = await summary(v);
    assert.equal(shown.bill_code, '001234567890');
    assert.equal(shown.amount, '42.10');

    await v.page.click('#fallback-summary');
    const since = await server.mark();
    await v.click('#send-payment-sms', 'sms-sent');
    assert.equal(v.path(), `/payments/${id}`);
    const sms = await server.waitForMessage((m) => m.channel === 'sms' && m.to === user.phone && /\b\d{6}\b/.test(m.text), { since });
    assert.match(sms.text, /42\.10 EUR/);
    assert.match(sms.text, /Acqua Spa/);
    const code = sms.text.match(/\b(\d{6})\b/)[1];
    await v.page.fill('#sms-code', code);
    await v.submit('#sms-otp-form', 'sms-approved');
    assert.equal(await v.text('#result'), PAY.approved);

    // Another one, rejected on the phone: the page follows.
    await openBanking(v);
    await v.page.fill('#bill-payee', 'Gas Srl');
    await v.page.fill('#bill-code', 'RF18539007547034');
    await v.page.fill('#bill-amount', '10');
    await v.submit('#bill-form', 'authorize-2');
    const op = await phone.pendingOne('payment.bill');
    await v.page.waitForSelector('#wait[data-state="waiting"]');
    await phone.ok('reject', op.id);
    await v.page.waitForSelector('#result');
    await v.snap('rejected');
    assert.equal(await v.text('#result'), PAY.rejected);
  });
});

// Requirements: DESIGN flow 4 (nothing stored for an invalid payment).
test('payments: an invalid IBAN or amount is shown next to its field, the values kept, nothing created', async () => {
  const { server, browser } = env;
  const { user, phone, pin } = await server.createUserWithPhone({ alias: 'Ivo.Grigi' });

  await withPage(browser, server, 'payments-invalid', async (v) => {
    await signIn(v, user, phone, pin);
    await openBanking(v);
    const badIban = `${IBAN.slice(0, -1)}7`; // one digit off: MOD 97-10 catches it
    const resp = await transfer(v, { payee: 'Luca Neri', iban: badIban, amount: '15.00', description: 'Cena' }, 'iban-error');
    assert.equal(resp.status(), 400);
    assert.equal(v.path(), '/banking/payments');
    assert.equal(await v.text('#transfer-iban-error'), PAY.ibanError);
    assert.equal(await v.page.getAttribute('#transfer-iban', 'aria-invalid'), 'true');
    assert.match(await v.page.getAttribute('#transfer-iban', 'aria-describedby'), /^transfer-iban-error\b/, 'the error is read with the field');
    assert.equal(await v.page.inputValue('#transfer-payee'), 'Luca Neri');
    assert.equal(await v.page.inputValue('#transfer-iban'), badIban);
    assert.equal(await v.page.inputValue('#transfer-amount'), '15.00');
    assert.equal(await v.page.inputValue('#transfer-description'), 'Cena');
    assert.equal(await v.page.locator('.field-error').count(), 1, 'one error, next to the IBAN');
    assert.equal(await v.page.inputValue('#bill-payee'), '', 'the other form is untouched');
    assert.equal(await v.text('#no-operations'), PAY.empty, 'nothing was created');

    await v.page.fill('#transfer-iban', IBAN);
    await v.page.fill('#transfer-amount', '15.123');
    await v.submit('#transfer-form', 'amount-error');
    assert.equal(await v.text('#transfer-amount-error'), PAY.amountError);
    assert.equal(await v.page.locator('#transfer-iban-error').count(), 0);
    assert.equal(await v.text('#no-operations'), PAY.empty, 'nothing was created');
    assert.deepEqual(await phone.ok('pending'), [], 'nothing was pushed');
  });
});
