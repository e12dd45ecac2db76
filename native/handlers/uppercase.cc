// The classic C teaching example's toupper echo, restricted to ASCII so no locale is
// consulted and the loop body is branch-free: g++ -O3 turns it into 16/32-byte vector
// compares and subtracts (check with -fopt-info-vec).
#include "handler.h"

namespace sockengine {

void uppercaseAscii(uint8_t* data, size_t length) {
  for (size_t i = 0; i < length; i++) {
    uint8_t c = data[i];
    // (c - 'a') wraps below 'a', so one unsigned compare tests the range a..z.
    uint8_t isLower = static_cast<uint8_t>(c - 'a') < 26;
    data[i] = static_cast<uint8_t>(c - (isLower << 5));
  }
}

namespace {

class UppercaseHandler final : public BuiltinHandler {
 public:
  ByteView respond(uint8_t* chunk, size_t length) override {
    uppercaseAscii(chunk, length);
    return {chunk, length};
  }
};

}  // namespace

std::unique_ptr<BuiltinHandler> makeUppercaseHandler() { return std::make_unique<UppercaseHandler>(); }

}  // namespace sockengine
