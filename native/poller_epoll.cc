// Linux backend of poller.h: epoll plus an eventfd for wake().
#if defined(__linux__)

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "poller.h"

namespace sockengine {

// epoll_wait fills at most this many kernel records per call; wait() converts them.
static constexpr int kMaxKernelEvents = 1024;

Poller::Poller() = default;
Poller::~Poller() = default;

static uint32_t toEpoll(uint32_t interest) {
  uint32_t events = 0;
  if (interest & kReadable) events |= EPOLLIN | EPOLLRDHUP;
  if (interest & kWritable) events |= EPOLLOUT;
  return events;
}

int Poller::open() {
  int poll = epoll_create1(EPOLL_CLOEXEC);
  if (poll < 0) return -errno;
  poll_.reset(poll);
  int wakeup = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeup < 0) return -errno;
  wakeup_.reset(wakeup);
  // The wake-up descriptor is registered with the Poller itself as its token.
  return add(wakeup_.get(), kReadable, this);
}

int Poller::add(int fd, uint32_t interest, void* token) {
  epoll_event event{};
  event.events = toEpoll(interest);
  event.data.ptr = token;
  return epoll_ctl(poll_.get(), EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : -errno;
}

int Poller::modify(int fd, uint32_t interest, void* token) {
  epoll_event event{};
  event.events = toEpoll(interest);
  event.data.ptr = token;
  return epoll_ctl(poll_.get(), EPOLL_CTL_MOD, fd, &event) == 0 ? 0 : -errno;
}

int Poller::remove(int fd) {
  // epoll_ctl(2): kernels before 2.6.9 required a non-null event even for DEL.
  epoll_event unused{};
  return epoll_ctl(poll_.get(), EPOLL_CTL_DEL, fd, &unused) == 0 ? 0 : -errno;
}

int Poller::wait(PollEvent* events, int capacity, int timeoutMs) {
  epoll_event kernel[kMaxKernelEvents];
  int limit = capacity < kMaxKernelEvents ? capacity : kMaxKernelEvents;
  int count;
  do {
    count = epoll_wait(poll_.get(), kernel, limit, timeoutMs);
  } while (count < 0 && errno == EINTR);
  if (count < 0) return -errno;
  int out = 0;
  for (int i = 0; i < count; i++) {
    if (kernel[i].data.ptr == this) {
      uint64_t drained;
      while (::read(wakeup_.get(), &drained, sizeof(drained)) < 0 && errno == EINTR) {
      }
      continue;
    }
    uint32_t bits = kernel[i].events;
    events[out].token = kernel[i].data.ptr;
    events[out].readable = (bits & (EPOLLIN | EPOLLRDHUP)) != 0;
    events[out].writable = (bits & EPOLLOUT) != 0;
    events[out].hangup = (bits & (EPOLLHUP | EPOLLERR)) != 0;
    out++;
  }
  return out;
}

int Poller::wake() {
  uint64_t one = 1;
  ssize_t result;
  do {
    result = ::write(wakeup_.get(), &one, sizeof(one));
  } while (result < 0 && errno == EINTR);
  // EAGAIN means the counter is already non-zero: a wake-up is pending, which is the goal.
  return result < 0 && errno != EAGAIN ? -errno : 0;
}

int Poller::fd() const { return poll_.get(); }

}  // namespace sockengine

#endif  // __linux__
