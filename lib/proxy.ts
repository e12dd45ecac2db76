/**
 * The PROXY protocol, versions 1 and 2, for the node backend: the same rules as
 * native/proxy.cc (test/proxy.test.ts feeds both the same headers and expects the same
 * answers). A load balancer sends this header first on each connection to name the client.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** v1 is one text line of at most 107 bytes, CRLF included. */
export const PROXY_V1_MAX_HEADER = 107;
/** The longest v2 header accepted (addresses and TLVs included); see native/proxy.h. */
export const PROXY_MAX_HEADER = 4096;
/** How long a connection has to send its header, by default. */
export const DEFAULT_PROXY_TIMEOUT = 3000;

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
const V2_PREAMBLE = 16;
const V2_ADDRESS_BYTES = [0, 12, 36, 216];

/** A parsed header: `local` means the connection's own addresses stand (health checks, UNKNOWN). */
export interface ProxyHeader {
  version: 1 | 2;
  local: boolean;
  sourceAddress?: string;
  sourcePort?: number;
  destinationAddress?: string;
  destinationPort?: number;
}

export type ProxyParse =
  | { status: 'incomplete' }
  | { status: 'invalid' }
  | { status: 'complete'; length: number; header: ProxyHeader };

const INCOMPLETE = { status: 'incomplete' } as const;
const INVALID = { status: 'invalid' } as const;

function startsLike(data: Buffer, expected: Buffer): boolean {
  const n = Math.min(data.length, expected.length);
  return data.subarray(0, n).equals(expected.subarray(0, n));
}

function port(text: string): number | undefined {
  return /^[0-9]{1,5}$/.test(text) && Number(text) <= 65535 ? Number(text) : undefined;
}

function parseV1(data: Buffer): ProxyParse {
  const end = data.subarray(0, PROXY_V1_MAX_HEADER).indexOf(0x0a);
  if (end === -1) return data.length >= PROXY_V1_MAX_HEADER ? INVALID : INCOMPLETE;
  if (end < V1_PREFIX.length + 1 || data[end - 1] !== 0x0d) return INVALID;
  const line = data.toString('latin1', V1_PREFIX.length, end - 1);
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) {
    return { status: 'complete', length: end + 1, header: { version: 1, local: true } };
  }
  const fields = line.split(' ');
  if (fields.length !== 5) return INVALID;
  const [protocol, source, destination, sourceText, destinationText] = fields as [string, string, string, string, string];
  const isFamily = protocol === 'TCP4' ? isIPv4 : protocol === 'TCP6' ? isIPv6 : undefined;
  const sourcePort = port(sourceText);
  const destinationPort = port(destinationText);
  // Numeric addresses of the family named, as inet_pton reads them (no zone ids).
  const numeric = (text: string) => isFamily !== undefined && isFamily(text) && !text.includes('%');
  if (!numeric(source) || !numeric(destination) || sourcePort === undefined || destinationPort === undefined) {
    return INVALID;
  }
  return {
    status: 'complete',
    length: end + 1,
    header: {
      version: 1,
      local: false,
      // As inet_pton then inet_ntop give them on the native backend.
      sourceAddress: protocol === 'TCP6' ? ipv6Text(ipv6Bytes(source)) : source,
      sourcePort,
      destinationAddress: protocol === 'TCP6' ? ipv6Text(ipv6Bytes(destination)) : destination,
      destinationPort,
    },
  };
}

/** The 16 bytes of a numeric IPv6 address (already checked by isIPv6, no zone id). */
function ipv6Bytes(text: string): Buffer {
  const bytes = Buffer.alloc(16);
  let tail = text;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  const words: number[] = [];
  if (dotted) {
    tail = text.slice(0, dotted.index) + '0:0';
  }
  const [head, rest] = tail.includes('::') ? tail.split('::') : [tail, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const first = parse(head);
  const last = parse(rest);
  words.push(...first, ...Array(8 - first.length - last.length).fill(0), ...last);
  words.forEach((word, i) => bytes.writeUInt16BE(word, i * 2));
  if (dotted) for (let i = 0; i < 4; i++) bytes[12 + i] = Number(dotted[i + 1]);
  return bytes;
}

/** The text glibc's inet_ntop gives for 16 address bytes, so both backends report the same. */
function ipv6Text(bytes: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  // The longest run of two or more zero groups (the first, on a tie) becomes '::'.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < 2) bestStart = -1;
  // IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) keep a dotted tail.
  const dottedTail = bestStart === 0 && (bestLength === 6 || (bestLength === 5 && groups[5] === 0xffff));
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16));
  if (dottedTail) {
    const quad = `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
    return bestLength === 6 ? `::${quad}` : `::ffff:${quad}`;
  }
  if (bestStart === -1) return hex(0, 8).join(':');
  return `${hex(0, bestStart).join(':')}::${hex(bestStart + bestLength, 8).join(':')}`;
}

function parseV2(data: Buffer): ProxyParse {
  if (data.length < V2_PREAMBLE) return INCOMPLETE;
  const versionCommand = data[12]!;
  const familyProtocol = data[13]!;
  const total = V2_PREAMBLE + data.readUInt16BE(14);
  if (versionCommand >> 4 !== 2 || (versionCommand & 0x0f) > 1) return INVALID;
  if (familyProtocol >> 4 > 3 || (familyProtocol & 0x0f) > 2) return INVALID;
  if (total > PROXY_MAX_HEADER) return INVALID;
  const family = familyProtocol >> 4;
  const needed = V2_ADDRESS_BYTES[family]!;
  const local = (versionCommand & 0x0f) === 0 || needed === 0;
  if (!local && total - V2_PREAMBLE < needed) return INVALID;
  if (data.length < total) return INCOMPLETE;
  if (local) return { status: 'complete', length: total, header: { version: 2, local: true } };
  const block = data.subarray(V2_PREAMBLE, total);
  let header: ProxyHeader;
  if (family === 1) {
    header = {
      version: 2,
      local: false,
      sourceAddress: `${block[0]}.${block[1]}.${block[2]}.${block[3]}`,
      destinationAddress: `${block[4]}.${block[5]}.${block[6]}.${block[7]}`,
      sourcePort: block.readUInt16BE(8),
      destinationPort: block.readUInt16BE(10),
    };
  } else if (family === 2) {
    header = {
      version: 2,
      local: false,
      sourceAddress: ipv6Text(block.subarray(0, 16)),
      destinationAddress: ipv6Text(block.subarray(16, 32)),
      sourcePort: block.readUInt16BE(32),
      destinationPort: block.readUInt16BE(34),
    };
  } else {
    // AF_UNIX: named as a Unix peer always is, with no address and port 0.
    header = { version: 2, local: false, sourceAddress: '', destinationAddress: '', sourcePort: 0, destinationPort: 0 };
  }
  return { status: 'complete', length: total, header };
}

/** Looks at the first bytes a connection sent; see native/proxy.h for the three answers. */
export function parseProxyHeader(data: Buffer): ProxyParse {
  if (data.length === 0) return INCOMPLETE;
  if (data[0] === V2_SIGNATURE[0]) return startsLike(data, V2_SIGNATURE) ? parseV2(data) : INVALID;
  if (!startsLike(data, V1_PREFIX)) return INVALID;
  if (data.length < V1_PREFIX.length) return INCOMPLETE;
  return parseV1(data);
}
