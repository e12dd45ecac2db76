// Reading the settings objects lib/ builds (validated there) into the engine's own structs:
// shared by bindings.cc (one server on the JavaScript thread's loop) and workers.cc (the
// same server on loop threads of its own).
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

#include "../loop.h"

namespace sockengine {

uint32_t uintProperty(const Napi::Object& object, const char* name);
bool boolProperty(const Napi::Object& object, const char* name);
// { idleTimeout, maxBufferedBytes, noDelay, keepAlive, keepAliveInitialDelay, highWaterMark }
ConnectionSettings connectionSettings(const Napi::Object& object);
// A framing object, or null for raw chunks (and for a spec the framer cannot honour).
std::unique_ptr<Framer> framerFrom(const Napi::Value& value);

}  // namespace sockengine
