// Sends every chunk back unchanged.
#include "handler.h"

namespace sockengine {
namespace {

class EchoHandler final : public BuiltinHandler {
 public:
  ByteView respond(uint8_t* chunk, size_t length) override { return {chunk, length}; }
};

}  // namespace

std::unique_ptr<BuiltinHandler> makeEchoHandler() { return std::make_unique<EchoHandler>(); }

}  // namespace sockengine
