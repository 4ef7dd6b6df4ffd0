import { existsSync } from 'node:fs';
import { Browser, chromium } from 'playwright-core';
import { startTestApp, TestApp } from '../helpers/test-app';

/**
 * The /docs page in a real browser: Debian's Chromium, headless, driven by playwright-core.
 * Swagger UI must render one block per operation of /openapi.json, under the page's own CSP,
 * with every asset from this server (no CDN, nothing refused by the CSP).
 *
 * No Chromium is a failure, not a skip: the page is only proven in a browser.
 */
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const MISSING = `Chromium not found at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

describe.each(['fastify', 'express'] as const)('Swagger UI at /docs in headless Chromium (%s)', (adapter) => {
  let t: TestApp;
  let browser: Browser | undefined;

  beforeAll(async () => {
    t = await startTestApp({ HTTP_ADAPTER: adapter });
    if (!existsSync(CHROMIUM)) return;
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('serves the page with its own CSP, and keeps the API\'s CSP everywhere else', async () => {
    const page = await t.request('GET', '/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    // Control: the API itself still answers with default-src 'none' and nothing else allowed.
    for (const path of ['/openapi.json', '/health']) {
      expect((await t.request('GET', path)).headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    }
    for (const [asset, type] of [
      ['/docs/swagger-ui-bundle.js', /^text\/javascript/],
      ['/docs/swagger-initializer.js', /^text\/javascript/],
      ['/docs/swagger-ui.css', /^text\/css/],
      ['/docs/favicon-32x32.png', /^image\/png/],
    ] as const) {
      const response = await t.request('GET', asset, { responseType: 'buffer' });
      expect({ asset, status: response.status }).toEqual({ asset, status: 200 });
      expect(response.headers.get('content-type')).toMatch(type);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('renders one operation block per operation of the document, without a CSP violation or a foreign request', async () => {
    if (!browser) throw new Error(MISSING);
    const doc = (await t.request('GET', '/openapi.json')).body;
    const operations = Object.values<Record<string, unknown>>(doc.paths).reduce((n, item) => n + Object.keys(item).filter((m) => METHODS.includes(m)).length, 0);
    expect(operations).toBeGreaterThanOrEqual(35);

    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    const foreign: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (!request.url().startsWith(t.baseUrl) && !request.url().startsWith('data:')) foreign.push(request.url());
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`);
    });
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
    // Every violation of the page's CSP, as the browser reports it.
    // (Browser-side code as strings: the test project compiles without the DOM library.)
    await page.addInitScript({
      content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
    });
    try {
      const response = await page.goto(`${t.baseUrl}/docs`);
      expect(response?.status()).toBe(200);
      await page.waitForFunction(`document.querySelectorAll('.opblock').length >= ${operations}`, undefined, { timeout: 30_000 });
      expect(await page.locator('.opblock').count()).toBe(operations);
      // The page read the document it was served (its title), not some default petstore.
      expect(await page.locator('.info .title').innerText()).toContain(doc.info.title);
      expect(await page.locator('.opblock-summary-method').filter({ hasText: /^DELETE$/ }).count()).toBeGreaterThan(0);
    } finally {
      await context.close();
    }
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
  }, 60_000);
});
