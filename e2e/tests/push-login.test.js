// DESIGN flow 3 with the app: user code + password on the web, then the login pushed to
// the bound phone with number matching. The page shows the number, waits on server-sent
// events and moves on by itself when the phone answers; a wrong number and a "non sono
// io" are refused; the app's login OTP is the fallback. The phone is `sigillo-device`.

import test from 'node:test';
import assert from 'node:assert/strict';
import { EN, IT, setup, withPage } from '../harness.js';

const env = setup(test, 'push-login');

/** The texts of the waiting page (locales/it.toml, en.toml). */
const PUSH = {
  it: {
    title: "Autorizza l'accesso dal telefono",
    intro: "Ti abbiamo inviato una notifica push sul tuo smartphone: apri la notifica e autorizza l'accesso con lo Smart PIN o con la biometria.",
    match: 'Sul telefono scegli il numero',
    fallback: 'Non hai ricevuto la notifica?',
    approved: 'Ho approvato',
    sms: 'Ricevi invece un codice via SMS',
    rejected: "L'accesso è stato rifiutato dal telefono. Se non sei stato tu, cambia subito la password e contatta la banca.",
    wrongNumber: 'Sul telefono è stato scelto un numero diverso da quello mostrato: per sicurezza l\'accesso è stato rifiutato. Se non stavi accedendo tu, cambia subito la password.',
  },
  en: {
    title: 'Approve the sign-in on your phone',
    intro: 'We have sent a push notification to your smartphone: open it and approve the sign-in with your Smart PIN or biometrics.',
    match: 'On your phone, choose the number',
    fallback: "Didn't get the notification?",
    approved: 'I have approved',
    sms: 'Get a code by SMS instead',
  },
};

/** Counts the browser's requests to each path of the login, to tell a page that moved
 *  on by itself over its event stream from one that reloads in a loop. */
function countRequests(v) {
  const counts = {};
  v.page.on('request', (req) => {
    const path = new URL(req.url()).pathname;
    counts[path] = (counts[path] ?? 0) + 1;
  });
  return counts;
}

// Requirements: DESIGN flow 3, P3 (number matching), P10 (no polling; the handle in no URL).
test('push login: the page shows the number, the phone approves with it, the page moves on by itself', async () => {
  const { server, browser } = env;
  const { user, phone, pin } = await server.createUserWithPhone({ alias: 'Paola.Rossi' });

  await withPage(browser, server, 'push-login-approved', async (v) => {
    const since = await server.mark();
    const number = await v.loginToPush(user);
    assert.equal(await v.h1(), PUSH.it.title);
    assert.equal(await v.text('#push-intro'), PUSH.it.intro);
    assert.equal(await v.text('#match-label'), PUSH.it.match);
    assert.equal(await v.text('#approved'), PUSH.it.approved);
    assert.equal(await v.text('#fallback-summary'), PUSH.it.fallback);
    // The flow handle is in an HttpOnly cookie, never in the page's address or links.
    const flow = (await v.context.cookies()).find((c) => c.name === 'sg_flow');
    assert.ok(flow && flow.httpOnly, 'the flow is an HttpOnly cookie');
    assert.ok(!v.page.url().includes(flow.value));
    assert.ok(!(await v.page.content()).includes(flow.value), 'the handle is not in the page');
    // A pushed login sends no SMS by itself.
    assert.deepEqual((await server.newMessages(since)).filter((m) => m.channel === 'sms'), []);

    // The phone shows the login with three numbers, one of them the page's.
    const op = await phone.pendingOne('login');
    assert.equal(op.numbers.length, 3);
    assert.ok(op.numbers.includes(number), `${number} is among ${op.numbers}`);
    await v.page.waitForSelector('#wait[data-state="waiting"]');

    const counts = countRequests(v);
    const home = v.page.waitForURL((u) => new URL(u).pathname === '/');
    assert.deepEqual(await phone.ok('approve', op.id, '--pin', pin, '--match', number), { approved: op.id });
    await home;
    await v.snap('home-after-push');
    assert.equal(await v.h1(), `${IT.welcome}, ${user.alias}`);
    assert.ok((await v.context.cookies()).some((c) => c.name === 'sg_session'), 'a session cookie');
    // It got there by itself: one navigation to /login/complete, no reload of the
    // waiting page, no second event stream, and nobody pressed "Ho approvato".
    assert.equal(counts['/login/complete'], 1, JSON.stringify(counts));
    assert.equal(counts['/login/push'] ?? 0, 0, JSON.stringify(counts));
    assert.equal(counts['/login/events'] ?? 0, 0, JSON.stringify(counts));
    assert.equal(counts['/'], 1, JSON.stringify(counts));
    assert.deepEqual(await phone.ok('pending'), [], 'nothing left to approve');

    // The flow is spent: the completion page gives no second session (signed in, it
    // leads home with the same session).
    const session = (await v.context.cookies()).find((c) => c.name === 'sg_session');
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_flow'), 'the flow cookie is gone');
    await v.goto('/login/complete', 'complete-again');
    assert.equal(v.path(), '/');
    assert.equal((await v.context.cookies()).find((c) => c.name === 'sg_session').value, session.value);
  });
});

// Requirements: DESIGN flow 3, P3 (number matching).
test('push login: the phone picks another number, the page says the login was refused', async () => {
  const { server, browser } = env;
  const { user, phone, pin } = await server.createUserWithPhone({ alias: 'Marta.Gialli' });

  await withPage(browser, server, 'push-login-wrong-number', async (v) => {
    const number = await v.loginToPush(user);
    const op = await phone.pendingOne('login');
    const other = op.numbers.find((n) => n !== number);
    await v.page.waitForSelector('#wait[data-state="waiting"]');
    const refused = v.page.waitForURL((u) => new URL(u).pathname === '/login/complete');
    const answer = await phone.fails('approve', op.id, '--pin', pin, '--match', other);
    assert.equal(answer.error, 'wrong_number', JSON.stringify(answer));
    await refused;
    await v.page.waitForSelector('#message');
    await v.snap('refused');
    assert.equal(await v.text('#message'), PUSH.it.wrongNumber);
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_session'), 'no session');
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_flow'), 'the flow cookie is gone');

    // The right number afterwards changes nothing: the login is over.
    const late = await phone.run('approve', op.id, '--pin', pin, '--match', number);
    assert.notEqual(late.code, 0, 'the refused login cannot be approved any more');
    await v.click('#message-link', 'back-to-login');
    assert.equal(v.path(), '/login');
  });
});

// Requirements: DESIGN flow 3 ("non sono io").
test('push login: the phone rejects ("non sono io"), the page says so', async () => {
  const { server, browser } = env;
  const { user, phone } = await server.createUserWithPhone({ alias: 'Dario.Neri' });

  await withPage(browser, server, 'push-login-rejected', async (v) => {
    await v.loginToPush(user);
    const op = await phone.pendingOne('login');
    await v.page.waitForSelector('#wait[data-state="waiting"]');
    const refused = v.page.waitForURL((u) => new URL(u).pathname === '/login/complete');
    assert.deepEqual(await phone.ok('reject', op.id), { rejected: op.id });
    await refused;
    await v.page.waitForSelector('#message');
    await v.snap('rejected');
    assert.equal(await v.text('#message'), PUSH.it.rejected);
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_session'), 'no session');
    await v.goto('/', 'home-after-reject');
    assert.equal(v.path(), '/login');
  });
});

// Requirements: DESIGN flow 3 (fallback: "Genera OTP → OTP login"), P4, P8.
test('push login: "Non hai ricevuto la notifica?" and the app\'s login OTP, a wrong one first', async () => {
  const { server, browser } = env;
  const { user, phone, pin } = await server.createUserWithPhone({ alias: 'Sara.Blu' });

  await withPage(browser, server, 'push-login-otp', async (v) => {
    await v.loginToPush(user);
    assert.equal(await v.page.locator('#login-otp').isVisible(), false, 'the fallback starts closed');
    await v.page.click('#fallback-summary');
    await v.snap('fallback-open');
    assert.equal(await v.text('#send-sms'), PUSH.it.sms);

    const { code } = await phone.ok('otp', 'login', '--pin', pin);
    assert.match(code, /^\d{6}$/);
    // A code the phone did not make: the uniform refusal, still on the waiting page,
    // the fallback open.
    const wrong = String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
    await v.page.fill('#login-otp', wrong);
    const bad = await v.submit('#login-otp-form', 'login-otp-wrong');
    assert.equal(bad.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);
    assert.equal(await v.page.locator('#login-otp').isVisible(), true, 'the fallback stays open');
    assert.ok(await v.page.locator('#match-number').isVisible(), 'the number is still shown');

    await v.page.fill('#login-otp', code);
    const home = await v.submit('#login-otp-form', 'home-after-login-otp');
    assert.equal(home.status(), 200);
    assert.equal(v.path(), '/');
    assert.equal(await v.h1(), `${IT.welcome}, ${user.alias}`);
    // The pushed login left the phone's list when the code approved it.
    assert.deepEqual(await phone.ok('pending'), []);
  });
});

// Requirements: DESIGN flow 3 (SMS for customers who ask for it).
test('push login: "Ricevi invece un codice via SMS" leads to the SMS page', async () => {
  const { server, browser } = env;
  const { user } = await server.createUserWithPhone({ alias: 'Ugo.Viola' });

  await withPage(browser, server, 'push-login-sms', async (v) => {
    await v.loginToPush(user);
    await v.page.click('#fallback-summary');
    const since = await server.mark();
    await v.click('#send-sms', 'sms-page');
    assert.equal(v.path(), '/login/otp');
    const code = await server.smsCode(user.phone, since, 'accedere');
    await v.page.fill('#code', code);
    await v.submit('#otp-form');
    assert.equal(v.path(), '/');
  });
});

// Requirements: DESIGN "Who uses it" (Italian first, English second).
test('push login: the waiting page in Italian and in English', async () => {
  const { server, browser } = env;
  const { user, phone } = await server.createUserWithPhone();

  for (const lang of ['it', 'en']) {
    const opts = lang === 'en' ? { locale: 'en-GB' } : {};
    await withPage(browser, server, `push-login-language-${lang}`, opts, async (v) => {
      await v.loginToPush(user);
      const texts = PUSH[lang];
      assert.equal(await v.page.getAttribute('html', 'lang'), lang);
      assert.equal(await v.h1(), texts.title);
      assert.equal(await v.text('#push-intro'), texts.intro);
      assert.equal(await v.text('#match-label'), texts.match);
      assert.equal(await v.text('#fallback-summary'), texts.fallback);
      assert.equal(await v.text('#approved'), texts.approved);
      assert.equal(await v.text('#lang-switch'), lang === 'en' ? EN.switchLanguage : IT.switchLanguage);
      // Leave the phone with nothing pending for the next language.
      const op = await phone.pendingOne('login');
      await phone.ok('reject', op.id);
    });
  }
});
