// The one syscall layer. Every call here retries EINTR, returns -errno on failure (never
// sets or reads a global errno past its own line), creates descriptors with
// SOCK_NONBLOCK|SOCK_CLOEXEC, and sends with MSG_NOSIGNAL so a closed peer gives -EPIPE
// instead of killing the process. Nothing above this file calls the C library's socket
// functions directly.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sockengine {

// Owns one file descriptor and closes it exactly once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// An IPv4, IPv6 or Unix-domain socket address, sized for any of them.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  int port() const;
  // Sets the port of an IPv4 or IPv6 address.
  void setPort(int port);
  // Same family, address and port (every byte the kernel wrote).
  bool sameAs(const SockAddr& other) const {
    return length == other.length && std::memcmp(&storage, &other.storage, length) == 0;
  }
};

namespace sys {

// Parses a numeric IPv4 or IPv6 address (no name lookup: JavaScript resolves names).
// Returns 0, or -EINVAL when `host` is not a numeric address.
int parseAddress(const char* host, int port, SockAddr* out);
// Writes the numeric form of `addr` into `out` (at least INET6_ADDRSTRLEN bytes); returns
// its length.
size_t formatAddress(const SockAddr& addr, char* out, size_t capacity);
// A Unix-domain address from `length` bytes of path: a file path, or Linux's abstract
// namespace when the first byte is 0 (the name is then exactly those bytes, no terminator).
// Returns 0, or -ENAMETOOLONG when it does not fit sun_path, -EINVAL when it is empty.
int unixAddress(const char* path, size_t length, SockAddr* out);
// chmod(2) of a socket file (its permission bits decide who may connect).
int setMode(const char* path, unsigned mode);

int socket(int family, int type);
int setReuseAddress(int fd);
// SO_REUSEPORT: several sockets bind one address and the kernel spreads connections (or
// datagrams) across them by a hash of the peer's address (socket(7), Linux 3.9+).
int setReusePort(int fd);
int setIpv6Only(int fd, bool only);
int setNoDelay(int fd);
// SO_KEEPALIVE with the first probe after `delayMs` of silence (0: the system's default).
int setKeepAlive(int fd, uint32_t delayMs);
int bind(int fd, const SockAddr& addr);
int listen(int fd, int backlog);
int localAddress(int fd, SockAddr* out);
// accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC; fills `peer` unless it is null.
int accept(int fd, SockAddr* peer);
// Starts a non-blocking connect: 0 when connected at once, -EINPROGRESS while pending.
int connect(int fd, const SockAddr& addr);
// Reads the pending error of a socket (SO_ERROR) as -errno, or 0.
int socketError(int fd);
ssize_t recv(int fd, void* buffer, size_t length);
// recv with MSG_PEEK: the bytes stay in the socket for the next recv.
ssize_t peek(int fd, void* buffer, size_t length);
ssize_t send(int fd, const void* buffer, size_t length);
// The same for bytes in up to kMaxSendParts parts, in one sendmsg (no gathering copy).
constexpr int kMaxSendParts = 16;
ssize_t sendParts(int fd, const struct iovec* parts, int count);
int shutdownWrite(int fd);

// The most datagrams one batch call takes; callers size their arrays by it. 64 is where
// recvmmsg's gain per call levels off for small datagrams on loopback (docs/design.md).
constexpr int kMaxDatagramBatch = 64;

// One received or outgoing datagram for the batch calls below.
struct Datagram {
  iovec data;         // receive: the room offered; send: the bytes
  SockAddr* peer;     // receive: filled with the sender; send: the destination, or null
  size_t length;      // receive: the datagram's real length (more than data.iov_len if cut)
  bool truncated;     // receive: MSG_TRUNC, the datagram did not fit
};
// Receives up to `count` datagrams in one call (recvmmsg on Linux; recvmsg for a count of
// one, and one recvmsg per datagram where recvmmsg is missing). Returns how many, or -errno
// if none.
int receiveDatagrams(int fd, Datagram* datagrams, int count);
// Sends up to `count` datagrams in one call (sendmmsg; sendmsg for one, or where sendmmsg
// is missing, sendmsg each). Returns how many left before the first failure, or -errno
// when the first one failed.
int sendDatagrams(int fd, const Datagram* datagrams, int count);
// Forces the one-datagram-per-call fallback (tests and benchmarks compare the two).
void disableBatchedDatagrams();
// A non-blocking timerfd, and arming it to fire every `intervalMs` (0 disarms it).
int timerCreate();
int timerSet(int fd, uint32_t intervalMs);
// Consumes the timer's expirations so it stops being readable.
void timerDrain(int fd);
// A monotonic clock in milliseconds, wrapping every 49 days (compare differences only).
uint32_t monotonicMs();
int open(const char* path, int flags);
int close(int fd);

}  // namespace sys
}  // namespace sockengine
