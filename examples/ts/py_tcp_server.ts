/**
 * py_tcp_server.ts - the threaded Python TCP server of seed 004, on sockengine.
 *
 * The seed's server.py listens on 0.0.0.0:7000, prints "server start at: 0.0.0.0:7000" and
 * "wait for connection...", and starts one thread per accepted connection. Each thread
 * loops: recv(), and if the text is "exit" close that connection; otherwise print
 * "Server Message is " + the text in upper case and send the upper-case text back. "exit"
 * ends one connection only; the server runs until it is killed.
 *
 * "Each connection handled on its own", without threads. The seed needs a thread per
 * client because recv() blocks: while one thread waits for its client, the others must go
 * on. sockengine never blocks: one event loop waits on every socket at once and calls the
 * handler for whichever is ready. What a thread kept on its own stack, a connection keeps
 * in its own `state` here: its UTF-8 decoder (a character may be split between two reads)
 * and whether it is done. Nothing is shared between connections, so, as with the threads,
 * one client's traffic never mixes with another's, and one slow client holds up no one.
 *
 * Messages. The seed's client (py_tcp_client.ts, and the Python one in test/python/seeds/)
 * sends each message without any terminator and waits for the answer before sending the
 * next one. So whatever one read returns is one message: with one message in flight at a
 * time, two cannot merge, and a short message on one machine arrives in one piece. (A long
 * one over a real network may not: that is why the C programs end each message with '\n'.)
 * This server also takes '\n'-terminated lines, so examples/c/tcp_client.c and
 * tcp_client.ts work with it too: each line of a read is a message, and its answer ends in
 * '\n' as well; text after the last '\n' of a read is a message of its own, answered
 * without one.
 *
 * Fix: the seed's loop never checks for recv() returning b'' (the client closed); it then
 * prints "Server Message is " and sends nothing for ever. Here the end of the connection
 * just closes it.
 *
 * Run:  npx tsx examples/ts/py_tcp_server.ts [--backend native|node|auto] [PORT] [ADDRESS]
 *       PORT defaults to 7000, ADDRESS to 0.0.0.0, as in the seed. Ctrl-C stops it.
 */
import { StringDecoder } from 'node:string_decoder';
import { listen, type Connection } from 'sockengine';
import { exampleArgs, parsePort } from './common.js';

const HOST = '0.0.0.0';
const PORT = 7000;

/** One connection's own state: what the seed's thread kept in its locals. */
interface ClientState {
  decoder: StringDecoder;
  done: boolean;
}

const { backend, positionals } = exampleArgs('py_tcp_server.ts [--backend native|node|auto] [PORT] [ADDRESS]', 2);
const port = positionals[0] === undefined ? PORT : parsePort(positionals[0]);
const host = positionals[1] ?? HOST;

/** The seed's job(conn), one message at a time. False once "exit" has ended the connection. */
function job(connection: Connection<ClientState>, message: string, terminator: string): boolean {
  // if input data content is exit then close this connection (only this one)
  if (message.replace(/\r$/, '').toLowerCase() === 'exit') {
    // engine: conn.close() -> connection.end(): answers already queued go out first.
    connection.end();
    connection.state.done = true;
    return false;
  }
  // print write back client content (str.upper() of Python is toUpperCase() here)
  const upperstring = message.toUpperCase();
  console.log(`Server Message is ${upperstring}`);
  // write back to client
  // engine: conn.send() -> connection.write()
  connection.write(upperstring + terminator);
  return true;
}

// engine: socket() + bind() + listen(5) -> listen()
const server = await listen({
  transport: 'tcp',
  host,
  port,
  backend,
  backlog: 5,
  handler: {
    // engine: conn, addr = s.accept() -> open(). Where the seed starts a thread, the
    // connection gets its own state.
    open(connection: Connection<ClientState>) {
      connection.state = { decoder: new StringDecoder('utf8'), done: false };
    },
    // engine: conn.recv(1024) -> data(), with whatever one read returned.
    data(connection: Connection<ClientState>, chunk: Buffer) {
      const state = connection.state;
      if (state.done) return;
      const text = state.decoder.write(chunk);
      const lines = text.split('\n');
      const rest = lines.pop()!; // after the last '\n' (all of it when there is none)
      for (const line of lines) if (!job(connection, line, '\n')) return;
      if (rest.length > 0) job(connection, rest, '');
    },
    // The client closed: the engine closes this connection too (see "Fix:" above).
  },
});

const bound = server.address();
console.log(`server start at: ${bound.address}:${bound.port}`);
console.log('wait for connection...');
