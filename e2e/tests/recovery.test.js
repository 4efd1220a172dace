// DESIGN flow 6, recovery: the envelope's security code and an SMS code give a new
// password; the old one stops working.

import test from 'node:test';
import assert from 'node:assert/strict';
import { IT, openPage, setup, withPage, wrongCode } from '../harness.js';

const env = setup(test, 'recovery');

/** The security code as a customer might type it from the envelope: lower case, in
 *  groups of five joined by dashes. */
function typedLikeACustomer(code) {
  return code.replace(/-/g, '').toLowerCase().match(/.{1,5}/g).join('-');
}

// Requirements: R46.
test('recovery: forgotten password → security code → SMS code + new password → login', async () => {
  const { server, browser } = env;
  const user = await server.createActiveUser();
  const newPassword = '74920385';

  // Somewhere else, the customer (or someone with the password) is signed in.
  const elsewhere = await openPage(browser, server, 'recovery-other-session');
  await elsewhere.login(user);
  assert.equal(elsewhere.path(), '/');

  await withPage(browser, server, 'recovery', async (v) => {
    await v.goto('/login');
    await v.click('#forgot');
    assert.equal(v.path(), '/recovery');
    assert.equal(await v.h1(), IT.recoveryTitle);

    // A wrong security code: the uniform error, nothing sent.
    let since = await server.mark();
    await v.page.fill('#username', user.user_code);
    await v.page.fill('#security_code', 'ABCDE-FGHJK-MNPQR-STUVW');
    const bad = await v.submit('#recovery-form', 'recovery-wrong-code');
    assert.equal(bad.status(), 401);
    assert.equal(v.path(), '/recovery');
    assert.equal(await v.text('#error'), IT.authFailed);
    assert.deepEqual(await server.newMessages(since), []);

    // The envelope's code, typed in lower case with dashes.
    const typed = typedLikeACustomer(user.security_code);
    assert.match(typed, /^[0-9a-z]{5}(-[0-9a-z]{5}){3}$/);
    await v.page.fill('#username', user.user_code);
    await v.page.fill('#security_code', typed);
    await v.submit('#recovery-form');
    assert.equal(v.path(), '/recovery/complete');
    const code = await server.smsCode(user.phone, since, 'recuperare');

    // A new password that does not match its confirmation: refused, the code not spent.
    await v.page.fill('#code', code);
    await v.page.fill('#new_password', newPassword);
    await v.page.fill('#confirm_password', '74920358');
    const mismatch = await v.submit('#recovery-complete-form', 'recovery-mismatch');
    assert.equal(mismatch.status(), 422);
    assert.equal(await v.text('#error'), IT.passwordMismatch);

    // A wrong SMS code: refused.
    await v.page.fill('#code', wrongCode(code));
    await v.page.fill('#new_password', newPassword);
    await v.page.fill('#confirm_password', newPassword);
    const wrong = await v.submit('#recovery-complete-form', 'recovery-wrong-sms');
    assert.equal(wrong.status(), 401);
    assert.equal(await v.text('#error'), IT.authFailed);

    // The right one: done, and the customer is told by SMS.
    since = await server.mark();
    await v.page.fill('#code', code);
    await v.page.fill('#new_password', newPassword);
    await v.page.fill('#confirm_password', newPassword);
    const ok = await v.submit('#recovery-complete-form', 'recovery-done');
    assert.equal(ok.status(), 200);
    assert.equal(await v.text('#message'), IT.recoveryDone);
    await server.waitForMessage((m) => m.channel === 'sms' && m.to === user.phone && /password.*cambiata/.test(m.text), { since });

    // Recovery ended every session the user had.
    await elsewhere.goto('/', 'home-after-recovery');
    assert.equal(elsewhere.path(), '/login', 'the other session is over');
    await elsewhere.close();

    // Back to login with the new password: it works.
    await v.click('#message-link');
    assert.equal(v.path(), '/login');
    await v.login(user, user.user_code, newPassword);
    assert.equal(v.path(), '/');
    assert.equal(await v.text('#user-code'), user.user_code);
    await v.click('#logout');
    assert.equal(v.path(), '/login');

    // The old password does not.
    since = await server.mark();
    const old = await v.loginForm(user.user_code, user.password);
    assert.equal(old.status(), 401);
    assert.equal(v.path(), '/login');
    assert.equal(await v.text('#error'), IT.authFailed);
    assert.deepEqual(await server.newMessages(since), [], 'no SMS code for the old password');
  });
});
