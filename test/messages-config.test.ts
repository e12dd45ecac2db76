/** loadMessageConfig(): the write-up's YAML layout (and JSON), good files and each kind of bad one. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMessageConfig, messageClient, serveMessages } from '../lib/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sockengine-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const writeUp = `# the main config of a program; other sections are left alone
Logging: { level: debug }
Socket_connection:

    Host:
      IP: 127.0.0.1
      Port: 65432

    Client:
      Telegram:
        IP: 127.0.0.1
        Port: 65433
      Plotter:
        IP: localhost
        Port: "7000"
`;

describe('loadMessageConfig', () => {
  it("reads the write-up's YAML layout", async () => {
    const config = await loadMessageConfig(file('comet.yaml', writeUp));
    expect(config).toEqual({
      host: { host: '127.0.0.1', port: 65432 },
      clients: { Telegram: { host: '127.0.0.1', port: 65433 }, Plotter: { host: 'localhost', port: 7000 } },
    });
  });

  it('reads the same layout from JSON, and a config with only Client or only Host', async () => {
    const json = file('comet.json', JSON.stringify({ Socket_connection: { Client: { Telegram: { IP: '::1', Port: 1 } } } }));
    expect(await loadMessageConfig(json)).toEqual({ clients: { Telegram: { host: '::1', port: 1 } } });
    const yml = file('host-only.yml', 'Socket_connection:\n  Host:\n    IP: 0.0.0.0\n    Port: 0\n');
    expect(await loadMessageConfig(yml)).toEqual({ host: { host: '0.0.0.0', port: 0 }, clients: {} });
  });

  it('gives what serveMessages() and messageClient() take, as they are', async () => {
    const config = await loadMessageConfig(file('pair.yaml', 'Socket_connection:\n  Host: { IP: 127.0.0.1, Port: 0 }\n'));
    const server = await serveMessages({ ...config.host, actions: { Telegram: (message: string) => `sent: ${message}` } });
    const port = server.address().port;
    const clients = (await loadMessageConfig(file('client.yaml', `Socket_connection:\n  Client:\n    Telegram: { IP: 127.0.0.1, Port: ${port} }\n`))).clients;
    const client = messageClient(clients.Telegram!);
    expect(await client.request('Telegram', 'hello')).toBe('sent: hello');
    await client.close();
    await server.close();
  });

  const bad: Array<[string, string, RegExp]> = [
    ['no-section.yaml', 'Other: 1\n', /no-section\.yaml: Socket_connection is missing$/],
    ['empty-section.yaml', 'Socket_connection: {}\n', /Socket_connection\.Host is missing \(a config needs Host, Client or both\)/],
    ['typo.yaml', 'Socket_connection:\n  Hosts: { IP: 127.0.0.1, Port: 1 }\n', /typo\.yaml: Socket_connection\.Hosts is not a known key/],
    ['no-port.yaml', 'Socket_connection:\n  Host: { IP: 127.0.0.1 }\n', /no-port\.yaml: Socket_connection\.Host\.Port is missing/],
    ['bad-port.yaml', 'Socket_connection:\n  Host: { IP: 127.0.0.1, Port: 70000 }\n', /Socket_connection\.Host\.Port must be an integer from 0 to 65535, got 70000/],
    ['word-port.yaml', 'Socket_connection:\n  Client:\n    Telegram: { IP: 127.0.0.1, Port: abc }\n', /Socket_connection\.Client\.Telegram\.Port must be an integer from 0 to 65535, got 'abc'/],
    ['no-ip.yaml', 'Socket_connection:\n  Client:\n    Telegram: { Port: 1 }\n', /Socket_connection\.Client\.Telegram\.IP is missing/],
    ['ip-typo.yaml', 'Socket_connection:\n  Client:\n    Telegram: { Ip: 127.0.0.1, Port: 1 }\n', /Socket_connection\.Client\.Telegram\.Ip is not a known key \(IP and Port are\)/],
    ['client-list.yaml', 'Socket_connection:\n  Client: [a, b]\n', /Socket_connection\.Client must be a map of client names/],
    ['broken.yaml', 'Socket_connection:\n  Host: [\n', /broken\.yaml: Socket_connection cannot be read: the file is not valid YAML/],
    ['broken.json', '{"Socket_connection": ', /broken\.json: Socket_connection cannot be read: the file is not valid JSON/],
  ];
  it.each(bad)('%s: an error naming the key and the file', async (name, text, message) => {
    const path = file(name, text);
    const error = await loadMessageConfig(path).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_SOCKENGINE_MESSAGE_CONFIG', file: path });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message.startsWith(path)).toBe(true);
  });

  it('a file that is not there: the same error, with the reason', async () => {
    const path = join(dir, 'missing.yaml');
    await expect(loadMessageConfig(path)).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_MESSAGE_CONFIG', message: expect.stringMatching(/missing\.yaml: .*ENOENT/) });
  });
});
