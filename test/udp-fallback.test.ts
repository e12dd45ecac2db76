/**
 * Where recvmmsg/sendmmsg are missing the engine falls back to one datagram per call; this
 * file forces that path (it is process-wide, and vitest gives each file its own process).
 */
import * as dgram from 'node:dgram';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBinding } from '../lib/binding.js';
import { listen } from '../lib/index.js';
import { waitFor } from './helpers.js';

describe('native UDP without batched syscalls', () => {
  beforeAll(() => {
    const loaded = loadBinding();
    if ('error' in loaded) throw new Error(loaded.error);
    loaded.binding.disableBatchedDatagrams();
  });

  for (const handler of ['uppercase', 'javascript'] as const) {
    it(`answers a burst of 100 datagrams with the ${handler} handler`, async () => {
      const server = await listen({
        transport: 'udp',
        port: 0,
        backend: 'native',
        handler:
          handler === 'uppercase'
            ? 'uppercase'
            : { message: (socket, data, rinfo) => socket.send(data.toString().toUpperCase(), rinfo.port, rinfo.address) },
      });
      const peer = dgram.createSocket('udp4');
      const got: string[] = [];
      peer.on('message', (data) => got.push(data.toString()));
      await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
      for (let i = 0; i < 100; i++) peer.send(`datagram-${i}`, server.address().port, '127.0.0.1');
      await waitFor(() => got.length === 100, `100 replies (got ${got.length})`);
      expect(got.sort()).toEqual([...Array(100).keys()].map((i) => `DATAGRAM-${i}`).sort());
      expect(server.stats()).toMatchObject({ datagramsIn: 100, datagramsOut: 100, sendErrors: 0 });
      peer.close();
      await server.close();
    });
  }
});
