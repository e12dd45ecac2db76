// Built-in servers on loop threads (see workers.h). A thread tells the JavaScript thread it
// has exited through a uv_async_t on Node's own loop: that is the only message that crosses
// threads, once per thread per server, never per connection or per message. The async handle
// also keeps the process alive while the threads serve, as a listening node:net server does.
#include "workers.h"

#include <uv.h>

#include <cerrno>
#include <memory>
#include <string>
#include <unordered_map>

#include "../threads.h"
#include "settings.h"

namespace sockengine {
namespace {

struct Registry;

// One listen({ workers }) server: its threads and the handle they signal on.
struct ThreadGroup {
  uint32_t id = 0;
  Registry* registry = nullptr;
  LoopThreads threads;
  uv_async_t* async = nullptr;
  bool closing = false;
  // JavaScript's onExit(group): a thread has exited; read loopThreadStats() to see which.
  Napi::FunctionReference onExit;
};

// The groups of one Node environment (the main thread or a worker), torn down with it.
struct Registry {
  napi_env env = nullptr;
  uv_loop_t* uvLoop = nullptr;
  std::unordered_map<uint32_t, std::unique_ptr<ThreadGroup>> groups;
  uint32_t lastId = 0;
  napi_async_cleanup_hook_handle cleanup = nullptr;
  int handlesClosing = 0;
  bool tearingDown = false;
};

Registry* registryOf(const Napi::CallbackInfo& info) { return static_cast<Registry*>(info.Data()); }

void finishTeardownIfDone(Registry* registry) {
  if (!registry->tearingDown || registry->handlesClosing > 0) return;
  napi_remove_async_cleanup_hook(registry->cleanup);
  delete registry;
}

// Frees the group once libuv has let go of its handle (the threads are already joined).
void closeGroup(ThreadGroup* group) {
  if (group->closing) return;
  group->closing = true;
  Registry* registry = group->registry;
  registry->handlesClosing++;
  uv_close(reinterpret_cast<uv_handle_t*>(group->async), [](uv_handle_t* handle) {
    auto* closed = static_cast<ThreadGroup*>(handle->data);
    Registry* owner = closed->registry;
    delete reinterpret_cast<uv_async_t*>(handle);
    owner->groups.erase(closed->id);  // Frees the group.
    owner->handlesClosing--;
    finishTeardownIfDone(owner);
  });
}

void onThreadExited(uv_async_t* handle) {
  auto* group = static_cast<ThreadGroup*>(handle->data);
  napi_env env = group->registry->env;
  if (group->onExit.IsEmpty() || group->registry->tearingDown) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, global, argument, result;
  if (napi_get_reference_value(env, group->onExit, &callback) == napi_ok && napi_get_global(env, &global) == napi_ok &&
      napi_create_uint32(env, group->id, &argument) == napi_ok &&
      napi_make_callback(env, nullptr, global, callback, 1, &argument, &result) != napi_ok) {
    // lib/workers reports thread failures itself; a throw here is a bug in it, reported as
    // uncaught like any other.
    bool pending = false;
    napi_value error;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &error) == napi_ok) {
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

void onEnvCleanup(napi_async_cleanup_hook_handle handle, void* data) {
  // Process exit or worker termination: close every socket now, join every thread, and
  // free the registry once every handle is closed.
  auto* registry = static_cast<Registry*>(data);
  registry->cleanup = handle;
  registry->tearingDown = true;
  std::vector<ThreadGroup*> open;
  for (auto& entry : registry->groups) open.push_back(entry.second.get());
  for (ThreadGroup* group : open) {
    group->threads.stop();
    closeGroup(group);
  }
  finishTeardownIfDone(registry);
}

Napi::Object errorResult(Napi::Env env, int error, const char* syscall) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("errno", error);
  result.Set("syscall", syscall);
  return result;
}

// listenThreads(host, port, settings, count, onExit) -> { group, address, port } or
// { errno, syscall }. settings: { datagram: false, builtin, backlog, ipv6Only,
// maxConnections, framing, proxyTimeout, ...connection settings } or { datagram: true, builtin,
// ipv6Only, maxDatagramSize }.
Napi::Value listenThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Registry* registry = registryOf(info);
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  Napi::Object given = info[2].As<Napi::Object>();
  int count = info[3].As<Napi::Number>().Int32Value();
  LoopThreads::Spec spec;
  spec.datagram = boolProperty(given, "datagram");
  spec.builtin = given.Get("builtin").As<Napi::String>().Utf8Value();
  spec.ipv6Only = boolProperty(given, "ipv6Only");
  spec.reusePort = boolProperty(given, "reusePort");
  if (spec.datagram) {
    spec.maxDatagramSize = uintProperty(given, "maxDatagramSize");
  } else {
    spec.backlog = static_cast<int>(uintProperty(given, "backlog"));
    spec.maxConnections = uintProperty(given, "maxConnections");
    spec.connection = connectionSettings(given);
    Napi::Value proxyTimeout = given.Get("proxyTimeout");
    if (proxyTimeout.IsNumber()) spec.proxyTimeoutMs = proxyTimeout.As<Napi::Number>().Uint32Value();
    Napi::Value framing = given.Get("framing");
    if (framing.IsObject()) {
      std::unique_ptr<Framer> framer = framerFrom(framing);
      if (!framer) return errorResult(env, -EINVAL, "framing");
      spec.framed = true;
      spec.framing = framer->spec();
    }
  }
  SockAddr address;
  if (sys::parseAddress(host.c_str(), port, &address) < 0) return errorResult(env, -EINVAL, "inet_pton");

  auto group = std::make_unique<ThreadGroup>();
  group->registry = registry;
  group->async = new uv_async_t;
  group->async->data = group.get();
  int status = uv_async_init(registry->uvLoop, group->async, onThreadExited);
  if (status < 0) {
    delete group->async;
    return errorResult(env, status, "uv_async_init");
  }
  uv_async_t* async = group->async;
  group->threads.setOnExit([async] { uv_async_send(async); });
  group->onExit = Napi::Persistent(info[4].As<Napi::Function>());
  do {
    registry->lastId = registry->lastId >= 0x7fffffffu ? 1 : registry->lastId + 1;
  } while (registry->groups.count(registry->lastId) != 0);
  group->id = registry->lastId;
  SockAddr bound;
  const char* failedSyscall = "";
  status = group->threads.start(address, count, spec, &bound, &failedSyscall);
  ThreadGroup* stored = group.get();
  registry->groups.emplace(group->id, std::move(group));
  if (status < 0) {
    closeGroup(stored);  // No thread runs: the handle can go at once.
    return errorResult(env, status, failedSyscall);
  }
  char text[INET6_ADDRSTRLEN];
  sys::formatAddress(bound, text, sizeof(text));
  Napi::Object result = Napi::Object::New(env);
  result.Set("group", stored->id);
  result.Set("address", text);
  result.Set("port", bound.port());
  return result;
}

ThreadGroup* groupOf(const Napi::CallbackInfo& info) {
  Registry* registry = registryOf(info);
  auto found = registry->groups.find(info[0].As<Napi::Number>().Uint32Value());
  return found == registry->groups.end() ? nullptr : found->second.get();
}

// loopThreadStats(group) -> one object per thread, or null for an unknown group.
Napi::Value loopThreadStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadGroup* group = groupOf(info);
  if (group == nullptr) return env.Null();
  Napi::Array list = Napi::Array::New(env, group->threads.size());
  for (size_t i = 0; i < group->threads.size(); i++) {
    LoopThreadStats counters = group->threads.stats(i);
    Napi::Object item = Napi::Object::New(env);
    item.Set("accepted", static_cast<double>(counters.accepted));
    item.Set("rejected", static_cast<double>(counters.rejected));
    item.Set("timedOut", static_cast<double>(counters.timedOut));
    item.Set("framesTooLong", static_cast<double>(counters.framesTooLong));
    item.Set("proxyRejected", static_cast<double>(counters.proxyRejected));
    item.Set("closedWithError", static_cast<double>(counters.closedWithError));
    item.Set("connections", counters.connections);
    item.Set("bytesRead", static_cast<double>(counters.bytesRead));
    item.Set("bytesWritten", static_cast<double>(counters.bytesWritten));
    item.Set("datagramsIn", static_cast<double>(counters.datagrams.datagramsIn));
    item.Set("bytesIn", static_cast<double>(counters.datagrams.bytesIn));
    item.Set("datagramsOut", static_cast<double>(counters.datagrams.datagramsOut));
    item.Set("bytesOut", static_cast<double>(counters.datagrams.bytesOut));
    item.Set("truncated", static_cast<double>(counters.datagrams.truncated));
    item.Set("sendErrors", static_cast<double>(counters.datagrams.sendErrors));
    item.Set("running", counters.running);
    item.Set("error", counters.error);
    list.Set(static_cast<uint32_t>(i), item);
  }
  return list;
}

template <void (LoopThreads::*Call)()>
Napi::Value groupCall(const Napi::CallbackInfo& info) {
  ThreadGroup* group = groupOf(info);
  if (group != nullptr) (group->threads.*Call)();
  return info.Env().Undefined();
}

// releaseLoopThreads(group) -> true once every thread has exited and been joined (the group
// is then freed: its stats are gone), false while some still run.
Napi::Value releaseLoopThreads(const Napi::CallbackInfo& info) {
  ThreadGroup* group = groupOf(info);
  if (group == nullptr || group->closing) return Napi::Boolean::New(info.Env(), true);
  if (!group->threads.joinExited()) return Napi::Boolean::New(info.Env(), false);
  group->onExit.Reset();
  closeGroup(group);
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace

void addLoopThreadBindings(Napi::Env env, Napi::Object exports) {
  auto* registry = new Registry;
  registry->env = env;
  if (napi_get_uv_event_loop(env, &registry->uvLoop) != napi_ok ||
      napi_add_async_cleanup_hook(env, onEnvCleanup, registry, &registry->cleanup) != napi_ok) {
    delete registry;
    return;  // lib/workers reports the missing functions as "loop threads unavailable".
  }
  auto add = [&](const char* name, Napi::Function::Callback callback) {
    exports.Set(name, Napi::Function::New(env, callback, name, registry));
  };
  add("listenThreads", listenThreads);
  add("loopThreadStats", loopThreadStats);
  add("closeLoopThreads", groupCall<&LoopThreads::close>);
  add("closeLoopThreadConnections", groupCall<&LoopThreads::closeConnections>);
  add("releaseLoopThreads", releaseLoopThreads);
}

}  // namespace sockengine
