/**
 * `sockengine messages serve|send` as a user runs them: real child processes on 127.0.0.1,
 * the listening line, answers on stdout, error codes on stderr, exit statuses, signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { backends, cli, exited, root, startCli, waitFor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sockengine-messages-cli-'));
const children = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child, 5000).catch(() => undefined);
    }
  }
  children.clear();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function env(): NodeJS.ProcessEnv {
  const clean = { ...process.env };
  delete clean.SOCKENGINE_BACKEND;
  return clean;
}

/** Runs `sockengine ARGS` to completion. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: env(), cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function serve(args: string[]) {
  const started = await startCli(['messages', 'serve', ...args], env());
  children.add(started.child);
  return started;
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const record = join(dir, 'record.txt');
const actionsModule = file(
  'actions.mjs',
  `import { appendFileSync } from 'node:fs';
export default {
  Telegram: (message, context) => ({ sent: message, from: context.remoteAddress }),
  record: (message) => { appendFileSync(${JSON.stringify(record)}, JSON.stringify(message) + '\\n'); return 'recorded'; },
  slow: () => new Promise((resolve) => setTimeout(() => resolve('late'), 3000)),
  boom: () => { throw new Error('handler failed on purpose'); },
};
`,
);

describe.each(backends)('%s backend', (backend) => {
  it("serves the config's Host and answers `send --to NAME` from the same file", async () => {
    const config = file(`host-${backend}.yaml`, 'Socket_connection:\n  Host:\n    IP: 127.0.0.1\n    Port: 0\n');
    const { line, port } = await serve(['--config', config, '--backend', backend]);
    expect(line).toMatch(new RegExp(`^listening messages 127\\.0\\.0\\.1:${port} backend=${backend} actions=echo$`));
    const clients = file(`clients-${backend}.yaml`, `Socket_connection:\n  Client:\n    Telegram:\n      IP: 127.0.0.1\n      Port: ${port}\n`);
    const sent = await run(['messages', 'send', '--config', clients, '--to', 'Telegram', '--backend', backend, 'echo', '{"text":"grüße","n":[1,2]}']);
    expect(sent).toEqual({ code: 0, stdout: '{"text":"grüße","n":[1,2]}\n', stderr: '' });
    const noMessage = await run(['messages', 'send', '--host', '127.0.0.1', '--port', String(port), 'echo']);
    expect(noMessage).toEqual({ code: 0, stdout: 'null\n', stderr: '' });
  });

  it('--actions loads a module; remote errors and timeouts print their code and exit 1; --no-wait exits once written', async () => {
    const { child, port } = await serve(['--port', '0', '--backend', backend, '--actions', actionsModule]);
    const to = ['--port', String(port), '--backend', backend];
    expect(await run(['messages', 'send', ...to, 'Telegram', '"hi"'])).toEqual({
      code: 0,
      stdout: '{"sent":"hi","from":"127.0.0.1"}\n',
      stderr: '',
    });
    const failed = await run(['messages', 'send', ...to, 'boom']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toBe('sockengine: ERR_SOCKENGINE_REMOTE: HANDLER_ERROR: handler failed on purpose\n');
    const unknown = await run(['messages', 'send', ...to, 'Plot', '{}']);
    expect(unknown).toMatchObject({ code: 1, stderr: "sockengine: ERR_SOCKENGINE_REMOTE: UNKNOWN_ACTION: no handler for action 'Plot'\n" });
    const slow = await run(['messages', 'send', ...to, '--timeout', '200', 'slow']);
    expect(slow).toMatchObject({ code: 1, stdout: '', stderr: "sockengine: ERR_SOCKENGINE_MESSAGE_TIMEOUT: no answer to 'slow' within 200 ms\n" });
    rmSync(record, { force: true });
    const background = await run(['messages', 'send', ...to, '--no-wait', 'record', '{"k":"background"}']);
    expect(background).toEqual({ code: 0, stdout: '', stderr: '' });
    await waitFor(() => {
      try {
        return readFileSync(record, 'utf8') === '{"k":"background"}\n';
      } catch {
        return false;
      }
    }, 'the background message to be handled');
    child.kill('SIGINT');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  });

  it('--max-message: an oversized request is answered TOO_LARGE; SIGTERM stops the server with 0', async () => {
    const { child, port } = await serve(['--port', '0', '--backend', backend, '--max-message', '64']);
    const big = await run(['messages', 'send', '--port', String(port), 'echo', JSON.stringify('x'.repeat(100))]);
    expect(big).toMatchObject({ code: 1, stderr: 'sockengine: ERR_SOCKENGINE_REMOTE: TOO_LARGE: a line longer than maxMessageSize (64 bytes); connection closed\n' });
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  });
});

describe('bad input', () => {
  it('nobody listening: ERR_SOCKENGINE_NOT_CONNECTED at once, exit 1', async () => {
    const { child, port } = await serve(['--port', '0']);
    child.kill('SIGTERM');
    await exited(child);
    const result = await run(['messages', 'send', '--port', String(port), '--timeout', '10000', 'echo']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sockengine: ERR_SOCKENGINE_NOT_CONNECTED: cannot connect to 127\.0\.0\.1:\d+ \(last error: connect ECONNREFUSED/);
  });

  it('usage errors and bad configs exit 2 with one line naming the problem', async () => {
    const typo = file('typo.yaml', 'Socket_connection:\n  Client:\n    Telegram: { IP: 127.0.0.1, Prot: 1 }\n');
    const cases: Array<[string[], RegExp]> = [
      [['messages'], /messages needs serve or send/],
      [['messages', 'send', 'echo'], /needs --to NAME \(with --config\) or --host H --port P/],
      [['messages', 'send', '--to', 'Telegram', 'echo'], /--to NAME needs --config FILE/],
      [['messages', 'send', '--config', typo, '--to', 'Telegram', 'echo'], /typo\.yaml: Socket_connection\.Client\.Telegram\.Prot is not a known key/],
      [['messages', 'send', '--port', '1', 'echo', '{not json'], /the message must be JSON/],
      [['messages', 'send', '--port', '1', '--colour', 'x', 'echo'], /Unknown option '--colour'/],
      [['messages', 'serve', '--max-message', 'lots'], /--max-message must be a whole number/],
      [['messages', 'serve', '--actions', join(dir, 'nope.mjs')], /--actions .*nope\.mjs: cannot load the module/],
    ];
    for (const [args, message] of cases) {
      const result = await run(args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
