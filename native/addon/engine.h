// The engine's life inside one Node environment (the main thread or a worker): it watches
// the loop's poller fd from Node's own libuv loop (uv_poll), so every wake-up runs on the
// JavaScript thread with no thread hop, and hands JavaScript one batch per wake-up (see
// ../events.h; docs/design.md has the measurements behind this choice).
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "../loop.h"
#include "host_poll.h"

namespace sockengine {

class Engine {
 public:
  explicit Engine(Napi::Env env);

  // Opens the loop and starts watching it; 0 or -errno. On failure the caller deletes it.
  int start();
  Loop& loop() { return loop_; }
  void setBatchCallback(Napi::Function callback) { onBatch_ = Napi::Persistent(callback); }
  // The Buffer JavaScript copies small writes into (lib/native/stage.ts): the *Staged
  // bindings take their bytes from it by length, so no typed array crosses per call.
  void setStage(Napi::Uint8Array stage);
  // The stage's first `length` bytes, or nullptr when there is no stage or it is shorter.
  const uint8_t* staged(size_t length) const { return stageData_ != nullptr && length <= stageLength_ ? stageData_ : nullptr; }
  // Keeps the process alive exactly while the engine has sockets open or events to deliver,
  // like a node:net server or socket.
  void syncRef();

  // The loop's ChunkHost: Buffers made on this thread's heap, handed over as they are.
  uint8_t* readRoom();
  int32_t takeReadRoom(size_t length);
  uint8_t* newChunk(size_t length, int32_t* number);

 private:
  // Counts the bytes of the Buffers made for chunks; past a threshold, lets glibc's heap
  // keep what the garbage collector frees (raiseTrimThreshold in engine.cc).
  void countChunkBytes(size_t length);
  static void onPoll(uv_poll_t* handle, int status, int events);
  // A socket in libuv's own set (HostPoll) was ready: its events go at the turn's check.
  static void afterHostedEvent(void* data);
  static void onCheck(uv_check_t* handle);
  static void onEnvCleanup(napi_async_cleanup_hook_handle handle, void* data);
  void runAndDeliver();
  void deliver();
  void deliverAndReread();
  bool handOverBytes(napi_value* bytes);
  bool handOverChunks(napi_value* chunks);
  // The Int32Array the batch's records are copied into, made anew only when a batch
  // outgrows it: JavaScript reads the first `count` fields of it during the call only.
  bool recordsView(size_t records, napi_value* view);
  void reportFailure(napi_value global);
  void stop();

  napi_env env_;
  // Declared before the loop so it outlives it: the loop's destructor may still unwatch.
  std::unique_ptr<HostPoll> host_;
  Loop loop_;
  uv_poll_t* poll_ = nullptr;
  // Delivers what hosted sockets added to the batch, once per libuv turn; started only
  // when they added something.
  uv_check_t* check_ = nullptr;
  bool referenced_ = false;
  bool stopped_ = false;
  Napi::FunctionReference onBatch_;
  Napi::Reference<Napi::Value> records_;
  int32_t* recordsData_ = nullptr;
  size_t recordsCapacity_ = 0;
  // The Buffer the batch's bytes are copied into (handOverBytes), and its memory.
  Napi::Reference<Napi::Value> bytes_;
  uint8_t* bytesData_ = nullptr;
  size_t bytesCapacity_ = 0;
  // The Buffer the next read for JavaScript lands in (readRoom), and its memory.
  Napi::Reference<Napi::Value> room_;
  uint8_t* roomData_ = nullptr;
  uint64_t chunkBytesMade_ = 0;
  Napi::Reference<Napi::Value> stage_;
  const uint8_t* stageData_ = nullptr;
  size_t stageLength_ = 0;
  // This batch's chunks, in the order records number them.
  std::vector<Napi::Reference<Napi::Value>> chunks_;
  // An empty function, called only to run the tick queue after an exception cut it short.
  Napi::FunctionReference runTicks_;
  Napi::AsyncContext context_;
  napi_async_cleanup_hook_handle cleanupHandle_ = nullptr;
};

}  // namespace sockengine
