// Built-in servers on loop threads of their own (listen({ workers: N }) with a built-in
// handler): N loops, each on its own thread with its own SO_REUSEPORT listener (or bound UDP
// socket) on one address, so the kernel spreads connections (or datagrams) over them by a
// hash of the peer's address. A thread blocks in its poller's wait and does everything
// itself: no JavaScript per message and no hand-over between threads.
//
// Why no Node is needed here: a built-in endpoint pushes no events for JavaScript (kOpen,
// kData, kEnd, kDrain, kError and kClose are pushed only when the endpoint has no builtin,
// kDatagramError only for JavaScript sockets); the one event it does push, kServerIdle when
// a closed server's last connection goes, is simply cleared. native/addon/workers.cc starts
// the threads, reads their counters and stops them from the JavaScript thread.
//
// Threading: each Loop is touched only by its own thread once that thread has started. The
// starting thread opens the loops and their listeners before the threads exist (thread
// creation orders those writes before anything the thread does). Afterwards other threads
// only set command bits, wake the loop (Poller::wake is an eventfd write) and read the
// counters, which the loop's thread copies into a snapshot under a mutex after each wake-up.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "loop.h"

namespace sockengine {

// One loop thread's counters, a copy taken after its latest wake-up.
struct LoopThreadStats {
  // TCP: as server.stats() reports them (Endpoint's counters).
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t timedOut = 0;
  uint64_t framesTooLong = 0;
  uint64_t proxyRejected = 0;
  uint64_t closedWithError = 0;
  uint32_t connections = 0;
  uint64_t bytesRead = 0;
  uint64_t bytesWritten = 0;
  // UDP: the bound socket's counters.
  DatagramStats datagrams;
  // Still serving (false once it has exited, after close or failure).
  bool running = false;
  // The -errno its poller failed with, which stopped it; 0 if none.
  int error = 0;
};

class LoopThreads {
 public:
  // What every thread's server is made of. Each thread makes its own handler and framer:
  // a built-in handler answers from memory of its own (the reply handler keeps its reply).
  struct Spec {
    bool datagram = false;
    std::string builtin;
    bool ipv6Only = false;
    // SO_REUSEPORT: always with more than one thread (they share the port); with one, only
    // when asked (a lone built-in server refuses a busy port like any other, see docs/design.md).
    bool reusePort = false;
    // TCP only.
    int backlog = 511;
    uint32_t maxConnections = 0;
    ConnectionSettings connection;
    bool framed = false;
    FramingSpec framing;
    // PROXY protocol header deadline in ms; 0: none expected.
    uint32_t proxyTimeoutMs = 0;
    // UDP only.
    size_t maxDatagramSize = 65536;
  };

  LoopThreads();
  LoopThreads(const LoopThreads&) = delete;
  LoopThreads& operator=(const LoopThreads&) = delete;
  // Closes everything at once and joins every thread (see stop()).
  ~LoopThreads();

  // Called on a loop thread each time that thread exits (after close() or a failure). It
  // must be safe to call from any thread (native/addon/workers.cc sends a uv_async).
  void setOnExit(std::function<void()> onExit) { onExit_ = std::move(onExit); }

  // Opens `count` loops and listeners on the calling thread, the first on `address` (port 0
  // picks a free one) and the others on the port the first got, then starts one thread per
  // loop. Returns 0 and the bound address, or -errno with `failedSyscall` naming the call
  // that failed; on failure nothing is left open and no thread runs.
  int start(const SockAddr& address, int count, const Spec& spec, SockAddr* bound, const char** failedSyscall);
  // Stops accepting (TCP: open connections finish first; UDP: the sockets close). Each
  // thread exits once its loop has nothing open.
  void close();
  // Closes every open connection now: close()'s deadline has passed.
  void closeConnections();
  // Closes everything now and joins every thread: the process or worker is going away.
  void stop();
  // Joins the threads that have exited; true once every one has.
  bool joinExited();

  size_t size() const { return threads_.size(); }
  // The thread's counters as of its next wake-up: it is woken and this waits (at most
  // 100 ms) for it to publish, so everything it did before the call is counted. A reply the
  // caller has seen is in them; a snapshot taken after each wake-up alone could lag behind it.
  LoopThreadStats stats(size_t index);

 private:
  struct Thread;
  static void* run(void* self);
  void command(uint32_t bits);

  std::vector<std::unique_ptr<Thread>> threads_;
  std::function<void()> onExit_;
};

}  // namespace sockengine
