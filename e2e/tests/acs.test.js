// DESIGN flow 7 in real Chromium: a 3-D Secure purchase (EMV 3DS 2.2.0, browser flow)
// with `sigillo-3ds-sim` as the 3DS Server + Directory Server and the merchant. The
// simulator sends the AReq; the merchant's checkout page (on http://localhost:PORT) posts
// the CReq into its iframe, where sigillo's challenge page (on http://127.0.0.1:PORT)
// runs as a third-party frame, without cookies; the end page posts the CRes back to the
// merchant, and the ACS sends the RReq to the DS. Covered: a frictionless low-value
// purchase; a challenge approved in the app (the phone is `sigillo-device`) that moves on
// by itself; a cancel; a card nobody can authenticate for (U) and one whose holder has
// only the app (no SMS section; in English); SMS OTP + Key6 (needs the Key6 API, skipped
// until it exists); no page, SMS or log line shows the full PAN (P10).

import test from 'node:test';
import assert from 'node:assert/strict';
import { setup, startSim, visaPan, withPage } from '../harness.js';

/** Resolves after `ms`, without keeping the test process alive. */
const after = (ms) => new Promise((r) => setTimeout(r, ms).unref());

const env = setup(test, 'acs');
test.before(async () => {
  env.sim = await startSim('acs');
});
test.after(async () => {
  await env.sim?.stop();
});

/** The texts of the challenge pages (locales/it.toml, en.toml: `acs_*`). */
const ACS = {
  it: {
    heading: 'Conferma il tuo acquisto online',
    app: "Autorizza nell'app",
    waiting: "In attesa dell'autorizzazione dall'app… Questa pagina andrà avanti da sola.",
    sms: 'Ricevi il codice via SMS',
    smsSent: 'Codice inviato al numero',
    cancel: "Annulla l'acquisto",
    wrongCodes: 'Codice SMS o Key6 non corretto. Controlla e riprova: dopo 5 errori consecutivi il Key6 viene bloccato.',
    doneOk: 'Acquisto autorizzato. Stai tornando al negozio…',
    doneFailed: 'Acquisto non autorizzato. Stai tornando al negozio…',
  },
  en: {
    heading: 'Confirm your online purchase',
    app: 'Approve in the app',
    cancel: 'Cancel the purchase',
  },
};

/** Each test's card. */
const PANS = {
  frictionless: visaPan('2024', '0001'),
  approved: '4111111111111111',
  cancel: visaPan('3003', '0003'),
  nothing: visaPan('4004', '0004'),
  appOnly: visaPan('5005', '0005'),
  smsKey6: visaPan('6006', '0006'),
};


/** Every document the browser loaded (any frame) and every frame's DOM at each
 *  screenshot: what P10's "no full PAN" check reads. */
function recordPages(v) {
  const loads = [];
  const seen = [];
  v.page.on('response', (resp) => {
    if (resp.request().resourceType() !== 'document') return;
    // A body that cannot be read in time is kept as unread (null): the checks then fail
    // instead of passing on what they did not see.
    const url = resp.url();
    const body = resp.text().then((text) => text, () => undefined);
    loads.push(Promise.race([body, after(15_000).then(() => null)]).then((b) => (b === undefined ? undefined : { url, body: b })));
  });
  const snap = v.snap.bind(v);
  v.snap = async (label) => {
    const file = await snap(label);
    for (const frame of v.page.frames()) {
      // content() has no time-out and waits for a navigation under way (a held CRes post).
      const body = await Promise.race([frame.content().catch(() => null), after(2000).then(() => null)]);
      if (body !== null) seen.push({ url: frame.url(), body });
    }
    return file;
  };
  return {
    /** Every document loaded so far: `{url, body}` as served. */
    async documents() {
      // undefined: no body to read (a redirect).
      return (await Promise.all(loads)).filter((d) => d !== undefined);
    },
    async assertNoPan(pan) {
      const loaded = await this.documents();
      assert.deepEqual(loaded.filter((d) => d.body === null).map((d) => d.url), [], 'every page could be read');
      const docs = [...seen, ...loaded];
      assert.ok(docs.some((d) => d.url.includes('/3ds/v2/challenge')), 'an ACS page was read');
      for (const d of docs) {
        assert.ok(!d.body.includes(pan), `the full PAN is on ${d.url}`);
        assert.ok(!d.body.replace(/\s+/g, '').includes(pan), `the full PAN (spaced) is on ${d.url}`);
      }
    },
  };
}

/** Opens the merchant's checkout page and waits for sigillo's challenge page in its
 *  iframe; returns the frame's locator. */
async function openChallenge(v, checkoutUrl) {
  await v.page.goto(checkoutUrl);
  const acs = v.page.frameLocator('#challenge');
  await acs.locator('#acs-heading').waitFor();
  await v.snap('challenge');
  const frame = v.page.frame({ name: 'challenge' });
  assert.ok(frame.url().startsWith(`${env.server.url}/3ds/v2/challenge`), `the iframe holds the ACS: ${frame.url()}`);
  assert.notEqual(new URL(frame.url()).hostname, new URL(v.page.url()).hostname, 'the ACS is cross-site to the merchant');
  return acs;
}

/** Clicks a button of the challenge page that leads to another one and waits for it. */
async function acsClick(v, selector, label) {
  const frame = v.page.frame({ name: 'challenge' });
  await Promise.all([frame.waitForNavigation({ waitUntil: 'load' }), frame.click(selector)]);
  if (label) await v.snap(label);
}

/** Holds the browser's CRes post to the merchant until `release()`, so the ACS's last
 *  page (`#acs-result`, which posts the form by script) can be seen and screenshotted. */
async function holdCres(v, pages) {
  let release;
  let reached;
  const held = new Promise((r) => { release = r; });
  const arrived = new Promise((r) => { reached = r; });
  await v.page.route(`${env.sim.url}/merchant/notify`, async (route) => {
    reached(route.request().method());
    await held;
    await route.continue();
  });
  // The end page's body is read before the frame may leave it: once the CRes post goes
  // on, Chromium can drop the page's body before it is read (seen on a loaded machine).
  return { arrived, release: async () => { await pages.documents(); release(); } };
}

/** The ACS's last page (read as served: while its CRes post was held the frame was
 *  navigating and could not be queried) said `text` and held the CRes form. */
async function endPageSays(pages, text) {
  const end = (await pages.documents()).filter((d) => d.body?.includes('id="acs-result"'));
  assert.equal(end.length, 1, 'one end page');
  assert.match(end[0].body, /<p [^>]*id="acs-result">([^<]*)<\/p>/);
  assert.equal(end[0].body.match(/<p [^>]*id="acs-result">([^<]*)<\/p>/)[1].trim(), text);
  assert.match(end[0].body, /<form method="post" action="[^"]+" id="cres-form" data-autopost="1">/);
  assert.match(end[0].body, /name="cres" value="[A-Za-z0-9_-]+"/);
}

/** The purchase as the challenge page shows it. */
async function shown(acs) {
  const text = async (sel) => (await acs.locator(sel).innerText()).trim();
  return { merchant: await text('#purchase-merchant'), amount: await text('#purchase-amount'), card: await text('#purchase-card') };
}

/** Sends a purchase and expects a challenge: `{ ares, checkoutUrl }`. */
async function challengePurchase(purchase) {
  const r = await env.sim.purchase(env.server, { currency: 978, exponent: 2, ...purchase });
  assert.deepEqual(r.problems, [], `the simulator found nothing wrong with the ARes: ${JSON.stringify(r.response)}`);
  assert.equal(r.response.transStatus, 'C', `a challenge: ${JSON.stringify(r.response)}`);
  assert.ok(r.checkout_url, 'a checkout page');
  return { ares: r.response, checkoutUrl: r.checkout_url };
}

/** The merchant's page says `status`; its notification and the DS's RReq agree. */
async function expectOutcome(v, ares, status) {
  await v.page.locator(`#outcome[data-trans-status="${status}"]`).waitFor();
  await v.snap(`outcome-${status}`);
  const note = await env.sim.waitForNotification(ares.threeDSServerTransID);
  assert.deepEqual(note.problems, [], 'the merchant found nothing wrong with the CRes post');
  assert.equal(note.session_data_matches, true);
  assert.equal(note.cres.transStatus, status);
  assert.equal(note.cres.acsTransID, ares.acsTransID);
  const rreq = await env.sim.waitForRreq(ares.acsTransID);
  assert.equal(rreq.messageType, 'RReq');
  assert.equal(rreq.transStatus, status);
  return rreq;
}

/** A holder with web banking but no phone bound (after first access, through the API). */
function userWithoutPhone() {
  return env.server.createActiveUser();
}

// Requirements: DESIGN flow 7 (frictionless), RTS art. 16 (low value).
test('acs: a 15.00 EUR purchase is frictionless: ARes Y with ECI 05', async () => {
  const { server, sim } = env;
  const user = await userWithoutPhone();
  const pan = PANS.frictionless;
  await server.createCard({ pan, holder: user.user_code, phone: user.phone });
  const r = await sim.purchase(server, { pan, amount_minor: 1500, currency: 978, exponent: 2, merchant_name: 'Bar Centrale' });
  assert.deepEqual(r.problems, []);
  assert.equal(r.response.messageType, 'ARes');
  assert.equal(r.response.transStatus, 'Y');
  assert.equal(r.response.eci, '05', 'Visa: authenticated');
  assert.ok(r.response.authenticationValue, 'a CAVV');
  assert.equal(r.response.acsURL, undefined, 'no challenge');
  assert.equal(r.checkout_url, null);
});

// Requirements: DESIGN flow 7 (app), P3, P5 (the phone shows merchant and amount), P10.
test('acs: a 50.00 EUR challenge approved in the app; the iframe moves on by itself and posts the CRes', async () => {
  const { server, browser, sim } = env;
  const { user, phone, pin } = await server.createUserWithPhone({ alias: 'Giulia.Neri' });
  const pan = PANS.approved;
  await server.createCard({ pan, holder: user.user_code, phone: user.phone });
  const { ares, checkoutUrl } = await challengePurchase({ pan, amount_minor: 5000, merchant_name: 'Negozio Demo', window_size: '04' });
  assert.equal(ares.acsURL, `${server.url}/3ds/v2/challenge`);

  await withPage(browser, server, 'acs-app-approved', async (v) => {
    const pages = recordPages(v);
    const acs = await openChallenge(v, checkoutUrl);
    assert.equal(await acs.locator('#acs-heading').innerText(), ACS.it.heading);
    assert.deepEqual(await shown(acs), { merchant: 'Negozio Demo', amount: '50.00 EUR', card: 'Visa •••• 1111' });
    assert.equal((await acs.locator('#use-app').innerText()).trim(), ACS.it.app);
    assert.equal(await acs.locator('#sms-section').count(), 0, 'no Key6 set: no SMS + Key6 section');
    assert.equal((await acs.locator('#cancel').innerText()).trim(), ACS.it.cancel);
    assert.equal(await v.page.getAttribute('#outcome', 'data-trans-status'), '');
    // The challenge runs without cookies (a third-party iframe may get none).
    assert.deepEqual((await v.context.cookies(server.url)), [], 'sigillo set no cookie');

    await acs.locator('#use-app').click();
    await acs.locator('#wait[data-state="waiting"]').waitFor();
    await v.snap('waiting');
    assert.equal((await acs.locator('#wait').innerText()).trim(), ACS.it.waiting);

    // The phone: the purchase, from the bytes it signs.
    const op = await phone.pendingOne('card_purchase');
    const fields = Object.fromEntries(op.fields);
    assert.equal(fields.merchant, 'Negozio Demo');
    assert.equal(fields.amount, '50.00');
    assert.equal(fields.currency, 'EUR');
    assert.match(fields.card, /•••• 1111$/);
    assert.ok(!JSON.stringify(op).includes(pan), 'the phone gets no full PAN');

    // Nobody touches the page: the event stream takes it on, the CRes goes to the merchant.
    const cres = await holdCres(v, pages);
    assert.deepEqual(await phone.ok('approve', op.id, '--pin', pin), { approved: op.id });
    assert.equal(await cres.arrived, 'POST', 'the end page posts the CRes by itself');
    await v.snap('acs-result');
    await cres.release();
    const rreq = await expectOutcome(v, ares, 'Y');
    await endPageSays(pages, ACS.it.doneOk);
    assert.equal(rreq.eci, '05');
    assert.ok(rreq.authenticationValue, 'the RReq carries the CAVV');
    assert.equal(rreq.challengeCancel, undefined);
    assert.deepEqual((await v.context.cookies(server.url)), [], 'still no cookie');
    await pages.assertNoPan(pan);
  });
});

// Requirements: DESIGN flow 7 (cancel), EMV 3DS challengeCancel 01.
test('acs: "Annulla l\'acquisto" ends the challenge with N and challengeCancel 01', async () => {
  const { server, browser } = env;
  const { user } = await server.createUserWithPhone({ alias: 'Marco.Galli' });
  const pan = PANS.cancel;
  await server.createCard({ pan, holder: user.user_code, phone: user.phone });
  const { ares, checkoutUrl } = await challengePurchase({ pan, amount_minor: 12_990, merchant_name: 'Elettronica Rapida' });

  await withPage(browser, server, 'acs-cancel', async (v) => {
    const pages = recordPages(v);
    const acs = await openChallenge(v, checkoutUrl);
    assert.deepEqual(await shown(acs), { merchant: 'Elettronica Rapida', amount: '129.90 EUR', card: 'Visa •••• 3003' });
    const cres = await holdCres(v, pages);
    await acs.locator('#cancel').click();
    await cres.arrived;
    await v.snap('acs-result');
    await cres.release();
    const rreq = await expectOutcome(v, ares, 'N');
    await endPageSays(pages, ACS.it.doneFailed);
    assert.equal(rreq.challengeCancel, '01');
    assert.equal(rreq.authenticationValue, undefined);
    await pages.assertNoPan(pan);
  });
});

// Requirements: DESIGN flow 7 (methods the holder has), EMV 3DS transStatusReason 13.
test('acs: no phone and no Key6 gives U; a holder with only the app sees no SMS section (in English)', async () => {
  const { server, browser, sim } = env;

  // Nothing to challenge with: U, reason 13, no challenge to open.
  const nobody = await userWithoutPhone();
  const lonePan = PANS.nothing;
  await server.createCard({ pan: lonePan, holder: nobody.user_code, phone: nobody.phone });
  const u = await sim.purchase(server, { pan: lonePan, amount_minor: 5000, currency: 978, exponent: 2, merchant_name: 'Negozio Demo' });
  assert.deepEqual(u.problems, []);
  assert.equal(u.response.transStatus, 'U');
  assert.equal(u.response.transStatusReason, '13');
  assert.equal(u.response.acsURL, undefined);
  assert.equal(u.checkout_url, null);

  // The app only: the page offers it, and no SMS + Key6. (Window 03, 500×600: a
  // full-page window, 05, works too but its out-of-process iframe comes out blank in
  // full-page screenshots, which resize the viewport.)
  const { user } = await server.createUserWithPhone({ alias: 'Anna.White' });
  const pan = PANS.appOnly;
  await server.createCard({ pan, holder: user.user_code, phone: user.phone });
  const { ares, checkoutUrl } = await challengePurchase({ pan, amount_minor: 7500, merchant_name: 'Book Corner', window_size: '03' });
  await withPage(browser, server, 'acs-app-only-en', { locale: 'en-GB' }, async (v) => {
    const pages = recordPages(v);
    const acs = await openChallenge(v, checkoutUrl);
    assert.equal(await acs.locator('#acs-heading').innerText(), ACS.en.heading);
    assert.deepEqual(await shown(acs), { merchant: 'Book Corner', amount: '75.00 EUR', card: 'Visa •••• 5005' });
    assert.equal((await acs.locator('#use-app').innerText()).trim(), ACS.en.app);
    assert.equal(await acs.locator('#sms-section').count(), 0);
    assert.equal(await acs.locator('#send-sms').count(), 0);
    assert.equal(await acs.locator('#verify-form').count(), 0);
    assert.equal((await acs.locator('#cancel').innerText()).trim(), ACS.en.cancel);
    await acs.locator('#cancel').click();
    await expectOutcome(v, ares, 'N');
    await pages.assertNoPan(pan);
  });
});

// Requirements: DESIGN flow 7 (SMS OTP + Key6), P9 (one message for either wrong code),
// P5 (the SMS names merchant and amount).
// Needs `PUT /api/v1/cards/{id}/key6` (being written on another branch): skipped, with a
// message, while that endpoint answers 404 or 405.
test('acs: SMS OTP + Key6: a wrong Key6 reads like a wrong OTP, the right pair gives Y', async (t) => {
  const { server, browser } = env;
  const user = await userWithoutPhone();
  const cardPhone = server.newIdentity().phone;
  const pan = PANS.smsKey6;
  const card = await server.createCard({ pan, holder: user.user_code, phone: cardPhone });
  const key6 = '739152';
  const token = await server.apiLogin(user);
  const set = await server.api('PUT', `/api/v1/cards/${card.card_id}/key6`, { key6 }, token);
  const noRoute = set.status === 405 || (set.status === 404 && !set.json?.error);
  if (noRoute) {
    t.skip(`PUT /api/v1/cards/{id}/key6 answers ${set.status}: enable when the Key6 API lands`);
    return;
  }
  assert.ok(set.status >= 200 && set.status < 300, `Key6 set: ${set.status} ${JSON.stringify(set.json)}`);
  await server.api('POST', '/api/v1/logout', undefined, token);

  const { ares, checkoutUrl } = await challengePurchase({ pan, amount_minor: 7000, merchant_name: 'Libreria Centrale' });
  await withPage(browser, server, 'acs-sms-key6', async (v) => {
    const pages = recordPages(v);
    const acs = await openChallenge(v, checkoutUrl);
    assert.equal(await acs.locator('#use-app').count(), 0, 'no phone bound: no app method');
    assert.equal((await acs.locator('#send-sms').innerText()).trim(), ACS.it.sms);

    const since = await server.mark();
    await acsClick(v, '#send-sms', 'sms-sent');
    assert.equal(await acs.locator('#verify-form').count(), 1);
    assert.match(await acs.locator('#otp-sent').innerText(), new RegExp(`^${ACS.it.smsSent}`));
    const sms = await server.waitForMessage((m) => m.channel === 'sms' && m.to === cardPhone, { since });
    assert.match(sms.text, /Libreria Centrale/);
    assert.match(sms.text, /70\.00 EUR/);
    assert.match(sms.text, /6006/);
    assert.ok(!sms.text.includes(pan), 'the SMS has no full PAN');
    assert.deepEqual((await server.newMessages(since)).filter((m) => m.to === user.phone), [], 'nothing to the certified phone');
    const otp = sms.text.match(/\b(\d{6})\b/)[1];

    const attempt = async (code, k6, label) => {
      await acs.locator('#otp').fill(code);
      await acs.locator('#key6').fill(k6);
      await acsClick(v, '#confirm', label);
      return (await acs.locator('#error').innerText()).trim();
    };
    const wrongOtp = await attempt(String((Number(otp) + 1) % 1_000_000).padStart(6, '0'), key6, 'wrong-otp');
    const wrongKey6 = await attempt(otp, '846203', 'wrong-key6');
    assert.equal(wrongOtp, ACS.it.wrongCodes);
    assert.equal(wrongKey6, wrongOtp, 'the same message whichever code was wrong (P9)');

    await acs.locator('#otp').fill(otp);
    await acs.locator('#key6').fill(key6);
    await acs.locator('#confirm').click();
    await expectOutcome(v, ares, 'Y');
    await pages.assertNoPan(pan);
  });
});

// Requirements: P10 (no full PAN in any log or message), on top of the per-page checks above.
test('acs: the full PANs are in no SMS, no email and no server log line', async () => {
  const { server } = env;
  const outbox = JSON.stringify(await server.outbox());
  const log = server.logText();
  assert.ok(log.length > 0, 'the server logged something');
  for (const pan of Object.values(PANS)) {
    assert.ok(!outbox.includes(pan), 'no PAN in the outbox');
    assert.ok(!log.includes(pan), 'no PAN in the server log');
  }
});
