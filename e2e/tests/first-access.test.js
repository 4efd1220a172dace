// DESIGN flow 1, first access: the envelope's user code and initial password, the SMS
// code, a new password and alias, then the email validation link and the confirmation.

import test from 'node:test';
import assert from 'node:assert/strict';
import { IT, setup, withPage } from '../harness.js';

const env = setup(test, 'first-access');

// Requirements: R43, R44.
test('first access: envelope login, SMS code, new password and alias, email validation', async () => {
  const { server, browser } = env;
  const user = await server.createUser();
  const alias = 'Mario.Rossi';
  const newPassword = '58301649';

  await withPage(browser, server, 'first-access', async (v) => {
    // The login page, in Italian.
    const loginResp = await v.goto('/login');
    assert.equal(loginResp.status(), 200);
    assert.equal(await v.h1(), IT.loginTitle);

    // User code + initial password → the SMS code page; the SMS went to the certified phone.
    let since = await server.mark();
    await v.page.fill('#username', user.user_code);
    await v.page.fill('#password', user.initial_password);
    await v.submit('#login-form');
    assert.equal(v.path(), '/login/otp');
    const code = await server.smsCode(user.phone, since, 'accedere');

    // The SMS code → first access (the session can do nothing else yet).
    await v.page.fill('#code', code);
    await v.submit('#otp-form');
    assert.equal(v.path(), '/first-access');
    assert.equal(await v.h1(), IT.firstAccessTitle);
    await v.goto('/', 'home-before-first-access');
    assert.equal(v.path(), '/first-access', 'a session with the initial password is sent back to first access');

    // New password + confirm + alias.
    since = await server.mark();
    await v.page.fill('#current_password', user.initial_password);
    await v.page.fill('#new_password', newPassword);
    await v.page.fill('#confirm_password', newPassword);
    await v.page.fill('#alias', alias);
    const done = await v.submit('#first-access-form');
    assert.equal(done.status(), 200);
    assert.equal(v.path(), '/');
    assert.equal(await v.text('#notice'), IT.firstAccessDone);
    assert.equal(await v.h1(), `${IT.welcome}, ${alias}`);
    assert.equal(await v.text('#user-code'), user.user_code);
    assert.equal(await v.text('#alias'), alias);

    // The certified phone is shown masked: country prefix and last three digits only.
    const profile = await v.text('#profile');
    assert.ok(!profile.includes(user.phone), 'the full phone number is not on the page');
    assert.ok(!(await v.page.content()).includes(user.phone.slice(3)), 'nor in the HTML');
    const masked = `+${'•'.repeat(user.phone.length - 4)}${user.phone.slice(-3)}`;
    assert.ok(profile.includes(masked), `the masked phone ${masked} is shown: ${profile}`);
    assert.ok(profile.includes(user.email), 'the email is shown');
    assert.notEqual(await v.text('#email-status'), `(${IT.emailVerified})`, 'the email is not verified yet');

    // The email with the validation link.
    const mail = await server.waitForMessage(
      (m) => m.channel === 'email' && m.to === user.email && /\/email\/verify\?token=/.test(m.text),
      { since },
    );
    assert.match(mail.subject, /Conferma il tuo indirizzo email/);
    const link = mail.text.match(/https?:\/\/\S+\/email\/verify\?token=[A-Za-z0-9_-]+/)[0];
    assert.ok(link.startsWith(`${server.url}/email/verify?token=`), `the link points at this server: ${link}`);

    // Open it, as from a mail client: another browser, not signed in. The link opens a
    // page with a button (a GET spends nothing); the button confirms.
    since = await server.mark();
    await withPage(browser, server, 'first-access-mail-client', async (mailClient) => {
      await mailClient.goto(link, 'email-verify');
      assert.equal(mailClient.path(), '/email/verify');
      assert.deepEqual(await server.newMessages(since), [], 'opening the link spends nothing');
      const confirmed = await mailClient.submit('#email-verify-form', 'email-verified');
      assert.equal(confirmed.status(), 200);
      assert.equal(await mailClient.text('#message'), IT.emailVerifiedDone);
    });

    // The confirmation email: the access is active, with the user code and the alias.
    const confirm = await server.waitForMessage(
      (m) => m.channel === 'email' && m.to === user.email && /Il tuo accesso e' attivo/.test(m.subject ?? ''),
      { since },
    );
    assert.ok(confirm.text.includes(user.user_code), 'the confirmation names the user code');
    assert.ok(confirm.text.includes(alias), 'and the alias');

    // Home now shows the email as verified.
    await v.goto('/', 'home-email-verified');
    assert.equal(await v.text('#email-status'), `(${IT.emailVerified})`);

    // The link works once only (P8).
    since = await server.mark();
    await v.goto(link, 'email-verify-again');
    const again = await v.submit('#email-verify-form', 'email-verify-spent');
    assert.equal(again.status(), 410);
    assert.equal(await v.text('#message'), IT.flowOver);
    assert.deepEqual(await server.newMessages(since), [], 'a spent link sends nothing');
  });
});

test('first access: a confirmation that does not match is refused and nothing changes', async () => {
  const { server, browser } = env;
  const user = await server.createUser();

  await withPage(browser, server, 'first-access-mismatch', async (v) => {
    await v.login(user, user.user_code, user.initial_password);
    assert.equal(v.path(), '/first-access');

    await v.page.fill('#current_password', user.initial_password);
    await v.page.fill('#new_password', '58301649');
    await v.page.fill('#confirm_password', '58301694');
    await v.page.fill('#alias', 'Luca.Verdi');
    const resp = await v.submit('#first-access-form', 'first-access-mismatch');
    assert.equal(resp.status(), 422);
    assert.equal(v.path(), '/first-access');
    assert.equal(await v.text('#error'), IT.passwordMismatch);
    assert.equal(await v.page.inputValue('#alias'), 'Luca.Verdi', 'the alias typed is kept');
    assert.equal(await v.page.inputValue('#new_password'), '', 'passwords are never echoed back');

    // Still on first access: home sends back here, and no validation email went out.
    await v.goto('/', 'still-first-access');
    assert.equal(v.path(), '/first-access');
    const mails = (await server.outbox()).filter((m) => m.to === user.email);
    assert.deepEqual(mails, [], 'no email before the first access is complete');
    // The initial password still works (nothing was changed): the API login accepts it.
    const api = await server.api('POST', '/api/v1/login', { username: user.user_code, password: user.initial_password });
    assert.equal(api.status, 200, 'the initial password is unchanged');
  });
});
