// Picks a built-in handler by the name users give on the command line and in listen().
#include "handler.h"

namespace sockengine {

std::unique_ptr<BuiltinHandler> makeBuiltinHandler(const std::string& spec) {
  if (spec == "uppercase") return makeUppercaseHandler();
  if (spec == "echo") return makeEchoHandler();
  static const std::string kReplyPrefix = "reply:";
  if (spec.compare(0, kReplyPrefix.size(), kReplyPrefix) == 0) {
    return makeReplyHandler(spec.substr(kReplyPrefix.size()));
  }
  return nullptr;
}

}  // namespace sockengine
