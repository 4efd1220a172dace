// Italian by default, English from Accept-Language, and the switch, which is remembered.

import test from 'node:test';
import assert from 'node:assert/strict';
import { EN, IT, setup, withPage } from '../harness.js';

const env = setup(test, 'language');

async function lang(v) {
  return v.page.getAttribute('html', 'lang');
}

test('an English browser gets the pages in English, errors included', async () => {
  const { server, browser } = env;
  await withPage(browser, server, 'language-english', { locale: 'en-US' }, async (v) => {
    const r = await v.goto('/login');
    assert.match((await r.request().allHeaders())['accept-language'] ?? '', /^en/);
    assert.equal(await lang(v), 'en');
    assert.equal(await v.h1(), EN.loginTitle);
    assert.equal(await v.text('#lang-switch'), EN.switchLanguage);
    assert.equal(await v.page.getAttribute('#lang-switch', 'hreflang'), 'it');

    const failed = await v.loginForm('nobody.here', '90817263');
    assert.equal(failed.status(), 401);
    assert.equal(await lang(v), 'en');
    assert.equal(await v.text('#error'), EN.authFailed);
  });
});

test('an Accept-Language that prefers English by quality gets English; other languages get Italian', async () => {
  const { server, browser } = env;
  await withPage(browser, server, 'language-quality', { headers: { 'Accept-Language': 'de-DE,en;q=0.8,it;q=0.5' } }, async (v) => {
    await v.goto('/login');
    assert.equal(await lang(v), 'en');
    assert.equal(await v.h1(), EN.loginTitle);
  });
  await withPage(browser, server, 'language-fallback', { locale: 'fr-FR' }, async (v) => {
    await v.goto('/login');
    assert.equal(await lang(v), 'it');
    assert.equal(await v.h1(), IT.loginTitle);
  });
});

test('Italian by default; the switch flips the language and the choice persists', async () => {
  const { server, browser } = env;
  await withPage(browser, server, 'language-switch', async (v) => {
    await v.goto('/login');
    assert.equal(await lang(v), 'it');
    assert.equal(await v.h1(), IT.loginTitle);
    assert.equal(await v.text('#lang-switch'), IT.switchLanguage);

    // Switch to English.
    await v.click('#lang-switch', 'switched-to-english');
    assert.equal(v.path(), '/login');
    assert.equal(await lang(v), 'en');
    assert.equal(await v.h1(), EN.loginTitle);
    const cookie = (await v.context.cookies()).find((c) => c.name === 'sg_lang');
    assert.equal(cookie?.value, 'en', 'the choice is kept in a cookie');

    // The next page is in English too, although the browser asks for Italian.
    await v.goto('/recovery');
    assert.equal(await lang(v), 'en');
    assert.equal(await v.h1(), EN.recoveryTitle);

    // And back to Italian, staying on the same page.
    await v.click('#lang-switch', 'switched-to-italian');
    assert.equal(v.path(), '/recovery');
    assert.equal(await lang(v), 'it');
    assert.equal(await v.h1(), IT.recoveryTitle);
    await v.goto('/login');
    assert.equal(await v.h1(), IT.loginTitle);
  });
});

test('the language switch never sends the browser off-site', async () => {
  const { server, browser } = env;
  await withPage(browser, server, 'language-next', async (v) => {
    await v.goto('/lang/en?next=/recovery', 'next-local');
    assert.equal(v.path(), '/recovery');
    assert.equal(await v.h1(), EN.recoveryTitle);
    for (const next of ['//example.com/', 'https://example.com/', '/\\example.com']) {
      const r = await v.page.request.get(`${server.url}/lang/it?next=${encodeURIComponent(next)}`, { maxRedirects: 0 });
      assert.equal(r.status(), 303, `next=${next}`);
      assert.equal(r.headers().location, '/', `an off-site next (${next}) goes home instead`);
    }
  });
});
