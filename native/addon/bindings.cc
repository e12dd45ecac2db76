// The addon's exports: argument parsing for each call JavaScript makes into the engine
// (lib/binding.ts lists them with their types). Options arrive validated by lib/; errors go
// back as negative errno numbers, which lib/errors.ts turns into Error objects with code,
// errno and syscall, so this file builds no error messages, except the RangeError of a
// staged length beyond the stage, which only a mistake inside lib/ can cause.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "../loop.h"
#include "engine.h"
#include "settings.h"
#include "workers.h"

namespace sockengine {
namespace {

Engine* engineOf(const Napi::CallbackInfo& info) { return static_cast<Engine*>(info.Data()); }

uint32_t idArgument(const Napi::CallbackInfo& info) { return info[0].As<Napi::Number>().Uint32Value(); }

Napi::Value setBatchCallback(const Napi::CallbackInfo& info) {
  engineOf(info)->setBatchCallback(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

// The settings parsers below are shared with workers.cc (settings.h).
uint32_t uintProperty(const Napi::Object& object, const char* name) {
  return object.Get(name).As<Napi::Number>().Uint32Value();
}

bool boolProperty(const Napi::Object& object, const char* name) { return object.Get(name).ToBoolean().Value(); }

// The settings every connection of an endpoint shares, from an object lib/native/tcp.ts
// builds (validated there): { idleTimeout, maxBufferedBytes, noDelay, keepAlive,
// keepAliveInitialDelay }.
ConnectionSettings connectionSettings(const Napi::Object& object) {
  ConnectionSettings settings;
  settings.idleTimeoutMs = uintProperty(object, "idleTimeout");
  settings.maxBufferedBytes = static_cast<uint64_t>(object.Get("maxBufferedBytes").As<Napi::Number>().Int64Value());
  settings.noDelay = boolProperty(object, "noDelay");
  settings.keepAlive = boolProperty(object, "keepAlive");
  settings.keepAliveDelayMs = uintProperty(object, "keepAliveInitialDelay");
  settings.highWaterMark = uintProperty(object, "highWaterMark");
  return settings;
}

// The framing object lib/native/tcp.ts builds from a checked lib/framing.ts FramingSpec:
// { kind: 1-4, delimiter: Uint8Array, keepDelimiter, lengthBytes, littleEndian,
// lengthAdjustment, lengthIncludesHeader, fixedSize, maxFrame }, or null for raw chunks.
std::unique_ptr<Framer> framerFrom(const Napi::Value& value) {
  if (!value.IsObject()) return nullptr;
  Napi::Object given = value.As<Napi::Object>();
  FramingSpec spec;
  spec.kind = static_cast<FramingSpec::Kind>(uintProperty(given, "kind"));
  auto delimiter = given.Get("delimiter").As<Napi::Uint8Array>();
  spec.delimiter.assign(reinterpret_cast<const char*>(delimiter.Data()), delimiter.ByteLength());
  spec.keepDelimiter = boolProperty(given, "keepDelimiter");
  spec.lengthBytes = static_cast<uint8_t>(uintProperty(given, "lengthBytes"));
  spec.littleEndian = boolProperty(given, "littleEndian");
  spec.lengthAdjustment = given.Get("lengthAdjustment").As<Napi::Number>().Int64Value();
  spec.lengthIncludesHeader = boolProperty(given, "lengthIncludesHeader");
  spec.fixedSize = uintProperty(given, "fixedSize");
  spec.maxFrame = uintProperty(given, "maxFrame");
  auto framer = std::make_unique<Framer>(std::move(spec));
  return framer->valid() ? std::move(framer) : nullptr;
}

namespace {

// The address a listen() or connect() names: settings.path (a Uint8Array: a socket file's
// path, or an abstract name starting with a 0 byte) for a Unix-domain socket, else the
// numeric host and the port. 0 or -errno.
int addressFrom(const std::string& host, int port, const Napi::Object& settings, SockAddr* out) {
  Napi::Value path = settings.Get("path");
  if (path.IsTypedArray()) {
    auto bytes = path.As<Napi::Uint8Array>();
    return sys::unixAddress(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength(), out);
  }
  return sys::parseAddress(host.c_str(), port, out);
}

// listen(host, port, settings) -> { endpoint, address, port } or { errno, syscall }, where
// settings adds { backlog, ipv6Only, reusePort, builtin: string | null, deliverOpen,
// maxConnections, proxyTimeout, path?: Uint8Array, permissions?: number } to the connection
// settings.
Napi::Value listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* engine = engineOf(info);
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  Napi::Object given = info[2].As<Napi::Object>();
  Loop::ListenSettings settings;
  settings.backlog = static_cast<int>(uintProperty(given, "backlog"));
  settings.ipv6Only = boolProperty(given, "ipv6Only");
  settings.reusePort = boolProperty(given, "reusePort");
  settings.deliverOpen = boolProperty(given, "deliverOpen");
  settings.maxConnections = uintProperty(given, "maxConnections");
  settings.connection = connectionSettings(given);
  Napi::Object result = Napi::Object::New(env);
  Napi::Value framing = given.Get("framing");
  settings.framer = framerFrom(framing);
  if (framing.IsObject() && !settings.framer) {
    result.Set("errno", -EINVAL);
    result.Set("syscall", "framing");
    return result;
  }
  Napi::Value builtin = given.Get("builtin");
  if (builtin.IsString()) {
    settings.builtin = makeBuiltinHandler(builtin.As<Napi::String>().Utf8Value());
    if (!settings.builtin) {
      result.Set("errno", -EINVAL);
      result.Set("syscall", "handler");
      return result;
    }
  }
  Napi::Value proxyTimeout = given.Get("proxyTimeout");
  if (proxyTimeout.IsNumber()) settings.proxyTimeoutMs = proxyTimeout.As<Napi::Number>().Uint32Value();
  Napi::Value permissions = given.Get("permissions");
  if (permissions.IsNumber()) settings.permissions = permissions.As<Napi::Number>().Uint32Value();
  SockAddr address;
  int parsed = addressFrom(host, port, given, &address);
  if (parsed < 0) {
    result.Set("errno", parsed);
    result.Set("syscall", parsed == -EINVAL ? "inet_pton" : "bind");
    return result;
  }
  uint32_t endpoint = 0;
  SockAddr bound;
  const char* failedSyscall = "";
  int status = engine->loop().listen(address, std::move(settings), &endpoint, &bound, &failedSyscall);
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

// peerAddress(id, local) -> [address, port] of the peer (or, with `local` true, of our own
// side), or null once the connection is gone.
Napi::Value peerAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SockAddr peer;
  Loop& loop = engineOf(info)->loop();
  bool local = info.Length() > 1 && info[1].ToBoolean().Value();
  int found = local ? loop.localAddress(idArgument(info), &peer) : loop.peerAddress(idArgument(info), &peer);
  if (found < 0) return env.Null();
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

// endpointStats(endpoint) -> ServerStats (lib/types.ts) or null
Napi::Value endpointStats(const Napi::CallbackInfo& info) {
  const Endpoint* endpoint = engineOf(info)->loop().endpoint(idArgument(info));
  if (endpoint == nullptr) return info.Env().Null();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("accepted", static_cast<double>(endpoint->accepted));
  result.Set("rejected", static_cast<double>(endpoint->rejected));
  result.Set("timedOut", static_cast<double>(endpoint->timedOut));
  result.Set("framesTooLong", static_cast<double>(endpoint->framesTooLong));
  result.Set("proxyRejected", static_cast<double>(endpoint->proxyRejected));
  result.Set("closedWithError", static_cast<double>(endpoint->closedWithError));
  result.Set("bytesIn", static_cast<double>(endpoint->bytesIn));
  result.Set("bytesOut", static_cast<double>(endpoint->bytesOut));
  result.Set("connections", endpoint->connections);
  return result;
}

// connect(host, port, settings) -> connection id (> 0) or -errno; settings as for listen's
// connections.
Napi::Value connect(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  Napi::Object given = info[2].As<Napi::Object>();
  ConnectionSettings settings = connectionSettings(given);
  Napi::Value framing = given.Get("framing");
  std::unique_ptr<Framer> framer = framerFrom(framing);
  if (framing.IsObject() && !framer) return Napi::Number::New(info.Env(), -EINVAL);
  SockAddr address;
  int status = addressFrom(host, port, given, &address);
  uint32_t id = 0;
  if (status == 0) status = engine->loop().connect(address, settings, std::move(framer), &id);
  engine->syncRef();
  return Napi::Number::New(info.Env(), status < 0 ? status : static_cast<double>(id));
}

// The bytes a call sends: a typed array, or the first `length` bytes of the stage (the
// *Staged calls, lib/native/stage.ts), which spares the typed array's lookup per call:
// about 300 instructions of a 64 B round trip (docs/design.md section 15).
struct Bytes {
  const uint8_t* data;
  size_t length;
};

bool typedArrayBytes(Engine*, const Napi::Value& value, Bytes* bytes) {
  auto array = value.As<Napi::Uint8Array>();
  *bytes = {array.Data(), array.ByteLength()};
  return true;
}

bool stagedBytes(Engine* engine, const Napi::Value& value, Bytes* bytes) {
  uint32_t length = value.As<Napi::Number>().Uint32Value();
  const uint8_t* data = engine->staged(length);
  if (data == nullptr) {
    Napi::RangeError::New(value.Env(), "sockengine: " + std::to_string(length) + " staged bytes exceed the stage")
        .ThrowAsJavaScriptException();
    return false;
  }
  *bytes = {data, length};
  return true;
}

using BytesArgument = bool (*)(Engine*, const Napi::Value&, Bytes*);

// write(id, bytes) -> bytes still queued, or -errno
template <BytesArgument Argument>
Napi::Value write(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  Bytes bytes;
  if (!Argument(engine, info[1], &bytes)) return info.Env().Undefined();
  int64_t result = engine->loop().write(idArgument(info), bytes.data, bytes.length);
  engine->syncRef();
  return Napi::Number::New(info.Env(), static_cast<double>(result));
}

// sendFrame(id, payload) -> bytes still queued, or -errno: one frame from send(), its
// header or trailer added by the engine (one typed array crosses, nothing is joined in
// JavaScript).
template <BytesArgument Argument>
Napi::Value sendFrame(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  Bytes bytes;
  if (!Argument(engine, info[1], &bytes)) return info.Env().Undefined();
  int64_t result = engine->loop().sendFrame(idArgument(info), bytes.data, bytes.length);
  engine->syncRef();
  return Napi::Number::New(info.Env(), static_cast<double>(result));
}

Napi::Value setStage(const Napi::CallbackInfo& info) {
  engineOf(info)->setStage(info[0].As<Napi::Uint8Array>());
  return info.Env().Undefined();
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

// bindDatagram(host, port, ipv6Only, builtin | null, maxDatagramSize, reusePort)
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
  bool reusePort = info[5].ToBoolean().Value();
  SockAddr address;
  if (sys::parseAddress(host.c_str(), port, &address) < 0) return errorResult(env, -EINVAL, "inet_pton");
  uint32_t id = 0;
  SockAddr bound;
  const char* failedSyscall = "";
  int status = engine->loop().bindDatagram(address, ipv6Only, reusePort, std::move(builtin), maxDatagramSize, &id, &bound,
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

// sendDatagram(id, Uint8Array, port[, host]) or (id, Uint8Array) on a connected socket -> 0 or
// -errno: the one-datagram case of sendDatagrams without building three arrays.
template <BytesArgument Argument>
Napi::Value sendDatagram(const Napi::CallbackInfo& info) {
  Engine* engine = engineOf(info);
  uint32_t id = idArgument(info);
  Bytes bytes;
  if (!Argument(engine, info[1], &bytes)) return info.Env().Undefined();
  sys::Datagram datagram{};
  datagram.data.iov_base = const_cast<uint8_t*>(bytes.data);
  datagram.data.iov_len = bytes.length;
  SockAddr destination;
  if (info.Length() >= 3) {
    // A port and no host: the host of this socket's previous single send that named one
    // (Loop::datagramDestination).
    bool named = info.Length() >= 4;
    char host[INET6_ADDRSTRLEN] = "";
    if (named && napi_get_value_string_utf8(info.Env(), info[3], host, sizeof(host), nullptr) != napi_ok) {
      engine->loop().countSendErrors(id, 1);
      return Napi::Number::New(info.Env(), -EINVAL);
    }
    int status = engine->loop().datagramDestination(id, named ? host : nullptr, info[2].As<Napi::Number>().Int32Value(),
                                                    &destination);
    if (status < 0) {
      engine->loop().countSendErrors(id, 1);
      return Napi::Number::New(info.Env(), status);
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
  result.Set("hosted", counters.hosted);
  return result;
}

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
  add("endpointStats", endpointStats);
  add("closeEndpointConnections", connectionCall<&Loop::closeEndpointConnections>);
  add("connect", connect);
  add("write", write<typedArrayBytes>);
  add("writeStaged", write<stagedBytes>);
  add("sendFrame", sendFrame<typedArrayBytes>);
  add("sendFrameStaged", sendFrame<stagedBytes>);
  add("setStage", setStage);
  add("end", connectionCall<&Loop::end>);
  add("bufferedBytes", connectionCall<&Loop::bufferedBytes>);
  add("destroy", connectionCall<&Loop::destroy>);
  add("pause", connectionCall<&Loop::pause>);
  add("resume", connectionCall<&Loop::resume>);
  add("stats", stats);
  add("bindDatagram", bindDatagram);
  add("connectDatagram", connectDatagram);
  add("sendDatagrams", sendDatagrams);
  add("sendDatagram", sendDatagram<typedArrayBytes>);
  add("sendDatagramStaged", sendDatagram<stagedBytes>);
  add("closeDatagram", closeDatagram);
  add("datagramStats", datagramStats);
  add("disableBatchedDatagrams", disableBatchedDatagrams);
  addLoopThreadBindings(env, exports);
  return exports;
}

}  // namespace
}  // namespace sockengine

static Napi::Object initModule(Napi::Env env, Napi::Object exports) { return sockengine::init(env, exports); }

NODE_API_MODULE(sockengine, initModule)
