import { existsSync, mkdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { sesameCommand, startDemo, type RunningDemo } from '@sesame/bookstore-example';
import { ROOT } from './cli.ts';
import { freePort, startTestSesame, tempDir, type TestSesame } from './sesame.ts';
import { startSmtpCatcher, type SmtpCatcher } from './smtp.ts';
import { main } from '../../src/cli.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run on this machine; undefined when chromium is there. */
export const CHROMIUM_MISSING: string | undefined = existsSync(CHROMIUM)
  ? undefined
  : `no chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` or set CHROMIUM_PATH to one`;

/**
 * For a browser test file on a machine without chromium: one test, skipped with the reason, so that
 * `vitest list` and every run say why the file's tests did not run. The file's suites use
 * `describe.skipIf(CHROMIUM_MISSING)` and its top-level hooks return early.
 */
export function explainChromiumSkip(): void {
  if (!CHROMIUM_MISSING) return;
  console.warn(`browser tests skipped: ${CHROMIUM_MISSING}`);
  it(`skipped: ${CHROMIUM_MISSING}`, (context) => context.skip(CHROMIUM_MISSING));
}
export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts/e2e');

interface DemoStack {
  sesame: TestSesame;
  demo: RunningDemo;
  /** Sesame's ENDPOINT, e.g. http://127.0.0.1:40123 */
  endpoint: string;
  demoUrl: string;
  mailboxUrl: string;
  stop(): Promise<void>;
}

/**
 * Sesame with its dev mailbox plus the Bookstore demo, both in-process on free ports with temp
 * SQLite files, listening on `host` (default 127.0.0.1) and addressed by it in their URLs.
 */
async function startDemoStack(options: { host?: string } = {}): Promise<DemoStack> {
  const host = options.host ?? '127.0.0.1';
  const dir = tempDir('sesame-e2e-');
  const sesamePort = await freePort();
  const sesame = await startTestSesame({
    dir: dir.path,
    sesame: { devMailbox: true },
    env: { PORT: String(sesamePort), HOST: host, ENDPOINT: `http://${host}:${sesamePort}` },
  });
  const endpoint = sesame.config.endpoint;
  const mailboxUrl = `${endpoint}/dev/mail`;
  let demo: RunningDemo;
  try {
    const demoPort = await freePort();
    demo = await startDemo({
      // Registers itself as in `npm start`: through the `sesame` command, against this Sesame's database.
      sesame: sesameCommand({
        command: [process.execPath, join(ROOT, 'bin', 'sesame.js')],
        cwd: dir.path,
        env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: `sqlite:${sesame.config.databaseFile}` },
      }),
      file: join(dir.path, 'demo.db'),
      issuer: sesame.issuer,
      baseUrl: `http://${host}:${demoPort}`,
      port: demoPort,
      host,
      mailboxUrl,
    });
  } catch (error) {
    await sesame.stop();
    dir.remove();
    throw error;
  }
  return {
    sesame,
    demo,
    endpoint,
    demoUrl: demo.url,
    mailboxUrl,
    async stop() {
      await demo.close();
      await sesame.stop();
      dir.remove();
    },
  };
}

export interface E2eBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Debian's chromium with a fresh profile, so no cookie or cache from an earlier run leaks in. */
export async function launchBrowser(
  options: { viewport?: { width: number; height: number }; isMobile?: boolean; args?: string[] } = {},
): Promise<E2eBrowser> {
  if (CHROMIUM_MISSING) throw new Error(CHROMIUM_MISSING);
  const profile = tempDir('sesame-e2e-chromium-');
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      ...(options.args ?? []),
    ],
    viewport: options.viewport ?? { width: 1280, height: 900 },
    isMobile: options.isMobile ?? false,
    hasTouch: options.isMobile ?? false,
    deviceScaleFactor: 1,
    locale: 'en-US',
  });
  return {
    context,
    async close() {
      await context.close();
      profile.remove();
    },
  };
}

export interface PageProblem {
  url: string;
  kind: 'console-error' | 'csp' | 'pageerror' | 'http-error';
  text: string;
}

/**
 * Records console errors, CSP violations, uncaught exceptions and failed responses of every page in `context`,
 * tagged with the page URL at the time, so a test can assert on the pages it cares about.
 */
export function watchProblems(context: BrowserContext): PageProblem[] {
  const problems: PageProblem[] = [];
  const watch = (page: Page) => {
    page.on('console', (message) => {
      const text = message.text();
      const csp = /content security policy|content-security-policy|refused to (load|apply|execute|connect|frame)/i.test(text);
      if (csp) problems.push({ url: page.url(), kind: 'csp', text });
      else if (message.type() === 'error') problems.push({ url: page.url(), kind: 'console-error', text });
    });
    page.on('pageerror', (error) => problems.push({ url: page.url(), kind: 'pageerror', text: error.message }));
    // The console only says "status of 404"; this names the resource.
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push({ url: page.url(), kind: 'http-error', text: `${response.status()} ${response.request().method()} ${response.url()}` });
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return problems;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * Photographs the page as it is (`NAME-desktop`), then at 375 px (`NAME-375`), where it must not
 * scroll sideways (`label` names it in the failure), then puts the viewport back to 1280 x 900.
 */
export async function screenshotBothWidths(page: Page, name: string, label = name): Promise<void> {
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize({ width: 375, height: 812 });
  expect(await horizontalOverflow(page).then(({ scrollWidth, clientWidth }) => scrollWidth - clientWidth), `${label} scrolls sideways at 375 px`).toBeLessThanOrEqual(0);
  await screenshot(page, `${name}-375`);
  await page.setViewportSize({ width: 1280, height: 900 });
}

/** An IPv4 address of this machine other than loopback, if it has one. */
export function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
}

/** True when the page scrolls sideways, which on a phone means something sticks out. */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; clientWidth: number }> {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
}

/**
 * Reads the newest code for `email` off the dev mailbox page in its own tab, the way a tester
 * would: waits until more than `seenBefore` messages are listed, then takes the highlighted code.
 */
export async function readCodeFromMailbox(
  context: BrowserContext,
  mailboxUrl: string,
  email: string,
  seenBefore: number,
  screenshotName?: string,
): Promise<{ code: string; count: number }> {
  const tab = await context.newPage();
  try {
    const url = `${mailboxUrl}?to=${encodeURIComponent(email)}`;
    const deadline = Date.now() + 15_000;
    for (;;) {
      await tab.goto(url);
      const count = await tab.locator('article.mail').count();
      if (count > seenBefore) {
        const code = (await tab.locator('article.mail').first().locator('.mail-code').textContent())?.trim() ?? '';
        if (!/^\d{6}$/.test(code)) throw new Error(`the newest mail on the dev mailbox page shows no 6-digit code (got "${code}")`);
        if (screenshotName) await screenshot(tab, screenshotName);
        return { code, count };
      }
      if (Date.now() > deadline) throw new Error(`no new mail for ${email} on ${url} after 15 s (${count} listed)`);
      await tab.waitForTimeout(250);
    }
  } finally {
    await tab.close();
  }
}

/** How many mails the dev mailbox page lists for `email` right now. */
export async function mailCount(context: BrowserContext, mailboxUrl: string, email: string): Promise<number> {
  const tab = await context.newPage();
  try {
    await tab.goto(`${mailboxUrl}?to=${encodeURIComponent(email)}`);
    return await tab.locator('article.mail').count();
  } finally {
    await tab.close();
  }
}

/** A browser of an e2e stack, with the problems seen on its pages (watchProblems). */
export interface WatchedBrowser extends E2eBrowser {
  problems: PageProblem[];
}

interface E2eCommon<B extends string> {
  sesame: TestSesame;
  /** Sesame's ENDPOINT, e.g. http://127.0.0.1:40123 */
  endpoint: string;
  browsers: Record<B, WatchedBrowser>;
  /** Closes the browsers, then stops the servers and removes their files. */
  close(): Promise<void>;
}

/** Sesame with its dev mailbox and the Bookstore demo signing people in through it. */
export interface DemoE2e<B extends string = never> extends E2eCommon<B> {
  demo: RunningDemo;
  demoUrl: string;
  mailboxUrl: string;
}

/** Sesame sending its mail to a test SMTP server. */
export interface SmtpE2e<B extends string = never> extends E2eCommon<B> {
  smtp: SmtpCatcher;
  /** Stops Sesame and starts it again on the same address and database (`sesame` is then the new one). */
  restart(): Promise<void>;
}

interface E2eOptions<B extends string> {
  /** The browsers to launch, by name, with launchBrowser's options; each one watched for problems. */
  browsers?: Record<B, NonNullable<Parameters<typeof launchBrowser>[0]>>;
  /** An account to make administrator with `sesame admin add` once Sesame runs. */
  admin?: string;
}

/**
 * What a browser test file starts in its beforeAll and ends with close() in its afterAll:
 * - `mail: 'demo'`: Sesame with its dev mailbox plus the Bookstore demo (startDemoStack), on `host`;
 * - `mail: 'smtp'`: Sesame on a fixed free port, ENDPOINT http://`endpointHost`:PORT (127.0.0.1 by
 *   default; localhost for WebAuthn), sending to a test SMTP server;
 * then the named browsers. Whatever started is closed again when a later step fails.
 */
export function startE2eStack<B extends string = never>(options: E2eOptions<B> & { mail: 'demo'; host?: string }): Promise<DemoE2e<B>>;
export function startE2eStack<B extends string = never>(options: E2eOptions<B> & { mail: 'smtp'; endpointHost?: string }): Promise<SmtpE2e<B>>;
export async function startE2eStack<B extends string>(
  options: E2eOptions<B> & ({ mail: 'demo'; host?: string } | { mail: 'smtp'; endpointHost?: string }),
): Promise<DemoE2e<B> | SmtpE2e<B>> {
  const closers: (() => unknown)[] = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    let servers: Omit<DemoE2e<B>, keyof E2eCommon<B>> | Omit<SmtpE2e<B>, keyof E2eCommon<B>>;
    let current: { sesame: TestSesame; endpoint: string };
    if (options.mail === 'demo') {
      const stack = await startDemoStack({ host: options.host });
      closers.push(() => stack.stop());
      current = stack;
      servers = { demo: stack.demo, demoUrl: stack.demoUrl, mailboxUrl: stack.mailboxUrl };
    } else {
      const dir = tempDir('sesame-e2e-');
      closers.push(() => dir.remove());
      const smtp = await startSmtpCatcher();
      closers.push(() => smtp.close());
      const port = await freePort();
      // A fixed address, so a browser's cookies still apply after a restart.
      const env = { PORT: String(port), ENDPOINT: `http://${options.endpointHost ?? '127.0.0.1'}:${port}` };
      const start = () => startTestSesame({ dir: dir.path, smtpPort: smtp.port, env });
      const sesame = await start();
      current = { sesame, endpoint: sesame.config.endpoint };
      closers.push(() => current.sesame.stop());
      servers = {
        smtp,
        async restart() {
          await current.sesame.stop();
          current.sesame = await start();
        },
      };
    }
    if (options.admin) {
      const out: string[] = [];
      const env = { NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: current.sesame.databaseUrl };
      const code = await main(['admin', 'add', options.admin], { out: (line) => out.push(line), err: (line) => out.push(line) }, env);
      if (code !== 0) throw new Error(`sesame admin add failed: ${out.join(' ')}`);
    }
    const browsers = {} as Record<B, WatchedBrowser>;
    for (const [name, browserOptions] of Object.entries(options.browsers ?? {}) as [B, Parameters<typeof launchBrowser>[0]][]) {
      const browser = await launchBrowser(browserOptions);
      closers.push(() => browser.close());
      browsers[name] = { ...browser, problems: watchProblems(browser.context) };
    }
    const { endpoint } = current;
    return {
      get sesame() {
        return current.sesame;
      },
      endpoint,
      ...servers,
      browsers,
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
