// The only file that knows about Node. It watches the engine's poller fd from Node's own
// libuv loop (uv_poll), so every wake-up runs on the JavaScript thread with no thread hop,
// and hands JavaScript one batch per wake-up: an Int32Array of event records and one
// Buffer holding the bytes they point into (docs/design.md has the measurements behind
// this choice).
//
// Errors cross as negative errno numbers; lib/errors.ts turns them into Error objects with
// code, errno and syscall, so this file never builds error messages.
#include <napi.h>
#include <uv.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "../loop.h"
#include "measure.h"

namespace sockengine {
namespace {

// Batches above this many bytes go to JavaScript without a copy: the arena's memory itself
// becomes the Buffer, and a spare block becomes the next arena. Below it a copy is cheaper
// than an external buffer's finalizer. Measured on the 10 x 16 KiB stream shape: copying
// every batch into fresh memory cost 1.2 page faults per message against node:net's 0.3.
constexpr size_t kCopyLimit = 64 * 1024;

// Blocks returned by the finalizers of earlier batches' Buffers, kept warm for reuse.
// Finalizers run on the thread that owns the engine, so each thread keeps its own.
struct SpareBlocks {
  static constexpr size_t kKeep = 4;
  struct Block {
    uint8_t* data;
    size_t capacity;
  };
  std::vector<Block> blocks;
  ~SpareBlocks() {
    for (Block& block : blocks) std::free(block.data);
  }
};
thread_local SpareBlocks spareBlocks;

void returnBlock(napi_env, void* data, void* hint) {
  size_t capacity = reinterpret_cast<size_t>(hint);
  if (spareBlocks.blocks.size() < SpareBlocks::kKeep) {
    spareBlocks.blocks.push_back({static_cast<uint8_t*>(data), capacity});
  } else {
    std::free(data);
  }
}

class Engine {
 public:
  explicit Engine(Napi::Env env) : env_(env), context_(env, "sockengine") {}

  int start() {
    int result = loop_.open();
    if (result < 0) return result;
    uv_loop_t* uvLoop = nullptr;
    if (napi_get_uv_event_loop(env_, &uvLoop) != napi_ok) return -EINVAL;
    poll_ = new uv_poll_t;
    poll_->data = this;
    result = uv_poll_init(uvLoop, poll_, loop_.fd());
    if (result < 0) {
      delete poll_;
      poll_ = nullptr;
      return result;
    }
    uv_poll_start(poll_, UV_READABLE, onPoll);
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    napi_add_async_cleanup_hook(env_, onEnvCleanup, this, &cleanupHandle_);
    return 0;
  }

  Loop& loop() { return loop_; }
  Napi::Env env() const { return env_; }
  void setBatchCallback(Napi::Function callback) { onBatch_ = Napi::Persistent(callback); }

  // Keeps the process alive exactly while the engine has sockets open or events to deliver,
  // like a node:net server or socket.
  void syncRef() {
    bool wanted = loop_.active() || !loop_.events().empty();
    if (wanted == referenced_ || poll_ == nullptr) return;
    referenced_ = wanted;
    if (wanted) {
      uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    } else {
      uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    }
  }

 private:
  static void onPoll(uv_poll_t* handle, int, int) { static_cast<Engine*>(handle->data)->runAndDeliver(); }

  void runAndDeliver() {
    if (stopped_) return;
    loop_.runOnce();
    if (!loop_.events().empty() && !onBatch_.IsEmpty()) deliver();
    syncRef();
  }

  // Raw Node-API calls with every status checked: while a worker is being terminated (or
  // calls process.exit() in a handler) Node still runs its loop once, JavaScript can no
  // longer run, and node-addon-api's wrappers would turn the failure into a fatal error.
  // Here a failure stops delivery instead; the cleanup hook closes everything next.
  void deliver() {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env_, &scope) != napi_ok) return stop();
    const auto& events = loop_.events();
    size_t recordBytes = events.size() * sizeof(EventRecord);
    void* recordData = nullptr;
    napi_value records, view, bytes, callback, global, result;
    bool ready = napi_create_arraybuffer(env_, recordBytes, &recordData, &records) == napi_ok &&
                 napi_create_typedarray(env_, napi_int32_array, recordBytes / sizeof(int32_t), records, 0, &view) ==
                     napi_ok &&
                 handOverBytes(&bytes) && napi_get_reference_value(env_, onBatch_, &callback) == napi_ok &&
                 napi_get_global(env_, &global) == napi_ok;
    if (ready) std::memcpy(recordData, events.data(), recordBytes);
    // Cleared before JavaScript runs: events its calls cause belong to the next batch.
    loop_.clearBatch();
    napi_value argv[2] = {view, bytes};
    if (!ready || napi_make_callback(env_, context_, global, callback, 2, argv, &result) != napi_ok) stop();
    napi_close_handle_scope(env_, scope);
  }

  // The batch's bytes as a Buffer: a copy when small, else the arena's own memory.
  bool handOverBytes(napi_value* bytes) {
    ByteBuffer& arena = loop_.arena();
    size_t size = arena.size();
    if (size <= kCopyLimit) {
      void* data = nullptr;
      if (napi_create_buffer(env_, size, &data, bytes) != napi_ok) return false;
      if (size > 0) std::memcpy(data, arena.data(), size);
      return true;
    }
    size_t capacity = 0;
    uint8_t* data = arena.detach(&capacity);
    if (napi_create_external_buffer(env_, size, data, returnBlock, reinterpret_cast<void*>(capacity), bytes) !=
        napi_ok) {
      arena.adopt(data, capacity);
      return false;
    }
    if (!spareBlocks.blocks.empty()) {
      SpareBlocks::Block block = spareBlocks.blocks.back();
      spareBlocks.blocks.pop_back();
      arena.adopt(block.data, block.capacity);
    }
    return true;
  }

  void stop() {
    stopped_ = true;
    if (poll_ != nullptr) uv_poll_stop(poll_);
  }

  static void onEnvCleanup(napi_async_cleanup_hook_handle handle, void* data) {
    // Process exit or worker termination: close every socket now and free the engine once
    // libuv has let go of the poll handle.
    auto* engine = static_cast<Engine*>(data);
    engine->cleanupHandle_ = handle;
    engine->loop_.closeAll();
    if (engine->poll_ == nullptr) {
      napi_remove_async_cleanup_hook(handle);
      delete engine;
      return;
    }
    uv_poll_stop(engine->poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(engine->poll_), [](uv_handle_t* closed) {
      auto* owner = static_cast<Engine*>(closed->data);
      delete reinterpret_cast<uv_poll_t*>(closed);
      napi_remove_async_cleanup_hook(owner->cleanupHandle_);
      delete owner;
    });
  }

  Napi::Env env_;
  Loop loop_;
  uv_poll_t* poll_ = nullptr;
  bool referenced_ = false;
  bool stopped_ = false;
  Napi::FunctionReference onBatch_;
  Napi::AsyncContext context_;
  napi_async_cleanup_hook_handle cleanupHandle_ = nullptr;
};

Engine* engineOf(const Napi::CallbackInfo& info) { return static_cast<Engine*>(info.Data()); }

uint32_t idArgument(const Napi::CallbackInfo& info) { return info[0].As<Napi::Number>().Uint32Value(); }

Napi::Value setBatchCallback(const Napi::CallbackInfo& info) {
  engineOf(info)->setBatchCallback(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// listen(host, port, backlog, ipv6Only, builtin | null, deliverOpen)
//   -> { endpoint, address, port } or { errno, syscall }
Napi::Value listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* engine = engineOf(info);
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  int backlog = info[2].As<Napi::Number>().Int32Value();
  bool ipv6Only = info[3].As<Napi::Boolean>().Value();
  bool deliverOpen = info[5].As<Napi::Boolean>().Value();
  std::unique_ptr<BuiltinHandler> builtin;
  Napi::Object result = Napi::Object::New(env);
  if (info[4].IsString()) {
    builtin = makeBuiltinHandler(info[4].As<Napi::String>().Utf8Value());
    if (!builtin) {
      result.Set("errno", -EINVAL);
      result.Set("syscall", "handler");
      return result;
    }
  }
  SockAddr address;
  if (sys::parseAddress(host.c_str(), port, &address) < 0) {
    result.Set("errno", -EINVAL);
    result.Set("syscall", "inet_pton");
    return result;
  }
  uint32_t endpoint = 0;
  SockAddr bound;
  const char* failedSyscall = "";
  int status = engine->loop().listen(address, backlog, ipv6Only, std::move(builtin), deliverOpen, &endpoint, &bound,
                                     &failedSyscall);
  engine->syncRef();
  if (status < 0) {
    result.Set("errno", status);
    result.Set("syscall", failedSyscall);
    return result;
  }
  char text[INET6_ADDRSTRLEN];
  sys::formatAddress(bound, text, sizeof(text));
  result.Set("endpoint", endpoint);
  result.Set("address", text);
  result.Set("port", bound.port());
  return result;
}

// peerAddress(id) -> [address, port], or null once the connection is gone.
Napi::Value peerAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SockAddr peer;
  if (engineOf(info)->loop().peerAddress(idArgument(info), &peer) < 0) return env.Null();
  char text[INET6_ADDRSTRLEN];
  sys::formatAddress(peer, text, sizeof(text));
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::String::New(env, text));
  result.Set(1u, Napi::Number::New(env, peer.port()));
  return result;
}

Napi::Value closeListener(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  int remaining = engine->loop().closeListener(idArgument(info));
  engine->syncRef();
  return Napi::Number::New(info.Env(), remaining);
}

// connect(host, port) -> connection id (> 0) or -errno
Napi::Value connect(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  SockAddr address;
  int status = sys::parseAddress(host.c_str(), port, &address);
  uint32_t id = 0;
  if (status == 0) status = engine->loop().connect(address, &id);
  engine->syncRef();
  return Napi::Number::New(info.Env(), status < 0 ? status : static_cast<double>(id));
}

// write(id, Uint8Array) -> bytes still queued, or -errno
Napi::Value write(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  auto bytes = info[1].As<Napi::Uint8Array>();
  int64_t result = engine->loop().write(idArgument(info), bytes.Data(), bytes.ByteLength());
  engine->syncRef();
  return Napi::Number::New(info.Env(), static_cast<double>(result));
}

// The calls that take an id and answer 0 or -errno.
template <int (Loop::*Call)(uint32_t)>
Napi::Value connectionCall(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  int result = (engine->loop().*Call)(idArgument(info));
  engine->syncRef();
  return Napi::Number::New(info.Env(), result);
}

Napi::Object addressResult(Napi::Env env, uint32_t id, const SockAddr& address) {
  Napi::Object result = Napi::Object::New(env);
  char text[INET6_ADDRSTRLEN];
  sys::formatAddress(address, text, sizeof(text));
  result.Set("id", id);
  result.Set("address", text);
  result.Set("port", address.port());
  return result;
}

Napi::Object errorResult(Napi::Env env, int error, const char* syscall) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("errno", error);
  result.Set("syscall", syscall);
  return result;
}

// bindDatagram(host, port, ipv6Only, builtin | null, maxDatagramSize)
//   -> { id, address, port } or { errno, syscall }
Napi::Value bindDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* engine = engineOf(info);
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  bool ipv6Only = info[2].As<Napi::Boolean>().Value();
  std::unique_ptr<BuiltinHandler> builtin;
  if (info[3].IsString()) {
    builtin = makeBuiltinHandler(info[3].As<Napi::String>().Utf8Value());
    if (!builtin) return errorResult(env, -EINVAL, "handler");
  }
  size_t maxDatagramSize = info[4].As<Napi::Number>().Uint32Value();
  SockAddr address;
  if (sys::parseAddress(host.c_str(), port, &address) < 0) return errorResult(env, -EINVAL, "inet_pton");
  uint32_t id = 0;
  SockAddr bound;
  const char* failedSyscall = "";
  int status = engine->loop().bindDatagram(address, ipv6Only, std::move(builtin), maxDatagramSize, &id, &bound,
                                           &failedSyscall);
  engine->syncRef();
  if (status < 0) return errorResult(env, status, failedSyscall);
  return addressResult(env, id, bound);
}

// connectDatagram(host, port, maxDatagramSize) -> { id, address, port } (local) or { errno, syscall }
Napi::Value connectDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* engine = engineOf(info);
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  size_t maxDatagramSize = info[2].As<Napi::Number>().Uint32Value();
  SockAddr address;
  if (sys::parseAddress(host.c_str(), port, &address) < 0) return errorResult(env, -EINVAL, "inet_pton");
  uint32_t id = 0;
  SockAddr local;
  const char* failedSyscall = "";
  int status = engine->loop().connectDatagram(address, maxDatagramSize, &id, &local, &failedSyscall);
  engine->syncRef();
  if (status < 0) return errorResult(env, status, failedSyscall);
  return addressResult(env, id, local);
}

// sendDatagrams(id, Uint8Array[], ports: number[] | null, hosts: string[] | null) -> 0 or the
// first -errno. Without ports and hosts the socket must be connected.
Napi::Value sendDatagrams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* engine = engineOf(info);
  uint32_t id = idArgument(info);
  auto buffers = info[1].As<Napi::Array>();
  bool addressed = info[2].IsArray();
  Napi::Array ports = addressed ? info[2].As<Napi::Array>() : Napi::Array();
  Napi::Array hosts = addressed ? info[3].As<Napi::Array>() : Napi::Array();
  uint32_t total = buffers.Length();
  int firstError = 0;
  uint32_t unparsed = 0;
  SockAddr destinations[sys::kMaxDatagramBatch];
  sys::Datagram datagrams[sys::kMaxDatagramBatch];
  for (uint32_t next = 0; next < total;) {
    int count = 0;
    for (; next < total && count < sys::kMaxDatagramBatch; next++) {
      auto bytes = buffers.Get(next).As<Napi::Uint8Array>();
      datagrams[count].data.iov_base = bytes.Data();
      datagrams[count].data.iov_len = bytes.ByteLength();
      datagrams[count].peer = nullptr;
      if (addressed) {
        std::string host = hosts.Get(next).As<Napi::String>().Utf8Value();
        int port = ports.Get(next).As<Napi::Number>().Int32Value();
        if (sys::parseAddress(host.c_str(), port, &destinations[count]) < 0) {
          if (firstError == 0) firstError = -EINVAL;
          unparsed++;
          continue;
        }
        datagrams[count].peer = &destinations[count];
      }
      count++;
    }
    int result = engine->loop().sendDatagrams(id, datagrams, count);
    if (result < 0 && firstError == 0) firstError = result;
  }
  if (unparsed > 0) engine->loop().countSendErrors(id, unparsed);
  return Napi::Number::New(env, firstError);
}

// sendDatagram(id, Uint8Array, port, host) or (id, Uint8Array) on a connected socket -> 0 or
// -errno: the one-datagram case of sendDatagrams without building three arrays.
Napi::Value sendDatagram(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  uint32_t id = idArgument(info);
  auto bytes = info[1].As<Napi::Uint8Array>();
  sys::Datagram datagram{};
  datagram.data.iov_base = bytes.Data();
  datagram.data.iov_len = bytes.ByteLength();
  SockAddr destination;
  if (info.Length() >= 4) {
    char host[INET6_ADDRSTRLEN];
    size_t length = 0;
    napi_get_value_string_utf8(info.Env(), info[3], host, sizeof(host), &length);
    if (sys::parseAddress(host, info[2].As<Napi::Number>().Int32Value(), &destination) < 0) {
      engine->loop().countSendErrors(id, 1);
      return Napi::Number::New(info.Env(), -EINVAL);
    }
    datagram.peer = &destination;
  }
  return Napi::Number::New(info.Env(), engine->loop().sendDatagrams(id, &datagram, 1));
}

Napi::Value closeDatagram(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  int result = engine->loop().closeDatagram(idArgument(info));
  engine->syncRef();
  return Napi::Number::New(info.Env(), result);
}

Napi::Value datagramStats(const Napi::CallbackInfo& info) {
  const DatagramStats* counters = engineOf(info)->loop().datagramStats(idArgument(info));
  if (counters == nullptr) return info.Env().Null();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("datagramsIn", static_cast<double>(counters->datagramsIn));
  result.Set("bytesIn", static_cast<double>(counters->bytesIn));
  result.Set("datagramsOut", static_cast<double>(counters->datagramsOut));
  result.Set("bytesOut", static_cast<double>(counters->bytesOut));
  result.Set("truncated", static_cast<double>(counters->truncated));
  result.Set("sendErrors", static_cast<double>(counters->sendErrors));
  return result;
}

Napi::Value disableBatchedDatagrams(const Napi::CallbackInfo& info) {
  sys::disableBatchedDatagrams();
  return info.Env().Undefined();
}

Napi::Value stats(const Napi::CallbackInfo& info) {
  const LoopStats& counters = engineOf(info)->loop().stats();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("accepted", static_cast<double>(counters.accepted));
  result.Set("acceptErrors", static_cast<double>(counters.acceptErrors));
  result.Set("bytesRead", static_cast<double>(counters.bytesRead));
  result.Set("bytesWritten", static_cast<double>(counters.bytesWritten));
  result.Set("wakeups", static_cast<double>(counters.wakeups));
  result.Set("connections", counters.connections);
  return result;
}

// uppercase(Uint8Array): the built-in handler's kernel, in place, for benchmarks and tests.
Napi::Value uppercase(const Napi::CallbackInfo& info) {
  auto bytes = info[0].As<Napi::Uint8Array>();
  uppercaseAscii(bytes.Data(), bytes.ByteLength());
  return info.Env().Undefined();
}

// noop(): the cost of one crossing from JavaScript into the addon, for benchmarks.
Napi::Value noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* engine = new Engine(env);
  int status = engine->start();
  if (status < 0) {
    delete engine;
    Napi::Error::New(env, std::string("sockengine: cannot start the engine: ") + strerror(-status))
        .ThrowAsJavaScriptException();
    return exports;
  }
  auto add = [&](const char* name, Napi::Function::Callback callback) {
    exports.Set(name, Napi::Function::New(env, callback, name, engine));
  };
  add("setBatchCallback", setBatchCallback);
  add("listen", listen);
  add("closeListener", closeListener);
  add("peerAddress", peerAddress);
  add("endpointConnections", connectionCall<&Loop::endpointConnections>);
  add("connect", connect);
  add("write", write);
  add("end", connectionCall<&Loop::end>);
  add("destroy", connectionCall<&Loop::destroy>);
  add("pause", connectionCall<&Loop::pause>);
  add("resume", connectionCall<&Loop::resume>);
  add("stats", stats);
  add("bindDatagram", bindDatagram);
  add("connectDatagram", connectDatagram);
  add("sendDatagrams", sendDatagrams);
  add("sendDatagram", sendDatagram);
  add("closeDatagram", closeDatagram);
  add("datagramStats", datagramStats);
  add("disableBatchedDatagrams", disableBatchedDatagrams);
  add("uppercase", uppercase);
  add("noop", noop);
  exports.Set("measureThreadHop", Napi::Function::New(env, measureThreadHop, "measureThreadHop"));
  return exports;
}

}  // namespace
}  // namespace sockengine

static Napi::Object initModule(Napi::Env env, Napi::Object exports) { return sockengine::init(env, exports); }

NODE_API_MODULE(sockengine, initModule)
