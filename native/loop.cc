#include "loop.h"

#include <fcntl.h>

#include <cerrno>
#include <new>

namespace sockengine {

// Events taken from the poller per wake-up. At 1000+ ready sockets the rest wait for the
// next wake-up (level-triggered, so nothing is lost) and the host loop gets a turn.
static constexpr int kEventsPerWakeup = 1024;
// The idle sweep runs at a quarter of the shortest idle timeout, so a connection closes
// between 1 and 1.25 timeouts after its last traffic; never more often than every 10 ms
// (the sweep walks the whole table) nor less than once a second.
static constexpr uint32_t kMinSweepMs = 10;
static constexpr uint32_t kMaxSweepMs = 1000;

Connection* ConnectionTable::allocate() {
  uint32_t slot;
  uint32_t generation = 1;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
    generation = at(slot).id >> kSlotBits;
    generation = generation >= kGenerations ? 1 : generation + 1;
  } else {
    if (used_ > kSlotMask) return nullptr;
    if (used_ % kChunkSize == 0) chunks_.emplace_back(new Connection[kChunkSize]);
    slot = used_++;
  }
  Connection& connection = at(slot);
  connection.id = (generation << kSlotBits) | slot;
  connection.closed = false;
  live_++;
  return &connection;
}

Connection* ConnectionTable::find(uint32_t id) {
  uint32_t slot = id & kSlotMask;
  if (slot >= used_) return nullptr;
  Connection& connection = at(slot);
  return connection.id == id && !connection.closed ? &connection : nullptr;
}

void ConnectionTable::retire(Connection* connection) {
  live_--;
  retired_.push_back(connection->id & kSlotMask);
}

void ConnectionTable::recycle() {
  for (uint32_t slot : retired_) {
    Connection& connection = at(slot);
    uint32_t id = connection.id;
    connection.~Connection();
    new (&connection) Connection();  // Default state; `closed` stays true until allocate().
    connection.id = id;
    free_.push_back(slot);
  }
  retired_.clear();
}

Loop::Loop() : receiveBuffer_(new uint8_t[kReceiveBufferSize]) {}

Loop::~Loop() {
  closeAll();
  clearBatch();
}

int Loop::open() {
  int result = poller_.open();
  if (result < 0) return result;
  int reserve = sys::open("/dev/null", O_RDONLY);
  if (reserve >= 0) reserve_.reset(reserve);
  return 0;
}

int Loop::runOnce(int timeoutMs) {
  quietEnded();
  connections_.recycle();
  closedListeners_.clear();
  closedDatagrams_.clear();
  stats_.wakeups++;
  PollEvent ready[kEventsPerWakeup];
  int count = poller_.wait(ready, kEventsPerWakeup, timeoutMs);
  running_ = true;
  for (int i = 0; i < count; i++) {
    auto* socket = static_cast<Socket*>(ready[i].token);
    dispatch(socket, ready[i]);
    if (host_ != nullptr) considerHosting(socket);
  }
  running_ = false;
  return count;
}

void Loop::dispatch(Socket* socket, const PollEvent& event) {
  switch (socket->kind) {
    case Socket::kListener:
      onListenerReady(static_cast<Listener*>(socket));
      break;
    case Socket::kConnection:
      onConnectionReady(static_cast<Connection*>(socket), event);
      break;
    case Socket::kDatagram:
      onDatagramReady(static_cast<DatagramSocket*>(socket));
      break;
    case Socket::kTimer:
      sys::timerDrain(idleTimer_.fd.get());
      sweepIdle();
      break;
  }
}

void Loop::onHostedReady(Socket* socket, const PollEvent& event, bool unwatched) {
  stats_.wakeups++;
  bool wasRunning = running_;
  running_ = true;
  dispatch(socket, event);
  running_ = wasRunning;
  // Still open (a closed socket has left the host already) but no longer watched there.
  if (unwatched && socket->hosting == Socket::kHosted) leaveHost(socket, socket->interest);
}

// A connection that has been ready in two wake-ups is likely to be ready again soon: a
// one-message connection (connect, ask, close) never moves, and a silent one never costs
// the host's memory. Only sockets that are being read move: a paused connection listens
// for errors alone, which the loop's poller reports without being asked.
void Loop::considerHosting(Socket* socket) {
  static constexpr uint32_t kMaxHosted = 1024;
  if (socket->kind != Socket::kConnection && socket->kind != Socket::kDatagram) return;
  if (!socket->registered || socket->hosting == Socket::kHosted || !(socket->interest & kReadable)) return;
  // Still read-interested until quietEnded(), but done being read.
  if (socket->kind == Socket::kConnection && static_cast<Connection*>(socket)->peerEnded) return;
  if (socket->hosting == Socket::kNotSeen) {
    socket->hosting = Socket::kSeenOnce;
    return;
  }
  if (stats_.hosted >= kMaxHosted || poller_.remove(socket->fd.get()) != 0) return;
  if (!host_->watch(socket, socket->interest)) {
    socket->registered = poller_.add(socket->fd.get(), socket->interest, socket) == 0;
    return;
  }
  socket->hosting = Socket::kHosted;
  stats_.hosted++;
}

void Loop::leaveHost(Socket* socket, uint32_t interest) {
  host_->unwatch(socket);
  stats_.hosted--;
  socket->hosting = Socket::kSeenOnce;
  socket->registered = interest != 0 && poller_.add(socket->fd.get(), interest, socket) == 0;
  socket->interest = interest;
}

void Loop::forget(Socket* socket) {
  if (socket->hosting == Socket::kHosted) {
    leaveHost(socket, 0);
  } else if (socket->registered) {
    poller_.remove(socket->fd.get());
    socket->registered = false;
  }
}

void Loop::clearBatch() {
  events_.clear();
  chunkBytes_ = 0;
  // Keep room for a full batch (kBatchByteBudget plus the largest read, a framed one of
  // kReceiveBufferSize): giving it back and asking again every batch costs a page fault per
  // 4 KiB touched.
  static constexpr size_t kArenaKeep = kBatchByteBudget + kReceiveBufferSize;
  if (arena_.capacity() > kArenaKeep) {
    arena_.release();
  } else {
    arena_.clear();
  }
}

void Loop::push(EventType type, uint32_t id, int32_t endpoint, int32_t code, int32_t detail) {
  if (!running_ && events_.empty()) poller_.wake();
  events_.push_back({static_cast<int32_t>(type), static_cast<int32_t>(id), endpoint, 0, 0, code, detail});
}

void Loop::pushConnectionEvent(EventType type, const Connection* connection, int32_t code, int32_t detail) {
  push(type, connection->id, connection->endpoint->reportedId(), code, detail);
}

uint32_t Loop::nextEndpointId() {
  // Ids travel as int32 and every client connection takes one: wrap below 2^31 and skip
  // ids still in use, so a long-lived process never hands out a live server's id.
  static constexpr uint32_t kLast = 0x7fffffffu;
  do {
    lastEndpointId_ = lastEndpointId_ >= kLast ? 1 : lastEndpointId_ + 1;
  } while (endpoints_.count(lastEndpointId_) != 0);
  return lastEndpointId_;
}

// The shortest deadline the sweep must watch for an endpoint's connections (the idle
// timeout, and the PROXY header's), or 0.
static uint32_t sweptTimeout(const Endpoint& endpoint) {
  uint32_t idle = endpoint.settings.idleTimeoutMs;
  uint32_t proxy = endpoint.proxyTimeoutMs;
  if (idle == 0) return proxy;
  return proxy != 0 && proxy < idle ? proxy : idle;
}

void Loop::addEndpoint(std::unique_ptr<Endpoint> endpoint) {
  uint32_t timeout = sweptTimeout(*endpoint);
  endpoints_.emplace(endpoint->id, std::move(endpoint));
  if (timeout == 0) return;
  idleEndpoints_++;
  uint32_t interval = timeout / 4;
  if (interval < kMinSweepMs) interval = kMinSweepMs;
  if (interval > kMaxSweepMs) interval = kMaxSweepMs;
  if (idleTimer_.intervalMs != 0 && idleTimer_.intervalMs <= interval) return;
  // Made at the first idle timeout: an engine that never uses one holds no timer.
  if (!idleTimer_.fd.valid()) {
    int timer = sys::timerCreate();
    if (timer < 0) return;  // Out of descriptors: connections simply do not time out.
    idleTimer_.fd.reset(timer);
  }
  idleTimer_.intervalMs = interval;
  sys::timerSet(idleTimer_.fd.get(), interval);
  updateInterest(&idleTimer_, kReadable);
}

void Loop::eraseEndpoint(Endpoint* endpoint) {
  if (sweptTimeout(*endpoint) != 0 && --idleEndpoints_ == 0) {
    // No timeouts left: stop the sweep (the interval may lengthen again later).
    idleTimer_.intervalMs = 0;
    updateInterest(&idleTimer_, 0);
    idleTimer_.fd.reset();
  }
  endpoints_.erase(endpoint->id);
}

void Loop::sweepIdle() {
  uint32_t now = sys::monotonicMs();
  connections_.forEachOpen([&](Connection* connection) {
    if (connection->awaitingProxy) {
      if (now - connection->lastActive >= connection->endpoint->proxyTimeoutMs) rejectProxy(connection);
      return;
    }
    uint32_t timeout = connection->endpoint->settings.idleTimeoutMs;
    // A connect in progress is not idle: the idle clock starts when it opens (node:net's
    // socket timeout does the same).
    if (timeout == 0 || connection->connecting || now - connection->lastActive < timeout) return;
    connection->endpoint->timedOut++;
    fail(connection, static_cast<int>(EngineError::kIdleTimeout), Syscall::kNone);
  });
}

void Loop::updateInterest(Socket* socket, uint32_t interest) {
  if (socket->registered && socket->interest == interest) return;
  if (socket->hosting == Socket::kHosted) {
    if ((interest & kReadable) && host_->watch(socket, interest)) {
      socket->interest = interest;
    } else {
      leaveHost(socket, interest);
    }
    return;
  }
  // A socket with no interest leaves the poller altogether: EPOLLHUP and EPOLLERR cannot be
  // masked, and a paused, hung-up socket would otherwise be reported on every wait().
  if (interest == 0) {
    if (socket->registered) poller_.remove(socket->fd.get());
    socket->registered = false;
  } else if (socket->registered) {
    poller_.modify(socket->fd.get(), interest, socket);
  } else {
    socket->registered = poller_.add(socket->fd.get(), interest, socket) == 0;
  }
  socket->interest = interest;
}

Connection* Loop::find(uint32_t id) { return connections_.find(id); }

Endpoint* Loop::endpointFor(uint32_t id) {
  auto found = endpoints_.find(id);
  return found == endpoints_.end() ? nullptr : found->second.get();
}

uint32_t Loop::nextDatagramId() {
  // UDP ids take the range above connection ids (2^30 and up, below 2^31: they travel as
  // int32), skipping ids still in use after a wrap.
  static constexpr uint32_t kFirst = 1u << 30;
  do {
    lastDatagramId_ = lastDatagramId_ < kFirst || lastDatagramId_ >= 0x7fffffffu ? kFirst : lastDatagramId_ + 1;
  } while (datagrams_.count(lastDatagramId_) != 0);
  return lastDatagramId_;
}

void Loop::releaseEndpointIfIdle(Endpoint* endpoint) {
  if (endpoint->connections != 0) return;
  if (endpoint->client) {
    eraseEndpoint(endpoint);
  } else if (endpoint->closing) {
    push(EventType::kServerIdle, endpoint->id, 0);
    eraseEndpoint(endpoint);
  }
}

void Loop::closeAll() {
  endedUnquiet_.clear();
  connections_.forEachOpen([this](Connection* connection) {
    forget(connection);
    connection->fd.reset();
    connection->closed = true;
    connections_.retire(connection);
  });
  connections_.recycle();
  for (auto& listener : listenerStore_) {
    if (listener->registered) poller_.remove(listener->fd.get());
    listener->fd.reset();
  }
  listenerStore_.clear();
  listeners_ = 0;
  for (auto& entry : datagrams_) {
    forget(entry.second.get());
    entry.second->fd.reset();
  }
  datagrams_.clear();
  endpoints_.clear();
  idleEndpoints_ = 0;
  if (idleTimer_.registered) poller_.remove(idleTimer_.fd.get());
  idleTimer_.registered = false;
  stats_.connections = 0;
  clearBatch();
}

}  // namespace sockengine
