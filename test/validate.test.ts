/** Options are checked before anything reaches a backend, with errors naming the option. */
import { describe, expect, it } from 'vitest';
import { connect, listen, resolveBackend } from '../lib/index.js';

describe('listen() option validation', () => {
  const cases: Array<[string, unknown, ErrorConstructor, RegExp]> = [
    ['options itself', null, TypeError, /options must be an object/],
    ['port type', { port: '80', handler: 'echo' }, TypeError, /options\.port must be a number/],
    ['port range', { port: 70000, handler: 'echo' }, RangeError, /options\.port .*65535.*70000/],
    ['port fraction', { port: 1.5, handler: 'echo' }, RangeError, /options\.port/],
    ['host type', { host: 7, handler: 'echo' }, TypeError, /options\.host must be a string/],
    ['host empty', { host: '', handler: 'echo' }, RangeError, /options\.host must not be empty/],
    ['backend', { backend: 'fast', handler: 'echo' }, RangeError, /options\.backend .*'fast'/],
    ['transport', { transport: 'sctp', handler: 'echo' }, RangeError, /options\.transport/],
    ['handler missing', { port: 0 }, TypeError, /options\.handler must be an object/],
    ['handler name', { handler: 'shout' }, RangeError, /options\.handler .*'shout'/],
    ['handler member', { handler: { data: 'x' } }, TypeError, /options\.handler\.data must be a function/],
    ['backlog', { handler: 'echo', backlog: 0 }, RangeError, /options\.backlog/],
    ['highWaterMark', { handler: 'echo', highWaterMark: -1 }, RangeError, /options\.highWaterMark/],
    ['ipv6Only', { handler: 'echo', ipv6Only: 'yes' }, TypeError, /options\.ipv6Only must be a boolean/],
  ];

  it.each(cases)('rejects a bad %s with the right error naming it', async (_name, options, kind, message) => {
    const failure = listen(options as never);
    await expect(failure).rejects.toBeInstanceOf(kind);
    await expect(failure).rejects.toThrow(message);
  });
});

describe('connect() option validation', () => {
  it('requires a port from 1 to 65535', async () => {
    await expect(connect({ port: 0, handler: {} })).rejects.toThrow(RangeError);
    await expect(connect({ handler: {} } as never)).rejects.toThrow(/options\.port must be a number/);
  });

  it('takes only a handler object, not a built-in name', async () => {
    await expect(connect({ port: 1, handler: 'echo' as never })).rejects.toThrow(/options\.handler must be a handler object/);
  });
});

describe('write() argument validation', () => {
  it('throws a TypeError for anything but a string or bytes, on both backends', async () => {
    for (const backend of ['native', 'node'] as const) {
      let thrown: unknown;
      const server = await listen({
        port: 0,
        backend,
        handler: {
          open(connection) {
            try {
              connection.write(42 as never);
            } catch (error) {
              thrown = error;
            }
            connection.destroy();
          },
        },
      });
      await connect({ port: server.address().port, backend, handler: {} });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(thrown).toBeInstanceOf(TypeError);
      expect(String(thrown)).toMatch(/data must be a string or Uint8Array/);
      await server.close();
    }
  });
});

describe('backend choice', () => {
  it('auto picks native when the addon loads, and SOCKENGINE_BACKEND=node forces node', () => {
    expect(resolveBackend('auto')).toBe('native');
    process.env.SOCKENGINE_BACKEND = 'node';
    try {
      expect(resolveBackend('auto')).toBe('node');
      expect(resolveBackend('native')).toBe('native');
    } finally {
      delete process.env.SOCKENGINE_BACKEND;
    }
  });
});
