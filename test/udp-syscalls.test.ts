/**
 * The receive call follows the traffic (docs/design.md section 1b): a socket that brings one
 * datagram at a time is read with plain recvmsg and answered with sendmsg, and a burst makes
 * the offer grow so that recvmmsg takes several datagrams per call. Counted with strace on a
 * real server process, for the built-in handler and for a JavaScript one, with a node:dgram
 * peer; every datagram is answered, byte-exact.
 */
import * as dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { hasStrace, traceServer, waitFor } from './helpers.js';

interface Call {
  call: string;
  fd: number;
  result: number;
}

async function exercise(port: number): Promise<void> {
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
  const received: Buffer[] = [];
  peer.on('message', (data) => received.push(data));
  try {
    // One at a time: 20 pings of 5 bytes, each after the previous answer.
    for (let i = 0; i < 20; i++) {
      peer.send(`ping${i % 10}`, port, '127.0.0.1');
      await waitFor(() => received.length === i + 1, `the answer to ping ${i}`, 5000);
      expect(received[i]!.toString()).toBe(`PING${i % 10}`);
    }
    // A burst: 64 datagrams of 100 bytes sent back to back (the server, slowed by strace,
    // finds them queued).
    const burst = Array.from({ length: 64 }, (_, i) => Buffer.alloc(100, 97 + (i % 26)));
    for (const datagram of burst) peer.send(datagram, port, '127.0.0.1');
    await waitFor(() => received.length === 20 + burst.length, `64 answers (got ${received.length - 20})`, 10_000);
    const answers = received.slice(20).map((data) => data.toString()).sort();
    expect(answers).toEqual(burst.map((data) => data.toString().toUpperCase()).sort());
  } finally {
    peer.close();
  }
}

function calls(trace: string[]): Call[] {
  return trace
    .map((line) => /^\d+\s+(recvmsg|recvmmsg|sendmsg|sendmmsg)\((\d+),.*\)\s+=\s+(-?\d+)/.exec(line))
    .filter((match) => match !== null)
    .map((match) => ({ call: match![1]!, fd: Number(match![2]), result: Number(match![3]) }));
}

describe.runIf(hasStrace)('UDP receive calls follow the traffic (native backend, under strace)', () => {
  for (const kind of ['builtin', 'js']) {
    it(`${kind}: one datagram at a time is recvmsg + sendmsg; a burst is taken several per recvmmsg`, async () => {
      const trace = calls(
        await traceServer('test/fixtures/udp-server.mjs', 'recvmsg,recvmmsg,sendmsg,sendmmsg', exercise, [kind]),
      );
      // The server's socket: the one that received the first ping (5 bytes).
      const first = trace.find((c) => (c.call === 'recvmsg' || c.call === 'recvmmsg') && c.result > 0);
      expect(first?.call, 'the first ping was read by').toBe('recvmsg');
      const ours = trace.filter((c) => c.fd === first!.fd);
      // Every ping (5 bytes) came in by recvmsg and its answer left by sendmsg.
      expect(ours.filter((c) => c.call === 'recvmsg' && c.result === 5)).toHaveLength(20);
      expect(ours.filter((c) => c.call === 'sendmsg' && c.result === 5)).toHaveLength(20);
      // The burst grew the offer: some recvmmsg took more than one datagram at once.
      const batched = ours.filter((c) => c.call === 'recvmmsg' && c.result > 1);
      expect(batched.length, 'recvmmsg calls that took several datagrams').toBeGreaterThan(0);
      // Fewer receive calls than datagrams in all (the burst's 64 did not take 64 calls).
      const receives = ours.filter((c) => (c.call === 'recvmsg' || c.call === 'recvmmsg') && c.result > 0);
      expect(receives.length).toBeLessThan(20 + 64);
    }, 40_000);
  }
});
