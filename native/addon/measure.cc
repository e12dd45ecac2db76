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
  Napi::Promise::Deferred deferred;
  explicit ThreadHop(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

}  // namespace

// measureThreadHop(rounds, callback) -> Promise<seconds>: a native thread posts `rounds`
// events one at a time; each runs `callback` on the JavaScript thread and the native thread
// waits for it before posting the next, as a ping-pong over a thread hop would.
Napi::Value measureThreadHop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* hop = new ThreadHop(env);
  hop->rounds = info[0].As<Napi::Number>().Uint32Value();
  hop->function = Napi::ThreadSafeFunction::New(
      env, info[1].As<Napi::Function>(), "sockengine-thread-hop", 0, 1, hop, [](Napi::Env, ThreadHop* done) {
        done->thread.join();
        double seconds = std::chrono::duration<double>(done->finished - done->started).count();
        done->deferred.Resolve(Napi::Number::New(done->deferred.Env(), seconds));
        delete done;
      });
  hop->thread = std::thread([hop] {
    hop->started = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < hop->rounds; i++) {
      {
        std::lock_guard<std::mutex> lock(hop->mutex);
        hop->acknowledged = false;
      }
      hop->function.BlockingCall([hop](Napi::Env, Napi::Function callback) {
        callback.Call({});
        std::lock_guard<std::mutex> lock(hop->mutex);
        hop->acknowledged = true;
        hop->answered.notify_one();
      });
      std::unique_lock<std::mutex> lock(hop->mutex);
      hop->answered.wait(lock, [hop] { return hop->acknowledged; });
    }
    hop->finished = std::chrono::steady_clock::now();
    hop->function.Release();
  });
  return hop->deferred.Promise();
}

}  // namespace sockengine
