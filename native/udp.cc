// UDP sockets: one wake-up reads up to sys::kMaxDatagramBatch datagrams in one recvmmsg, built-in
// handlers answer all of them in one sendmmsg, and JavaScript gets them in the batch.
#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>

#include "loop.h"

namespace sockengine {

// Batch calls per socket per wake-up while each one comes back full. Level-triggered
// polling reports the rest next time, so one busy socket cannot starve the others.
static constexpr int kDatagramCallsPerWakeup = 4;
// Slots offered to a receive call. A call costs setting up every slot it offers, and
// recvmmsg tries once more after the last datagram it finds, so a socket that brings one
// datagram at a time is offered one slot and read with plain recvmsg. A one-slot read
// cannot tell a backlog from a peer that answered quickly (a request-reply peer often has
// by the read after the batch), so the offer leaves one only after four full one-slot
// reads in a row; a larger offer doubles with every full call after the first in a row.
// A call that brought fewer than offered sets the next offer to twice what it brought (at
// least kFewestDatagramSlots), or to one if it brought one (docs/design.md section 1b).
static constexpr int kFewestDatagramSlots = 4;
static constexpr int kFullSingleReadsToGrow = 4;

static uint8_t nextOffer(DatagramSocket* socket, int offered, int count) {
  int next;
  if (count < offered) {
    socket->fullCalls = 0;
    next = count <= 1 ? 1 : std::max(2 * count, kFewestDatagramSlots);
  } else {
    if (socket->fullCalls < UINT8_MAX) socket->fullCalls++;
    int needed = offered == 1 ? kFullSingleReadsToGrow : 2;
    next = socket->fullCalls >= needed ? 2 * offered : offered;
  }
  return static_cast<uint8_t>(std::min(next, sys::kMaxDatagramBatch));
}

// Receive room per slot: the largest UDP payload (65,507 over IPv4, 65,527 over IPv6) fits.
static constexpr size_t kDatagramSlotSize = 64 * 1024;

uint8_t* Loop::datagramSlot(int index) { return datagramBuffer_.get() + static_cast<size_t>(index) * kDatagramSlotSize; }

// Registers a bound or connected socket with the poller and the table; 0 or -errno.
int Loop::addDatagramSocket(Fd fd, std::unique_ptr<BuiltinHandler> builtin, size_t maxDatagramSize, uint32_t* id,
                            const char** failedSyscall) {
  auto socket = std::make_unique<DatagramSocket>();
  socket->fd = std::move(fd);
  socket->builtin = std::move(builtin);
  socket->maxDatagramSize = maxDatagramSize < kDatagramSlotSize ? maxDatagramSize : kDatagramSlotSize;
  updateInterest(socket.get(), kReadable);
  if (!socket->registered) {
    *failedSyscall = "epoll_ctl";
    return -errno;
  }
  if (!datagramBuffer_) {
    datagramBuffer_.reset(new uint8_t[sys::kMaxDatagramBatch * kDatagramSlotSize]);
    datagramPeers_.reset(new SockAddr[sys::kMaxDatagramBatch]);
  }
  socket->id = nextDatagramId();
  *id = socket->id;
  datagrams_.emplace(socket->id, std::move(socket));
  return 0;
}

int Loop::bindDatagram(const SockAddr& address, bool ipv6Only, bool reusePort, std::unique_ptr<BuiltinHandler> builtin,
                       size_t maxDatagramSize, uint32_t* id, SockAddr* bound, const char** failedSyscall) {
  int result = sys::socket(address.family(), SOCK_DGRAM);
  if (result < 0) {
    *failedSyscall = "socket";
    return result;
  }
  Fd fd(result);
  if (reusePort && (result = sys::setReusePort(fd.get())) < 0) {
    *failedSyscall = "setsockopt";
    return result;
  }
  if (address.family() == AF_INET6) sys::setIpv6Only(fd.get(), ipv6Only);
  if ((result = sys::bind(fd.get(), address)) < 0) {
    *failedSyscall = "bind";
    return result;
  }
  if ((result = sys::localAddress(fd.get(), bound)) < 0) {
    *failedSyscall = "getsockname";
    return result;
  }
  return addDatagramSocket(std::move(fd), std::move(builtin), maxDatagramSize, id, failedSyscall);
}

int Loop::connectDatagram(const SockAddr& address, size_t maxDatagramSize, uint32_t* id, SockAddr* local,
                          const char** failedSyscall) {
  int result = sys::socket(address.family(), SOCK_DGRAM);
  if (result < 0) {
    *failedSyscall = "socket";
    return result;
  }
  Fd fd(result);
  // A connected UDP socket hears only its peer, and the kernel reports the peer's ICMP
  // port-unreachable on it as ECONNREFUSED (udp(7)).
  if ((result = sys::connect(fd.get(), address)) < 0) {
    *failedSyscall = "connect";
    return result;
  }
  if ((result = sys::localAddress(fd.get(), local)) < 0) {
    *failedSyscall = "getsockname";
    return result;
  }
  return addDatagramSocket(std::move(fd), nullptr, maxDatagramSize, id, failedSyscall);
}

void Loop::onDatagramReady(DatagramSocket* socket) {
  if (!socket->fd.valid()) return;
  // The senders' addresses land in the loop's own array (never zeroed again: the kernel
  // writes each one it fills); `received` is set up for the slots offered, no more.
  sys::Datagram received[sys::kMaxDatagramBatch];
  for (int call = 0; call < kDatagramCallsPerWakeup; call++) {
    if (!socket->builtin && arena_.size() >= kBatchByteBudget) return;  // Next wake-up.
    const int offered = socket->batchSlots;
    for (int i = 0; i < offered; i++) {
      received[i].data.iov_base = datagramSlot(i);
      received[i].data.iov_len = socket->maxDatagramSize;
      received[i].peer = &datagramPeers_[i];
    }
    int count = sys::receiveDatagrams(socket->fd.get(), received, offered);
    if (count < 0) {
      // A pending error (ICMP port unreachable on a connected socket) is reported and
      // cleared by the failed call; the socket itself stays usable.
      if (count != -EAGAIN && !socket->builtin) {
        push(EventType::kDatagramError, socket->id, 0, count, static_cast<int32_t>(Syscall::kRecvmsg));
      }
      socket->fullCalls = 0;
      return;
    }
    socket->batchSlots = nextOffer(socket, offered, count);
    for (int i = 0; i < count; i++) {
      socket->stats.datagramsIn++;
      socket->stats.bytesIn += received[i].length;
      if (received[i].truncated) socket->stats.truncated++;
    }
    if (socket->builtin) {
      answerDatagrams(socket, received, count);
    } else {
      deliverDatagrams(socket, received, count);
      if (count > 0 && !socket->rereadWanted) {
        socket->rereadWanted = true;
        rereads_.push_back(socket->id);
      }
    }
    // A built-in has answered already, so its peer's next datagram may be here by now: read
    // again (until EAGAIN or the call budget), as the C reference does, and save a trip
    // through both polls. A JavaScript handler answers after the batch (readDatagramsAgain
    // reads again then), so for it a short read means the socket is drained for now, and
    // so does one datagram from a one-slot read (the reads after the batch find any more,
    // and full one-slot reads in a row make the offer grow, nextOffer above).
    if (!socket->builtin && (count < offered || offered == 1)) return;
  }
}

bool Loop::readDatagramsAgain() {
  rereading_.swap(rereads_);
  bool wasRunning = running_;
  running_ = true;
  for (uint32_t id : rereading_) {
    auto found = datagrams_.find(id);
    if (found == datagrams_.end()) continue;
    DatagramSocket* socket = found->second.get();
    socket->rereadWanted = false;
    if (socket->registered && (socket->interest & kReadable)) onDatagramReady(socket);
  }
  running_ = wasRunning;
  rereading_.clear();
  return !events_.empty();
}

void Loop::endDatagramRereads() {
  for (uint32_t id : rereads_) {
    auto found = datagrams_.find(id);
    if (found != datagrams_.end()) found->second->rereadWanted = false;
  }
  rereads_.clear();
}

void Loop::answerDatagrams(DatagramSocket* socket, sys::Datagram* received, int count) {
  sys::Datagram replies[sys::kMaxDatagramBatch];
  int replyCount = 0;
  for (int i = 0; i < count; i++) {
    // Half a message gets no answer: it was counted as truncated above.
    if (received[i].truncated) continue;
    ByteView reply = socket->builtin->respond(static_cast<uint8_t*>(received[i].data.iov_base), received[i].length);
    replies[replyCount].data.iov_base = const_cast<uint8_t*>(reply.data);
    replies[replyCount].data.iov_len = reply.length;
    replies[replyCount].peer = received[i].peer;
    replyCount++;
  }
  int sent = 0;
  while (sent < replyCount) {
    int result = sys::sendDatagrams(socket->fd.get(), replies + sent, replyCount - sent);
    if (result == -EAGAIN) {
      // The socket's send buffer is full: UDP drops, and says so in the counters.
      socket->stats.sendErrors += static_cast<uint64_t>(replyCount - sent);
      break;
    }
    if (result < 0) {  // This one datagram failed (e.g. its destination is unreachable).
      socket->stats.sendErrors++;
      sent++;
      continue;
    }
    for (int i = sent; i < sent + result; i++) {
      socket->stats.datagramsOut++;
      socket->stats.bytesOut += replies[i].data.iov_len;
    }
    sent += result;
  }
}

void Loop::deliverDatagrams(DatagramSocket* socket, sys::Datagram* received, int count) {
  for (int i = 0; i < count; i++) {
    const SockAddr& peer = *received[i].peer;
    // The previous datagram's sender again (a request-reply peer): no text, JavaScript
    // reuses the address it decoded then.
    bool same = peer.sameAs(socket->lastSender);
    char text[INET6_ADDRSTRLEN];
    size_t addressLength = same ? 0 : sys::formatAddress(peer, text, sizeof(text));
    if (!same) socket->lastSender = peer;
    size_t payload = received[i].truncated ? received[i].data.iov_len : received[i].length;
    int32_t offset = static_cast<int32_t>(arena_.size());
    uint8_t* out = arena_.reserve(1 + addressLength + payload);
    // The family rides in the length byte's top bit (an address is at most 45 characters),
    // so JavaScript need not search the text for a colon.
    bool v6 = peer.family() == AF_INET6;
    int lengthByte = same ? static_cast<int>(MessageAddress::kSameSender) : static_cast<int>(addressLength);
    out[0] = static_cast<uint8_t>(lengthByte | (v6 ? static_cast<int>(MessageAddress::kIPv6) : 0));
    std::memcpy(out + 1, text, addressLength);
    std::memcpy(out + 1 + addressLength, received[i].data.iov_base, payload);
    arena_.commit(1 + addressLength + payload);
    events_.push_back({static_cast<int32_t>(EventType::kMessage), static_cast<int32_t>(socket->id), 0, offset,
                       static_cast<int32_t>(payload), peer.port(),
                       static_cast<int32_t>(received[i].length)});
  }
}

int Loop::sendDatagrams(uint32_t id, sys::Datagram* datagrams, int count) {
  auto found = datagrams_.find(id);
  if (found == datagrams_.end()) return -EBADF;
  DatagramSocket* socket = found->second.get();
  int firstError = 0;
  int sent = 0;
  while (sent < count) {
    int result = sys::sendDatagrams(socket->fd.get(), datagrams + sent, count - sent);
    if (result < 0) {
      socket->stats.sendErrors++;
      if (firstError == 0) firstError = result;
      sent++;
      continue;
    }
    for (int i = sent; i < sent + result; i++) {
      socket->stats.datagramsOut++;
      socket->stats.bytesOut += datagrams[i].data.iov_len;
    }
    sent += result;
  }
  return firstError;
}

int Loop::datagramDestination(uint32_t id, const char* host, int port, SockAddr* out) {
  auto found = datagrams_.find(id);
  if (found == datagrams_.end()) return -EBADF;
  SockAddr& last = found->second->lastDestination;
  if (host == nullptr) {
    if (last.length == 0) return -EDESTADDRREQ;
    *out = last;
    out->setPort(port);
    return 0;
  }
  int result = sys::parseAddress(host, port, out);
  if (result == 0) last = *out;
  return result;
}

void Loop::countSendErrors(uint32_t id, uint32_t count) {
  auto found = datagrams_.find(id);
  if (found != datagrams_.end()) found->second->stats.sendErrors += count;
}

int Loop::closeDatagram(uint32_t id) {
  auto found = datagrams_.find(id);
  if (found == datagrams_.end()) return -EBADF;
  DatagramSocket* socket = found->second.get();
  updateInterest(socket, 0);
  socket->fd.reset();
  closedDatagrams_.push_back(std::move(found->second));
  datagrams_.erase(found);
  return 0;
}

const DatagramStats* Loop::datagramStats(uint32_t id) {
  auto found = datagrams_.find(id);
  return found == datagrams_.end() ? nullptr : &found->second->stats;
}

}  // namespace sockengine
