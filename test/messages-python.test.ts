/**
 * A client written with Python's standard library only (test/python/message_client.py,
 * written from docs/messages.md) against the message server on both backends.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serveMessages, type MessageServer } from '../lib/index.js';
import { backends, finished, killStarted, root, startProcess } from './helpers.js';

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
if (python.status !== 0) throw new Error(`python3 is needed for these tests: ${python.error ?? python.stderr}`);

const script = join(root, 'test', 'python', 'message_client.py');
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe.each(backends)('%s backend', (backend) => {
  let server: MessageServer | undefined;
  afterEach(async () => {
    await killStarted();
    await server?.close({ timeout: 500 });
  });

  it('a standard-library Python client gets its answers: by id, in order, errors, TOO_LARGE', async () => {
    server = await serveMessages({
      port: 0,
      backend,
      maxMessageSize: 4096,
      actions: {
        echo: (message: unknown) => message,
        delay: ({ ms, value }: { ms: number; value: unknown }) => later(ms, value),
      },
    });
    const proc = await finished(startProcess('message_client.py', 'python3', [script, '127.0.0.1', String(server.address().port), '4096']));
    expect(proc.stderr).toBe('');
    expect(proc.code).toBe(0);
    expect(proc.stdout.trim().split('\n')).toEqual([
      'ok echo round-trips UTF-8 JSON',
      expect.stringMatching(/^ok answers by id in the order they finish/),
      'ok each answer matches its id',
      'ok requests without id answered in order, without id',
      'ok unknown action answered UNKNOWN_ACTION',
      'ok a bad line answered BAD_MESSAGE',
      'ok the connection stays usable after BAD_MESSAGE',
      'ok a line over maxMessageSize answered TOO_LARGE',
      'ok then the server closes the connection',
    ]);
    expect(server.stats()).toMatchObject({ tooLarge: 1, errors: 3 });
  });
});
