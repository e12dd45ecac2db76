// The benchmark addon (build/Release/sockengine_bench.node), built only in the repository
// and never part of the product addon: a benchmark's thread and its ThreadSafeFunction
// have no place in a server's process (terminating a worker that ran one could abort it).
//
// - measureThreadHop: the round-trip rate of the alternative dispatch design, where the
//   engine runs on a native thread and reaches JavaScript through a ThreadSafeFunction
//   (uv_async); docs/design.md has the numbers.
// - noop: the cost of one crossing from JavaScript into an addon.
// - uppercase: the built-in handler's kernel, in place, against the JavaScript one.
#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "../handlers/handler.h"

namespace sockengine {
namespace {

struct ThreadHop {
  std::mutex mutex;
  std::condition_variable answered;
  bool acknowledged = false;
  uint32_t rounds = 0;
  std::thread thread;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point finished;
  Napi::ThreadSafeFunction function;
  napi_deferred deferred = nullptr;
};



// measureThreadHop(rounds, callback) -> Promise<seconds>: a native thread posts `rounds`
// events one at a time; each runs `callback` on the JavaScript thread and the native thread
// waits for it before posting the next, as a ping-pong over a thread hop would.
Napi::Value measureThreadHop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* hop = new ThreadHop();
  hop->rounds = info[0].As<Napi::Number>().Uint32Value();
  napi_value promise;
  napi_create_promise(env, &hop->deferred, &promise);
  hop->function = Napi::ThreadSafeFunction::New(
      env, info[1].As<Napi::Function>(), "sockengine-thread-hop", 0, 1, hop, [](Napi::Env finalEnv, ThreadHop* done) {
        done->thread.join();
        // Raw calls, unchecked on purpose: during worker termination they fail, and
        // node-addon-api would make that fatal.
        double seconds = std::chrono::duration<double>(done->finished - done->started).count();
        napi_value value;
        if (napi_create_double(finalEnv, seconds, &value) == napi_ok) napi_resolve_deferred(finalEnv, done->deferred, value);
        delete done;
      });
  hop->thread = std::thread([hop] {
    hop->started = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < hop->rounds; i++) {
      {
        std::lock_guard<std::mutex> lock(hop->mutex);
        hop->acknowledged = false;
      }
      napi_status queued = hop->function.BlockingCall([hop](Napi::Env, Napi::Function callback) {
        callback.Call({});
        std::lock_guard<std::mutex> lock(hop->mutex);
        hop->acknowledged = true;
        hop->answered.notify_one();
      });
      // The function is closing (worker termination): no answer will come.
      if (queued != napi_ok) break;
      std::unique_lock<std::mutex> lock(hop->mutex);
      hop->answered.wait(lock, [hop] { return hop->acknowledged; });
    }
    hop->finished = std::chrono::steady_clock::now();
    hop->function.Release();
  });
  return Napi::Value(env, promise);
}

Napi::Value noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

Napi::Value uppercase(const Napi::CallbackInfo& info) {
  auto bytes = info[0].As<Napi::Uint8Array>();
  uppercaseAscii(bytes.Data(), bytes.ByteLength());
  return info.Env().Undefined();
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("measureThreadHop", Napi::Function::New(env, measureThreadHop, "measureThreadHop"));
  exports.Set("noop", Napi::Function::New(env, noop, "noop"));
  exports.Set("uppercase", Napi::Function::New(env, uppercase, "uppercase"));
  return exports;
}

}  // namespace
}  // namespace sockengine

static Napi::Object initModule(Napi::Env env, Napi::Object exports) { return sockengine::init(env, exports); }

NODE_API_MODULE(sockengine_bench, initModule)
