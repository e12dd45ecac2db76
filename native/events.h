// The batch wire format: what the engine hands JavaScript after each wake-up. Its twin is
// lib/native/events.ts; test/events.test.ts reads this file and fails if the two disagree.
//
// A batch is an Int32Array of EventRecords plus one byte buffer (the arena) that kData and
// kMessage records point into, and an array of chunks (Buffers of their own, for large reads
// and frames) that a kData record with a negative offset names. Each field has one meaning per event type:
//
//   type        id          endpoint     offset / length          code            detail
//   ----------  ----------  -----------  -----------------------  --------------  ------------------
//   kOpen       connection  its endpoint -                        -               -
//   kData       connection  its endpoint the received bytes (a      -               -
//                                        negative offset -(i+1):
//                                        the batch's own chunk i)
//   kDrain      connection  its endpoint -                        -               -
//   kEnd        connection  its endpoint -                        -               -
//   kClose      connection  its endpoint -                        0 or an error   -
//   kError      connection  its endpoint -                        the error       Syscall that failed
//   kServerIdle endpoint    -            -                        -               -
//   kMessage    UDP socket  -            [address length, 0x80 if  sender's port   the datagram's real
//                                        IPv6][address text]        size (more than
//                                        [payload]; length =        length when cut)
//                                        payload bytes (see
//                                        MessageAddress)
//   kDatagramError UDP socket -          -                        the error       Syscall that failed
//
// With framing, each kData record is one complete frame (its delimiter or header removed).
//
// `endpoint` is the id of the server a connection belongs to, or 0 for a client
// connection, so JavaScript can make a connection's object at its first event. An error
// `code` is a negative errno, or one of the EngineError values below (all below -100000,
// far from any errno) for failures the engine itself decides.
#pragma once

#include <cstdint>

namespace sockengine {

enum class EventType : int32_t {
  kOpen = 1,        // accepted (only for servers whose handler has open()) or connected
  kData = 2,        // bytes arrived
  kDrain = 3,       // the write queue emptied
  kEnd = 4,         // the peer half-closed
  kClose = 5,       // the connection is gone
  kError = 6,       // the connection failed; a kClose with the same code follows, except
                    // for framing failures, after which JavaScript destroys the connection
  kServerIdle = 7,  // the endpoint's listener is closed and its last connection is gone
  kMessage = 8,     // a datagram
  kDatagramError = 9,  // a UDP socket's error (the socket stays open)
};

// A kMessage record's first byte: the sender's address text length (at most 45), or
// kSameSender when the datagram came from the sender of the socket's previous kMessage
// record (no text follows; JavaScript reuses that record's address, so a request-reply
// peer's address is formatted and decoded once, not per datagram), plus kIPv6 for an IPv6
// sender.
enum class MessageAddress : int32_t {
  kSameSender = 127,
  kIPv6 = 128,
};

// Which call failed, for error events. Names as node:net and node:dgram report them.
enum class Syscall : int32_t {
  kNone = 0,
  kRead = 1,
  kWrite = 2,
  kConnect = 3,
  kShutdown = 4,
  kRecvmsg = 5,
  kSend = 6,
};

// Failures that are the engine's decision, not the kernel's.
enum class EngineError : int32_t {
  // No traffic in either direction for the endpoint's idleTimeout.
  kIdleTimeout = -100001,
  // A write would have queued more than the endpoint's maxBufferedBytes.
  kBufferFull = -100002,
  // A frame grew past the endpoint's maxFrame (framing). For JavaScript connections no
  // kClose follows: JavaScript handles the frames before it, then destroys the connection.
  kFrameTooLong = -100003,
  // A length header gave a negative payload length (framing).
  kBadFrameLength = -100004,
};

// One event as six int32s, so a whole batch crosses to JavaScript as one Int32Array.
struct EventRecord {
  int32_t type;
  int32_t id;
  int32_t endpoint;
  int32_t offset;
  int32_t length;
  int32_t code;
  int32_t detail;
};
static_assert(sizeof(EventRecord) == 7 * sizeof(int32_t), "EventRecord is read as an Int32Array");

}  // namespace sockengine
