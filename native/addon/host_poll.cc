#include "host_poll.h"

namespace sockengine {

static int toUv(uint32_t interest) {
  int events = 0;
  // UV_DISCONNECT asks for EPOLLRDHUP, as the loop's own poller does for readable sockets.
  if (interest & kReadable) events |= UV_READABLE | UV_DISCONNECT;
  if (interest & kWritable) events |= UV_WRITABLE;
  return events;
}

bool HostPoll::watch(Socket* socket, uint32_t interest) {
  auto found = watches_.find(socket);
  if (found != watches_.end()) return uv_poll_start(&found->second->handle, toUv(interest), onReady) == 0;
  auto* watch = new Watch;
  watch->socket = socket;
  watch->owner = this;
  if (uv_poll_init(uvLoop_, &watch->handle, socket->fd.get()) != 0) {
    delete watch;
    return false;
  }
  watch->handle.data = watch;
  if (uv_poll_start(&watch->handle, toUv(interest), onReady) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->handle),
             [](uv_handle_t* closed) { delete static_cast<Watch*>(closed->data); });
    return false;
  }
  // The engine's own poll handle keeps the process alive while sockets are open; these
  // must not keep it alive on their own.
  uv_unref(reinterpret_cast<uv_handle_t*>(&watch->handle));
  watches_.emplace(socket, watch);
  return true;
}

void HostPoll::unwatch(Socket* socket) {
  auto found = watches_.find(socket);
  if (found == watches_.end()) return;
  Watch* watch = found->second;
  watches_.erase(found);
  // Stops at once (libuv drops any event of this turn still pending for it); the memory
  // goes when libuv has closed the handle. The callback touches nothing but the watch: the
  // engine may be gone by then (environment teardown).
  uv_poll_stop(&watch->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&watch->handle),
           [](uv_handle_t* closed) { delete static_cast<Watch*>(closed->data); });
}

void HostPoll::onReady(uv_poll_t* handle, int status, int events) {
  auto* watch = static_cast<Watch*>(handle->data);
  HostPoll* owner = watch->owner;
  PollEvent event{};
  event.token = watch->socket;
  // A negative status is libuv's report of EPOLLERR, after which it has stopped the handle:
  // the socket reads (and learns its error) like any hung-up socket.
  bool failed = status < 0;
  event.readable = failed || (events & (UV_READABLE | UV_DISCONNECT)) != 0;
  event.writable = failed || (events & UV_WRITABLE) != 0;
  event.hangup = failed;
  owner->loop_.onHostedReady(watch->socket, event, failed);
  owner->afterReady_(owner->context_);
}

}  // namespace sockengine
