// Answers every received chunk with one fixed text ("reply:TEXT"), like the seed UDP server
// that answers each datagram with "Message received.".
#include "handler.h"

namespace sockengine {
namespace {

class ReplyHandler final : public BuiltinHandler {
 public:
  explicit ReplyHandler(std::string text) : text_(std::move(text)) {}
  ByteView respond(uint8_t*, size_t) override {
    return {reinterpret_cast<const uint8_t*>(text_.data()), text_.size()};
  }

 private:
  std::string text_;
};

}  // namespace

std::unique_ptr<BuiltinHandler> makeReplyHandler(std::string text) {
  return std::make_unique<ReplyHandler>(std::move(text));
}

}  // namespace sockengine
