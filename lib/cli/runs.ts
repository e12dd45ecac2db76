/**
 * `sockengine runs [--store FILE] list [--limit N] [--json]` and
 * `sockengine runs [--store FILE] show ID [--json]`: the trigger's records, read from its
 * store (opened read-only; the trigger may be writing meanwhile, WAL lets both).
 */
import { existsSync } from 'node:fs';
import { openRunStore, type RunRecord } from '../index.js';
import { recordJson } from '../trigger/json.js';
import { UsageError } from './args.js';
import { parseArgs as parseFlags } from 'node:util';
import { DEFAULT_STORE, parseWhole, usageFrom } from './trigger.js';

const flags = {
  store: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The payload for one line: JSON-quoted text, cut to `width` characters. */
function payloadCell(record: RunRecord, width: number): string {
  const text = JSON.stringify(record.payload.toString('utf8'));
  return text.length > width ? `${text.slice(0, width - 3)}...` : text;
}

function client(record: RunRecord): string {
  if (record.remoteAddress === null) return '-';
  return record.remoteAddress.includes(':') ? `[${record.remoteAddress}]:${record.remotePort}` : `${record.remoteAddress}:${record.remotePort}`;
}

function hexDump(bytes: Buffer): string {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = [...bytes.subarray(offset, offset + 16)].map((byte) => byte.toString(16).padStart(2, '0'));
    lines.push(`  ${offset.toString(16).padStart(6, '0')}  ${row.join(' ')}`);
  }
  return lines.length === 0 ? '  (empty)' : lines.join('\n');
}

function table(records: RunRecord[]): string {
  const rows = records.map((r) => [
    String(r.id), new Date(r.receivedAt).toISOString(), r.event, r.source, client(r), r.status, payloadCell(r, 40),
  ]);
  const header = ['ID', 'RECEIVED', 'EVENT', 'SOURCE', 'CLIENT', 'STATUS', 'PAYLOAD'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((value, column) => value.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

function details(r: RunRecord): string {
  const json = recordJson(r);
  return [
    `run ${r.id}`,
    `event:     ${r.event}`,
    `source:    ${r.source}${r.replayOf === null ? '' : ` (replay of run ${r.replayOf})`}`,
    `transport: ${r.transport}, local port ${r.localPort ?? '-'}`,
    `client:    ${client(r)}`,
    `session:   ${r.session ?? '-'}`,
    `status:    ${r.status}`,
    `received:  ${json.receivedAt}`,
    `started:   ${json.startedAt ?? '(never)'}`,
    `finished:  ${json.finishedAt}${json.durationMs === null ? '' : ` (${json.durationMs} ms)`}`,
    `payload:   ${r.payload.length} bytes, as text ${JSON.stringify(json.payloadText)}`,
    hexDump(r.payload),
    `output:    ${r.output === null ? '(none)' : JSON.stringify(r.output)}`,
    `error:     ${r.error ?? '(none)'}`,
  ].join('\n');
}

export const RUNS_USAGE = `usage: sockengine runs [--store FILE] list [--limit N] [--json]
       sockengine runs [--store FILE] show ID [--json]`;

export async function runsCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${RUNS_USAGE}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseFlags({ args: argv, options: flags, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageFrom(error);
  }
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  const path = values.store ?? DEFAULT_STORE;
  if (action !== 'list' && action !== 'show') {
    throw new UsageError(action === undefined ? 'runs needs list or show' : `runs takes list or show, got '${action}'`);
  }
  if (action === 'list' && rest.length > 0) throw new UsageError(`runs list takes no arguments, got '${rest[0]}'`);
  if (action === 'show' && values.limit !== undefined) throw new UsageError('--limit applies to runs list');
  const limit = parseWhole(values.limit, 'limit', 1);
  let id = 0;
  if (action === 'show') {
    if (rest.length !== 1) throw new UsageError('runs show needs one run ID');
    id = parseWhole(rest[0], 'show ID', 1) ?? 0;
  }
  if (!existsSync(path)) {
    process.stderr.write(`sockengine: no run store at ${path} (start one with sockengine trigger --store ${path})\n`);
    return 1;
  }
  let store;
  try {
    store = openRunStore(path, { readonly: true });
  } catch (error) {
    process.stderr.write(`sockengine: ${(error as Error).message}\n`);
    return 1;
  }
  try {
    if (action === 'list') {
      // The newest `limit` (all by default), printed oldest first.
      const records = store.list(limit === undefined ? {} : { limit }).reverse();
      process.stdout.write(values.json ? `${JSON.stringify(records.map(recordJson), null, 2)}\n` : records.length === 0 ? 'no runs\n' : `${table(records)}\n`);
      return 0;
    }
    const record = store.get(id);
    if (!record) {
      process.stderr.write(`sockengine: no run ${id} in ${path}\n`);
      return 1;
    }
    process.stdout.write(values.json ? `${JSON.stringify(recordJson(record), null, 2)}\n` : `${details(record)}\n`);
    return 0;
  } finally {
    store.close();
  }
}
