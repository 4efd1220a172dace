// Security properties a browser can see (P10): cookie flags, headers, CSRF, and no
// secret in the server's log.

import test from 'node:test';
import assert from 'node:assert/strict';
import { IT, setup, withPage } from '../harness.js';

const env = setup(test, 'security');

// Requirements: R13, R22, P10.
test('cookies are HttpOnly and SameSite=Strict; pages carry the CSP and no-store', async () => {
  const { server, browser } = env;
  const user = await server.createActiveUser({ alias: 'Sara.Blu' });

  await withPage(browser, server, 'security-headers', async (v) => {
    const login = await v.goto('/login');
    const loginHeaders = login.headers();
    assert.match(loginHeaders['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.doesNotMatch(loginHeaders['content-security-policy'], /unsafe-inline|unsafe-eval/);
    assert.equal(loginHeaders['x-frame-options'], 'DENY');
    assert.equal(loginHeaders['x-content-type-options'], 'nosniff');
    assert.equal(loginHeaders['cache-control'], 'no-store');

    const home = await v.login(user);
    assert.equal(v.path(), '/');
    const h = home.headers();
    assert.match(h['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.match(h['cache-control'] ?? '', /no-store/, 'an authenticated page is never cached');
    const pw = await v.goto('/password');
    assert.match(pw.headers()['cache-control'] ?? '', /no-store/);
    assert.match(pw.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);

    // The session cookie: HttpOnly, SameSite=Strict, whole site; and the CSRF binding cookie too.
    const cookies = await v.context.cookies();
    const session = cookies.find((c) => c.name === 'sg_session');
    assert.ok(session, 'sg_session is set');
    assert.equal(session.httpOnly, true, 'sg_session is HttpOnly');
    assert.equal(session.sameSite, 'Strict', 'sg_session is SameSite=Strict');
    assert.equal(session.path, '/');
    assert.ok(session.value.length >= 32, 'the session token is long');
    const b = cookies.find((c) => c.name === 'sg_b');
    assert.ok(b && b.httpOnly && b.sameSite === 'Strict', 'sg_b is HttpOnly and SameSite=Strict');

    // Scripts in the page cannot read it.
    const visible = await v.page.evaluate(() => document.cookie);
    assert.ok(!visible.includes('sg_session'), `document.cookie does not show the session: ${visible}`);

    // The stylesheet loads under that CSP (it is 'self').
    const css = await v.page.evaluate(() => getComputedStyle(document.querySelector('header.top')).backgroundColor);
    assert.notEqual(css, 'rgba(0, 0, 0, 0)', 'the stylesheet is applied');

    // The server's log holds neither the password nor the session token (P10).
    const log = server.logText();
    assert.ok(log.length > 0);
    assert.ok(!log.includes(user.password), 'the password is not in the log');
    assert.ok(!log.includes(session.value), 'the session token is not in the log');
  });
});

// Requirements: R13, P10.
test('a form post with a tampered or foreign CSRF token is refused (403) and changes nothing', async () => {
  const { server, browser } = env;
  const user = await server.createActiveUser({ alias: 'Marco.Viola' });

  // A CSRF token that is valid, but for another browser.
  let foreignToken;
  await withPage(browser, server, 'security-csrf-other-browser', async (other) => {
    await other.goto('/login');
    foreignToken = await other.page.inputValue('#login-form input[name=csrf]');
  });
  assert.ok(foreignToken.length >= 32);

  await withPage(browser, server, 'security-csrf', async (v) => {
    const setCsrf = (form, value) => v.page.locator(`${form} input[name=csrf]`).evaluate((el, val) => { el.value = val; }, value);

    // Login form with a tampered token: refused before the password is looked at.
    await v.goto('/login');
    const own = await v.page.inputValue('#login-form input[name=csrf]');
    assert.notEqual(own, foreignToken, 'each browser has its own token');
    let since = await server.mark();
    await v.page.fill('#username', user.user_code);
    await v.page.fill('#password', user.password);
    await setCsrf('#login-form', `${own.slice(0, -2)}${own.endsWith('AA') ? 'BB' : 'AA'}`);
    let r = await v.submit('#login-form', 'login-tampered');
    assert.equal(r.status(), 403);
    assert.equal(await v.text('#message'), IT.csrf);
    assert.deepEqual(await server.newMessages(since), [], 'no SMS code: the login did not start');
    assert.ok(!(await v.context.cookies()).some((c) => c.name === 'sg_flow'), 'no login flow');

    // Signed in properly.
    await v.login(user);
    assert.equal(v.path(), '/');

    // The alias form with another browser's token.
    await v.goto('/alias');
    await v.page.fill('#alias', 'Hacked.Alias');
    await setCsrf('#alias-form', foreignToken);
    r = await v.click('#alias-form button[value=save]', 'alias-foreign-token');
    assert.equal(r.status(), 403);
    assert.equal(await v.text('#message'), IT.csrf);

    // The alias form with no token at all.
    await v.goto('/alias');
    await v.page.fill('#alias', 'Hacked.Alias');
    await setCsrf('#alias-form', '');
    r = await v.click('#alias-form button[value=save]', 'alias-empty-token');
    assert.equal(r.status(), 403);

    // Nothing changed.
    await v.goto('/', 'home-alias-unchanged');
    assert.equal(await v.text('#alias'), user.alias);
    since = await server.mark();

    // Logout with a tampered token: refused, still signed in.
    await setCsrf('header form.inline', 'x'.repeat(43));
    r = await v.click('#logout', 'logout-tampered');
    assert.equal(r.status(), 403);
    await v.goto('/', 'still-signed-in');
    assert.equal(v.path(), '/');
    assert.equal(await v.text('#user-code'), user.user_code);

    // And with the genuine token the same alias form works (the refusals were the token's fault).
    await v.goto('/alias');
    await v.page.fill('#alias', 'Marco.Viola2');
    await v.click('#alias-form button[value=save]', 'alias-saved');
    assert.equal(v.path(), '/');
    assert.equal(await v.text('#alias'), 'Marco.Viola2');
    assert.deepEqual(await server.newMessages(since), []);
  });
});
