// The PROXY protocol, versions 1 and 2 (HAProxy's proxy-protocol.txt): the header a load
// balancer sends first on each connection, naming the client it accepted the connection
// from. No Node types and no state: the loop hands it the bytes seen so far (fuzz/proxy_fuzz.cc
// checks it alone, lib/proxy.ts is the node backend's twin and test/proxy.test.ts holds the two
// to the same answers).
#pragma once

#include <cstddef>
#include <cstdint>

#include "sys.h"

namespace sockengine {

// v1 is one text line of at most 107 bytes, CRLF included.
constexpr size_t kProxyV1MaxHeader = 107;
// v2 is a 16-byte preamble and up to 65,535 bytes of addresses and TLVs. Headers longer than
// this are refused: HAProxy's own TLVs fit many times over, and a connection in the
// handshake then holds at most this much.
constexpr size_t kProxyMaxHeader = 4096;

struct ProxyHeader {
  // v2 LOCAL or v1 UNKNOWN (a balancer's own health check, or a family it cannot name): the
  // connection's own addresses stand.
  bool local = true;
  // The client and the address it connected to (IPv4, IPv6, or Unix for v2's AF_UNIX).
  SockAddr source;
  SockAddr destination;
  // 1 or 2.
  int version = 0;
};

enum class ProxyParse : uint8_t {
  kIncomplete,  // every byte so far can begin a header: read more (the total stays within kProxyMaxHeader)
  kComplete,    // the first *headerLength bytes are the header; `header` is filled
  kInvalid,     // no header begins this way: close the connection
};

// Looks at the first `length` bytes a connection sent. Never reads past `length`, and for
// kComplete never counts a byte after the header's end in *headerLength.
ProxyParse parseProxyHeader(const uint8_t* data, size_t length, size_t* headerLength, ProxyHeader* header);

}  // namespace sockengine
