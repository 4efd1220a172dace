// P2: five wrong passwords lock the password; then even the right one fails with the
// same message, the customer is alerted by SMS and email, and recovery unlocks.

import test from 'node:test';
import assert from 'node:assert/strict';
import { IT, setup, withPage } from '../harness.js';

const env = setup(test, 'lockout');

// Requirements: R10, R11, R12, P2.
test('lockout after 5 wrong passwords, alerts, then recovery unlocks', async () => {
  const { server, browser } = env;
  const user = await server.createActiveUser({ alias: 'Paolo.Gialli' });
  const wrong = ['90817263', '62738190', '81726354', '27384950', '93847561'];

  await withPage(browser, server, 'lockout', async (v) => {
    const since = await server.mark();
    for (const [i, pw] of wrong.entries()) {
      const r = await v.loginForm(i % 2 ? user.alias : user.user_code, pw);
      assert.equal(r.status(), 401, `wrong password ${i + 1}`);
      assert.equal(await v.text('#error'), IT.authFailed);
    }

    // The customer is alerted, by SMS and by email.
    const sms = await server.waitForMessage(
      (m) => m.channel === 'sms' && m.to === user.phone && /troppi tentativi/i.test(m.text),
      { since },
    );
    assert.match(sms.text, /password/);
    const mail = await server.waitForMessage(
      (m) => m.channel === 'email' && m.to === user.email && /troppi tentativi/i.test(`${m.subject} ${m.text}`),
      { since },
    );
    assert.ok(mail.subject, 'the alert email has a subject');

    // The sixth attempt, with the RIGHT password: the very same refusal, and no SMS code.
    const afterAlerts = await server.mark();
    const sixth = await v.loginForm(user.user_code, user.password);
    assert.equal(sixth.status(), 401);
    assert.equal(v.path(), '/login');
    assert.equal(await v.text('#error'), IT.authFailed);
    await v.snap('locked');
    assert.deepEqual(await server.newMessages(afterAlerts), [], 'a locked password starts no login');

    // Recovery with the envelope's security code unlocks.
    await v.click('#forgot');
    assert.equal(v.path(), '/recovery');
    const before = await server.mark();
    await v.page.fill('#username', user.alias);
    await v.page.fill('#security_code', user.security_code);
    await v.submit('#recovery-form');
    assert.equal(v.path(), '/recovery/complete');
    const code = await server.smsCode(user.phone, before, 'recuperare');
    const newPassword = '46192837';
    await v.page.fill('#code', code);
    await v.page.fill('#new_password', newPassword);
    await v.page.fill('#confirm_password', newPassword);
    await v.submit('#recovery-complete-form', 'unlocked');
    assert.equal(await v.text('#message'), IT.recoveryDone);

    // Login works again.
    await v.click('#message-link');
    await v.login(user, user.user_code, newPassword);
    assert.equal(v.path(), '/');
    assert.equal(await v.text('#user-code'), user.user_code);
  });
});
