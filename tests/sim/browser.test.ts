/**
 * The demo page in a real browser (Debian's chromium, driven by playwright-core) against the whole
 * simulated platform: people in three cities are routed to three regions and chat across them.
 * Screenshots go to test-artifacts/browser/; with `DEMO_SCREENSHOT=PATH` (npm run screenshot) the
 * first page's screenshot is also written to PATH (docs/demo.png).
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSimOptions } from '../../harness/sim/options';
import { startPlatform, type Platform } from '../../harness/sim/platform';

const ROOT = join(import.meta.dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'browser');
/** Debian's chromium (installed by tests/support/global-setup.ts and .ci/run). */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const VIEWPORT = { width: 1280, height: 800 };
const WAIT_MS = 20_000;

let dir: string;
let platform: Platform | undefined;
let browser: Browser | undefined;
const errors: string[] = [];
/** Each run starts its own platform (and database), so the room is empty at first. */
const room = 'lobby';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rt-browser-'));
  // Port 0: the edge binds a free port itself and the platform's state names it.
  const options = parseSimOptions(['--dir', dir, '--edge-port', '0'], {});
  if (options === 'help') throw new Error('unexpected --help');
  platform = await startPlatform(options);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  await mkdir(ARTIFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** A new browser context (its own storage), on the demo page as `name`, connected from `city`. */
async function personIn(city: string, name: string): Promise<Page> {
  const context = await browser!.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  page.on('pageerror', (err) => errors.push(`${name}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${name}: ${msg.text()}`);
  });
  await page.goto(`${platform!.state.edge}/?${new URLSearchParams({ name, room })}`);
  await page.getByRole('button', { name: city, exact: true }).click();
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT_MS });
  await page.locator('#text:enabled').waitFor({ timeout: WAIT_MS });
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.locator('#text').fill(text);
  await page.locator('#send').click();
  await page.locator('#messages li.message.mine.sent', { hasText: text }).waitFor({ timeout: WAIT_MS });
}

/** Waits until `page` shows `text` as a message from `origin`. */
async function sees(page: Page, text: string, origin: string): Promise<void> {
  await page
    .locator(`#messages li.message[data-origin="${origin}"]`, { hasText: text })
    .waitFor({ timeout: WAIT_MS });
}

describe('the demo page in a browser', () => {
  let dublin: Page;
  let tokyo: Page;
  let newYork: Page;

  it('routes people in Dublin, Tokyo and New York to eu-west, ap-southeast and us-east', async () => {
    dublin = await personIn('Dublin', 'aoife');
    tokyo = await personIn('Tokyo', 'haruki');
    newYork = await personIn('New York', 'maya');
    expect(await dublin.locator('#my-region').textContent()).toBe('eu-west');
    expect(await tokyo.locator('#my-region').textContent()).toBe('ap-southeast');
    expect(await newYork.locator('#my-region').textContent()).toBe('us-east');
    expect(await dublin.locator('#my-route').textContent()).toContain('nearest');
  });

  it('delivers a message typed in one region to the others', async () => {
    await say(dublin, 'Hello from Dublin!');
    await sees(tokyo, 'Hello from Dublin!', 'eu-west');
    await sees(newYork, 'Hello from Dublin!', 'eu-west');
    await say(tokyo, 'Konbanwa from Tokyo');
    await sees(dublin, 'Konbanwa from Tokyo', 'ap-southeast');
    await say(newYork, 'Good morning from New York');
    await sees(dublin, 'Good morning from New York', 'us-east');
    await sees(tokyo, 'Good morning from New York', 'us-east');
  });

  it('shows who is typing in another region, as ephemeral events kept out of the chat', async () => {
    const before = await dublin.locator('#messages li.message').count();
    await tokyo.locator('#text').pressSequentially('Typing from Tokyo', { delay: 20 });
    await dublin.locator('#typing[data-users="haruki"]').waitFor({ timeout: WAIT_MS });
    expect(await dublin.locator('#typing').textContent()).toBe('haruki is typing…');
    await newYork.locator('#typing[data-users="haruki"]').waitFor({ timeout: WAIT_MS });
    // The typing events are not messages.
    expect(await dublin.locator('#messages li.message').count()).toBe(before);
    await tokyo.locator('#send').click();
    await sees(dublin, 'Typing from Tokyo', 'ap-southeast');
    // A message from the typist ends their indicator at once.
    expect(await dublin.locator('#typing').getAttribute('data-users')).toBe('');
    expect(await dublin.locator('#messages li.message').count()).toBe(before + 1);
  });

  it('shows who is in the room, with their regions, and the regions with their connections', async () => {
    for (const [user, region] of [
      ['aoife', 'eu-west'],
      ['haruki', 'ap-southeast'],
      ['maya', 'us-east'],
    ] as const) {
      await dublin
        .locator(`#presence li[data-user="${user}"][data-region="${region}"]`)
        .waitFor({ timeout: WAIT_MS });
    }
    for (const region of ['us-east', 'eu-west', 'ap-southeast']) {
      const row = dublin.locator(`#regions li.status-healthy[data-region="${region}"]`);
      await row.waitFor({ timeout: WAIT_MS });
    }
    // The Dublin page's rows refresh every few seconds; every region has at least its one person.
    await dublin.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('#regions .connections')).every(
          (el) => Number(el.textContent) >= 1,
        ),
      undefined,
      { timeout: WAIT_MS },
    );
    expect(await dublin.locator('#my-rtt').textContent()).toMatch(/^\d+ ms$/);
    await screenshot(tokyo, 'tokyo.png');
  });

  it('shows the room history to someone who arrives later', async () => {
    const sydney = await personIn('Sydney', 'lachlan');
    expect(await sydney.locator('#my-region').textContent()).toBe('ap-southeast');
    await sees(sydney, 'Hello from Dublin!', 'eu-west');
    await sees(sydney, 'Good morning from New York', 'us-east');
    await sees(sydney, 'Typing from Tokyo', 'ap-southeast');
    // History holds the four messages and none of the typing events before them.
    expect(await sydney.locator('#messages li.message').count()).toBe(4);
    await screenshot(sydney, 'sydney-history.png');
    await say(sydney, "G'day from Sydney, I just read the history");
    await sees(dublin, "G'day from Sydney", 'ap-southeast');
    await dublin.locator('#presence li[data-user="lachlan"]').waitFor({ timeout: WAIT_MS });
    await dublin.waitForFunction(
      () => Number(document.querySelector('[data-region="ap-southeast"] .connections')?.textContent) >= 2,
      undefined,
      { timeout: WAIT_MS },
    );
    await screenshot(dublin, 'dublin.png', process.env.DEMO_SCREENSHOT);
  });

  it('raised no error in any page', () => {
    expect(errors).toEqual([]);
  });
});

async function screenshot(page: Page, name: string, alsoTo?: string): Promise<void> {
  const file = join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  if (alsoTo) {
    await mkdir(dirname(resolve(ROOT, alsoTo)), { recursive: true });
    await copyFile(file, resolve(ROOT, alsoTo));
  }
}
