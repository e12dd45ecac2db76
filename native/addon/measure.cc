// Measurements behind the dispatch decision (docs/design.md), kept in the addon so anyone
// can rerun them: the round-trip rate of the alternative design, where the engine runs on
// a native thread and reaches JavaScript through a ThreadSafeFunction (uv_async).
#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "measure.h"

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

}  // namespace

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

}  // namespace sockengine
