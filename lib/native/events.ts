/**
 * The batch wire format, JavaScript's side: the twin of native/events.h, whose table says
 * what each field means per event type. test/events.test.ts reads that header and fails if
 * a value here differs.
 */

/** What happened (EventType in events.h). */
export const enum EventType {
  Open = 1,
  Data = 2,
  Drain = 3,
  End = 4,
  Close = 5,
  Error = 6,
  ServerIdle = 7,
  Message = 8,
  DatagramError = 9,
}

/** The fields of one record, in order (EventRecord in events.h). */
export const enum Field {
  Type = 0,
  Id = 1,
  Endpoint = 2,
  Offset = 3,
  Length = 4,
  Code = 5,
  Detail = 6,
}

/**
 * A Message record's first byte (MessageAddress in events.h): the sender's address text
 * length, or SameSender when the sender is that of the socket's previous Message record (no
 * text follows), plus IPv6 for an IPv6 sender.
 */
export const enum MessageAddress {
  SameSender = 127,
  IPv6 = 128,
}

/** Int32s per record. */
export const RECORD_FIELDS = 7;

/** Syscall in events.h, by value: the names node:net and node:dgram report. */
export const syscallNames: readonly string[] = ['', 'read', 'write', 'connect', 'shutdown', 'recvmsg', 'send'];

/** EngineError in events.h: failures the engine decides, carried in `code` like an errno. */
export const enum EngineError {
  IdleTimeout = -100001,
  BufferFull = -100002,
  FrameTooLong = -100003,
  BadFrameLength = -100004,
}

/** The values above by name, for the test that compares them with events.h. */
export const wireFormat = {
  EventType: {
    kOpen: EventType.Open,
    kData: EventType.Data,
    kDrain: EventType.Drain,
    kEnd: EventType.End,
    kClose: EventType.Close,
    kError: EventType.Error,
    kServerIdle: EventType.ServerIdle,
    kMessage: EventType.Message,
    kDatagramError: EventType.DatagramError,
  },
  Syscall: Object.fromEntries(
    syscallNames.map((name, value) => [`k${name ? name[0]!.toUpperCase() + name.slice(1) : 'None'}`, value]),
  ),
  EngineError: {
    kIdleTimeout: EngineError.IdleTimeout,
    kBufferFull: EngineError.BufferFull,
    kFrameTooLong: EngineError.FrameTooLong,
    kBadFrameLength: EngineError.BadFrameLength,
  },
  MessageAddress: {
    kSameSender: MessageAddress.SameSender,
    kIPv6: MessageAddress.IPv6,
  },
  recordFields: RECORD_FIELDS,
  fieldOrder: ['type', 'id', 'endpoint', 'offset', 'length', 'code', 'detail'],
} as const;
