#include "sys.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace sockengine {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) sys::close(fd_);
  fd_ = fd;
}

int SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

void SockAddr::setPort(int port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(static_cast<uint16_t>(port));
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(static_cast<uint16_t>(port));
}

namespace sys {

// Runs `call` until it stops failing with EINTR; returns its result or -errno.
template <typename Call>
static auto retry(Call call) -> decltype(call()) {
  decltype(call()) result;
  do {
    result = call();
  } while (result == -1 && errno == EINTR);
  return result == -1 ? -errno : result;
}

int parseAddress(const char* host, int port, SockAddr* out) {
  *out = SockAddr{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out->storage);
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out->length = sizeof(sockaddr_in);
    return 0;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out->length = sizeof(sockaddr_in6);
    return 0;
  }
  return -EINVAL;
}

size_t formatAddress(const SockAddr& addr, char* out, size_t capacity) {
  const void* raw = nullptr;
  if (addr.family() == AF_INET && capacity >= INET_ADDRSTRLEN) {
    // Written here rather than by inet_ntop, which formats IPv4 through sprintf: this runs
    // for every datagram a JavaScript handler gets.
    const auto* bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&addr.storage)->sin_addr);
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
      unsigned value = bytes[i];
      if (value >= 100) out[at++] = static_cast<char>('0' + value / 100);
      if (value >= 10) out[at++] = static_cast<char>('0' + value / 10 % 10);
      out[at++] = static_cast<char>('0' + value % 10);
      out[at++] = i < 3 ? '.' : '\0';
    }
    return at - 1;
  }
  if (addr.family() == AF_INET) {
    raw = &reinterpret_cast<const sockaddr_in*>(&addr.storage)->sin_addr;
  } else if (addr.family() == AF_INET6) {
    raw = &reinterpret_cast<const sockaddr_in6*>(&addr.storage)->sin6_addr;
  }
  if (raw == nullptr || inet_ntop(addr.family(), raw, out, static_cast<socklen_t>(capacity)) == nullptr) {
    if (capacity > 0) out[0] = '\0';
    return 0;
  }
  return std::strlen(out);
}

int unixAddress(const char* path, size_t length, SockAddr* out) {
  *out = SockAddr{};
  auto* un = reinterpret_cast<sockaddr_un*>(&out->storage);
  if (length == 0) return -EINVAL;
  bool abstract = path[0] == '\0';
  // A file path needs room for its terminating NUL; an abstract name does not have one.
  if (length + (abstract ? 0 : 1) > sizeof(un->sun_path)) return -ENAMETOOLONG;
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path, length);
  out->length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length + (abstract ? 0 : 1));
  return 0;
}

int setMode(const char* path, unsigned mode) {
  return retry([&] { return ::chmod(path, static_cast<mode_t>(mode)); });
}

int socket(int family, int type) {
  return retry([&] { return ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); });
}

static int setIntOption(int fd, int level, int name, int value) {
  return retry([&] { return ::setsockopt(fd, level, name, &value, sizeof(value)); });
}

int setReuseAddress(int fd) { return setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1); }
int setReusePort(int fd) { return setIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1); }
int setIpv6Only(int fd, bool only) { return setIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, only ? 1 : 0); }
int setNoDelay(int fd) { return setIntOption(fd, IPPROTO_TCP, TCP_NODELAY, 1); }

int setKeepAlive(int fd, uint32_t delayMs) {
  int result = setIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  if (result < 0) return result;
  // tcp(7): TCP_KEEPIDLE is in whole seconds, at least 1; rounded up as libuv does.
  int seconds = static_cast<int>((delayMs + 999) / 1000);
  return seconds > 0 ? setIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, seconds) : 0;
}

int bind(int fd, const SockAddr& addr) {
  return retry([&] { return ::bind(fd, addr.get(), addr.length); });
}

int listen(int fd, int backlog) {
  return retry([&] { return ::listen(fd, backlog); });
}

int localAddress(int fd, SockAddr* out) {
  out->length = sizeof(out->storage);
  return retry([&] { return ::getsockname(fd, out->get(), &out->length); });
}

int accept(int fd, SockAddr* peer) {
  if (peer == nullptr) return retry([&] { return ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); });
  peer->length = sizeof(peer->storage);
  return retry([&] { return ::accept4(fd, peer->get(), &peer->length, SOCK_NONBLOCK | SOCK_CLOEXEC); });
}

int connect(int fd, const SockAddr& addr) {
  // connect(2): after EINTR the attempt continues in the background, so a retry would see
  // EALREADY; report it as in progress instead of retrying.
  int result = ::connect(fd, addr.get(), addr.length);
  if (result == 0) return 0;
  if (errno == EINTR) return -EINPROGRESS;
  return -errno;
}

int socketError(int fd) {
  int error = 0;
  socklen_t length = sizeof(error);
  int result = retry([&] { return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length); });
  if (result < 0) return result;
  return -error;
}

ssize_t recv(int fd, void* buffer, size_t length) {
  return retry([&] { return ::recv(fd, buffer, length, 0); });
}

ssize_t peek(int fd, void* buffer, size_t length) {
  return retry([&] { return ::recv(fd, buffer, length, MSG_PEEK); });
}

ssize_t send(int fd, const void* buffer, size_t length) {
  return retry([&] { return ::send(fd, buffer, length, MSG_NOSIGNAL); });
}

ssize_t sendParts(int fd, const struct iovec* parts, int count) {
  msghdr message{};
  message.msg_iov = const_cast<struct iovec*>(parts);
  message.msg_iovlen = static_cast<size_t>(count);
  return retry([&] { return ::sendmsg(fd, &message, MSG_NOSIGNAL); });
}

int shutdownWrite(int fd) {
  return retry([&] { return ::shutdown(fd, SHUT_WR); });
}

// recvmmsg/sendmmsg exist on Linux since 2.6.33/3.0; a kernel or sandbox without them
// answers ENOSYS, and from then on every call takes the one-datagram path.
static bool batchedDatagrams = true;

void disableBatchedDatagrams() { batchedDatagrams = false; }

static int receiveOne(int fd, Datagram* datagram) {
  msghdr message{};
  message.msg_iov = &datagram->data;
  message.msg_iovlen = 1;
  message.msg_name = datagram->peer->get();
  message.msg_namelen = sizeof(datagram->peer->storage);
  ssize_t result = retry([&] { return ::recvmsg(fd, &message, MSG_TRUNC); });
  if (result < 0) return static_cast<int>(result);
  datagram->peer->length = message.msg_namelen;
  datagram->length = static_cast<size_t>(result);
  datagram->truncated = (message.msg_flags & MSG_TRUNC) != 0;
  return 1;
}

static int sendOne(int fd, const Datagram* datagram) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(&datagram->data);
  message.msg_iovlen = 1;
  if (datagram->peer != nullptr) {
    message.msg_name = datagram->peer->get();
    message.msg_namelen = datagram->peer->length;
  }
  ssize_t result = retry([&] { return ::sendmsg(fd, &message, MSG_NOSIGNAL); });
  return result < 0 ? static_cast<int>(result) : 1;
}

int receiveDatagrams(int fd, Datagram* datagrams, int count) {
  if (count > kMaxDatagramBatch) count = kMaxDatagramBatch;
  if (count == 1) return receiveOne(fd, datagrams);
  if (batchedDatagrams) {
    mmsghdr messages[kMaxDatagramBatch];
    for (int i = 0; i < count; i++) {
      messages[i] = mmsghdr{};
      messages[i].msg_hdr.msg_iov = &datagrams[i].data;
      messages[i].msg_hdr.msg_iovlen = 1;
      messages[i].msg_hdr.msg_name = datagrams[i].peer->get();
      messages[i].msg_hdr.msg_namelen = sizeof(datagrams[i].peer->storage);
    }
    // MSG_TRUNC: msg_len is the datagram's real length even when it did not fit (udp(7)).
    int received = retry([&] { return ::recvmmsg(fd, messages, static_cast<unsigned>(count), MSG_TRUNC, nullptr); });
    if (received != -ENOSYS) {
      for (int i = 0; i < received; i++) {
        datagrams[i].peer->length = messages[i].msg_hdr.msg_namelen;
        datagrams[i].length = messages[i].msg_len;
        datagrams[i].truncated = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      }
      return received;
    }
    batchedDatagrams = false;
  }
  int received = 0;
  while (received < count) {
    int result = receiveOne(fd, &datagrams[received]);
    if (result < 0) return received > 0 ? received : result;
    received++;
  }
  return received;
}

int sendDatagrams(int fd, const Datagram* datagrams, int count) {
  if (count > kMaxDatagramBatch) count = kMaxDatagramBatch;
  if (count == 1) return sendOne(fd, datagrams);
  if (batchedDatagrams) {
    mmsghdr messages[kMaxDatagramBatch];
    for (int i = 0; i < count; i++) {
      messages[i] = mmsghdr{};
      messages[i].msg_hdr.msg_iov = const_cast<iovec*>(&datagrams[i].data);
      messages[i].msg_hdr.msg_iovlen = 1;
      if (datagrams[i].peer != nullptr) {
        messages[i].msg_hdr.msg_name = datagrams[i].peer->get();
        messages[i].msg_hdr.msg_namelen = datagrams[i].peer->length;
      }
    }
    int sent = retry([&] { return ::sendmmsg(fd, messages, static_cast<unsigned>(count), MSG_NOSIGNAL); });
    if (sent != -ENOSYS) return sent;
    batchedDatagrams = false;
  }
  int sent = 0;
  while (sent < count) {
    int result = sendOne(fd, &datagrams[sent]);
    if (result < 0) return sent > 0 ? sent : result;
    sent++;
  }
  return sent;
}

int timerCreate() {
  int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int timerSet(int fd, uint32_t intervalMs) {
  itimerspec spec{};
  spec.it_interval.tv_sec = intervalMs / 1000;
  spec.it_interval.tv_nsec = static_cast<long>(intervalMs % 1000) * 1000000L;
  spec.it_value = spec.it_interval;  // All zero disarms the timer.
  return ::timerfd_settime(fd, 0, &spec, nullptr) == 0 ? 0 : -errno;
}

void timerDrain(int fd) {
  uint64_t expirations;
  while (::read(fd, &expirations, sizeof(expirations)) < 0 && errno == EINTR) {
  }
}

uint32_t monotonicMs() {
  // The coarse clock (a few ms of resolution) is enough for idle timeouts and costs no
  // syscall (vDSO).
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<uint32_t>(static_cast<uint64_t>(now.tv_sec) * 1000u + static_cast<uint64_t>(now.tv_nsec) / 1000000u);
}

int open(const char* path, int flags) {
  return retry([&] { return ::open(path, flags | O_CLOEXEC); });
}

int close(int fd) {
  // close(2) on Linux releases the descriptor even when it reports EINTR; retrying could
  // close a descriptor another thread just received, so never retry.
  return ::close(fd) == -1 && errno != EINTR ? -errno : 0;
}

}  // namespace sys
}  // namespace sockengine
