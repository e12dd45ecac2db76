/** The batch wire format has one home on each side: native/events.h and lib/native/events.ts must agree. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wireFormat } from '../lib/native/events.js';
import { root } from './helpers.js';

const header = readFileSync(join(root, 'native', 'events.h'), 'utf8');

/** `enum class NAME : int32_t { kA = 1, ... }` in events.h, as { kA: 1, ... }. */
function nativeEnum(name: string): Record<string, number> {
  const body = new RegExp(`enum class ${name} : int32_t \\{([^}]*)\\}`).exec(header);
  expect(body, `events.h defines ${name}`).not.toBeNull();
  const entries = [...body![1]!.matchAll(/\b(k\w+)\s*=\s*(-?\d+)/g)].map(([, key, value]) => [key!, Number(value)]);
  return Object.fromEntries(entries);
}

describe('the batch wire format', () => {
  it('has the same event types on both sides', () => {
    expect(wireFormat.EventType).toEqual(nativeEnum('EventType'));
  });

  it('has the same syscall names, in the same order', () => {
    expect(wireFormat.Syscall).toEqual(nativeEnum('Syscall'));
  });

  it('has the same engine error codes', () => {
    expect(wireFormat.EngineError).toEqual(nativeEnum('EngineError'));
  });

  it('marks a message\'s sender the same way', () => {
    expect(wireFormat.MessageAddress).toEqual(nativeEnum('MessageAddress'));
  });

  it('has the same record fields, in the same order', () => {
    const record = /struct EventRecord \{([^}]*)\}/.exec(header);
    const fields = [...record![1]!.matchAll(/int32_t (\w+);/g)].map(([, field]) => field);
    expect(fields).toEqual(wireFormat.fieldOrder);
    expect(fields.length).toBe(wireFormat.recordFields);
  });

  it('documents every event type in the header\'s table', () => {
    for (const type of Object.keys(wireFormat.EventType)) expect(header).toMatch(new RegExp(`//\\s+${type}\\s`));
  });
});
