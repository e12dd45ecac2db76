#include "loop.h"

#include <fcntl.h>

#include <cerrno>
#include <new>

namespace sockengine {

// Events taken from the poller per wake-up. At 1000+ ready sockets the rest wait for the
// next wake-up (level-triggered, so nothing is lost) and the host loop gets a turn.
static constexpr int kEventsPerWakeup = 1024;
// One shared receive buffer for built-in connections, and the room reserved in the batch
// arena per JavaScript read: 64 KiB matches libuv's read size and a loopback TCP segment.
static constexpr size_t kReceiveBufferSize = 64 * 1024;

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

Loop::~Loop() { closeAll(); }

int Loop::open() {
  int result = poller_.open();
  if (result < 0) return result;
  int reserve = sys::open("/dev/null", O_RDONLY);
  if (reserve >= 0) reserve_.reset(reserve);
  return 0;
}

void Loop::runOnce() {
  connections_.recycle();
  closedListeners_.clear();
  closedDatagrams_.clear();
  stats_.wakeups++;
  PollEvent ready[kEventsPerWakeup];
  int count = poller_.wait(ready, kEventsPerWakeup, 0);
  running_ = true;
  for (int i = 0; i < count; i++) {
    auto* socket = static_cast<Socket*>(ready[i].token);
    switch (socket->kind) {
      case Socket::kListener:
        onListenerReady(static_cast<Listener*>(socket));
        break;
      case Socket::kConnection:
        onConnectionReady(static_cast<Connection*>(socket), ready[i]);
        break;
      case Socket::kDatagram:
        onDatagramReady(static_cast<DatagramSocket*>(socket));
        break;
    }
  }
  running_ = false;
}

void Loop::clearBatch() {
  events_.clear();
  // Keep room for a full batch (kBatchByteBudget plus one read): giving it back and asking
  // again every batch costs a page fault per 4 KiB touched.
  static constexpr size_t kArenaKeep = kBatchByteBudget + 2 * kReceiveBufferSize;
  if (arena_.capacity() > kArenaKeep) {
    arena_.release();
  } else {
    arena_.clear();
  }
}

void Loop::push(EventType type, uint32_t id, uint32_t endpoint, int32_t code, int32_t length) {
  if (!running_ && events_.empty()) poller_.wake();
  events_.push_back({static_cast<int32_t>(type), static_cast<int32_t>(id), 0, length, code, static_cast<int32_t>(endpoint)});
}

void Loop::updateInterest(Socket* socket, uint32_t interest) {
  if (socket->registered && socket->interest == interest) return;
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
  if (endpoint == &clients_ || !endpoint->closing || endpoint->connections != 0) return;
  push(EventType::kServerIdle, endpoint->id, 0);
  endpoints_.erase(endpoint->id);
}

void Loop::closeAll() {
  connections_.forEachOpen([this](Connection* connection) {
    if (connection->registered) poller_.remove(connection->fd.get());
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
    if (entry.second->registered) poller_.remove(entry.second->fd.get());
    entry.second->fd.reset();
  }
  datagrams_.clear();
  endpoints_.clear();
  stats_.connections = 0;
  clearBatch();
}

}  // namespace sockengine
