/**
 * The write-up's config layout for message servers and clients, read from YAML or JSON:
 *
 *   Socket_connection:
 *     Host:   { IP: 127.0.0.1, Port: 65432 }      the server's own address
 *     Client: { Telegram: { IP: ..., Port: ... } } servers to send to, by name
 *
 * Other top-level keys are left alone (the write-up keeps this in a program's main config).
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { MessageConfigError } from './errors.js';

/** An address, in the shape serveMessages() and messageClient() take. */
export interface MessageEndpoint {
  host: string;
  port: number;
}

/** A loaded message config. */
export interface MessageConfig {
  /** The server's own address (`Host`), if the file has one. */
  host?: MessageEndpoint;
  /** The named clients (`Client`): where each one sends. */
  clients: Record<string, MessageEndpoint>;
}

const SECTION = 'Socket_connection';

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
}

function endpoint(file: string, key: string, value: unknown): MessageEndpoint {
  if (!isMap(value)) throw new MessageConfigError(file, key, `must be a map with IP and Port, got ${describe(value)}`);
  for (const name of Object.keys(value)) {
    if (name !== 'IP' && name !== 'Port') throw new MessageConfigError(file, `${key}.${name}`, 'is not a known key (IP and Port are)');
  }
  const ip = value.IP;
  if (ip === undefined) throw new MessageConfigError(file, `${key}.IP`, 'is missing');
  if (typeof ip !== 'string' || ip.trim() === '') throw new MessageConfigError(file, `${key}.IP`, `must be an address or host name, got ${describe(ip)}`);
  const rawPort = value.Port;
  if (rawPort === undefined) throw new MessageConfigError(file, `${key}.Port`, 'is missing');
  const port = typeof rawPort === 'string' && /^\d+$/.test(rawPort) ? Number(rawPort) : rawPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MessageConfigError(file, `${key}.Port`, `must be an integer from 0 to 65535, got ${describe(rawPort)}`);
  }
  return { host: ip.trim(), port };
}

/** Reads the `Socket_connection` section of a parsed config. */
export function messageConfigFrom(document: unknown, file = '(config)'): MessageConfig {
  if (!isMap(document)) throw new MessageConfigError(file, SECTION, 'is missing (the file is not a map)');
  const section = document[SECTION];
  if (section === undefined) throw new MessageConfigError(file, SECTION, 'is missing');
  if (!isMap(section)) throw new MessageConfigError(file, SECTION, `must be a map with Host and/or Client, got ${describe(section)}`);
  for (const name of Object.keys(section)) {
    if (name !== 'Host' && name !== 'Client') throw new MessageConfigError(file, `${SECTION}.${name}`, 'is not a known key (Host and Client are)');
  }
  if (section.Host === undefined && section.Client === undefined) {
    throw new MessageConfigError(file, `${SECTION}.Host`, 'is missing (a config needs Host, Client or both)');
  }
  const config: MessageConfig = { clients: {} };
  if (section.Host !== undefined) config.host = endpoint(file, `${SECTION}.Host`, section.Host);
  if (section.Client !== undefined) {
    const clients = section.Client;
    if (!isMap(clients)) throw new MessageConfigError(file, `${SECTION}.Client`, `must be a map of client names, got ${describe(clients)}`);
    for (const [name, value] of Object.entries(clients)) {
      config.clients[name] = endpoint(file, `${SECTION}.Client.${name}`, value);
    }
  }
  return config;
}

/**
 * Loads a message config from a YAML (.yaml, .yml) or JSON (.json) file; another extension
 * is read as YAML, of which JSON is a subset. A wrong or missing key is a
 * MessageConfigError naming the key and the file.
 */
export async function loadMessageConfig(path: string): Promise<MessageConfig> {
  if (typeof path !== 'string' || path === '') throw new TypeError('loadMessageConfig(path): path must be a non-empty string');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw Object.assign(new MessageConfigError(path, SECTION, `cannot be read: ${e.code ?? ''} ${e.message}`.replace('  ', ' ')), { cause: error });
  }
  let document: unknown;
  try {
    if (extname(path).toLowerCase() === '.json') {
      document = JSON.parse(text);
    } else {
      // Loaded when first needed: importing sockengine (and starting the CLI) stays ~35 ms faster.
      const { parse } = await import('yaml');
      document = parse(text);
    }
  } catch (error) {
    const first = (error as Error).message.split('\n')[0];
    throw Object.assign(new MessageConfigError(path, SECTION, `cannot be read: the file is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'} (${first})`), { cause: error });
  }
  return messageConfigFrom(document, path);
}
