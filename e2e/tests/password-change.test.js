// Changing the password from the home page: the current password and an SMS code.

import test from 'node:test';
import assert from 'node:assert/strict';
import { IT, setup, withPage } from '../harness.js';

const env = setup(test, 'password-change');

test('password change: SMS code, current + new password, notice, alert SMS, new password works', async () => {
  const { server, browser } = env;
  const user = await server.createActiveUser({ alias: 'Elena.Rosa' });
  const newPassword = '39571846';

  await withPage(browser, server, 'password-change', async (v) => {
    await v.login(user);
    assert.equal(v.path(), '/');

    await v.click('#change-password');
    assert.equal(v.path(), '/password');
    assert.equal(await v.page.locator('#password-form').count(), 0, 'the form appears once a code was sent');

    // Without a code nothing can be submitted; ask for one.
    let since = await server.mark();
    const sent = await v.click('#send-code', 'code-sent');
    assert.equal(sent.status(), 200);
    assert.equal(v.path(), '/password', 'post/redirect/get: a reload sends no second SMS');
    assert.equal(await v.text('#notice'), IT.otpSent);
    const code = await server.smsCode(user.phone, since, 'cambiare la password');
    assert.equal(await v.page.locator('#password-form').count(), 1);

    // A wrong current password: the uniform error, the password unchanged.
    await v.page.fill('#current_password', '90817263');
    await v.page.fill('#new_password', newPassword);
    await v.page.fill('#confirm_password', newPassword);
    await v.page.fill('#code', code);
    const bad = await v.submit('#password-form', 'wrong-current');
    assert.equal(bad.status(), 401);
    assert.equal(v.path(), '/password');
    assert.equal(await v.text('#error'), IT.authFailed);

    // A confirmation that does not match.
    await v.page.fill('#current_password', user.password);
    await v.page.fill('#new_password', newPassword);
    await v.page.fill('#confirm_password', '39571864');
    await v.page.fill('#code', code);
    const mismatch = await v.submit('#password-form', 'mismatch');
    assert.equal(mismatch.status(), 422);
    assert.equal(await v.text('#error'), IT.passwordMismatch);

    // Everything right.
    since = await server.mark();
    await v.page.fill('#current_password', user.password);
    await v.page.fill('#new_password', newPassword);
    await v.page.fill('#confirm_password', newPassword);
    await v.page.fill('#code', code);
    const ok = await v.submit('#password-form', 'changed');
    assert.equal(ok.status(), 200);
    assert.equal(v.path(), '/');
    assert.equal(await v.text('#notice'), IT.passwordChanged);

    // The customer is told by SMS (and by email).
    const sms = await server.waitForMessage(
      (m) => m.channel === 'sms' && m.to === user.phone && /password.*cambiata/i.test(m.text),
      { since },
    );
    assert.ok(!/\b\d{6}\b/.test(sms.text), 'the alert carries no code');
    await server.waitForMessage(
      (m) => m.channel === 'email' && m.to === user.email && /Password cambiata/.test(m.subject ?? ''),
      { since },
    );

    // The new password signs in; the old one does not.
    await v.click('#logout');
    since = await server.mark();
    const old = await v.loginForm(user.user_code, user.password);
    assert.equal(old.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);
    assert.deepEqual(await server.newMessages(since), []);
    await v.login(user, user.alias, newPassword);
    assert.equal(v.path(), '/');
    assert.equal(await v.text('#user-code'), user.user_code);
  });
});
