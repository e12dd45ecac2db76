// The engine's lifecycle and its delivery of batches to JavaScript (see engine.h).
//
// Failure policy (docs/design.md, "When JavaScript throws"): a batch's callback runs inside
// a Node callback scope, which also runs the ticks and microtasks that handlers queued. If
// any of them throws, the exception is reported to process 'uncaughtException', exactly as
// Node reports a throw from its own socket callbacks, and the engine keeps polling. The
// engine stops only when JavaScript can no longer run at all (the environment is being torn
// down), which Node-API signals by a failed call with no exception pending.
#include "engine.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace sockengine {
namespace {

// The batch bytes' Buffer: made at this size, grown to fit a larger batch, and made small
// again after a batch over kBytesKeep (a full batch, kBatchByteBudget, plus the largest
// read, a framed one of kReceiveBufferSize), so a rare flood of datagrams does not hold
// megabytes for good.
constexpr size_t kBytesInitial = 64 * 1024;
constexpr size_t kBytesKeep = kBatchByteBudget + kReceiveBufferSize;

// After an exception, how many more times the tick queue is run to report the next one:
// each round reports one exception; a queue that throws more than this many times in a row
// finishes at the next batch instead.
constexpr int kTickRounds = 64;

napi_value doNothing(napi_env, napi_callback_info) { return nullptr; }

// The read room's size: one read's most (Loop::readToJs receives kReadSize into it).
constexpr size_t kRoomSize = kReadSize;

// glibc only: let the heap keep the chunks' memory the garbage collector frees, instead of
// giving it back to the kernel and faulting it in again. Each full read a handler gets is a
// 64 KiB Buffer from Node's allocator (malloc), each large frame one of its own size; V8
// frees them tens of megabytes at a time, and when they lie at the top of the heap and
// together pass glibc's trim threshold (128 KiB until glibc raises it), free() shrinks the
// heap and the next reads grow it again, page by page. Some processes start that way and
// stay so: on 10 x 16 KiB x 4 through a JavaScript handler, from 1 start in 8 to 6 in 8
// depending on the sitting, ran at 11,000-21,000 msg/s with 2-3 page faults per message,
// against 77,000-80,000 and 0.07 (docs/design.md section 15, "Read rooms and the heap's
// trim"). glibc raises its thresholds itself whenever a block it had to map is freed (mmap
// threshold to the block's size, trim threshold to twice that, mallopt(3)); one 31 MiB
// block mapped and freed here does that once, as in any process that once freed a buffer
// that large: the heap then keeps up to 62 MiB free at its top, more than the collector
// frees at once here (about 33 MiB, traced with strace's brk calls; a 4 MiB block was not
// enough). No setting is pinned: glibc goes on adjusting both thresholds as before. Done
// only once an engine has made kChunkBytesBeforeRaise of such Buffers, so a server that
// never streams keeps giving freed memory back (raised at start, the idle-memory shape
// after one echo held 265 B per connection instead of 71).
void raiseTrimThreshold() {
#if defined(__GLIBC__)
  static std::atomic<bool> raised{false};  // engines run on several threads with workers
  if (raised.exchange(true)) return;
  // Just under glibc's largest dynamic mmap threshold (32 MiB on 64-bit), so the block is
  // mapped (not taken from the heap) and freeing it raises both thresholds.
  void* volatile block = std::malloc(31 * 1024 * 1024);
  std::free(block);
#endif
}

// 16 MiB: 256 full reads, a fifth of a second of the stream shape.
constexpr uint64_t kChunkBytesBeforeRaise = 16 * 1024 * 1024;

}  // namespace

Engine::Engine(Napi::Env env) : env_(env), context_(env, "sockengine") {
  napi_value function;
  if (napi_create_function(env_, "runTicks", NAPI_AUTO_LENGTH, doNothing, nullptr, &function) == napi_ok) {
    runTicks_ = Napi::Persistent(Napi::Function(env_, function));
  }
}

int Engine::start() {
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
  // Without a check handle busy sockets simply stay in the loop's own poller.
  check_ = new uv_check_t;
  check_->data = this;
  if (uv_check_init(uvLoop, check_) == 0) {
    uv_unref(reinterpret_cast<uv_handle_t*>(check_));
    host_ = std::make_unique<HostPoll>(uvLoop, loop_, afterHostedEvent, this);
    loop_.setHost(host_.get());
  } else {
    delete check_;
    check_ = nullptr;
  }
  ChunkHost chunks;
  chunks.context = this;
  chunks.readRoom = [](void* engine) { return static_cast<Engine*>(engine)->readRoom(); };
  chunks.takeReadRoom = [](void* engine, size_t length) { return static_cast<Engine*>(engine)->takeReadRoom(length); };
  chunks.newChunk = [](void* engine, size_t length, int32_t* number) {
    return static_cast<Engine*>(engine)->newChunk(length, number);
  };
  loop_.setChunkHost(chunks);
  napi_add_async_cleanup_hook(env_, onEnvCleanup, this, &cleanupHandle_);
  return 0;
}

void Engine::syncRef() {
  bool wanted = loop_.active() || !loop_.events().empty();
  if (wanted == referenced_ || poll_ == nullptr) return;
  referenced_ = wanted;
  if (wanted) {
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
}

void Engine::onPoll(uv_poll_t* handle, int, int) { static_cast<Engine*>(handle->data)->runAndDeliver(); }

void Engine::afterHostedEvent(void* data) {
  auto* engine = static_cast<Engine*>(data);
  if (!engine->stopped_ && !engine->loop_.events().empty()) uv_check_start(engine->check_, onCheck);
}

void Engine::onCheck(uv_check_t* handle) {
  uv_check_stop(handle);
  auto* engine = static_cast<Engine*>(handle->data);
  if (engine->stopped_) return;
  if (!engine->loop_.events().empty() && !engine->onBatch_.IsEmpty()) engine->deliverAndReread();
  if (!engine->stopped_) engine->loop_.quietEnded();
  engine->syncRef();
}

void Engine::runAndDeliver() {
  if (stopped_) return;
  loop_.runOnce();
  if (!loop_.events().empty() && !onBatch_.IsEmpty()) deliverAndReread();
  if (!stopped_) loop_.quietEnded();
  syncRef();
}

// A UDP peer that answers each reply at once (a request-reply client) has often answered by
// the time JavaScript is done with the batch: reading its socket again then hands the next
// datagram over without a trip through epoll, as libuv's UDP reads do (up to 32 reads per
// wake-up). Bounded in rounds and in datagrams, so a flooded socket still lets the rest of
// the turn run. Measured on udp 1 x 64 with a JavaScript handler: epoll waits per message
// 1.00 -> 0.12 with 8 rounds, 0.03 with 32.
void Engine::deliverAndReread() {
  static constexpr int kRereadRounds = 32;
  static constexpr size_t kRereadDatagrams = 256;
  deliver();
  size_t reread = 0;
  for (int round = 0; round < kRereadRounds && reread < kRereadDatagrams && !stopped_; round++) {
    if (!loop_.readDatagramsAgain()) break;
    reread += loop_.events().size();
    deliver();
  }
  loop_.endDatagramRereads();
}

// Raw Node-API calls with every status checked: while a worker is being terminated (or
// calls process.exit() in a handler) Node still runs its loop once, JavaScript can no
// longer run, and node-addon-api's wrappers would turn the failure into a fatal error.
void Engine::deliver() {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env_, &scope) != napi_ok) return stop();
  const auto& events = loop_.events();
  size_t recordBytes = events.size() * sizeof(EventRecord);
  napi_value view, bytes, count, chunks, callback, global, result;
  bool ready = recordsView(events.size(), &view) && handOverBytes(&bytes) && handOverChunks(&chunks) &&
               napi_create_uint32(env_, static_cast<uint32_t>(recordBytes / sizeof(int32_t)), &count) == napi_ok &&
               napi_get_reference_value(env_, onBatch_, &callback) == napi_ok &&
               napi_get_global(env_, &global) == napi_ok;
  if (ready) std::memcpy(recordsData_, events.data(), recordBytes);
  // Writes during a batch of several events leave together at its end (section 9 of
  // docs/design.md); a batch of one has nothing to gather them with, and holding its reply
  // back would only make it wait for the tick and microtask queues.
  bool gather = ready && recordBytes > sizeof(EventRecord);
  if (gather) loop_.markGathering();
  // Cleared before JavaScript runs: events its calls cause belong to the next batch.
  loop_.clearBatch();
  chunks_.clear();
  if (!ready) {
    stop();
  } else {
    napi_value argv[4] = {view, bytes, count, chunks};
    if (gather) loop_.cork();
    if (napi_make_callback(env_, context_, global, callback, 4, argv, &result) != napi_ok) reportFailure(global);
    if (gather) loop_.uncork();
  }
  napi_close_handle_scope(env_, scope);
}

void Engine::reportFailure(napi_value global) {
  for (int round = 0; round < kTickRounds; round++) {
    bool pending = false;
    // No exception, yet the call failed: JavaScript cannot run any more (teardown). The
    // cleanup hook closes everything next.
    if (napi_is_exception_pending(env_, &pending) != napi_ok || !pending) return stop();
    napi_value error;
    if (napi_get_and_clear_last_exception(env_, &error) != napi_ok) return stop();
    // 'uncaughtException' listeners run here; without one, Node prints it and exits.
    if (napi_fatal_exception(env_, error) != napi_ok) return stop();
    // The ticks queued behind the one that threw (a close() promised by destroy(), say)
    // would otherwise wait for the next batch, which may never come: run them now.
    napi_value runTicks, result;
    if (runTicks_.IsEmpty() || napi_get_reference_value(env_, runTicks_, &runTicks) != napi_ok) return;
    if (napi_make_callback(env_, context_, global, runTicks, 0, nullptr, &result) == napi_ok) return;
  }
}

// One Int32Array for every batch, instead of an ArrayBuffer and a view made per batch: two
// fewer allocations (and less garbage) per crossing.
bool Engine::recordsView(size_t records, napi_value* view) {
  if (records > recordsCapacity_ || records_.IsEmpty()) {
    size_t capacity = recordsCapacity_ == 0 ? 256 : recordsCapacity_;
    while (capacity < records) capacity *= 2;
    void* data = nullptr;
    napi_value buffer, made;
    if (napi_create_arraybuffer(env_, capacity * sizeof(EventRecord), &data, &buffer) != napi_ok ||
        napi_create_typedarray(env_, napi_int32_array, capacity * sizeof(EventRecord) / sizeof(int32_t), buffer, 0,
                               &made) != napi_ok) {
      return false;
    }
    records_ = Napi::Persistent(Napi::Value(env_, made));
    recordsData_ = static_cast<int32_t*>(data);
    recordsCapacity_ = capacity;
  }
  return napi_get_reference_value(env_, records_, view) == napi_ok;
}

// The batch's large reads and frames (see ChunkHost in ../loop.h), or undefined when it
// has none: the Buffers themselves, each exactly its chunk (a read handed over in its room
// filled the room).
bool Engine::handOverChunks(napi_value* chunks) {
  if (chunks_.empty()) return napi_get_undefined(env_, chunks) == napi_ok;
  if (napi_create_array_with_length(env_, chunks_.size(), chunks) != napi_ok) return false;
  for (size_t i = 0; i < chunks_.size(); i++) {
    napi_value buffer;
    if (napi_get_reference_value(env_, chunks_[i], &buffer) != napi_ok ||
        napi_set_element(env_, *chunks, static_cast<uint32_t>(i), buffer) != napi_ok) {
      return false;
    }
  }
  return true;
}

// A Buffer of the JavaScript heap (Node's ArrayBuffer allocator, no finalizer: the garbage
// collector frees it like any Buffer). The first version handed over blocks of the loop's
// own as external Buffers, whose finalizers cost more than the copy they saved
// (docs/design.md section 15). Called from the loop's reads, outside any JavaScript call,
// so it opens its own handle scope.
static bool makeBuffer(napi_env env, size_t length, uint8_t** data, Napi::Reference<Napi::Value>* made) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  void* memory = nullptr;
  napi_value buffer;
  bool ok = napi_create_buffer(env, length, &memory, &buffer) == napi_ok;
  if (ok) {
    *made = Napi::Persistent(Napi::Value(env, buffer));
    *data = static_cast<uint8_t*>(memory);
  } else {
    // A failed allocation leaves its exception pending, which would fail the next batch's
    // call into JavaScript: the caller falls back to the arena, so drop it. (No JavaScript
    // runs during a read, so it can be no one else's.)
    bool pending = false;
    napi_value error;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &error);
  }
  napi_close_handle_scope(env, scope);
  return ok;
}

uint8_t* Engine::readRoom() {
  if (roomData_ == nullptr && (stopped_ || !makeBuffer(env_, kRoomSize, &roomData_, &room_))) return nullptr;
  return roomData_;
}

int32_t Engine::takeReadRoom(size_t length) {
  // Always a full room (Loop::readToJs): the Buffer is the chunk.
  if (length != kRoomSize) return 0;
  chunks_.push_back(std::move(room_));
  roomData_ = nullptr;
  countChunkBytes(length);
  return static_cast<int32_t>(chunks_.size());
}

void Engine::countChunkBytes(size_t length) {
  if (chunkBytesMade_ >= kChunkBytesBeforeRaise) return;
  chunkBytesMade_ += length;
  if (chunkBytesMade_ >= kChunkBytesBeforeRaise) raiseTrimThreshold();
}

uint8_t* Engine::newChunk(size_t length, int32_t* number) {
  uint8_t* data = nullptr;
  Napi::Reference<Napi::Value> chunk;
  if (stopped_ || !makeBuffer(env_, length, &data, &chunk)) return nullptr;
  chunks_.push_back(std::move(chunk));
  *number = static_cast<int32_t>(chunks_.size());
  countChunkBytes(length);
  return data;
}

// Reading the stage's memory (napi_get_typedarray_info) moves a typed array of 64 bytes or
// less out of V8's heap for good, so the pointer kept here stays valid while the
// reference keeps the Buffer alive.
void Engine::setStage(Napi::Uint8Array stage) {
  stage_ = Napi::Persistent(static_cast<Napi::Value>(stage));
  stageData_ = stage.Data();
  stageLength_ = stage.ByteLength();
}

// The batch's bytes, copied into one Buffer made once and remade only when a batch
// outgrows it (or, after an outsized one, made small again), as the records' view is:
// JavaScript copies each record's bytes out of it during the call (lib/native/engine.ts
// ownBytes; viewBatchBytes keeps a view of it until a batch brings another Buffer), so
// nothing reads it past the call. A Buffer per batch (napi_create_buffer)
// cost a malloc and V8's SetPrototype walk per crossing: 5-7% of the server's CPU at one
// datagram in flight (docs/design.md section 15).
bool Engine::handOverBytes(napi_value* bytes) {
  const ByteBuffer& arena = loop_.arena();
  size_t size = arena.size();
  bool outgrown = size > bytesCapacity_;
  bool oversized = bytesCapacity_ > kBytesKeep && size <= kBytesInitial;
  if (bytes_.IsEmpty() || outgrown || oversized) {
    size_t capacity = kBytesInitial;
    while (capacity < size) capacity *= 2;
    void* data = nullptr;
    napi_value made;
    if (napi_create_buffer(env_, capacity, &data, &made) != napi_ok) return false;
    bytes_ = Napi::Persistent(Napi::Value(env_, made));
    bytesData_ = static_cast<uint8_t*>(data);
    bytesCapacity_ = capacity;
  }
  if (size > 0) std::memcpy(bytesData_, arena.data(), size);
  return napi_get_reference_value(env_, bytes_, bytes) == napi_ok;
}

void Engine::stop() {
  stopped_ = true;
  if (poll_ != nullptr) uv_poll_stop(poll_);
  if (check_ != nullptr) uv_check_stop(check_);
}

void Engine::onEnvCleanup(napi_async_cleanup_hook_handle handle, void* data) {
  // Process exit or worker termination: close every socket now and free the engine once
  // libuv has let go of the poll handle.
  auto* engine = static_cast<Engine*>(data);
  engine->cleanupHandle_ = handle;
  engine->loop_.closeAll();
  if (engine->check_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(engine->check_),
             [](uv_handle_t* closed) { delete reinterpret_cast<uv_check_t*>(closed); });
    engine->check_ = nullptr;
  }
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

}  // namespace sockengine
