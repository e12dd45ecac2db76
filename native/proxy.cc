#include "proxy.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cstring>

namespace sockengine {
namespace {

constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr char kV1Prefix[] = "PROXY ";
constexpr size_t kV1PrefixLength = sizeof(kV1Prefix) - 1;
constexpr size_t kV2Preamble = 16;
// Address block sizes by v2 family: AF_INET, AF_INET6, AF_UNIX.
constexpr size_t kV2Inet = 12;
constexpr size_t kV2Inet6 = 36;
constexpr size_t kV2Unix = 216;

// True while data[0..length) is a prefix of `expected` (or contains all of it).
bool startsLike(const uint8_t* data, size_t length, const uint8_t* expected, size_t expectedLength) {
  size_t n = length < expectedLength ? length : expectedLength;
  return std::memcmp(data, expected, n) == 0;
}

// A decimal port: 1 to 5 digits, at most 65535.
bool parsePort(const char* text, size_t length, int* port) {
  if (length == 0 || length > 5) return false;
  int value = 0;
  for (size_t i = 0; i < length; i++) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  if (value > 65535) return false;
  *port = value;
  return true;
}

// A numeric address of exactly `family`.
bool parseHost(const char* text, size_t length, int family, int port, SockAddr* out) {
  char host[INET6_ADDRSTRLEN];
  if (length == 0 || length >= sizeof(host)) return false;
  std::memcpy(host, text, length);
  host[length] = '\0';
  return sys::parseAddress(host, port, out) == 0 && out->family() == family;
}

ProxyParse parseV1(const uint8_t* data, size_t length, size_t* headerLength, ProxyHeader* header) {
  size_t limit = length < kProxyV1MaxHeader ? length : kProxyV1MaxHeader;
  const void* found = std::memchr(data, '\n', limit);
  if (found == nullptr) return length >= kProxyV1MaxHeader ? ProxyParse::kInvalid : ProxyParse::kIncomplete;
  size_t end = static_cast<const uint8_t*>(found) - data;  // index of the LF
  if (end < kV1PrefixLength + 1 || data[end - 1] != '\r') return ProxyParse::kInvalid;
  const char* line = reinterpret_cast<const char*>(data) + kV1PrefixLength;
  size_t lineLength = end - 1 - kV1PrefixLength;
  *headerLength = end + 1;
  header->version = 1;
  // UNKNOWN: the sender cannot name the client; whatever follows on the line is ignored.
  if (lineLength >= 7 && std::memcmp(line, "UNKNOWN", 7) == 0 && (lineLength == 7 || line[7] == ' ')) {
    header->local = true;
    return ProxyParse::kComplete;
  }
  // Fields separated by single spaces: protocol, source, destination, source port, destination port.
  const char* fields[5];
  size_t lengths[5];
  size_t count = 0;
  size_t start = 0;
  for (size_t i = 0; i <= lineLength; i++) {
    if (i == lineLength || line[i] == ' ') {
      if (count == 5) return ProxyParse::kInvalid;
      fields[count] = line + start;
      lengths[count] = i - start;
      count++;
      start = i + 1;
    }
  }
  int family;
  if (lengths[0] == 4 && std::memcmp(fields[0], "TCP4", 4) == 0) {
    family = AF_INET;
  } else if (lengths[0] == 4 && std::memcmp(fields[0], "TCP6", 4) == 0) {
    family = AF_INET6;
  } else {
    return ProxyParse::kInvalid;
  }
  int sourcePort;
  int destinationPort;
  if (count != 5 || !parsePort(fields[3], lengths[3], &sourcePort) || !parsePort(fields[4], lengths[4], &destinationPort) ||
      !parseHost(fields[1], lengths[1], family, sourcePort, &header->source) ||
      !parseHost(fields[2], lengths[2], family, destinationPort, &header->destination)) {
    return ProxyParse::kInvalid;
  }
  header->local = false;
  return ProxyParse::kComplete;
}

uint16_t bigEndian16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

void inetAddress(int family, const uint8_t* address, const uint8_t* port, SockAddr* out) {
  *out = SockAddr{};
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out->storage);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, address, 4);
    std::memcpy(&v4->sin_port, port, 2);  // both network order
    out->length = sizeof(sockaddr_in);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
    v6->sin6_family = AF_INET6;
    std::memcpy(&v6->sin6_addr, address, 16);
    std::memcpy(&v6->sin6_port, port, 2);
    out->length = sizeof(sockaddr_in6);
  }
}

void unixAddress(const uint8_t* path, SockAddr* out) {
  *out = SockAddr{};
  auto* un = reinterpret_cast<sockaddr_un*>(&out->storage);
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path, sizeof(un->sun_path));
  out->length = sizeof(sockaddr_un);
}

ProxyParse parseV2(const uint8_t* data, size_t length, size_t* headerLength, ProxyHeader* header) {
  if (length < kV2Preamble) return ProxyParse::kIncomplete;
  uint8_t versionCommand = data[12];
  uint8_t familyProtocol = data[13];
  size_t total = kV2Preamble + bigEndian16(data + 14);
  if ((versionCommand >> 4) != 2 || (versionCommand & 0x0F) > 1) return ProxyParse::kInvalid;
  if ((familyProtocol >> 4) > 3 || (familyProtocol & 0x0F) > 2) return ProxyParse::kInvalid;
  if (total > kProxyMaxHeader) return ProxyParse::kInvalid;
  size_t needed = 0;
  switch (familyProtocol >> 4) {
    case 1: needed = kV2Inet; break;
    case 2: needed = kV2Inet6; break;
    case 3: needed = kV2Unix; break;
    default: break;  // AF_UNSPEC: no addresses
  }
  bool local = (versionCommand & 0x0F) == 0 || needed == 0;
  // A PROXY command must carry its family's whole address block.
  if (!local && total - kV2Preamble < needed) return ProxyParse::kInvalid;
  if (length < total) return ProxyParse::kIncomplete;
  *headerLength = total;
  header->version = 2;
  header->local = local;
  if (local) return ProxyParse::kComplete;  // LOCAL: the addresses (and TLVs) are skipped
  const uint8_t* block = data + kV2Preamble;
  switch (familyProtocol >> 4) {
    case 1:
      inetAddress(AF_INET, block, block + 8, &header->source);
      inetAddress(AF_INET, block + 4, block + 10, &header->destination);
      break;
    case 2:
      inetAddress(AF_INET6, block, block + 32, &header->source);
      inetAddress(AF_INET6, block + 16, block + 34, &header->destination);
      break;
    default:
      unixAddress(block, &header->source);
      unixAddress(block + 108, &header->destination);
      break;
  }
  return ProxyParse::kComplete;
}

}  // namespace

ProxyParse parseProxyHeader(const uint8_t* data, size_t length, size_t* headerLength, ProxyHeader* header) {
  if (length == 0) return ProxyParse::kIncomplete;
  if (data[0] == kV2Signature[0]) {
    if (!startsLike(data, length, kV2Signature, sizeof(kV2Signature))) return ProxyParse::kInvalid;
    return parseV2(data, length, headerLength, header);
  }
  if (!startsLike(data, length, reinterpret_cast<const uint8_t*>(kV1Prefix), kV1PrefixLength)) return ProxyParse::kInvalid;
  if (length < kV1PrefixLength) return ProxyParse::kIncomplete;
  return parseV1(data, length, headerLength, header);
}

}  // namespace sockengine
