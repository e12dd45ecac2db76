// The JavaScript thread's HostPoller (../loop.h): busy sockets watched by Node's own libuv
// loop, one uv_poll_t each, so their readiness reaches the thread in libuv's epoll_wait
// alone instead of climbing into the engine's nested epoll set first. The events they cause
// join the engine's batch, which is handed to JavaScript once per libuv turn, from a check
// handle (after the poll phase has run every ready socket's callback): with fifty busy
// connections there is still one crossing per turn, not fifty.
#pragma once

#include <uv.h>

#include <unordered_map>

#include "../loop.h"

namespace sockengine {

class HostPoll : public HostPoller {
 public:
  // `afterReady(context)` runs after each event the loop has handled.
  HostPoll(uv_loop_t* uvLoop, Loop& loop, void (*afterReady)(void*), void* context)
      : uvLoop_(uvLoop), loop_(loop), afterReady_(afterReady), context_(context) {}
  HostPoll(const HostPoll&) = delete;
  HostPoll& operator=(const HostPoll&) = delete;
  // Every watch must be gone (Loop::closeAll unwatches them all).
  ~HostPoll() override = default;

  bool watch(Socket* socket, uint32_t interest) override;
  void unwatch(Socket* socket) override;

 private:
  struct Watch {
    uv_poll_t handle;
    Socket* socket;
    HostPoll* owner;
  };
  static void onReady(uv_poll_t* handle, int status, int events);

  uv_loop_t* uvLoop_;
  Loop& loop_;
  void (*afterReady_)(void*);
  void* context_;
  std::unordered_map<Socket*, Watch*> watches_;
};

}  // namespace sockengine
