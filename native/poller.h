// The readiness contract every OS backend implements (epoll now, kqueue later), one file per
// OS, chosen at build time.
//
// - Level-triggered: a descriptor reported readable stays reported on every wait() until it
//   has been read to EAGAIN or its interest is changed. The engine relies on this to cap the
//   work it does per connection per wake-up (one read, see kReadSize in tcp.cc) without losing
//   the rest: whatever it leaves behind is reported again on the next wait().
// - A registration carries an opaque pointer (`token`) handed back with each event; the
//   owner keeps that pointer valid until the loop iteration that removed it has finished
//   (deferred frees, see loop.h), because a wait() may already hold events for it.
// - wait() returns at most `capacity` events per call (kEventsPerWakeup in loop.h).
// - wake() makes a concurrent or future wait() return promptly; it is how work queued from
//   outside a wake-up (a JavaScript call that closes a socket) gets its events delivered.
// - fd() is a single descriptor that is readable whenever wait() would return events, so the
//   whole poller can itself be watched by another loop (Node's libuv loop, via uv_poll).
#pragma once

#include <cstdint>

#include "sys.h"

namespace sockengine {

enum Interest : uint32_t {
  kReadable = 1u << 0,
  kWritable = 1u << 1,
  // Registered for nothing but errors and hang-ups, which the OS reports whether asked or
  // not (EPOLLERR, EPOLLHUP): how a paused connection still hears that its peer reset.
  kErrors = 1u << 2,
};

struct PollEvent {
  void* token;
  bool readable;
  bool writable;
  // The peer hung up or the socket has a pending error; reading will say which.
  bool hangup;
};

class Poller {
 public:
  Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;
  ~Poller();

  // 0, or -errno if the OS refused to create the poller.
  int open();
  int add(int fd, uint32_t interest, void* token);
  int modify(int fd, uint32_t interest, void* token);
  int remove(int fd);
  // Waits up to `timeoutMs` (0: poll, -1: forever); returns the number of events or -errno.
  // Wake-ups from wake() are consumed here and not reported as events.
  int wait(PollEvent* events, int capacity, int timeoutMs);
  int wake();
  int fd() const;

 private:
  Fd poll_;
  Fd wakeup_;
};

}  // namespace sockengine
