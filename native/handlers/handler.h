// Built-in handlers answer traffic inside the engine, with no JavaScript call per message.
// Each one lives in its own file and is picked by name (`makeBuiltinHandler`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace sockengine {

// A reply to send: a view, valid until the handler is next called.
struct ByteView {
  const uint8_t* data;
  size_t length;
};

class BuiltinHandler {
 public:
  virtual ~BuiltinHandler() = default;
  // Returns the reply to one received chunk (a TCP read or a UDP datagram). It may rewrite
  // `chunk` in place and return it; the engine owns `chunk` and sends the reply at once.
  virtual ByteView respond(uint8_t* chunk, size_t length) = 0;
};

// `spec` is "uppercase", "echo" or "reply:TEXT". Returns null for any other name.
std::unique_ptr<BuiltinHandler> makeBuiltinHandler(const std::string& spec);

// Rewrites ASCII a-z to A-Z in place and leaves every other byte as it was. Shared by the
// uppercase handler and the micro-benchmarks.
void uppercaseAscii(uint8_t* data, size_t length);

std::unique_ptr<BuiltinHandler> makeUppercaseHandler();
std::unique_ptr<BuiltinHandler> makeEchoHandler();
std::unique_ptr<BuiltinHandler> makeReplyHandler(std::string text);

}  // namespace sockengine
