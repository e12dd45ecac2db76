// Measurement-only exports of the addon (see measure.cc).
#pragma once

#include <napi.h>

namespace sockengine {

Napi::Value measureThreadHop(const Napi::CallbackInfo& info);

}  // namespace sockengine
