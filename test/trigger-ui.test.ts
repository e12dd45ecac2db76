/**
 * The trigger's page in a real browser (Debian's chromium driven by playwright-core),
 * served by `sockengine trigger --ui` on both backends: records appear live as the
 * write-up's TCP client runs, a run's details show its payload as text and hex, Debug
 * creates a run, Replay re-runs a recorded one. Also: the page server refuses requests
 * from other origins.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, cli, finished, killStarted, root, startProcess, waitFor, type Proc } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'sockengine-trigger-ui-'));
const writeup = join(root, 'test', 'python', 'seeds', 'writeup');
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(killStarted);

async function startTrigger(backend: string): Promise<{ proc: Proc; port: number; ui: string }> {
  const proc = startProcess('sockengine trigger', process.execPath, [
    cli, 'trigger', '--port', '0', '--backend', backend, '--ui', '0',
    '--run', join(root, 'test', 'fixtures', 'trigger-workflow.mjs'), '--store', join(dir, `${backend}.db`),
  ]);
  await waitFor(() => proc.done || /\nui http:\S+\n/.test(proc.stdout), 'the trigger and its page', 15_000);
  const port = /^listening trigger tcp 127\.0\.0\.1:(\d+) /.exec(proc.stdout)?.[1];
  const ui = /\nui (http:\S+)\n/.exec(proc.stdout)?.[1];
  if (!port || !ui) throw new Error(`the trigger did not start: ${proc.stdout} ${proc.stderr}`);
  return { proc, port: Number(port), ui };
}

/** The run table's rows as [id, event, source, status], top to bottom. */
async function rows(page: Page): Promise<string[][]> {
  return page.$$eval('#runs tr', (trs) => trs.map((tr) => [...tr.children].filter((_, i) => [0, 1, 2, 4].includes(i)).map((td) => td.textContent ?? '')));
}

async function field(page: Page, name: string): Promise<string> {
  return (await page.textContent(`#detail-fields dd[data-field="${name}"]`)) ?? '';
}

describe.each(backends)('the trigger page on the %s backend', (backend) => {
  it('shows records live, a run in text and hex, runs Debug and Replay', async () => {
    const { proc, port, ui } = await startTrigger(backend);
    const page = await browser.newPage();
    try {
      await page.goto(ui);
      await page.waitForSelector('body[data-ready="true"]');
      expect(await page.textContent('#address')).toBe(`tcp 127.0.0.1:${port}`);
      expect(await page.textContent('#backend')).toBe(backend);
      expect(await rows(page)).toEqual([]);

      // The write-up's own client; the rows come over the event stream, no reload.
      const client = startProcess('tcp_client.py', 'python3', [join(writeup, 'redirect.py'), String(port), join(writeup, 'tcp_client.py')], { input: '' });
      await finished(client);
      expect(client.code).toBe(0);
      await page.waitForFunction(() => document.querySelectorAll('#runs tr').length === 3);
      expect(await rows(page)).toEqual([
        ['3', 'close', 'client', 'ok'],
        ['2', 'data', 'client', 'ok'],
        ['1', 'connect', 'client', 'ok'],
      ]);

      await page.click('#runs tr[data-id="2"]');
      await page.waitForFunction(() => document.querySelector('#detail-id')?.textContent === '#2');
      expect(await page.textContent('#detail-text')).toBe('Hello TCP Server\0');
      expect(await page.textContent('#detail-hex')).toBe('000000  48 65 6c 6c 6f 20 54 43 50 20 53 65 72 76 65 72\n000010  00');
      expect(await page.textContent('#detail-output')).toBe('data from client: "Hello TCP Server\\u0000"');
      expect(await field(page, 'payload')).toBe('17 bytes');
      expect(await field(page, 'client')).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(await field(page, 'started')).toMatch(/^\d{4}-\d\d-\d\dT/);

      // Replay the selected run: a new run with its payload.
      await page.click('#replay');
      await page.waitForFunction(() => document.querySelector('#detail-id')?.textContent === '#4');
      expect(await field(page, 'source')).toBe('replay of #2');
      expect(await page.textContent('#detail-text')).toBe('Hello TCP Server\0');

      // Debug: a typed payload runs the workflow.
      await page.fill('#debug-payload', 'typed in the page');
      await page.click('#debug-run');
      await page.waitForFunction(() => document.querySelector('#detail-id')?.textContent === '#5');
      expect(await page.textContent('#detail-output')).toBe('data from debug: "typed in the page"');
      expect((await rows(page))[0]).toEqual(['5', 'data', 'debug', 'ok']);
      expect((await rows(page))[1]).toEqual(['4', 'data', 'replay', 'ok']);

      // A second page sees everything stored, newest first.
      const again = await browser.newPage();
      await again.goto(ui);
      await again.waitForFunction(() => document.querySelectorAll('#runs tr').length === 5);
      expect((await rows(again)).map((row) => row[0])).toEqual(['5', '4', '3', '2', '1']);
      await again.close();

      // Another origin cannot make the trigger run: the POST is refused.
      const refused = await fetch(`${ui}api/debug`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
        body: JSON.stringify({ payload: 'x' }),
      });
      expect(refused.status).toBe(403);
      const status = (await (await fetch(`${ui}api/status`)).json()) as { stats: { received: number } };
      expect(status.stats.received).toBe(5);
    } finally {
      await page.close();
      proc.child.kill('SIGTERM');
      await finished(proc);
    }
    expect(proc.code).toBe(0);
    expect(proc.stderr).toBe('');
  }, 60_000);
});
