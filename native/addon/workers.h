// Built-in servers on loop threads of their own (../threads.h), as JavaScript starts, reads
// and stops them: lib/workers/loop-threads.ts is the other side.
#pragma once

#include <napi.h>

namespace sockengine {

// Adds listenThreads, loopThreadStats, closeLoopThreads, closeLoopThreadConnections and
// releaseLoopThreads to the addon's exports, with their state kept per Node environment.
void addLoopThreadBindings(Napi::Env env, Napi::Object exports);

}  // namespace sockengine
