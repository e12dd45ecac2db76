// libFuzzer target: parseProxyHeader (native/proxy.h) on any bytes. It must never read
// past the bytes it is given (ASan sees each call's own exact-size copy), and its three
// answers must be consistent: a complete header is complete in exactly its own bytes and
// incomplete in every shorter prefix checked; an invalid start stays invalid whatever
// follows; an incomplete one has seen fewer than kProxyMaxHeader bytes; and the client a
// v2 header names, written back as a v1 line, parses to the same client. Any disagreement
// traps. Built and run by scripts/fuzz.sh proxy.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../native/proxy.h"

#define CHECK(condition)                \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace sockengine {
namespace {

// Parses a heap copy of exactly `length` bytes, so any read past them is an ASan report.
ProxyParse parseCopy(const uint8_t* data, size_t length, size_t* headerLength, ProxyHeader* header) {
  std::vector<uint8_t> copy(data, data + length);
  return parseProxyHeader(copy.data(), copy.size(), headerLength, header);
}

bool sameAddress(const SockAddr& a, const SockAddr& b) {
  return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

// The v1 line naming the same client and destination (INET and INET6 only).
std::vector<uint8_t> asV1(const ProxyHeader& header) {
  char source[INET6_ADDRSTRLEN];
  char destination[INET6_ADDRSTRLEN];
  sys::formatAddress(header.source, source, sizeof(source));
  sys::formatAddress(header.destination, destination, sizeof(destination));
  char line[160];
  int n = std::snprintf(line, sizeof(line), "PROXY %s %s %s %d %d\r\n", header.source.family() == AF_INET ? "TCP4" : "TCP6",
                        source, destination, header.source.port(), header.destination.port());
  return std::vector<uint8_t>(line, line + n);
}

}  // namespace
}  // namespace sockengine

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sockengine;
  size_t headerLength = 0;
  ProxyHeader header;
  ProxyParse parsed = parseCopy(data, size, &headerLength, &header);
  if (parsed == ProxyParse::kIncomplete) {
    CHECK(size < kProxyMaxHeader);
    return 0;
  }
  if (parsed == ProxyParse::kInvalid) {
    // Whatever follows an invalid start, it stays invalid: the input read backwards is as
    // good a continuation as any.
    std::vector<uint8_t> longer(data, data + size);
    for (size_t i = 0; i < size && longer.size() < kProxyMaxHeader + 16; i++) longer.push_back(data[size - 1 - i]);
    size_t ignored = 0;
    ProxyHeader unused;
    CHECK(parseCopy(longer.data(), longer.size(), &ignored, &unused) == ProxyParse::kInvalid);
    return 0;
  }
  CHECK(headerLength > 0 && headerLength <= size && headerLength <= kProxyMaxHeader);
  CHECK(header.version == 1 || header.version == 2);
  if (header.version == 1) CHECK(headerLength <= kProxyV1MaxHeader);
  // Complete in exactly its own bytes, with the same answer.
  size_t again = 0;
  ProxyHeader same;
  CHECK(parseCopy(data, headerLength, &again, &same) == ProxyParse::kComplete);
  CHECK(again == headerLength && same.local == header.local && same.version == header.version);
  if (!header.local) CHECK(sameAddress(same.source, header.source) && sameAddress(same.destination, header.destination));
  // Incomplete in shorter prefixes: the first 32, the middle and the last one.
  size_t prefixes[] = {headerLength / 2, headerLength - 1};
  for (size_t n = 0; n < headerLength && n < 32; n++) {
    ProxyHeader unused;
    size_t ignored = 0;
    CHECK(parseCopy(data, n, &ignored, &unused) == ProxyParse::kIncomplete);
  }
  for (size_t n : prefixes) {
    ProxyHeader unused;
    size_t ignored = 0;
    CHECK(parseCopy(data, n, &ignored, &unused) == ProxyParse::kIncomplete);
  }
  // A client named in binary reads back the same from the text form.
  if (!header.local && (header.source.family() == AF_INET || header.source.family() == AF_INET6)) {
    std::vector<uint8_t> line = asV1(header);
    size_t lineLength = 0;
    ProxyHeader fromText;
    CHECK(parseCopy(line.data(), line.size(), &lineLength, &fromText) == ProxyParse::kComplete);
    CHECK(lineLength == line.size() && !fromText.local);
    CHECK(sameAddress(fromText.source, header.source) && sameAddress(fromText.destination, header.destination));
  }
  return 0;
}
