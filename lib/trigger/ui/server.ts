/**
 * The trigger's page: a small node:http server on 127.0.0.1 with the page itself and JSON
 * endpoints for it. Live updates go out as Server-Sent Events (`/api/events`): a `run`
 * event per finished run and a `status` event every second.
 *
 * It only ever binds loopback, refuses requests whose Host is not its own (DNS rebinding)
 * and POSTs from another origin (a web page cannot make the trigger run workflows).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { recordJson } from '../json.js';
import type { Trigger, TriggerEvent } from '../types.js';
import { PAGE_HTML } from './page.js';

/** Status pushes per second on the event stream. */
const STATUS_INTERVAL_MS = 1000;
/** The largest request body (a Debug payload); more is refused with 413. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Runs the list endpoint gives at most per request. */
const MAX_LIST = 500;

/** A running page server. */
export interface TriggerUi {
  /** `http://127.0.0.1:PORT/`. */
  readonly url: string;
  address(): { address: string; port: number; family: string };
  /** Closes the server and every open event stream. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(text);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const type = request.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new HttpError(415, 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    return body as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'the body is not a JSON object');
  }
}

function statusOf(trigger: Trigger) {
  return {
    transport: trigger.transport,
    backend: trigger.backend,
    address: trigger.address(),
    store: trigger.storePath,
    stats: trigger.stats(),
  };
}

function positiveInteger(text: string | null, name: string): number | undefined {
  if (text === null) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new HttpError(400, `${name} must be a whole number >= 1`);
  return Number(text);
}

/** Serves the page of `trigger` on 127.0.0.1:`port` (0 picks one); resolves once listening. */
export async function serveTriggerUi(trigger: Trigger, options: { port?: number } = {}): Promise<TriggerUi> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`options.port must be a port number 0-65535, got ${String(port)}`);
  const streams = new Set<ServerResponse>();
  let origin = '';
  let host = '';

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.headers.host !== host && request.headers.host !== host.replace('127.0.0.1', 'localhost')) {
      throw new HttpError(421, 'this server answers only to its own address');
    }
    const url = new URL(request.url ?? '/', origin);
    const method = request.method ?? 'GET';
    if (method === 'POST') {
      const from = request.headers.origin;
      if (from !== undefined && from !== origin && from !== origin.replace('127.0.0.1', 'localhost')) {
        throw new HttpError(403, 'cross-origin requests are refused');
      }
    }
    const path = url.pathname;
    if (method === 'GET' && path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(PAGE_HTML);
      return;
    }
    if (method === 'GET' && path === '/api/status') return sendJson(response, 200, statusOf(trigger));
    if (method === 'GET' && path === '/api/runs') {
      const limit = Math.min(positiveInteger(url.searchParams.get('limit'), 'limit') ?? 100, MAX_LIST);
      const before = positiveInteger(url.searchParams.get('before'), 'before');
      const runs = trigger.runs(before === undefined ? { limit } : { limit, before });
      return sendJson(response, 200, runs.map(recordJson));
    }
    const one = /^\/api\/runs\/(\d+)(\/replay)?$/.exec(path);
    if (one && method === 'GET' && !one[2]) {
      const record = trigger.run(Number(one[1]));
      if (!record) throw new HttpError(404, `no stored run ${one[1]}`);
      return sendJson(response, 200, recordJson(record));
    }
    if (one && method === 'POST' && one[2]) {
      await readJson(request);
      try {
        return sendJson(response, 200, recordJson(await trigger.replay(Number(one[1]))));
      } catch (error) {
        const code = (error as { code?: string }).code;
        throw new HttpError(code === 'ERR_SOCKENGINE_RUN_NOT_FOUND' ? 404 : 409, (error as Error).message);
      }
    }
    if (method === 'POST' && path === '/api/debug') {
      const body = await readJson(request);
      if (typeof body.payload !== 'string') throw new HttpError(400, 'payload must be a string');
      if (body.event !== undefined && typeof body.event !== 'string') throw new HttpError(400, 'event must be a string');
      try {
        const record = await trigger.debug(body.payload, body.event === undefined ? {} : { event: body.event as TriggerEvent });
        return sendJson(response, 200, recordJson(record));
      } catch (error) {
        throw new HttpError(error instanceof RangeError || error instanceof TypeError ? 400 : 409, (error as Error).message);
      }
    }
    if (method === 'GET' && path === '/api/events') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      response.write(`event: status\ndata: ${JSON.stringify(statusOf(trigger))}\n\n`);
      streams.add(response);
      request.on('close', () => streams.delete(response));
      return;
    }
    throw new HttpError(path.startsWith('/api/') ? 404 : 404, `nothing at ${method} ${path}`);
  };

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      if (!response.headersSent) sendJson(response, status, { error: (error as Error).message });
      else response.destroy();
    });
  });

  const stopListening = trigger.onRun((record) => {
    if (streams.size === 0) return;
    const line = `event: run\ndata: ${JSON.stringify(recordJson(record))}\n\n`;
    for (const stream of streams) stream.write(line);
  });
  const ticker = setInterval(() => {
    if (streams.size === 0) return;
    const line = `event: status\ndata: ${JSON.stringify(statusOf(trigger))}\n\n`;
    for (const stream of streams) stream.write(line);
  }, STATUS_INTERVAL_MS);
  ticker.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: unknown) => {
    clearInterval(ticker);
    stopListening();
    throw error;
  });
  const address = server.address() as { address: string; port: number; family: string };
  host = `127.0.0.1:${address.port}`;
  origin = `http://${host}`;

  let closing: Promise<void> | undefined;
  return {
    url: `${origin}/`,
    address: () => address,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(ticker);
        stopListening();
        for (const stream of streams) stream.end();
        streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
