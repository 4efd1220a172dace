// Web login (DESIGN flow 3, SMS fallback): user code or alias + password, SMS code,
// session, logout; and failures that must not say what was wrong (P9).

import test from 'node:test';
import assert from 'node:assert/strict';
import { IT, setup, withPage, wrongCode } from '../harness.js';

const env = setup(test, 'login');

test('login with the alias in another case, a wrong SMS code first, then logout', async () => {
  const { server, browser } = env;
  const user = await server.createActiveUser({ alias: 'Giulia.Bianchi' });

  await withPage(browser, server, 'login-logout', async (v) => {
    // Not signed in: the home page sends to the login page.
    await v.goto('/', 'home-anonymous');
    assert.equal(v.path(), '/login');

    // The alias, typed in lower case, and the password.
    const since = await server.mark();
    await v.page.fill('#username', user.alias.toLowerCase());
    await v.page.fill('#password', user.password);
    await v.submit('#login-form');
    assert.equal(v.path(), '/login/otp');
    const code = await server.smsCode(user.phone, since, 'accedere');

    // A wrong code: the uniform error, still on the SMS code page, no session.
    const bad = await v.page.fill('#code', wrongCode(code)).then(() => v.submit('#otp-form', 'otp-wrong'));
    assert.equal(bad.status(), 401);
    assert.equal(v.path(), '/login/otp');
    assert.equal(await v.text('#error'), IT.authFailed);
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_session'), 'no session after a wrong code');

    // The right code still works (one wrong try is not a lock).
    await v.page.fill('#code', code);
    const home = await v.submit('#otp-form');
    assert.equal(home.status(), 200);
    assert.equal(v.path(), '/');
    assert.equal(await v.h1(), `${IT.welcome}, ${user.alias}`);
    assert.equal(await v.text('#user-code'), user.user_code);
    assert.equal(await v.text('#alias'), user.alias);
    const session = (await v.context.cookies()).find((c) => c.name === 'sg_session');
    assert.ok(session, 'a session cookie');

    // Signed in, the login page sends home.
    await v.goto('/login', 'login-when-signed-in');
    assert.equal(v.path(), '/');

    // Logout: back on the login page, and / sends there again.
    await v.click('#logout', 'after-logout');
    assert.equal(v.path(), '/login');
    assert.equal(await v.h1(), IT.loginTitle);
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_session'), 'the session cookie is gone');
    await v.goto('/', 'home-after-logout');
    assert.equal(v.path(), '/login');

    // The old session token is dead on the server too, not only forgotten by the browser.
    await v.context.addCookies([session]);
    await v.goto('/', 'home-with-old-cookie');
    assert.equal(v.path(), '/login', 'a logged-out session cannot be replayed');
    await v.goto('/password', 'password-with-old-cookie');
    assert.equal(v.path(), '/login');
  });
});

// Requirements: R9, R22, P9.
test('a wrong password and an unknown user get the very same answer', async () => {
  const { server, browser } = env;
  const user = await server.createActiveUser({ alias: 'Anna.Neri' });

  await withPage(browser, server, 'login-uniform-error', async (v) => {
    const since = await server.mark();

    const wrongPw = await v.loginForm(user.user_code, '90817263');
    assert.equal(wrongPw.status(), 401);
    assert.equal(v.path(), '/login');
    const wrongPwError = await v.text('#error');
    const wrongPwMain = await v.text('main');
    assert.equal(await v.page.inputValue('#password'), '', 'the password is not echoed back');

    const unknown = await v.loginForm('nessuno.qui', '90817263');
    assert.equal(unknown.status(), 401);
    assert.equal(v.path(), '/login');
    const unknownError = await v.text('#error');

    const unknownCode = await v.loginForm('12345678', '90817263');
    assert.equal(unknownCode.status(), 401);
    const unknownCodeError = await v.text('#error');

    // The same words, and the same page around them (P9).
    assert.equal(wrongPwError, IT.authFailed);
    assert.equal(unknownError, wrongPwError, 'unknown user and wrong password: identical text');
    assert.equal(unknownCodeError, wrongPwError);
    assert.equal(await v.text('main'), wrongPwMain, 'the whole page reads the same');

    // The alias with a wrong password, too.
    await v.loginForm(user.alias.toUpperCase(), '90817263');
    assert.equal(await v.text('#error'), IT.authFailed);

    // No SMS went out for any of these.
    assert.deepEqual(await server.newMessages(since), [], 'failed logins send no SMS code');
  });
});
