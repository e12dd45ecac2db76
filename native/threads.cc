#include "threads.h"

#include <cerrno>
#include <chrono>
#include <condition_variable>

namespace sockengine {
namespace {

enum Command : uint32_t {
  kCloseListener = 1u << 0,
  kCloseConnections = 1u << 1,
  kStopNow = 1u << 2,
};

// A loop thread's stack. The loop keeps its buffers on the heap; the deepest frame is
// runOnce() with its 1,024 poller events (24 KiB) and a UDP wake-up's receive table, so
// 256 KiB leaves ample room while N threads cost far less than glibc's default 8 MiB each.
constexpr size_t kStackSize = 256 * 1024;

}  // namespace

struct LoopThreads::Thread {
  Loop loop;
  LoopThreads* owner = nullptr;
  bool datagram = false;
  // The loop's server: a TCP endpoint id or a UDP socket id.
  uint32_t serverId = 0;
  pthread_t handle{};
  bool started = false;
  bool joined = false;
  std::atomic<uint32_t> commands{0};
  std::atomic<bool> exited{false};
  mutable std::mutex statsLock;
  LoopThreadStats snapshot;
  // How many times snapshot was published; stats() waits for it to move.
  uint64_t published = 0;
  std::condition_variable publishedChanged;

  // After each wake-up, on the loop's thread.
  void publish(bool running, int error) {
    LoopThreadStats next;
    {
      std::lock_guard<std::mutex> guard(statsLock);
      next = snapshot;
    }
    if (datagram) {
      const DatagramStats* counters = loop.datagramStats(serverId);
      if (counters != nullptr) next.datagrams = *counters;
    } else {
      // The endpoint is erased once closed and idle: its last counters stay in the snapshot.
      const Endpoint* endpoint = loop.endpoint(serverId);
      if (endpoint != nullptr) {
        next.accepted = endpoint->accepted;
        next.rejected = endpoint->rejected;
        next.timedOut = endpoint->timedOut;
        next.framesTooLong = endpoint->framesTooLong;
        next.proxyRejected = endpoint->proxyRejected;
        next.closedWithError = endpoint->closedWithError;
        next.connections = endpoint->connections;
        // The server's own bytes, as server.stats() counts them without workers.
        next.bytesRead = endpoint->bytesIn;
        next.bytesWritten = endpoint->bytesOut;
      } else {
        next.connections = 0;
      }
    }
    next.running = running;
    if (error != 0) next.error = error;
    {
      std::lock_guard<std::mutex> guard(statsLock);
      snapshot = next;
      published++;
    }
    publishedChanged.notify_all();
  }
};

LoopThreads::LoopThreads() = default;
LoopThreads::~LoopThreads() { stop(); }

int LoopThreads::start(const SockAddr& address, int count, const Spec& spec, SockAddr* bound,
                       const char** failedSyscall) {
  SockAddr next = address;
  const bool reusePort = spec.reusePort || count > 1;
  for (int i = 0; i < count; i++) {
    auto thread = std::make_unique<Thread>();
    thread->owner = this;
    thread->datagram = spec.datagram;
    int result = thread->loop.open();
    if (result < 0) {
      *failedSyscall = "epoll_create1";
      threads_.clear();
      return result;
    }
    std::unique_ptr<BuiltinHandler> builtin = makeBuiltinHandler(spec.builtin);
    if (!builtin) {
      *failedSyscall = "handler";
      threads_.clear();
      return -EINVAL;
    }
    SockAddr local;
    if (spec.datagram) {
      result = thread->loop.bindDatagram(next, spec.ipv6Only, reusePort, std::move(builtin), spec.maxDatagramSize,
                                         &thread->serverId, &local, failedSyscall);
    } else {
      Loop::ListenSettings settings;
      settings.backlog = spec.backlog;
      settings.ipv6Only = spec.ipv6Only;
      settings.reusePort = reusePort;
      settings.builtin = std::move(builtin);
      settings.maxConnections = spec.maxConnections;
      settings.connection = spec.connection;
      settings.proxyTimeoutMs = spec.proxyTimeoutMs;
      if (spec.framed) settings.framer = std::make_unique<Framer>(spec.framing);
      result = thread->loop.listen(next, std::move(settings), &thread->serverId, &local, failedSyscall);
    }
    if (result < 0) {
      threads_.clear();  // Each Loop closes its sockets as it goes.
      return result;
    }
    if (i == 0) {
      // Port 0 picked a free port: the others join the first on it.
      *bound = local;
      next = local;
    }
    thread->publish(true, 0);
    threads_.push_back(std::move(thread));
  }
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, kStackSize);
  for (auto& thread : threads_) {
    int result = pthread_create(&thread->handle, &attributes, run, thread.get());
    if (result != 0) {
      pthread_attr_destroy(&attributes);
      *failedSyscall = "pthread_create";
      stop();
      threads_.clear();
      return -result;
    }
    thread->started = true;
  }
  pthread_attr_destroy(&attributes);
  return 0;
}

void* LoopThreads::run(void* self) {
  auto* thread = static_cast<Thread*>(self);
  Loop& loop = thread->loop;
  bool listening = true;
  bool dropped = false;
  int error = 0;
  for (;;) {
    uint32_t commands = thread->commands.load(std::memory_order_acquire);
    if (commands & kStopNow) break;
    if ((commands & kCloseListener) && listening) {
      listening = false;
      if (thread->datagram) {
        loop.closeDatagram(thread->serverId);
      } else {
        loop.closeListener(thread->serverId);
      }
    }
    if ((commands & kCloseConnections) && !dropped && !thread->datagram) {
      dropped = true;
      loop.closeEndpointConnections(thread->serverId);
    }
    loop.clearBatch();  // kServerIdle, the only event a built-in server pushes.
    if (!listening && !loop.active()) break;
    int result = loop.runOnce(-1);
    loop.clearBatch();
    if (result < 0) {
      // The poller itself failed (EBADF, ENOMEM...): nothing more can be served here.
      error = result;
      break;
    }
    thread->publish(true, 0);
  }
  thread->publish(false, error);
  loop.closeAll();
  thread->exited.store(true, std::memory_order_release);
  if (thread->owner->onExit_) thread->owner->onExit_();
  return nullptr;
}

void LoopThreads::command(uint32_t bits) {
  for (auto& thread : threads_) {
    thread->commands.fetch_or(bits, std::memory_order_release);
    thread->loop.wake();
  }
}

void LoopThreads::close() { command(kCloseListener); }

void LoopThreads::closeConnections() { command(kCloseConnections); }

void LoopThreads::stop() {
  command(kStopNow);
  for (auto& thread : threads_) {
    if (thread->started && !thread->joined) {
      pthread_join(thread->handle, nullptr);
      thread->joined = true;
    }
  }
}

bool LoopThreads::joinExited() {
  bool all = true;
  for (auto& thread : threads_) {
    if (thread->joined || !thread->started) continue;
    if (!thread->exited.load(std::memory_order_acquire)) {
      all = false;
      continue;
    }
    pthread_join(thread->handle, nullptr);
    thread->joined = true;
  }
  return all;
}

LoopThreadStats LoopThreads::stats(size_t index) {
  Thread& thread = *threads_[index];
  std::unique_lock<std::mutex> lock(thread.statsLock);
  if (!thread.started || !thread.snapshot.running) return thread.snapshot;
  uint64_t seen = thread.published;
  thread.loop.wake();
  thread.publishedChanged.wait_for(lock, std::chrono::milliseconds(100),
                                   [&] { return thread.published != seen || !thread.snapshot.running; });
  return thread.snapshot;
}

}  // namespace sockengine
