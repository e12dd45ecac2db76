// The engine's loop: the socket table, dispatch by socket kind, the event batch handed to
// JavaScript, and deferred frees. It knows nothing of Node: native/addon/ drives it.
//
// Threading: one Loop is used from one thread only (Node's main or worker thread, which
// watches poller fd() with uv_poll, or a loop thread of its own, threads.h). Every call
// below is made on that thread, except wake().
//
// Lifetimes: a socket closed during a wake-up (by its own error, or from JavaScript between
// wake-ups) leaves the poller and its table at once, so its id and fd can be reused
// immediately, but its memory is freed only at the start of the next runOnce(): a wait() may
// already hold an event carrying its pointer.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "buffer.h"
#include "events.h"
#include "framing.h"
#include "handlers/handler.h"
#include "poller.h"
#include "proxy.h"
#include "sys.h"

namespace sockengine {

// Bytes one batch carries to JavaScript before the engine stops reading for that wake-up
// (level-triggered polling reports the rest next time). Without it a burst on 1,024
// streams could gather 1,024 x 4 x 64 KiB in one batch. 256 KiB (four full 64 KiB reads)
// keeps a batch inside the core's L2 cache, so JavaScript reads bytes the kernel has just
// written: on the 10 x 16 KiB x 4 stream a 4 MiB budget cost ~10% more CPU per message
// (docs/design.md, "Where a message's time goes"). It is checked before each read, so a
// batch can end one read past it: 64 KiB, or 128 KiB for a framed read for JavaScript
// (kReceiveBufferSize below).
constexpr size_t kBatchByteBudget = 256 * 1024;
// A connection gets one recv of up to kReadSize per wake-up, as C's reference server does:
// level-triggered polling reports what is left next time, so one fast sender cannot starve
// the others. A second read after a full one mostly found a small tail or nothing: on
// 10 x 16 KiB length-prefixed x 4 a built-in answered 440,000 frames in 3 s with up to 4
// reads per wake-up, 537,000 with one (C 534,000; docs/design.md section 15). Also the size
// of a ChunkHost's read room.
constexpr size_t kReadSize = 64 * 1024;
// The loop's shared receive buffer: one read's room after as much again, where a built-in
// puts an unfinished counted frame back in front of the read that completes it
// (Loop::readFramesBuiltin). Framed reads for JavaScript use all of it in one recv
// (Loop::readFramesToJs): four 16 KiB frames with their headers are 65,552 bytes, 16 more
// than kReadSize, and a read cut there left a frame to be held, completed by a second read
// and copied twice.
constexpr size_t kReceiveBufferSize = 2 * kReadSize;

// What every connection of one endpoint shares, as listen() or connect() set it.
struct ConnectionSettings {
  // Close a connection with no traffic in either direction for this long; 0: never.
  uint32_t idleTimeoutMs = 0;
  // Fail a connection whose write queue would grow past this; 0: no limit.
  uint64_t maxBufferedBytes = 0;
  bool noDelay = true;
  bool keepAlive = false;
  // SO_KEEPALIVE's first probe after this much silence (rounded up to whole seconds).
  uint32_t keepAliveDelayMs = 0;
  // Queued bytes at which JavaScript's write() returned false: only then does emptying the
  // queue report kDrain.
  uint32_t highWaterMark = 16 * 1024;
};

// An endpoint is what a group of connections shares: a server (its listener, handler and
// settings), or one client connection made by connect(). JavaScript knows a server by its
// endpoint id; client endpoints are reported as endpoint 0.
struct Endpoint {
  uint32_t id = 0;
  bool client = false;
  // Null: deliver events to JavaScript. Otherwise answer in native code.
  std::unique_ptr<BuiltinHandler> builtin;
  struct Listener* listener = nullptr;
  ConnectionSettings settings;
  // Null: raw chunks. Otherwise how the connections' streams are cut into frames.
  std::unique_ptr<Framer> framer;
  // Servers: connections beyond this many are accepted and closed at once; 0: no limit.
  uint32_t maxConnections = 0;
  uint32_t connections = 0;
  // close() was called: report kServerIdle when the last connection goes.
  bool closing = false;
  // JavaScript handlers only: whether the handler wants open() for accepted connections.
  bool deliverOpen = false;
  // Counters for server.stats().
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t timedOut = 0;
  uint64_t framesTooLong = 0;
  // PROXY protocol: every connection must open with a header within this many milliseconds;
  // 0: none is expected.
  uint32_t proxyTimeoutMs = 0;
  // Connections closed for a missing, late or malformed PROXY header.
  uint64_t proxyRejected = 0;
  // Closed by a failure (a reset, the idle timeout, a full queue, a frame too long...).
  uint64_t closedWithError = 0;
  // Bytes the kernel gave us, and bytes it took, on this endpoint's connections.
  uint64_t bytesIn = 0;
  uint64_t bytesOut = 0;
  // What JavaScript's records carry as this endpoint's id.
  int32_t reportedId() const { return client ? 0 : static_cast<int32_t>(id); }
};

// Everything the poller can report on: dispatch looks at `kind` first.
struct Socket {
  enum Kind : uint8_t { kListener, kConnection, kDatagram, kTimer };
  // Where a busy socket is watched from (see HostPoller): in the loop's own poller until it
  // has been ready in two wake-ups, then, while the host has room, in the host's.
  enum Hosting : uint8_t { kNotSeen, kSeenOnce, kHosted };
  explicit Socket(Kind k) : kind(k), registered(false), hosting(kNotSeen), interest(0) {}
  Fd fd;
  // One byte for the four: a connection's own flags then fill the rest of this struct's
  // last word (a derived struct may use its base's tail padding), so a slot is 32 bytes.
  Kind kind : 2;
  bool registered : 1;
  Hosting hosting : 2;
  uint8_t interest : 3;  // Interest bits (kReadable, kWritable, kErrors)
};

// A host loop that can watch sockets in its own poll set: Node's libuv loop on the
// JavaScript thread (native/addon/host_poll.h). The loop's poller is nested inside the
// host's, so its readiness climbs two epoll sets and costs a second epoll_wait per wake-up;
// a socket the host watches itself reaches the thread in one. Silent sockets stay in the
// loop's poller, where they cost nothing beyond their slot (docs/design.md section 15).
class HostPoller {
 public:
  virtual ~HostPoller() = default;
  // Starts watching `socket` for `interest` (readable, maybe writable), or changes what it
  // is watched for; false if the host cannot, and the socket stays where it was.
  virtual bool watch(Socket* socket, uint32_t interest) = 0;
  // Stops watching; the host never mentions `socket` again.
  virtual void unwatch(Socket* socket) = 0;
};

// Memory the host hands JavaScript as it is (a Buffer of the JavaScript thread's own heap,
// native/addon/engine.cc): a large read or frame for JavaScript goes straight into it, so
// it reaches the handler with no copy after the kernel's, or with one. A kData record whose
// offset is -(i + 1) names the batch's chunk i (see events.h).
//
// Plain function pointers, not virtual functions: UndefinedBehaviorSanitizer checks a
// virtual call's object by probing its memory through a pipe, which a process out of file
// descriptors cannot make, so the sanitized build reported every such call there as a bad
// object (test/emfile.test.ts under scripts/sanitize.sh).
struct ChunkHost {
  void* context = nullptr;  // null: no host, and everything goes to the arena
  // kReadSize bytes (loop.h) the next read for JavaScript may land in, or null if none.
  // The same memory until takeReadRoom() takes it.
  uint8_t* (*readRoom)(void* context) = nullptr;
  // The read in readRoom(), which filled it (`length` is kReadSize), is the batch's next
  // chunk: returns its number, counted from 1 (0: refused, and the bytes are copied).
  int32_t (*takeReadRoom)(void* context, size_t length) = nullptr;
  // `length` bytes of new memory for the caller to fill, the batch's next chunk (its
  // number, from 1, in `*number`), or null if the host cannot make it.
  uint8_t* (*newChunk)(void* context, size_t length, int32_t* number) = nullptr;
};

struct Listener : Socket {
  Listener() : Socket(kListener) {}
  Endpoint* endpoint = nullptr;
};

// The idle-timeout sweep's clock: a timerfd in the same poller.
struct Timer : Socket {
  Timer() : Socket(kTimer) {}
  uint32_t intervalMs = 0;
};

// What few connections need, made only for them and freed as soon as it is empty again:
// an idle connection holds none, and both needs share one pointer in the 32-byte slot.
struct ConnectionBuffers {
  // Bytes the kernel has not taken yet.
  ByteBuffer pending;
  // An unfinished frame (framing only), itself made only while a frame is partial.
  std::unique_ptr<PartialFrame> partial;
  bool empty() const { return pending.empty() && partial == nullptr; }
};

// Kept small on purpose: an idle connection is this struct and nothing else (32 bytes; the
// benchmark's idle-memory goal is 64 bytes per connection with a built-in handler). The
// flags come first, where they share a word with the base's fields.
struct Connection : Socket {
  // The flags are one bit each (C++17 has no default initialisers for bit-fields): twelve
  // bools would not fit the 32-byte slot.
  Connection()
      : Socket(kConnection),
        connecting(false),
        paused(false),
        throttled(false),
        peerEnded(false),
        endRequested(false),
        writeShut(false),
        readFailed(false),
        parked(false),
        corked(false),
        gathering(false),
        drainWanted(false),
        awaitingProxy(false),
        closed(true) {}
  bool connecting : 1;
  bool paused : 1;        // by JavaScript
  bool throttled : 1;     // by a built-in handler whose peer stopped reading
  bool peerEnded : 1;     // recv returned 0
  bool endRequested : 1;  // end() called, or the peer ended: shut down after the flush
  bool writeShut : 1;
  // Framing failed on a JavaScript connection: no more reading; JavaScript destroys it once
  // it has handled the frames before the bad one.
  bool readFailed : 1;
  // Paused and both directions are down without an error: out of the poller (so the
  // hang-up is not reported on every wait) until resume() reads what is left.
  bool parked : 1;
  // Holds bytes written while a batch is handled; they leave when it ends (Loop::uncork).
  bool corked : 1;
  // Has several data events in the batch being handled: its replies to them are gathered
  // and leave in one send when the batch ends, large ones too (Loop::markGathering).
  bool gathering : 1;
  // JavaScript's write() saw the queue at its high-water mark: report kDrain when it empties.
  bool drainWanted : 1;
  // Accepted by a PROXY-protocol server and its header not yet read: nothing is delivered
  // or answered until it is (Loop::readProxyHeader).
  bool awaitingProxy : 1;
  bool closed : 1;  // until the table hands it out
  uint32_t id = 0;
  // The loop's clock (milliseconds, wrapping) at the last byte read or written: all the
  // idle timeout keeps per connection.
  uint32_t lastActive = 0;
  Endpoint* endpoint = nullptr;
  // The write queue and the partial frame; allocated only while there is one or the other.
  std::unique_ptr<ConnectionBuffers> buffers;
  bool hasPending() const { return buffers != nullptr && !buffers->pending.empty(); }
  size_t pendingBytes() const { return buffers ? buffers->pending.size() : 0; }
};
static_assert(sizeof(Connection) <= 32, "an idle connection costs one 32-byte slot (docs/design.md)");

// Connections live in fixed chunks that never move (poller tokens point into them) and are
// found by id without hashing: an id is (generation << kSlotBits) | slot, so a reused slot
// gets a new id and a stale id finds nothing. Ids stay below 2^30; UDP socket ids use the
// range above it.
class ConnectionTable {
 public:
  // A million connections per loop, and 1023 generations before a slot's id repeats (by
  // then JavaScript has long dropped the old object: it never uses a closed one's id).
  static constexpr uint32_t kSlotBits = 20;
  static constexpr uint32_t kSlotMask = (1u << kSlotBits) - 1;
  static constexpr uint32_t kGenerations = 1023;

  // A connection with a fresh id and default state, or null when every slot is taken.
  Connection* allocate();
  // The open connection with this id, or null.
  Connection* find(uint32_t id);
  // Takes back a closed connection's slot at the next recycle(): a poller wait in progress
  // may still carry its pointer.
  void retire(Connection* connection);
  void recycle();
  size_t size() const { return live_; }
  template <typename Visit>
  void forEachOpen(Visit visit) {
    for (uint32_t slot = 0; slot < used_; slot++) {
      Connection& connection = at(slot);
      if (!connection.closed) visit(&connection);
    }
  }

 private:
  // 1024 connections (32 KiB) per chunk: small enough that a server with a few
  // connections stays small, large enough that chunk bookkeeping is negligible.
  static constexpr uint32_t kChunkSize = 1024;
  Connection& at(uint32_t slot) { return chunks_[slot / kChunkSize][slot % kChunkSize]; }

  std::vector<std::unique_ptr<Connection[]>> chunks_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> retired_;
  uint32_t used_ = 0;
  size_t live_ = 0;
};

struct DatagramStats {
  uint64_t datagramsIn = 0;
  uint64_t bytesIn = 0;
  uint64_t datagramsOut = 0;
  uint64_t bytesOut = 0;
  uint64_t truncated = 0;
  uint64_t sendErrors = 0;
};

// A UDP socket: a server's bound socket or a connected client.
struct DatagramSocket : Socket {
  DatagramSocket() : Socket(kDatagram) {}
  uint32_t id = 0;
  // Null: deliver datagrams to JavaScript. Otherwise answer each one to its sender.
  std::unique_ptr<BuiltinHandler> builtin;
  // Room offered per datagram; a longer one is cut, counted, and reported as cut.
  size_t maxDatagramSize = 0;
  // Read for JavaScript in the batch being handled: read again once it has been answered.
  bool rereadWanted = false;
  // Slots the next receive call offers (Loop::onDatagramReady, nextOffer in udp.cc).
  uint8_t batchSlots = 1;
  // Receive calls in a row, since the last short one or EAGAIN, that filled every slot.
  uint8_t fullCalls = 0;
  // The sender of the last datagram handed to JavaScript (MessageAddress::kSameSender).
  SockAddr lastSender;
  // The destination the last single send from JavaScript named by its text (lib/native/
  // udp.ts sendOne names it again when it changes or after any failed send; length 0:
  // none yet).
  SockAddr lastDestination;
  DatagramStats stats;
};

struct LoopStats {
  uint64_t accepted = 0;
  uint64_t acceptErrors = 0;
  uint64_t bytesRead = 0;
  uint64_t bytesWritten = 0;
  uint64_t wakeups = 0;
  uint32_t connections = 0;
  // Sockets the host watches now (HostPoller): at most kMaxHosted (loop.cc), so memory
  // stays bounded however many connections were once busy (a watch is about 200 bytes).
  uint32_t hosted = 0;
};

class Loop {
 public:
  Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  ~Loop();

  // 0 or -errno.
  int open();
  // Readable whenever runOnce() has work: watch it from the host loop.
  int fd() const { return poller_.fd(); }
  // True while anything is open that should keep the host process alive.
  bool active() const { return listeners_ > 0 || connections_.size() > 0 || !datagrams_.empty(); }

  // Does one wake-up's work: accepts, reads, writes, answers built-in traffic and appends
  // JavaScript's events to the batch. Waits up to `timeoutMs` for readiness first (0, the
  // host loop's case: it has seen fd() readable; -1: a loop thread of its own blocks here).
  // Returns the poller's event count or its -errno.
  int runOnce(int timeoutMs = 0);
  // Makes a blocked runOnce() return: the one call another thread may make (threads.h).
  void wake() { poller_.wake(); }
  // Lets busy connections and UDP sockets move into the host's poll set (null: never).
  void setHost(HostPoller* host) { host_ = host; }
  // After JavaScript has handled a batch: reads again the UDP sockets the batch read from,
  // whose peers may have answered by now (a request-reply peer often has). True if that or
  // anything else left events to deliver. The host delivers them and may ask again; then it
  // calls endDatagramRereads().
  bool readDatagramsAgain();
  void endDatagramRereads();
  // A connection whose peer ended while its end record waits for JavaScript stays in the
  // poller as it was until the batch has been handled: a handler that ends it then (the
  // common case) closes it without first narrowing its interest, one epoll_ctl fewer per
  // connection. The host calls this after each delivery, and runOnce() before it waits, so
  // no ended socket is waited on for reading. Only sockets in the engine's own poller wait
  // (a hosted one is narrowed at once: libuv may poll again before the batch is handled).
  void quietEnded();
  // The host saw a socket it watches ready: the same work runOnce() does for one event.
  // `unwatched`: the host stopped watching it (an error report); it goes back to the loop's
  // own poller if it is still open.
  void onHostedReady(Socket* socket, const PollEvent& event, bool unwatched);

  // The batch for JavaScript: records plus the bytes they point into. Cleared by the host
  // after each delivery.
  const std::vector<EventRecord>& events() const { return events_; }
  const ByteBuffer& arena() const { return arena_; }
  ByteBuffer& arena() { return arena_; }
  void clearBatch();
  // Where large reads and frames for JavaScript go instead of the arena (null: the arena).
  void setChunkHost(const ChunkHost& host) { chunkHost_ = host; }

  // What listen() takes besides the address.
  struct ListenSettings {
    int backlog = 511;
    bool ipv6Only = false;
    // SO_REUSEPORT: other sockets (of this process or another) may listen on the same port.
    bool reusePort = false;
    // Null: JavaScript handles the traffic.
    std::unique_ptr<BuiltinHandler> builtin;
    bool deliverOpen = false;
    uint32_t maxConnections = 0;
    ConnectionSettings connection;
    // Null: raw chunks.
    std::unique_ptr<Framer> framer;
    // Unix-domain listeners on a file path: the socket file's permission bits, set between
    // bind and listen so no connection can arrive under the umask's bits; 0: leave them.
    unsigned permissions = 0;
    // Expect a PROXY protocol header first on every connection, within this many ms; 0: none.
    uint32_t proxyTimeoutMs = 0;
  };
  // Binds and listens. On success fills `endpointId` and the bound address; returns 0, or
  // -errno with `failedSyscall` naming the call that failed.
  int listen(const SockAddr& address, ListenSettings settings, uint32_t* endpointId, SockAddr* bound,
             const char** failedSyscall);
  // The peer's address of an open connection (getpeername), or -errno.
  int peerAddress(uint32_t id, SockAddr* peer);
  // The connection's own address (getsockname); 0 or -errno.
  int localAddress(uint32_t id, SockAddr* local);
  // Stops accepting. Returns the number of connections still open (kServerIdle follows
  // when they are gone) or -ENOENT.
  int closeListener(uint32_t endpointId);
  // Connections open on a server now, or -ENOENT.
  int endpointConnections(uint32_t endpointId);
  // A server's counters, or null for an unknown id.
  const Endpoint* endpoint(uint32_t endpointId);
  // Closes every connection of a closing server now (its shutdown deadline passed). Each
  // one reports kClose with no error; kServerIdle follows. Returns how many, or -ENOENT.
  int closeEndpointConnections(uint32_t endpointId);
  // Starts connecting a client connection (events go to JavaScript). Returns 0 and its id,
  // or -errno.
  int connect(const SockAddr& address, const ConnectionSettings& settings, std::unique_ptr<Framer> framer,
              uint32_t* connectionId);

  // UDP. bindDatagram: a server socket (built-in or JavaScript); connectDatagram: a
  // connected client. Both return 0 and fill the id and local address, or -errno.
  int bindDatagram(const SockAddr& address, bool ipv6Only, bool reusePort, std::unique_ptr<BuiltinHandler> builtin,
                   size_t maxDatagramSize, uint32_t* id, SockAddr* bound, const char** failedSyscall);
  int connectDatagram(const SockAddr& address, size_t maxDatagramSize, uint32_t* id, SockAddr* local,
                      const char** failedSyscall);
  // Sends `count` datagrams in as few calls as the kernel allows. A datagram that fails is
  // counted and skipped; returns 0 if all left, else the first -errno (or -EBADF).
  int sendDatagrams(uint32_t id, sys::Datagram* datagrams, int count);
  // Where a single send goes: `host` parsed (and kept as the socket's last destination),
  // or with a null `host` that last destination again, at `port`. 0, -EINVAL for a host
  // that is not a numeric address, -EDESTADDRREQ when none was kept, -EBADF.
  int datagramDestination(uint32_t id, const char* host, int port, SockAddr* out);
  int closeDatagram(uint32_t id);
  // Counts datagrams that never reached the kernel (an address that did not parse, or no
  // kept destination).
  void countSendErrors(uint32_t id, uint32_t count);
  // Null for an unknown id.
  const DatagramStats* datagramStats(uint32_t id);

  // The calls JavaScript makes on a connection. Unknown or closed ids give -EBADF.
  // write: the bytes still queued after trying the kernel first, or -errno.
  int64_t write(uint32_t id, const uint8_t* data, size_t length);
  // The same for bytes in up to three parts, sent as one (a frame's header, payload and
  // trailer from send(), without joining them in JavaScript first).
  int64_t writeParts(uint32_t id, const ByteView* parts, int count);
  // One frame around `data` with the connection's framing (its header or trailer added
  // here), or -EMSGSIZE when the payload cannot be one (lib/framing.ts checks first).
  int64_t sendFrame(uint32_t id, const uint8_t* data, size_t length);
  // Ends our side once what is queued has left: 0, -errno, or kClosedNow when the peer had
  // ended already and nothing was queued (no bytes, no records for the next batch), so the
  // connection is closed and no close record follows (the caller reports the close).
  static constexpr int kClosedNow = 1;
  int end(uint32_t id);
  // Whether a record about connection `id` waits for the next batch.
  bool hasQueuedEvents(uint32_t id) const;
  // Bytes queued (or corked) for the connection, or -EBADF.
  int bufferedBytes(uint32_t id);
  // Closes at once, dropping queued bytes; no events follow.
  int destroy(uint32_t id);
  int pause(uint32_t id);
  int resume(uint32_t id);
  // Closes everything now (process exit, worker termination); no events follow.
  void closeAll();
  // While JavaScript handles a batch, its writes are held and leave together when it ends:
  // a handler answering 16 pipelined frames makes one send(), not 16 (docs/design.md).
  void cork() { corking_ = true; }
  void uncork();
  // Before a batch is handed over (and cleared): marks the connections with more than one
  // data event in a row in it (the frames of one read, or the reads of one wake-up, which
  // are always consecutive). Their writes during the batch are gathered up to kGatherLimit even
  // when each reaches the high-water mark by itself: four 16 KiB frames answered in one
  // read leave in one sendmsg, not four (docs/design.md, "Replies gathered per batch").
  void markGathering();

  const LoopStats& stats() const { return stats_; }

 private:
  void dispatch(Socket* socket, const PollEvent& event);
  // After a socket's event: the second wake-up that finds it ready moves it to the host.
  void considerHosting(Socket* socket);
  // Back from the host to the loop's poller, registered for `interest` (0: for nothing).
  void leaveHost(Socket* socket, uint32_t interest);
  // Out of whichever poller holds it (closeAll: the descriptor closes next).
  void forget(Socket* socket);
  void onListenerReady(Listener* listener);
  void acceptOne(Listener* listener, int fd);
  void handleEmfile(Listener* listener);
  void onConnectionReady(Connection* connection, const PollEvent& event);
  // Reads what there is of a PROXY header, never a byte past it. True once the header is
  // read and the connection goes on; false while it waits for more or was closed.
  bool readProxyHeader(Connection* connection);
  void rejectProxy(Connection* connection);
  void onHangupWhileNotReading(Connection* connection);
  void applySocketOptions(int fd, const ConnectionSettings& settings);
  // The idle-timeout sweep: the timer runs while some endpoint has an idle timeout, at a
  // quarter of the shortest one (at least kMinSweepMs), and closes the connections past it.
  void sweepIdle();
  void touch(Connection* connection);
  int addDatagramSocket(Fd fd, std::unique_ptr<BuiltinHandler> builtin, size_t maxDatagramSize, uint32_t* id,
                        const char** failedSyscall);
  void onDatagramReady(DatagramSocket* socket);
  void answerDatagrams(DatagramSocket* socket, sys::Datagram* received, int count);
  void deliverDatagrams(DatagramSocket* socket, sys::Datagram* received, int count);
  uint8_t* datagramSlot(int index);
  void onConnected(Connection* connection);
  void readBuiltin(Connection* connection);
  void readToJs(Connection* connection);
  int32_t appendForJs(const uint8_t* data, size_t length, bool takeRoom);
  // One recv of up to `size` bytes into `into`: the count, or 0 / -errno once the peer's
  // end or the failure has been handled.
  ssize_t receive(Connection* connection, uint8_t* into, size_t size = kReadSize);
  // The same two with framing: frames, not chunks, go to the handler or to JavaScript.
  void readFramesBuiltin(Connection* connection);
  void readFramesToJs(Connection* connection);
  // Splits one read with the connection's endpoint's framer, keeping its partial frame.
  template <typename Emit>
  FrameStatus splitFrames(Connection* connection, const uint8_t* data, size_t length, Emit&& emit);
  void failFraming(Connection* connection, FrameStatus status);
  void onPeerEnd(Connection* connection);
  // Sends `data`, kernel first, queueing what it does not take.
  // Returns 0, or -errno when the connection failed (and was closed).
  int sendOrQueue(Connection* connection, const uint8_t* data, size_t length);
  // The same for bytes in parts, sent with one sendmsg.
  int sendPartsOrQueue(Connection* connection, const ByteView* parts, int count);
  void flushWriteQueue(Connection* connection);
  // The connection's buffers, made (or taken from the spares) if it has none.
  ConnectionBuffers& buffersOf(Connection* connection);
  // Lets the buffers go once neither part holds anything: kept as a spare when small.
  void releaseBuffersIfEmpty(Connection* connection);
  void finishEnd(Connection* connection);
  void fail(Connection* connection, int error, Syscall syscall);
  // Bytes read from or written to a connection, for the loop's and its endpoint's counters.
  void countRead(Connection* connection, uint64_t bytes) {
    stats_.bytesRead += bytes;
    connection->endpoint->bytesIn += bytes;
  }
  void countWritten(Connection* connection, uint64_t bytes) {
    stats_.bytesWritten += bytes;
    connection->endpoint->bytesOut += bytes;
  }
  void closeConnection(Connection* connection, int error, Syscall syscall, bool notify);
  void updateInterest(Socket* socket, uint32_t interest);
  uint32_t interestFor(const Connection* connection) const;
  Connection* find(uint32_t id);
  Endpoint* endpointFor(uint32_t id);
  void releaseEndpointIfIdle(Endpoint* endpoint);
  void addEndpoint(std::unique_ptr<Endpoint> endpoint);
  uint32_t nextEndpointId();
  // Frees the endpoint: nothing may use the pointer afterwards.
  void eraseEndpoint(Endpoint* endpoint);
  // Appends an event without bytes (see events.h for what each field means per type).
  void push(EventType type, uint32_t id, int32_t endpoint, int32_t code = 0, int32_t detail = 0);
  void pushConnectionEvent(EventType type, const Connection* connection, int32_t code = 0, int32_t detail = 0);
  uint32_t nextDatagramId();

  Poller poller_;
  // A spare descriptor released when accept() reports EMFILE, so the pending connection can
  // be accepted and closed instead of spinning on a listener that stays readable.
  Fd reserve_;
  ConnectionTable connections_;
  std::unordered_map<uint32_t, std::unique_ptr<Endpoint>> endpoints_;
  std::unordered_map<uint32_t, std::unique_ptr<DatagramSocket>> datagrams_;
  std::vector<std::unique_ptr<DatagramSocket>> closedDatagrams_;
  // sys::kMaxDatagramBatch receive slots of 64 KiB, made at the first UDP socket. Only the
  // pages datagrams touch become resident, so small datagrams cost little of the 4 MiB.
  std::unique_ptr<uint8_t[]> datagramBuffer_;
  // The senders of the datagrams in those slots.
  std::unique_ptr<SockAddr[]> datagramPeers_;
  std::vector<std::unique_ptr<Listener>> listenerStore_;
  uint32_t listeners_ = 0;
  // Closed sockets, freed at the start of the next runOnce().
  std::vector<std::unique_ptr<Listener>> closedListeners_;
  // One shared receive buffer for built-in and framed connections: idle connections hold none.
  std::unique_ptr<uint8_t[]> receiveBuffer_;
  std::vector<EventRecord> events_;
  ByteBuffer arena_;
  // Emptied ConnectionBuffers kept for reuse (tcp.cc kSpareBuffers).
  std::vector<std::unique_ptr<ConnectionBuffers>> spareBuffers_;
  ChunkHost chunkHost_;
  // Bytes of this batch in the host's chunks, counted against kBatchByteBudget.
  size_t chunkBytes_ = 0;
  // A built-in's framed replies to one read, gathered so they leave in one send().
  ByteBuffer replies_;
  Timer idleTimer_;
  // Endpoints with an idle timeout: the sweep timer runs while there are any.
  uint32_t idleEndpoints_ = 0;
  uint32_t lastDatagramId_ = 0;
  bool corking_ = false;
  // Connections holding corked bytes, by id (a destroyed one is simply not found).
  std::vector<uint32_t> corked_;
  // Connections marked by markGathering() for the batch being handled, by id.
  std::vector<uint32_t> gathering_;
  // PROXY protocol servers: the header bytes of connections whose header came split across
  // reads (until it is whole), and the client each finished header named, in 28 bytes (a
  // sockaddr_in6 holds a sockaddr_in too; a Unix client keeps only its family). Only such
  // connections have entries: every other connection pays nothing.
  std::unordered_map<uint32_t, std::vector<uint8_t>> proxyPartial_;
  std::unordered_map<uint32_t, sockaddr_in6> proxyClients_;
  // Inside runOnce(): events pushed now are delivered when it returns. Outside it (a call
  // from JavaScript), the first event pushed wakes the poller so the batch is delivered.
  bool running_ = false;
  HostPoller* host_ = nullptr;
  // UDP sockets to read again after the batch (readDatagramsAgain), by id.
  std::vector<uint32_t> rereads_;
  std::vector<uint32_t> rereading_;
  // Connections whose peer ended during the batch, still read-interested, by id (quietEnded).
  std::vector<uint32_t> endedUnquiet_;
  uint32_t lastEndpointId_ = 0;
  LoopStats stats_;
};

}  // namespace sockengine
