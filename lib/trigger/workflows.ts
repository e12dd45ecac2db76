/**
 * The three kinds of workflow: a function, a shell command (`exec`) and an HTTP endpoint
 * (`webhook`), each turned into one `(run) => Promise<output>` the queue calls.
 */
import { spawn } from 'node:child_process';
import type { TriggerRun, Workflow } from './types.js';

/** exec and webhook runs fail after this long unless `timeout` says otherwise. */
export const DEFAULT_WORKFLOW_TIMEOUT_MS = 30_000;
/** The most stdout (exec) or response body (webhook) kept as output; more is an error. */
export const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
/** How much of an exec's stderr or a webhook's error body goes into the error message. */
const ERROR_DETAIL_CHARS = 2000;

/** A workflow ready to run. */
export type RunWorkflow = (run: TriggerRun) => Promise<unknown>;

/**
 * The run as exec and webhook workflows receive it: JSON with the payload twice, as
 * `payloadBase64` (exact bytes) and `payloadText` (UTF-8, invalid bytes replaced).
 */
export function runJson(run: TriggerRun): string {
  return JSON.stringify({
    id: run.id,
    event: run.event,
    source: run.source,
    transport: run.transport,
    remoteAddress: run.remoteAddress,
    remotePort: run.remotePort,
    localPort: run.localPort,
    session: run.session,
    payloadBase64: run.payload.toString('base64'),
    payloadText: run.payload.toString('utf8'),
    replayOf: run.replayOf,
    receivedAt: new Date(run.receivedAt).toISOString(),
  });
}

function checkTimeout(value: unknown, kind: string): number {
  if (value === undefined) return DEFAULT_WORKFLOW_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`options.workflow.timeout (${kind}) must be a whole number of ms >= 1, got ${String(value)}`);
  }
  return value;
}

/** Checks `workflow` and gives the function that runs it; a TypeError names what is wrong. */
export function workflowRunner(workflow: unknown): RunWorkflow {
  if (typeof workflow === 'function') {
    const fn = workflow as (run: TriggerRun) => unknown;
    return async (run) => fn(run);
  }
  if (workflow === null || typeof workflow !== 'object') {
    throw new TypeError('options.workflow must be a function, { exec: COMMAND } or { webhook: URL }');
  }
  const given = workflow as Record<string, unknown>;
  const keys = Object.keys(given).filter((key) => key !== 'timeout');
  if (keys.length !== 1 || (keys[0] !== 'exec' && keys[0] !== 'webhook')) {
    throw new TypeError(`options.workflow must be a function, { exec: COMMAND } or { webhook: URL }, got keys ${JSON.stringify(Object.keys(given))}`);
  }
  if (keys[0] === 'exec') {
    if (typeof given.exec !== 'string' || given.exec.trim() === '') throw new TypeError('options.workflow.exec must be a non-empty shell command');
    return execWorkflow(given.exec, checkTimeout(given.timeout, 'exec'));
  }
  let url: URL;
  try {
    url = new URL(String(given.webhook));
  } catch {
    throw new TypeError(`options.workflow.webhook must be an http:// or https:// URL, got ${JSON.stringify(given.webhook)}`);
  }
  if (typeof given.webhook !== 'string' || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`options.workflow.webhook must be an http:// or https:// URL, got ${JSON.stringify(given.webhook)}`);
  }
  return webhookWorkflow(url.href, checkTimeout(given.timeout, 'webhook'));
}

function clip(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > ERROR_DETAIL_CHARS ? `${trimmed.slice(0, ERROR_DETAIL_CHARS)}...` : trimmed;
}

/** `sh -c COMMAND`, the run as JSON on stdin, stdout the output. */
function execWorkflow(command: string, timeout: number): RunWorkflow {
  return (run) =>
    new Promise((resolve, reject) => {
      // Its own process group, so a timeout kills what the shell started too (a `sleep`
      // left behind would keep stdout open and the run waiting).
      const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const kill = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      let stderr = '';
      let failure: Error | undefined;
      const timer = setTimeout(() => {
        failure = new Error(`exec timed out after ${timeout} ms: ${command}`);
        kill();
      }, timeout);
      child.stdout.on('data', (chunk: Buffer) => {
        stdoutBytes += chunk.length;
        if (stdoutBytes > MAX_OUTPUT_BYTES) {
          failure ??= new Error(`exec wrote more than ${MAX_OUTPUT_BYTES} bytes to stdout: ${command}`);
          kill();
        } else stdout.push(chunk);
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < ERROR_DETAIL_CHARS * 2) stderr += chunk;
      });
      // A command that does not read its stdin closes the pipe early: that is not a failure.
      child.stdin.on('error', () => {});
      child.stdin.end(runJson(run));
      child.on('error', (error) => {
        failure ??= new Error(`exec could not start sh: ${error.message}`);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (failure) reject(failure);
        else if (code !== 0) {
          const status = signal ? `was killed by ${signal}` : `exited with status ${code}`;
          const detail = clip(stderr);
          reject(new Error(`exec ${status}${detail ? `: ${detail}` : ''}`));
        } else resolve(Buffer.concat(stdout).toString('utf8'));
      });
    });
}

/** The response body as text, refusing more than MAX_OUTPUT_BYTES however it is sent. */
async function readBody(response: Response, url: string): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_OUTPUT_BYTES) {
      await response.body.cancel().catch(() => {});
      throw new Error(`webhook ${url} answered more than ${MAX_OUTPUT_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** POST the run as JSON; the response body is the output, a non-2xx status an error. */
function webhookWorkflow(url: string, timeout: number): RunWorkflow {
  return async (run) => {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: runJson(run),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (error) {
      const e = error as Error & { cause?: Error };
      const reason = e.name === 'TimeoutError' ? `timed out after ${timeout} ms` : (e.cause?.message ?? e.message);
      throw new Error(`webhook ${url} failed: ${reason}`);
    }
    const body = await readBody(response, url);
    if (!response.ok) throw new Error(`webhook ${url} answered ${response.status} ${response.statusText}${body ? `: ${clip(body)}` : ''}`);
    return body;
  };
}
