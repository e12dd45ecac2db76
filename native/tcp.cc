// TCP listeners and connections: accept, the read path (shared buffer for built-in
// handlers, the batch arena for JavaScript), the write path (kernel first, queue the
// remainder) and the orderly and disorderly ways a connection ends.
#include <arpa/inet.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "loop.h"

namespace sockengine {

// Reads and frames for JavaScript of at least this many bytes become chunks of their own
// instead of being copied into the batch's shared bytes (Loop::appendForJs).
static constexpr size_t kOwnChunkMin = 4 * 1024;
// The most a connection's replies to one batch gather before they are offered to the
// kernel: one loopback segment's worth (64 KiB), so four 16 KiB frames leave in one send.
static constexpr size_t kGatherLimit = 64 * 1024;
// Emptied connection buffers the loop keeps for the next connection that needs some, and
// the largest write queue kept with them. During a batch every answering connection queues
// its replies and sends them at the batch's end (Loop::uncork), which made and freed a
// ConnectionBuffers and a 4 KiB queue per connection per batch: malloc and free were 4% of
// the server's CPU on tcp 50 x 64 x 16 (docs/design.md section 15). 64 of at most 16 KiB
// each: 256 KiB for the usual 4 KiB queues, at most 1 MiB.
static constexpr size_t kSpareBuffers = 64;
static constexpr size_t kSpareBufferCapacity = 16 * 1024;
// A built-in's framed reply this large that lies in the receive buffer leaves from there
// (one more part of the sendmsg) instead of being copied into the gathered replies: on
// 16 KiB length-prefixed frames the copy was a second pass over every byte.
static constexpr size_t kSendInPlaceMin = 2 * 1024;

// A header's or delimiter's few bytes compared inline: a call to memcmp per line cost more
// than the comparison (1.4% of a line server's CPU in `perf`).
static inline bool sameBytes(const uint8_t* a, const uint8_t* b, size_t length) {
  for (size_t i = 0; i < length; i++) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// The replies to one read, in order: stretches of the gathered bytes (replies_, which may
// still grow, so they are kept as offsets) and large replies left where they were read.
struct ReplyParts {
  struct Part {
    const uint8_t* data;  // null: gathered bytes from `offset`
    size_t offset;
    size_t length;
  };
  Part parts[sys::kMaxSendParts];
  int count = 0;
  size_t gatheredFrom = 0;  // where the gathered stretch not yet in parts starts

  // Adds `reply` as a part of its own after the gathered bytes up to `gathered`; false when
  // there is no room for it (with the stretch before it and one after), so it is copied.
  // A reply that starts where the last part ends, with nothing gathered between, makes
  // that part longer instead.
  bool addInPlace(size_t gathered, ByteView reply) {
    if (continues(gathered, reply)) {
      parts[count - 1].length += reply.length;
      return true;
    }
    if (count + 3 > sys::kMaxSendParts) return false;
    if (gathered > gatheredFrom) parts[count++] = {nullptr, gatheredFrom, gathered - gatheredFrom};
    parts[count++] = {reply.data, 0, reply.length};
    gatheredFrom = gathered;
    return true;
  }
  bool continues(size_t gathered, ByteView reply) const {
    return count > 0 && gathered == gatheredFrom && parts[count - 1].data != nullptr &&
           parts[count - 1].data + parts[count - 1].length == reply.data;
  }
  // The parts as views, the last gathered stretch included; returns how many.
  int resolve(const uint8_t* gathered, size_t gatheredSize, ByteView* views) {
    if (gatheredSize > gatheredFrom) parts[count++] = {nullptr, gatheredFrom, gatheredSize - gatheredFrom};
    for (int i = 0; i < count; i++) {
      views[i] = {parts[i].data != nullptr ? parts[i].data : gathered + parts[i].offset, parts[i].length};
    }
    return count;
  }
};

// A built-in handler stops reading from a peer that does not read its replies once this
// much is queued, so a stalled peer costs bounded memory (the kernel's own send buffer on
// loopback is about 2.5 MiB; this keeps ours well below it).
static constexpr size_t kBuiltinHighWater = 1024 * 1024;
// Connections accepted per listener per wake-up; the rest wait one turn of the host loop.
static constexpr int kAcceptsPerWakeup = 256;

static bool deliversToJs(const Connection* connection) { return !connection->endpoint->builtin; }

uint32_t Loop::interestFor(const Connection* connection) const {
  if (connection->connecting) return kWritable;
  if (connection->parked) return 0;
  // An open connection always stays in the poller, so a reset reaches it even while it is
  // paused or waiting for JavaScript to end it (then only errors and hang-ups are reported).
  uint32_t interest = kErrors;
  if (connection->hasPending()) interest |= kWritable;
  if (!connection->paused && !connection->throttled && !connection->peerEnded && !connection->readFailed) {
    interest |= kReadable;
  }
  return interest;
}

void Loop::applySocketOptions(int fd, const ConnectionSettings& settings) {
  if (settings.noDelay) sys::setNoDelay(fd);
  if (settings.keepAlive) sys::setKeepAlive(fd, settings.keepAliveDelayMs);
}

void Loop::touch(Connection* connection) {
  if (connection->endpoint->settings.idleTimeoutMs != 0) connection->lastActive = sys::monotonicMs();
}

int Loop::listen(const SockAddr& address, ListenSettings settings, uint32_t* endpointId, SockAddr* bound,
                 const char** failedSyscall) {
  int result = sys::socket(address.family(), SOCK_STREAM);
  if (result < 0) {
    *failedSyscall = "socket";
    return result;
  }
  Fd fd(result);
  bool unixDomain = address.family() == AF_UNIX;
  if (!unixDomain) sys::setReuseAddress(fd.get());
  if (settings.reusePort && (result = sys::setReusePort(fd.get())) < 0) {
    *failedSyscall = "setsockopt";
    return result;
  }
  if (address.family() == AF_INET6) sys::setIpv6Only(fd.get(), settings.ipv6Only);
  if ((result = sys::bind(fd.get(), address)) < 0) {
    *failedSyscall = "bind";
    return result;
  }
  if (unixDomain) {
    // TCP's options mean nothing on a Unix-domain stream: skip their syscalls per accept.
    settings.connection.noDelay = false;
    settings.connection.keepAlive = false;
    const auto* un = reinterpret_cast<const sockaddr_un*>(&address.storage);
    if (settings.permissions != 0 && un->sun_path[0] != '\0' &&
        (result = sys::setMode(un->sun_path, settings.permissions)) < 0) {
      *failedSyscall = "chmod";
      return result;
    }
  }
  if ((result = sys::listen(fd.get(), settings.backlog)) < 0) {
    *failedSyscall = "listen";
    return result;
  }
  if ((result = sys::localAddress(fd.get(), bound)) < 0) {
    *failedSyscall = "getsockname";
    return result;
  }
  auto endpoint = std::make_unique<Endpoint>();
  auto listener = std::make_unique<Listener>();
  listener->fd = std::move(fd);
  listener->endpoint = endpoint.get();
  updateInterest(listener.get(), kReadable);
  if (!listener->registered) {
    *failedSyscall = "epoll_ctl";
    return -errno;
  }
  endpoint->id = nextEndpointId();
  endpoint->builtin = std::move(settings.builtin);
  endpoint->deliverOpen = settings.deliverOpen && !endpoint->builtin;
  endpoint->maxConnections = settings.maxConnections;
  endpoint->framer = std::move(settings.framer);
  endpoint->settings = settings.connection;
  endpoint->proxyTimeoutMs = settings.proxyTimeoutMs;
  endpoint->listener = listener.get();
  *endpointId = endpoint->id;
  addEndpoint(std::move(endpoint));
  listenerStore_.push_back(std::move(listener));
  listeners_++;
  return 0;
}

int Loop::closeListener(uint32_t endpointId) {
  Endpoint* endpoint = endpointFor(endpointId);
  if (endpoint == nullptr || endpoint->closing) return -ENOENT;
  Listener* listener = endpoint->listener;
  updateInterest(listener, 0);
  listener->fd.reset();
  for (auto it = listenerStore_.begin(); it != listenerStore_.end(); ++it) {
    if (it->get() == listener) {
      closedListeners_.push_back(std::move(*it));
      listenerStore_.erase(it);
      break;
    }
  }
  listeners_--;
  endpoint->listener = nullptr;
  endpoint->closing = true;
  int remaining = static_cast<int>(endpoint->connections);
  if (remaining == 0) eraseEndpoint(endpoint);  // Nothing left to wait for.
  return remaining;
}

int Loop::endpointConnections(uint32_t endpointId) {
  Endpoint* endpoint = endpointFor(endpointId);
  return endpoint == nullptr ? -ENOENT : static_cast<int>(endpoint->connections);
}

const Endpoint* Loop::endpoint(uint32_t endpointId) { return endpointFor(endpointId); }

int Loop::closeEndpointConnections(uint32_t endpointId) {
  Endpoint* endpoint = endpointFor(endpointId);
  if (endpoint == nullptr || endpoint->client) return -ENOENT;
  int closed = 0;
  connections_.forEachOpen([&](Connection* connection) {
    if (connection->endpoint != endpoint) return;
    closed++;
    // The last one erases the endpoint (kServerIdle): nothing may touch it afterwards.
    closeConnection(connection, 0, Syscall::kNone, true);
  });
  return closed;
}

void Loop::onListenerReady(Listener* listener) {
  for (int i = 0; i < kAcceptsPerWakeup && listener->fd.valid(); i++) {
    int fd = sys::accept(listener->fd.get(), nullptr);
    if (fd >= 0) {
      acceptOne(listener, fd);
      continue;
    }
    if (fd == -EAGAIN) return;
    if (fd == -EMFILE || fd == -ENFILE) {
      handleEmfile(listener);
      return;
    }
    // ECONNABORTED and friends concern one pending connection, not the listener.
    stats_.acceptErrors++;
  }
}

void Loop::handleEmfile(Listener* listener) {
  // Out of descriptors: free the spare, accept the waiting connection and close it so the
  // peer gets a prompt reset, then take the spare back. Without this the listener stays
  // readable and every wake-up spins on it.
  stats_.acceptErrors++;
  if (!reserve_.valid()) return;
  reserve_.reset();
  int fd = sys::accept(listener->fd.get(), nullptr);
  if (fd >= 0) {
    sys::close(fd);
    listener->endpoint->rejected++;  // Shed, as over maxConnections: server.stats() counts both.
  }
  int reserve = sys::open("/dev/null", 0);
  if (reserve >= 0) reserve_.reset(reserve);
}

void Loop::acceptOne(Listener* listener, int fd) {
  Endpoint* endpoint = listener->endpoint;
  if (endpoint->maxConnections != 0 && endpoint->connections >= endpoint->maxConnections) {
    // Over the limit: accepted and closed at once, so the peer sees a close, not a hang in
    // the backlog.
    sys::close(fd);
    endpoint->rejected++;
    return;
  }
  applySocketOptions(fd, endpoint->settings);
  Connection* connection = connections_.allocate();
  if (connection == nullptr) {  // Two million connections: shed this one.
    sys::close(fd);
    stats_.acceptErrors++;
    return;
  }
  connection->fd.reset(fd);
  connection->endpoint = endpoint;
  touch(connection);
  updateInterest(connection, interestFor(connection));
  if (!connection->registered) {
    connection->fd.reset();
    connection->closed = true;
    connections_.retire(connection);
    stats_.acceptErrors++;
    return;
  }
  endpoint->connections++;
  endpoint->accepted++;
  stats_.accepted++;
  stats_.connections++;
  if (endpoint->proxyTimeoutMs != 0) {
    // open() waits for the header, so remoteAddress already names the real client there.
    // The deadline counts from the accept; header bytes do not extend it.
    connection->awaitingProxy = true;
    connection->lastActive = sys::monotonicMs();
    return;
  }
  // The peer's address is not copied here: JavaScript asks for it (peerAddress) when it
  // first needs it, so a connection costs nothing beyond its table slot.
  if (endpoint->deliverOpen) pushConnectionEvent(EventType::kOpen, connection);
}

bool Loop::readProxyHeader(Connection* connection) {
  // The header so far, then what the socket holds, looked at without taking it: only the
  // header's own bytes are taken, the rest stays for the handler.
  uint8_t* bytes = receiveBuffer_.get();
  auto partial = proxyPartial_.find(connection->id);
  size_t had = partial == proxyPartial_.end() ? 0 : partial->second.size();
  if (had > 0) std::memcpy(bytes, partial->second.data(), had);
  ssize_t peeked = sys::peek(connection->fd.get(), bytes + had, kProxyMaxHeader - had);
  if (peeked == -EAGAIN) return false;
  if (peeked <= 0) {  // the peer left, or failed, before finishing a header
    rejectProxy(connection);
    return false;
  }
  size_t seen = had + static_cast<size_t>(peeked);
  size_t headerLength = 0;
  ProxyHeader header;
  ProxyParse parsed = parseProxyHeader(bytes, seen, &headerLength, &header);
  if (parsed == ProxyParse::kInvalid) {
    rejectProxy(connection);
    return false;
  }
  // Every byte looked at belongs to the header when it is incomplete; when complete, only
  // those up to its end.
  size_t take = parsed == ProxyParse::kComplete ? headerLength - had : static_cast<size_t>(peeked);
  ssize_t taken = sys::recv(connection->fd.get(), bytes + had, take);
  if (taken != static_cast<ssize_t>(take)) {
    rejectProxy(connection);
    return false;
  }
  stats_.bytesRead += take;
  if (parsed == ProxyParse::kIncomplete) {
    proxyPartial_[connection->id].assign(bytes, bytes + seen);
    return false;
  }
  if (partial != proxyPartial_.end()) proxyPartial_.erase(partial);
  if (!header.local) {
    sockaddr_in6 client{};
    std::memcpy(&client, &header.source.storage, std::min(sizeof(client), static_cast<size_t>(header.source.length)));
    proxyClients_[connection->id] = client;
  }
  connection->awaitingProxy = false;
  touch(connection);
  if (connection->endpoint->deliverOpen) pushConnectionEvent(EventType::kOpen, connection);
  return true;
}

void Loop::rejectProxy(Connection* connection) {
  connection->endpoint->proxyRejected++;
  // JavaScript never saw it (open() waits for the header): it leaves without a word.
  closeConnection(connection, 0, Syscall::kNone, false);
}

int Loop::peerAddress(uint32_t id, SockAddr* peer) {
  Connection* connection = find(id);
  if (connection == nullptr) return -EBADF;
  if (connection->endpoint->proxyTimeoutMs != 0) {
    auto found = proxyClients_.find(id);
    if (found != proxyClients_.end()) {
      *peer = SockAddr{};
      std::memcpy(&peer->storage, &found->second, sizeof(found->second));
      peer->length = found->second.sin6_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
      return 0;
    }
  }
  peer->length = sizeof(peer->storage);
  return getpeername(connection->fd.get(), peer->get(), &peer->length) == 0 ? 0 : -errno;
}

int Loop::localAddress(uint32_t id, SockAddr* local) {
  Connection* connection = find(id);
  if (connection == nullptr) return -EBADF;
  return sys::localAddress(connection->fd.get(), local);
}

int Loop::connect(const SockAddr& address, const ConnectionSettings& settings, std::unique_ptr<Framer> framer,
                  uint32_t* connectionId) {
  int result = sys::socket(address.family(), SOCK_STREAM);
  if (result < 0) return result;
  Fd fd(result);
  if (address.family() != AF_UNIX) applySocketOptions(fd.get(), settings);
  result = sys::connect(fd.get(), address);
  if (result < 0 && result != -EINPROGRESS) return result;
  Connection* connection = connections_.allocate();
  if (connection == nullptr) return -EMFILE;
  // Each client connection is an endpoint of its own: its settings are its own.
  auto owned = std::make_unique<Endpoint>();
  owned->id = nextEndpointId();
  owned->client = true;
  owned->settings = settings;
  owned->framer = std::move(framer);
  Endpoint* endpoint = owned.get();
  addEndpoint(std::move(owned));
  connection->fd = std::move(fd);
  connection->endpoint = endpoint;
  touch(connection);
  // Even a connect that completed at once reports through the poller (it is writable at
  // once), so open() always arrives in a batch, after connect() has returned.
  connection->connecting = true;
  updateInterest(connection, kWritable);
  if (!connection->registered) {
    int error = -errno;
    connection->fd.reset();
    connection->closed = true;
    connections_.retire(connection);
    eraseEndpoint(endpoint);
    return error;
  }
  *connectionId = connection->id;
  endpoint->connections++;
  stats_.connections++;
  return 0;
}

void Loop::onConnected(Connection* connection) {
  int error = sys::socketError(connection->fd.get());
  if (error != 0) {
    fail(connection, error, Syscall::kConnect);
    return;
  }
  connection->connecting = false;
  touch(connection);
  pushConnectionEvent(EventType::kOpen, connection);
  // Bytes written (or an end() called) while connecting go out now.
  if (connection->hasPending()) {
    flushWriteQueue(connection);
    if (connection->closed) return;
  } else if (connection->endRequested) {
    finishEnd(connection);
    if (connection->closed) return;
  }
  updateInterest(connection, interestFor(connection));
}

void Loop::onConnectionReady(Connection* connection, const PollEvent& event) {
  if (connection->closed) return;
  if (connection->connecting) {
    if (event.writable || event.hangup) onConnected(connection);
    return;
  }
  if (event.writable && connection->hasPending()) {
    flushWriteQueue(connection);
    if (connection->closed) return;
  }
  // A connection whose peer ended may still be read-interested until quietEnded(); its end
  // has been read, and a second read of 0 must not deliver a second end.
  if ((connection->interest & kReadable) && !connection->peerEnded) {
    if (event.readable || event.hangup) {
      if (connection->awaitingProxy && !readProxyHeader(connection)) return;
      bool framed = connection->endpoint->framer != nullptr;
      if (deliversToJs(connection)) {
        if (framed) {
          readFramesToJs(connection);
        } else {
          readToJs(connection);
        }
      } else if (framed) {
        readFramesBuiltin(connection);
      } else {
        readBuiltin(connection);
      }
    }
  } else if (event.hangup) {
    onHangupWhileNotReading(connection);
  }
}

void Loop::onHangupWhileNotReading(Connection* connection) {
  // A reset or other socket error: reported now, even to a paused connection (pause holds
  // data and the peer's end, never a failure).
  int error = sys::socketError(connection->fd.get());
  if (error != 0) {
    fail(connection, error, Syscall::kRead);
    return;
  }
  // Both directions are down: queued bytes can never leave.
  if (connection->hasPending()) {
    fail(connection, -EPIPE, Syscall::kWrite);
    return;
  }
  // Paused with unread bytes or the peer's end still in the socket: resume() reads them.
  // Until then the socket leaves the poller, or its hang-up would be reported on every wait.
  if (connection->paused) {
    connection->parked = true;
    updateInterest(connection, interestFor(connection));
    return;
  }
  // Waiting for JavaScript to end our side after the peer's end: nothing more can happen.
  closeConnection(connection, 0, Syscall::kNone, true);
}

void Loop::readBuiltin(Connection* connection) {
  ssize_t received = receive(connection, receiveBuffer_.get());
  if (received <= 0) return;
  ByteView reply = connection->endpoint->builtin->respond(receiveBuffer_.get(), static_cast<size_t>(received));
  if (reply.length > 0 && sendOrQueue(connection, reply.data, reply.length) < 0) return;
  if (connection->pendingBytes() > kBuiltinHighWater) {
    connection->throttled = true;
    updateInterest(connection, interestFor(connection));
  }
}

// One recv per wake-up (kReadSize): reading again here found nothing (EAGAIN) whenever a
// peer had exactly kReadSize in flight: 0.25 wasted recv per message on the 10 x 16 KiB x 4
// shape (docs/design.md).
//
// The read lands in the host's read room, memory JavaScript can own as it is. A read that
// fills it (a bulk stream's usual read) is handed over in it with no copy at all; a smaller
// large one (kOwnChunkMin or more) is copied into a chunk of exactly its length, and a
// small one into the batch's shared bytes, and the room waits for the next read. Handing
// over a partly filled room as a view of its first bytes measured slower on the stream
// shape (docs/design.md section 15, "Reads into JavaScript's memory").
void Loop::readToJs(Connection* connection) {
  // The batch is full: the socket stays readable and is read on the next wake-up.
  if (arena_.size() + chunkBytes_ >= kBatchByteBudget) return;
  uint8_t* room = chunkHost_.context != nullptr ? chunkHost_.readRoom(chunkHost_.context) : nullptr;
  uint8_t* into = room != nullptr ? room : receiveBuffer_.get();
  ssize_t received = receive(connection, into);
  if (received <= 0) return;
  size_t length = static_cast<size_t>(received);
  int32_t offset = appendForJs(into, length, room != nullptr && length == kReadSize);
  events_.push_back({static_cast<int32_t>(EventType::kData), static_cast<int32_t>(connection->id),
                     connection->endpoint->reportedId(), offset, static_cast<int32_t>(received), 0, 0});
}

// Where a record's bytes go: the read room itself (`takeRoom`: they are in it), a chunk of
// their own when large, else the arena. Returns the record's offset.
int32_t Loop::appendForJs(const uint8_t* data, size_t length, bool takeRoom) {
  int32_t number = 0;
  if (takeRoom) {
    number = chunkHost_.takeReadRoom(chunkHost_.context, length);
  } else if (length >= kOwnChunkMin && chunkHost_.context != nullptr) {
    uint8_t* chunk = chunkHost_.newChunk(chunkHost_.context, length, &number);
    if (chunk != nullptr) std::memcpy(chunk, data, length);
  }
  if (number > 0) {
    chunkBytes_ += length;
    return -number;
  }
  int32_t offset = static_cast<int32_t>(arena_.size());
  if (length > 0) arena_.append(data, length);
  return offset;
}

template <typename Emit>
FrameStatus Loop::splitFrames(Connection* connection, const uint8_t* data, size_t length, Emit&& emit) {
  // The partial frame lives in the connection's buffers only between reads.
  std::unique_ptr<PartialFrame> partial;
  if (connection->buffers) partial = std::move(connection->buffers->partial);
  FrameStatus status = connection->endpoint->framer->split(partial, data, length, emit);
  if (connection->closed) return status;
  if (partial) {
    buffersOf(connection).partial = std::move(partial);
  } else {
    releaseBuffersIfEmpty(connection);
  }
  return status;
}

void Loop::failFraming(Connection* connection, FrameStatus status) {
  bool tooLong = status == FrameStatus::kTooLong;
  if (tooLong) connection->endpoint->framesTooLong++;
  // A connection with a JavaScript handler is destroyed by JavaScript after this error
  // record (closeConnection() then sees no error): it counts as closed with an error here.
  if (deliversToJs(connection)) connection->endpoint->closedWithError++;
  int error = static_cast<int>(tooLong ? EngineError::kFrameTooLong : EngineError::kBadFrameLength);
  if (!deliversToJs(connection)) {
    fail(connection, error, Syscall::kRead);
    return;
  }
  // The frames before the bad one are in this batch, and the handler's replies to them must
  // still leave (as they do on node:net): stop reading, report the error, and let
  // JavaScript destroy the connection once it has handled them.
  connection->readFailed = true;
  updateInterest(connection, interestFor(connection));
  pushConnectionEvent(EventType::kError, connection, error, static_cast<int32_t>(Syscall::kRead));
}

ssize_t Loop::receive(Connection* connection, uint8_t* into, size_t size) {
  ssize_t received = sys::recv(connection->fd.get(), into, size);
  if (received > 0) {
    countRead(connection, static_cast<uint64_t>(received));
    touch(connection);
  } else if (received == 0) {
    onPeerEnd(connection);
  } else if (received != -EAGAIN) {
    fail(connection, static_cast<int>(received), Syscall::kRead);
  }
  return received;
}

void Loop::readFramesBuiltin(Connection* connection) {
  const Framer& framer = *connection->endpoint->framer;
  BuiltinHandler& builtin = *connection->endpoint->builtin;
  // Reads land in the upper half of the receive buffer. An unfinished length-prefixed or
  // fixed-size frame is copied back in front of the read that continues it and split again
  // with it (a header to decode, no search), so the frame it completes lies in the receive
  // buffer and is answered there, as every frame wholly inside one read is: one copy of
  // the held bytes instead of appending the read to them and copying the frame out again.
  uint8_t* const readAt = receiveBuffer_.get() + kReadSize;
  ssize_t received = receive(connection, readAt);
  if (received <= 0) return;
  uint8_t* start = readAt;
  PartialFrame* held = connection->buffers ? connection->buffers->partial.get() : nullptr;
  if (held != nullptr && framer.counted() && held->received() <= kReadSize) {
    start -= held->received();
    std::memcpy(start, held->header, held->headerBytes);
    if (!held->bytes.empty()) std::memcpy(start + held->headerBytes, held->bytes.data(), held->bytes.size());
    connection->buffers->partial.reset();
  }
  const size_t length = static_cast<size_t>(readAt + received - start);
  const uint8_t* const readStart = start;
  const uint8_t* const readEnd = start + length;
  // Every frame of this read is answered with one frame of the same framing; the replies
  // leave together in one sendmsg, as the unframed built-ins send one reply per read.
  // Headers, trailers and small replies are gathered in replies_; a large reply still
  // lying in the receive buffer (answered in place) leaves from there, as its own part.
  ReplyParts parts;
  bool encodable = true;
  FrameStatus status = splitFrames(connection, start, length, [&](const uint8_t* frame, size_t frameLength) {
    // The frame lies in the receive buffer or the partial frame, both ours to rewrite.
    ByteView reply = builtin.respond(const_cast<uint8_t*>(frame), frameLength);
    uint8_t header[8];
    size_t headerLength = 0;
    size_t trailerLength = 0;
    const uint8_t* trailer = nullptr;
    if (!framer.frameOf(reply.length, header, &headerLength, &trailer, &trailerLength)) {
      encodable = false;
      return false;
    }
    // A kept delimiter already ends the frame (lib/framing.ts encodeFrame does the same).
    if (framer.spec().keepDelimiter && reply.length >= trailerLength &&
        std::memcmp(reply.data + reply.length - trailerLength, trailer, trailerLength) == 0) {
      trailerLength = 0;
    }
    // A frame answered where it lies, with its own encoding still around it in the receive
    // buffer (an uppercased line and its LF, a same-length counted frame after its header),
    // leaves from there, header to trailer, and so do the ones that follow it without a
    // gap: C's reference answers a read of lines with one send of the read. Not a kept
    // delimiter the handler changed: that reply gets the delimiter as a trailer, and the
    // bytes after the frame are the next frame's.
    bool ownEncoding = reply.data == frame && reply.length == frameLength &&
                       !(framer.spec().keepDelimiter && trailerLength > 0);
    if (ownEncoding && reply.data - headerLength >= readStart &&
        reply.data + reply.length + trailerLength <= readEnd &&
        sameBytes(reply.data - headerLength, header, headerLength) &&
        sameBytes(reply.data + reply.length, trailer, trailerLength)) {
      ByteView encoded{reply.data - headerLength, headerLength + reply.length + trailerLength};
      if (parts.addInPlace(replies_.size(), encoded)) return true;
    }
    if (headerLength > 0) replies_.append(header, headerLength);
    bool inPlace = reply.length >= kSendInPlaceMin && reply.data >= readStart && reply.data + reply.length <= readEnd;
    if (!inPlace || !parts.addInPlace(replies_.size(), reply)) {
      if (reply.length > 0) replies_.append(reply.data, reply.length);
    }
    if (trailerLength > 0) replies_.append(trailer, trailerLength);
    return true;
  });
  int sent = 0;
  if (parts.count == 0) {
    if (!replies_.empty()) sent = sendOrQueue(connection, replies_.data(), replies_.size());
  } else {
    ByteView views[sys::kMaxSendParts];
    int count = parts.resolve(replies_.data(), replies_.size(), views);
    // One stretch (a read of lines answered in place): a plain send, as C's.
    sent = count == 1 ? sendOrQueue(connection, views[0].data, views[0].length) : sendPartsOrQueue(connection, views, count);
  }
  // A read's replies are at most a few MiB (reply:TEXT to 64 KiB of empty lines); keep
  // the usual size warm, give a rare large one back.
  if (replies_.capacity() > kBuiltinHighWater) {
    replies_.release();
  } else {
    replies_.clear();
  }
  if (sent < 0 || connection->closed) return;
  if (status != FrameStatus::kOk || !encodable) {
    failFraming(connection, encodable ? status : FrameStatus::kBadLength);
    return;
  }
  if (connection->pendingBytes() > kBuiltinHighWater) {
    connection->throttled = true;
    updateInterest(connection, interestFor(connection));
  }
}

void Loop::readFramesToJs(Connection* connection) {
  int32_t id = static_cast<int32_t>(connection->id);
  int32_t endpoint = connection->endpoint->reportedId();
  if (arena_.size() + chunkBytes_ >= kBatchByteBudget) return;
  ssize_t received = receive(connection, receiveBuffer_.get(), kReceiveBufferSize);
  if (received <= 0) return;
  // One record per frame, all in this batch: thousands of frames from one read cross to
  // JavaScript in one call. A frame is copied once: into the arena, or a large one into a
  // chunk of its own, which JavaScript gets as it is.
  FrameStatus status =
      splitFrames(connection, receiveBuffer_.get(), static_cast<size_t>(received), [&](const uint8_t* frame, size_t length) {
        int32_t offset = appendForJs(frame, length, false);
        events_.push_back({static_cast<int32_t>(EventType::kData), id, endpoint, offset, static_cast<int32_t>(length), 0, 0});
        return true;
      });
  if (status != FrameStatus::kOk) {
    failFraming(connection, status);
    return;
  }
}

void Loop::onPeerEnd(Connection* connection) {
  connection->peerEnded = true;
  if (deliversToJs(connection)) {
    pushConnectionEvent(EventType::kEnd, connection);
    // Like node:net without allowHalfOpen, our side ends once the peer is done, but only
    // after the handler's end() has run, so it can still write a last reply: JavaScript
    // calls end() once it has delivered this event. If our side already ended, finish now.
    // The read interest goes after the batch (quietEnded), if the handler has not closed
    // the connection by then. Not for a socket in Node's poll set: libuv may poll again in
    // the same phase (it does while a wait fills its 1,024 events) and would report the
    // ended socket, still readable, before the check phase delivers the batch.
    if (!connection->endRequested) {
      if (connection->hosting == Socket::kHosted) {
        updateInterest(connection, interestFor(connection));
      } else {
        endedUnquiet_.push_back(connection->id);
      }
      return;
    }
  }
  connection->endRequested = true;
  finishEnd(connection);
  // A connection closed just now has left the poller; narrowing its interest first would
  // be an epoll_ctl for nothing.
  if (!connection->closed) updateInterest(connection, interestFor(connection));
}

void Loop::quietEnded() {
  for (uint32_t id : endedUnquiet_) {
    Connection* connection = find(id);
    if (connection != nullptr && !connection->closed) updateInterest(connection, interestFor(connection));
  }
  endedUnquiet_.clear();
}

int Loop::sendOrQueue(Connection* connection, const uint8_t* data, size_t length) {
  if (!connection->hasPending() && !connection->connecting) {
    ssize_t sent = sys::send(connection->fd.get(), data, length);
    if (sent >= 0) {
      countWritten(connection, static_cast<uint64_t>(sent));
      if (sent > 0) touch(connection);
      if (static_cast<size_t>(sent) == length) return 0;
      data += sent;
      length -= static_cast<size_t>(sent);
    } else if (sent != -EAGAIN) {
      fail(connection, static_cast<int>(sent), Syscall::kWrite);
      return static_cast<int>(sent);
    }
  }
  uint64_t limit = connection->endpoint->settings.maxBufferedBytes;
  if (limit != 0 && connection->pendingBytes() + length > limit) {
    int error = static_cast<int>(EngineError::kBufferFull);
    fail(connection, error, Syscall::kWrite);
    return error;
  }
  buffersOf(connection).pending.append(data, length);
  updateInterest(connection, interestFor(connection));
  return 0;
}

int Loop::sendPartsOrQueue(Connection* connection, const ByteView* parts, int count) {
  size_t skip = 0;  // Bytes the kernel took, from the front.
  if (!connection->hasPending() && !connection->connecting && count <= sys::kMaxSendParts) {
    iovec vectors[sys::kMaxSendParts];
    size_t length = 0;
    for (int i = 0; i < count; i++) {
      vectors[i] = {const_cast<uint8_t*>(parts[i].data), parts[i].length};
      length += parts[i].length;
    }
    ssize_t sent = sys::sendParts(connection->fd.get(), vectors, count);
    if (sent >= 0) {
      countWritten(connection, static_cast<uint64_t>(sent));
      if (sent > 0) touch(connection);
      if (static_cast<size_t>(sent) == length) return 0;
      skip = static_cast<size_t>(sent);
    } else if (sent != -EAGAIN) {
      fail(connection, static_cast<int>(sent), Syscall::kWrite);
      return static_cast<int>(sent);
    }
  } else if (count > sys::kMaxSendParts) {
    // Never the case today (a JavaScript write has at most three parts, a built-in's framed
    // replies at most kMaxSendParts); gathered so the rule above holds.
    replies_.clear();
    for (int i = 0; i < count; i++) replies_.append(parts[i].data, parts[i].length);
    int result = sendOrQueue(connection, replies_.data(), replies_.size());
    replies_.clear();
    return result;
  }
  // What is left goes to the queue in order, as sendOrQueue does with one part.
  size_t left = 0;
  for (int i = 0; i < count; i++) left += parts[i].length;
  left -= skip;
  uint64_t limit = connection->endpoint->settings.maxBufferedBytes;
  if (limit != 0 && connection->pendingBytes() + left > limit) {
    int error = static_cast<int>(EngineError::kBufferFull);
    fail(connection, error, Syscall::kWrite);
    return error;
  }
  buffersOf(connection);
  for (int i = 0; i < count; i++) {
    size_t from = std::min(skip, parts[i].length);
    skip -= from;
    if (parts[i].length > from) connection->buffers->pending.append(parts[i].data + from, parts[i].length - from);
  }
  updateInterest(connection, interestFor(connection));
  return 0;
}

ConnectionBuffers& Loop::buffersOf(Connection* connection) {
  if (!connection->buffers) {
    if (spareBuffers_.empty()) {
      connection->buffers = std::make_unique<ConnectionBuffers>();
    } else {
      connection->buffers = std::move(spareBuffers_.back());
      spareBuffers_.pop_back();
    }
  }
  return *connection->buffers;
}

void Loop::releaseBuffersIfEmpty(Connection* connection) {
  if (!connection->buffers || !connection->buffers->empty()) return;
  if (spareBuffers_.size() < kSpareBuffers && connection->buffers->pending.capacity() <= kSpareBufferCapacity) {
    connection->buffers->pending.clear();
    spareBuffers_.push_back(std::move(connection->buffers));
  } else {
    connection->buffers.reset();
  }
}

void Loop::flushWriteQueue(Connection* connection) {
  while (connection->hasPending()) {
    ByteBuffer& pending = connection->buffers->pending;
    ssize_t sent = sys::send(connection->fd.get(), pending.data(), pending.size());
    if (sent < 0) {
      if (sent != -EAGAIN) fail(connection, static_cast<int>(sent), Syscall::kWrite);
      return;
    }
    countWritten(connection, static_cast<uint64_t>(sent));
    if (sent > 0) touch(connection);
    pending.consume(static_cast<size_t>(sent));
  }
  // Drained: its memory goes back, or is kept as a spare when small (an idle connection
  // holds no buffer).
  releaseBuffersIfEmpty(connection);
  if (connection->buffers) connection->buffers->pending.release();
  connection->throttled = false;
  updateInterest(connection, interestFor(connection));
  if (connection->drainWanted && deliversToJs(connection)) pushConnectionEvent(EventType::kDrain, connection);
  connection->drainWanted = false;
  if (connection->endRequested) finishEnd(connection);
}

void Loop::finishEnd(Connection* connection) {
  if (connection->hasPending()) return;  // flushWriteQueue() comes back here.
  if (connection->peerEnded) {
    closeConnection(connection, 0, Syscall::kNone, true);
    return;
  }
  if (connection->writeShut) return;
  connection->writeShut = true;
  int result = sys::shutdownWrite(connection->fd.get());
  if (result < 0 && result != -ENOTCONN) fail(connection, result, Syscall::kShutdown);
}

void Loop::fail(Connection* connection, int error, Syscall syscall) {
  closeConnection(connection, error, syscall, true);
}

void Loop::closeConnection(Connection* connection, int error, Syscall syscall, bool notify) {
  if (connection->closed) return;
  connection->closed = true;
  updateInterest(connection, 0);
  connection->fd.reset();
  connection->buffers.reset();
  Endpoint* endpoint = connection->endpoint;
  if (endpoint->proxyTimeoutMs != 0) {
    proxyPartial_.erase(connection->id);
    proxyClients_.erase(connection->id);
  }
  endpoint->connections--;
  if (error != 0) endpoint->closedWithError++;
  stats_.connections--;
  if (notify && deliversToJs(connection)) {
    if (error != 0) pushConnectionEvent(EventType::kError, connection, error, static_cast<int32_t>(syscall));
    pushConnectionEvent(EventType::kClose, connection, error);
  }
  connections_.retire(connection);
  releaseEndpointIfIdle(endpoint);
}

int64_t Loop::write(uint32_t id, const uint8_t* data, size_t length) {
  ByteView part{data, length};
  return writeParts(id, &part, 1);
}

int64_t Loop::writeParts(uint32_t id, const ByteView* parts, int count) {
  Connection* connection = find(id);
  if (connection == nullptr) return -EBADF;
  if (connection->endRequested || connection->writeShut) return -EPIPE;
  size_t length = 0;
  for (int i = 0; i < count; i++) length += parts[i].length;
  const ConnectionSettings& settings = connection->endpoint->settings;
  // How much a batch holds back before offering it to the kernel: the high-water mark, or
  // for a connection answering several events of this batch, up to kGatherLimit.
  const size_t gatherUpTo = connection->gathering ? std::max<size_t>(kGatherLimit, settings.highWaterMark)
                                                  : settings.highWaterMark;
  // A write that reaches that mark by itself with nothing queued before it goes to the
  // kernel at once, from the caller's memory: corking it would copy it only to send it
  // before the batch ends anyway (16 KiB chunks through JavaScript, docs/design.md).
  bool direct = !connection->hasPending() && length >= gatherUpTo;
  if (corking_ && !connection->connecting && !direct) {
    buffersOf(connection);
    for (int i = 0; i < count; i++) {
      if (parts[i].length > 0) connection->buffers->pending.append(parts[i].data, parts[i].length);
    }
    if (!connection->corked) {
      connection->corked = true;
      corked_.push_back(connection->id);
    }
    // Small writes wait for the batch's end; once they reach the mark they are offered to
    // the kernel now, so write()'s answer and the queue limit count only what the kernel
    // did not take, as on node:net.
    size_t queued = connection->pendingBytes();
    uint64_t limit = settings.maxBufferedBytes;
    bool pastMark = queued >= gatherUpTo || (limit != 0 && queued > limit);
    if (pastMark && queued > 0 && !(connection->interest & kWritable)) {
      flushWriteQueue(connection);
      if (connection->closed) return -EPIPE;
      if (connection->hasPending()) updateInterest(connection, interestFor(connection));
    }
    if (limit != 0 && connection->pendingBytes() > limit) {
      int error = static_cast<int>(EngineError::kBufferFull);
      fail(connection, error, Syscall::kWrite);
      return error;
    }
  } else if (count > 1) {
    // Outside a batch, or large enough to go at once, in parts (a frame's header, payload
    // and trailer): one sendmsg for the whole, and only what the kernel left is queued.
    int result = sendPartsOrQueue(connection, parts, count);
    if (result < 0) return result;
  } else {
    int result = sendOrQueue(connection, parts[0].data, length);
    if (result < 0) return result;
  }
  size_t queued = connection->pendingBytes();
  // Gathered bytes not yet offered to the kernel (none refused: the socket is not waiting
  // to be writable) count as taken, as they would have been if sent at once; bytes the
  // kernel refused count in full, and back pressure starts from them.
  if (connection->gathering && !(connection->interest & kWritable)) queued = 0;
  if (queued >= settings.highWaterMark && queued > 0) connection->drainWanted = true;
  return static_cast<int64_t>(queued);
}

int64_t Loop::sendFrame(uint32_t id, const uint8_t* data, size_t length) {
  Connection* connection = find(id);
  if (connection == nullptr) return -EBADF;
  const Framer* framer = connection->endpoint->framer.get();
  if (framer == nullptr) return -EINVAL;
  uint8_t header[8];
  size_t headerLength = 0;
  size_t trailerLength = 0;
  const uint8_t* trailer = nullptr;
  if (!framer->frameOf(length, header, &headerLength, &trailer, &trailerLength)) return -EMSGSIZE;
  // A kept delimiter already ends the frame (lib/framing.ts frameParts does the same).
  if (framer->spec().keepDelimiter && length >= trailerLength &&
      std::memcmp(data + length - trailerLength, trailer, trailerLength) == 0) {
    trailerLength = 0;
  }
  ByteView parts[3];
  int count = 0;
  if (headerLength > 0) parts[count++] = {header, headerLength};
  parts[count++] = {data, length};
  if (trailerLength > 0) parts[count++] = {trailer, trailerLength};
  return writeParts(id, parts, count);
}

int Loop::bufferedBytes(uint32_t id) {
  Connection* connection = find(id);
  if (connection == nullptr) return -EBADF;
  size_t queued = connection->pendingBytes();
  return queued > INT32_MAX ? INT32_MAX : static_cast<int>(queued);
}

void Loop::markGathering() {
  int32_t previous = -1;
  for (const EventRecord& event : events_) {
    if (event.type != static_cast<int32_t>(EventType::kData)) continue;
    if (event.id == previous) {
      Connection* connection = find(static_cast<uint32_t>(event.id));
      if (connection != nullptr && !connection->gathering) {
        connection->gathering = true;
        gathering_.push_back(connection->id);
      }
    }
    previous = event.id;
  }
}

void Loop::uncork() {
  corking_ = false;
  for (uint32_t id : gathering_) {
    Connection* connection = find(id);
    if (connection != nullptr) connection->gathering = false;
  }
  gathering_.clear();
  for (uint32_t id : corked_) {
    Connection* connection = find(id);
    if (connection == nullptr || !connection->corked) continue;
    connection->corked = false;
    // Bytes already waiting for the socket to be writable keep waiting with the rest.
    if (connection->interest & kWritable) continue;
    flushWriteQueue(connection);
    // What the kernel did not take waits for the socket to be writable.
    if (!connection->closed && connection->hasPending()) updateInterest(connection, interestFor(connection));
  }
  corked_.clear();
}

bool Loop::hasQueuedEvents(uint32_t id) const {
  for (const EventRecord& event : events_) {
    if (event.id == static_cast<int32_t>(id)) return true;
  }
  return false;
}

int Loop::end(uint32_t id) {
  Connection* connection = find(id);
  if (connection == nullptr) return -EBADF;
  connection->endRequested = true;
  if (connection->connecting) return 0;
  // The peer is done and nothing is left to send: the connection closes now, and the caller
  // (JavaScript, which asked) reports the close itself, sparing a crossing per connection
  // for a close record (docs/design.md section 15, "Connection churn"). Not while records
  // of it wait for the next batch (its end, read before other JavaScript in the same turn
  // called end()): its close must follow them, as a record.
  if (connection->peerEnded && !connection->hasPending() && !hasQueuedEvents(connection->id)) {
    closeConnection(connection, 0, Syscall::kNone, false);
    return kClosedNow;
  }
  finishEnd(connection);
  return 0;
}

int Loop::destroy(uint32_t id) {
  Connection* connection = find(id);
  if (connection != nullptr && connection->corked && connection->hasPending()) {
    // Bytes written earlier in this batch would have reached the kernel already without
    // corking (and do on node:net): offer them once before closing.
    ByteBuffer& pending = connection->buffers->pending;
    sys::send(connection->fd.get(), pending.data(), pending.size());
  }
  if (connection != nullptr) closeConnection(connection, 0, Syscall::kNone, false);
  // Events queued for the next batch (a failed write's error and close, even when that
  // failure already closed it) die with the connection: after destroy() nothing more is
  // said about it.
  events_.erase(std::remove_if(events_.begin(), events_.end(),
                               [id](const EventRecord& event) {
                                 return event.id == static_cast<int32_t>(id) &&
                                        event.type != static_cast<int32_t>(EventType::kServerIdle);
                               }),
                events_.end());
  return connection != nullptr ? 0 : -EBADF;
}

int Loop::pause(uint32_t id) {
  Connection* connection = find(id);
  if (connection == nullptr) return -EBADF;
  connection->paused = true;
  updateInterest(connection, interestFor(connection));
  return 0;
}

int Loop::resume(uint32_t id) {
  Connection* connection = find(id);
  if (connection == nullptr) return -EBADF;
  connection->paused = false;
  connection->parked = false;
  updateInterest(connection, interestFor(connection));
  return 0;
}

}  // namespace sockengine
