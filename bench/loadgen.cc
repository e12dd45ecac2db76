// loadgen.cc -- closed-loop load generator for the uppercase echo protocol.
//
// Why this exists: benchmark numbers for sockengine are only comparable if
// every server (sockengine, bench/reference/uppercase_server.c, anything
// else) is driven by the same client, with the same message shapes, and if
// that client is cheap enough not to be the bottleneck. Generic tools either
// do not speak this protocol or do not check the replies; a fast server that
// returns wrong bytes must fail the run, not win it. So this client verifies
// every reply byte and exits 3 on the first wrong one.
//
// It is closed-loop on purpose: each connection keeps a fixed number of
// messages in flight and only sends a new one when a reply completes, so the
// measured rate is what the server sustains rather than what we offer.
// It is single-threaded on purpose: the benchmark machine has two cores and
// the server under test gets the other one.
//
// Conventions that callers rely on:
//   * bytes_per_s counts reply payload bytes (one direction).
//   * server_cpu_util is a fraction of one core (1.0 = one core saturated);
//     it covers all threads of --pid.
//   * churn mode counts a completed connect/send/verify/close cycle as one
//     message; its latency is the whole cycle. Against a 127.0.0.0/8 address
//     its connections come from 64 loopback source addresses in turn,
//     127.0.0.2 and up (--sources N to choose; see tcp_connect_start).
//   * --framing (tcp ping-pong only) sends framed messages and expects one
//     reply frame of the same framing per message: `line` sends --size bytes
//     per message, --size - 1 bytes of text (ASCII, no CR or LF) and an LF,
//     and expects the uppercased text and an LF; `length:4` sends a 4-byte
//     big-endian length header and --size bytes of payload, and expects the
//     same header and the uppercased payload. A message counts when its whole
//     reply frame has arrived, however the replies are split across reads.
//     bytes_per_s counts --size per message (with the LF, without the header).
//     Without --framing the output is unchanged; with it the report names it.
//   * idle mode (tcp only) opens --connections connections, at most 256
//     still opening at a time, sends one --size message on each and verifies
//     the reply, so the server has accepted and served every one of them
//     (--size 0: connect only, no message; the caller must check that the
//     server has accepted them, e.g. by counting its descriptors).
//     It then prints one line, {"idle_ready":N,...} with --json, and holds
//     the connections open without traffic for --duration seconds (or until
//     a line or EOF on stdin with --stdin-release), so a caller can read the
//     server's memory; then it closes them and prints the report. A
//     connection the server closes while held counts as lost. Opening is
//     bounded to 2 s + 1 ms per connection.
//   * exit status: 0 ok; 1 connection failure, or a run that lost
//     connections or completed no message at all (the result is still
//     printed); 2 bad arguments; 3 wrong reply bytes.
//   * the process always stops by itself: connecting is bounded to 2 s
//     (idle mode: 2 s + 1 ms per connection), every wait has a timeout, and
//     a SIGALRM watchdog aborts the process at warmup + duration + 4.5 s
//     (plus the idle connect budget) in case of a bug.
//
// Build: g++ -std=c++17 -O2 -Wall -Wextra -o loadgen loadgen.cc

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <string>
#include <vector>

namespace {

using u64 = uint64_t;
using i64 = int64_t;

constexpr i64 kNsPerSec = 1000000000LL;
constexpr i64 kNsPerMs = 1000000LL;
constexpr i64 kConnectBudgetNs = 2 * kNsPerSec;
constexpr i64 kUdpLossNs = 200 * kNsPerMs;
constexpr size_t kRecvBuf = 65536;
constexpr int kMaxEvents = 512;

i64 now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<i64>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

// ---------------------------------------------------------------- options

enum class Transport { Tcp, Udp };
enum class Mode { PingPong, Churn, Idle };
enum class Framing { None, Line, Length4 };

struct Options {
  Transport transport = Transport::Tcp;
  Mode mode = Mode::PingPong;
  std::string host = "127.0.0.1";
  int port = -1;
  u64 connections = 1;
  u64 size = 64;
  u64 inflight = 1;
  double duration = 5.0;
  double warmup = 1.0;
  long pid = -1;
  bool json = false;
  bool stdin_release = false;  // idle mode: a line or EOF on stdin ends the hold early
  Framing framing = Framing::None;
  // --payload upper: send what the uppercase server would answer, so an echo is a correct
  // reply too (the bulk shape's "engine alone" variant: no byte loop in the server).
  bool upper_payload = false;
  // churn: how many loopback source addresses (127.0.0.2, 127.0.0.3, ...) the connections
  // take turns on; 0 means "choose": 64 for a 127.0.0.0/8 target, else 1 (the system's).
  u64 sources = 0;
};

const char* framing_name(Framing f) {
  switch (f) {
    case Framing::Line: return "line";
    case Framing::Length4: return "length:4";
    case Framing::None: break;
  }
  return "none";
}

const char kUsage[] =
    "usage: loadgen --transport tcp|udp --host ADDR --port P --connections N "
    "--size BYTES --inflight K --duration SECONDS [--warmup SECONDS] "
    "[--pid SERVER_PID] [--mode pingpong|churn|idle] [--sources N] [--framing line|length:4] "
    "[--payload mixed|upper] [--stdin-release] [--json]";

[[noreturn]] void usage_error(const std::string& why) {
  fprintf(stderr, "loadgen: %s; %s\n", why.c_str(), kUsage);
  exit(2);
}

u64 parse_u64(const char* name, const char* s, u64 lo, u64 hi) {
  char* end = nullptr;
  errno = 0;
  if (*s == '\0' || *s == '-') usage_error(std::string("bad value for ") + name + ": '" + s + "'");
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi)
    usage_error(std::string("bad value for ") + name + ": '" + s + "' (allowed " +
                std::to_string(lo) + ".." + std::to_string(hi) + ")");
  return v;
}

double parse_seconds(const char* name, const char* s, bool allow_zero) {
  char* end = nullptr;
  errno = 0;
  double v = strtod(s, &end);
  if (*s == '\0' || errno != 0 || *end != '\0' || !std::isfinite(v) || v < 0 ||
      (!allow_zero && v == 0) || v > 86400)
    usage_error(std::string("bad value for ") + name + ": '" + s + "'");
  return v;
}

Options parse_args(int argc, char** argv) {
  Options o;
  bool have_port = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (a == "--stdin-release") {
      o.stdin_release = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) usage_error("unexpected argument '" + a + "'");
    if (i + 1 >= argc) usage_error("missing value for " + a);
    const char* v = argv[++i];
    if (a == "--transport") {
      if (strcmp(v, "tcp") == 0) o.transport = Transport::Tcp;
      else if (strcmp(v, "udp") == 0) o.transport = Transport::Udp;
      else usage_error(std::string("bad transport '") + v + "'");
    } else if (a == "--mode") {
      if (strcmp(v, "pingpong") == 0) o.mode = Mode::PingPong;
      else if (strcmp(v, "churn") == 0) o.mode = Mode::Churn;
      else if (strcmp(v, "idle") == 0) o.mode = Mode::Idle;
      else usage_error(std::string("bad mode '") + v + "'");
    } else if (a == "--framing") {
      if (strcmp(v, "none") == 0) o.framing = Framing::None;
      else if (strcmp(v, "line") == 0) o.framing = Framing::Line;
      else if (strcmp(v, "length:4") == 0) o.framing = Framing::Length4;
      else usage_error(std::string("bad framing '") + v + "' (none, line or length:4)");
    } else if (a == "--payload") {
      if (strcmp(v, "mixed") == 0) o.upper_payload = false;
      else if (strcmp(v, "upper") == 0) o.upper_payload = true;
      else usage_error(std::string("bad payload '") + v + "' (mixed or upper)");
    } else if (a == "--host") {
      o.host = v;
    } else if (a == "--port") {
      o.port = static_cast<int>(parse_u64("--port", v, 1, 65535));
      have_port = true;
    } else if (a == "--connections") {
      o.connections = parse_u64("--connections", v, 1, 100000);
    } else if (a == "--size") {
      o.size = parse_u64("--size", v, 0, 64u << 20);
    } else if (a == "--inflight") {
      o.inflight = parse_u64("--inflight", v, 1, 1u << 20);
    } else if (a == "--duration") {
      o.duration = parse_seconds("--duration", v, false);
    } else if (a == "--warmup") {
      o.warmup = parse_seconds("--warmup", v, true);
    } else if (a == "--sources") {
      o.sources = parse_u64("--sources", v, 1, 250);
    } else if (a == "--pid") {
      o.pid = static_cast<long>(parse_u64("--pid", v, 1, 1u << 30));
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  if (!have_port) usage_error("--port is required");
  in_addr tmp;
  if (inet_pton(AF_INET, o.host.c_str(), &tmp) != 1)
    usage_error("--host must be an IPv4 address, got '" + o.host + "'");
  if (o.transport == Transport::Udp && o.mode == Mode::Churn)
    usage_error("--mode churn is tcp only");
  bool loopback_target = (ntohl(tmp.s_addr) >> 24) == 127;
  if (o.sources > 1 && (o.mode != Mode::Churn || !loopback_target))
    usage_error("--sources above 1 is for churn against a 127.0.0.0/8 address only");
  if (o.sources == 0) o.sources = o.mode == Mode::Churn && loopback_target ? 64 : 1;
  if (o.transport == Transport::Udp && o.mode == Mode::Idle)
    usage_error("--mode idle is tcp only");
  if (o.mode == Mode::Idle && o.size > 65536)
    usage_error("idle --size must be <= 65536");
  if (o.size == 0 && o.mode != Mode::Idle)
    usage_error("--size 0 (connect only, no message) is for idle mode only");
  if (o.transport == Transport::Udp && o.size > 65507)
    usage_error("udp --size must be <= 65507");
  if (o.mode == Mode::PingPong && o.connections * o.inflight * o.size > (1ull << 30))
    usage_error("connections * inflight * size exceeds 1 GiB");
  if (o.framing != Framing::None && (o.transport != Transport::Tcp || o.mode != Mode::PingPong))
    usage_error("--framing is for tcp ping-pong only");
  // One byte of text at least: an empty line would be a frame of nothing.
  if (o.framing == Framing::Line && o.size < 2)
    usage_error("--framing line needs --size >= 2 (the text and its LF)");
  return o;
}

// ------------------------------------------------------------- payloads
//
// Every payload is a window into one fixed pattern, starting at an offset
// that depends on (connection, message index). The pattern mixes lowercase
// letters with bytes that must survive untouched: digits, uppercase, the
// neighbours of 'a' and 'z' ('`' and '{', and '@' / '[' around 'A'..'Z'),
// NUL, newline and high bytes (a locale-aware toupper would change 0xe9).
// Because the expected reply is a pure function of what was sent, it is
// precomputed once (g_upper) and checked with memcmp. Lines (--framing line)
// take their text from an ASCII alphabet without LF, CR and high bytes: an LF
// would end the line early, and a line-framed server strips a CR before it.

constexpr u64 kPatternLen = 251;  // prime, so offsets cycle through all values
std::vector<uint8_t> g_plain;
std::vector<uint8_t> g_upper;

void build_pattern(u64 max_size, bool line_text) {
  static const uint8_t any_bytes[] =
      "abcdefghijklmnopqrstuvwxyz0123456789-ABCXYZ`{@[~ \n\x00\xe9\xff\x7f"
      "thequickbrownfoxjumpsoverthelazydog";
  static const uint8_t text_bytes[] =
      "abcdefghijklmnopqrstuvwxyz0123456789-ABCXYZ`{@[~ \t\x00\x7f"
      "thequickbrownfoxjumpsoverthelazydog";
  const uint8_t* alphabet = line_text ? text_bytes : any_bytes;
  // Keep the embedded NUL: sizeof counts it, minus the terminating one.
  const size_t alen = (line_text ? sizeof(text_bytes) : sizeof(any_bytes)) - 1;
  g_plain.resize(kPatternLen + max_size);
  g_upper.resize(kPatternLen + max_size);
  for (size_t i = 0; i < g_plain.size(); i++) {
    uint8_t c = alphabet[(i % kPatternLen) % alen];
    g_plain[i] = c;
    g_upper[i] = (c >= 'a' && c <= 'z') ? static_cast<uint8_t>(c - 32) : c;
  }
}

inline u64 pat_off(u64 conn, u64 msg) { return (conn * 131 + msg * 7) % kPatternLen; }

std::string show_byte(uint8_t b) {
  char tmp[32];
  if (b >= 0x20 && b < 0x7f)
    snprintf(tmp, sizeof(tmp), "0x%02x '%c'", b, b);
  else
    snprintf(tmp, sizeof(tmp), "0x%02x", b);
  return tmp;
}

Options g_opt;  // set once in main; read-only afterwards

std::string endpoint() { return g_opt.host + ":" + std::to_string(g_opt.port); }

[[noreturn]] void verify_fail(const char* what, u64 conn, u64 offset, const char* offset_kind,
                              u64 msg, u64 byte_in_msg, uint8_t expected, uint8_t got) {
  fprintf(stderr,
          "loadgen: VERIFICATION FAILED (%s %s): %s %llu, %s %llu (message %llu, byte %llu): "
          "expected %s, got %s\n",
          g_opt.transport == Transport::Tcp ? "tcp" : "udp", endpoint().c_str(), what,
          static_cast<unsigned long long>(conn), offset_kind,
          static_cast<unsigned long long>(offset), static_cast<unsigned long long>(msg),
          static_cast<unsigned long long>(byte_in_msg), show_byte(expected).c_str(),
          show_byte(got).c_str());
  exit(3);
}

// Index of the first differing byte; n if equal.
size_t first_diff(const uint8_t* a, const uint8_t* b, size_t n) {
  if (memcmp(a, b, n) == 0) return n;
  size_t i = 0;
  while (a[i] == b[i]) i++;
  return i;
}

[[noreturn]] void connect_fail(int err) {
  fprintf(stderr, "loadgen: cannot connect to %s (%s): %s\n", endpoint().c_str(),
          g_opt.transport == Transport::Tcp ? "tcp" : "udp", strerror(err));
  exit(1);
}

[[noreturn]] void sys_fail(const char* what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(1);
}

// ------------------------------------------------------------ histogram
//
// Log-linear buckets: exact below 64 ns, then 32 sub-buckets per power of
// two (about 3% relative error), so memory is fixed whatever the run length.

class Histogram {
 public:
  Histogram() : buckets_(64 + 58 * 32, 0) {}
  void add(i64 v) {
    u64 x = v < 0 ? 0 : static_cast<u64>(v);
    buckets_[index(x)]++;
    count_++;
  }
  u64 count() const { return count_; }
  // Value (ns) at quantile q in [0,1]; midpoint of the bucket.
  double quantile(double q) const {
    if (count_ == 0) return 0;
    u64 rank = static_cast<u64>(std::ceil(q * static_cast<double>(count_)));
    if (rank < 1) rank = 1;
    u64 seen = 0;
    for (size_t i = 0; i < buckets_.size(); i++) {
      seen += buckets_[i];
      if (seen >= rank) return midpoint(i);
    }
    return midpoint(buckets_.size() - 1);
  }

 private:
  static size_t index(u64 x) {
    if (x < 64) return static_cast<size_t>(x);
    int e = 63 - __builtin_clzll(x);  // >= 6
    u64 sub = (x >> (e - 5)) & 31;
    return 64 + static_cast<size_t>(e - 6) * 32 + static_cast<size_t>(sub);
  }
  static double midpoint(size_t i) {
    if (i < 64) return static_cast<double>(i);
    int e = static_cast<int>((i - 64) / 32) + 6;
    u64 sub = (i - 64) % 32;
    double lo = std::ldexp(static_cast<double>(32 + sub), e - 5);
    return lo + std::ldexp(1.0, e - 5) / 2.0;
  }
  std::vector<u64> buckets_;
  u64 count_ = 0;
};

// ------------------------------------------------------- server CPU time

bool read_proc_cpu_ns(long pid, i64* out) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  FILE* f = fopen(path, "re");
  if (!f) return false;
  char buf[4096];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  // comm (field 2) may contain spaces and ')' -- fields resume after the last ')'.
  char* p = strrchr(buf, ')');
  if (!p) return false;
  p++;
  // Tokens after ')' are fields 3, 4, ...; utime is field 14, stime 15.
  unsigned long long utime = 0, stime = 0;
  int field = 2;
  char* save = nullptr;
  for (char* tok = strtok_r(p, " ", &save); tok; tok = strtok_r(nullptr, " ", &save)) {
    field++;
    if (field == 14) utime = strtoull(tok, nullptr, 10);
    if (field == 15) {
      stime = strtoull(tok, nullptr, 10);
      break;
    }
  }
  if (field != 15) return false;
  long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0) return false;
  *out = static_cast<i64>((utime + stime) * (kNsPerSec / hz));
  return true;
}

// ------------------------------------------------------ run phase control

struct Run {
  i64 t_start = 0;        // when load starts (after connecting)
  i64 warm_end = 0;       // planned start of measurement
  i64 meas_end_plan = 0;  // planned end of measurement
  bool measuring = false;
  bool done = false;
  i64 meas_start = 0;
  i64 meas_end = 0;
  bool cpu_ok = false;
  i64 cpu0 = 0;
  i64 cpu1 = 0;

  u64 messages = 0;
  u64 errors = 0;
  u64 lost = 0;
  Histogram hist;

  void begin(i64 now) {
    t_start = now;
    warm_end = now + static_cast<i64>(g_opt.warmup * kNsPerSec);
    meas_end_plan = warm_end + static_cast<i64>(g_opt.duration * kNsPerSec);
  }
  // Advances the phase; returns false once the run is over.
  bool tick(i64 now) {
    if (!measuring && !done && now >= warm_end) {
      measuring = true;
      if (g_opt.pid > 0) cpu_ok = read_proc_cpu_ns(g_opt.pid, &cpu0);
      meas_start = now_ns();
    }
    if (measuring && now >= meas_end_plan) finish(now_ns());
    return !done;
  }
  void finish(i64 now) {
    if (done) return;
    if (!measuring) {  // ended before the warmup was over
      meas_start = now;
      measuring = true;
    }
    meas_end = now;
    measuring = false;
    done = true;
    if (g_opt.pid > 0 && cpu_ok) {
      cpu_ok = read_proc_cpu_ns(g_opt.pid, &cpu1);
      if (!cpu_ok) fprintf(stderr, "loadgen: warning: server pid %ld vanished\n", g_opt.pid);
    }
  }
  // epoll timeout up to the next phase boundary, capped so periodic work runs.
  int timeout_ms(i64 now, i64 cap_ms) const {
    i64 next = measuring ? meas_end_plan : warm_end;
    i64 ms = (next - now + kNsPerMs - 1) / kNsPerMs;
    if (ms < 0) ms = 0;
    return static_cast<int>(std::min(ms, cap_ms));
  }
};

Run g_run;

int make_epoll() {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) sys_fail("epoll_create1");
  return ep;
}

void ep_ctl(int ep, int op, int fd, uint32_t events, u64 data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  if (epoll_ctl(ep, op, fd, &ev) < 0) sys_fail("epoll_ctl");
}

int ep_wait(int ep, epoll_event* evs, int timeout_ms) {
  for (;;) {
    int n = epoll_wait(ep, evs, kMaxEvents, timeout_ms);
    if (n >= 0) return n;
    if (errno != EINTR) sys_fail("epoll_wait");
    // A retry after EINTR may wait a little longer than planned; callers
    // re-check the clock every iteration, so the run stays bounded.
  }
}

sockaddr_in server_addr() {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(g_opt.port));
  inet_pton(AF_INET, g_opt.host.c_str(), &sa.sin_addr);
  return sa;
}

// Starts a nonblocking TCP connect, from loopback source address `source` (0: the
// system's choice; n: 127.0.0.(n + 1)). Returns fd, or -1 with errno set.
//
// Why churn spreads its connections over sources: the client closes first, so every cycle
// leaves a TIME_WAIT socket holding its ephemeral port, and connect() must search the port
// range for one whose 4-tuple is free. From one source at about 14,000 connections/s that
// search (__inet_hash_connect, __inet_check_established in `perf record -C 0`) took about
// 30% of the load generator's core, which was 95% busy: every fast server measured the same
// ~14,000/s, the load generator's limit. With 64 sources each port is found at once.
int tcp_connect_start(u64 source = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (source > 0) {
    // The port is still chosen by connect() (IP_BIND_ADDRESS_NO_PORT), per source address.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl((127u << 24) | static_cast<uint32_t>(source + 1));
    if (bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) < 0) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
  }
  sockaddr_in sa = server_addr();
  int r;
  do {
    r = connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
  } while (r < 0 && errno == EINTR);
  // EINTR on connect leaves it in progress; the retry then reports EALREADY.
  if (r < 0 && errno != EINPROGRESS && errno != EALREADY) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
  return err;
}

// ------------------------------------------------------- tcp ping-pong

// One message on the wire, and its reply: a header, the payload (uppercased in
// the reply), a trailer. Every message has the same size, so the header and
// trailer are the same bytes for all of them; only the payload's window into
// the pattern differs. Unframed: the payload alone.
struct WireLayout {
  uint8_t header[4] = {};
  u64 header_len = 0;
  u64 payload_len = 0;
  u64 trailer_len = 0;  // 1 for line framing: the LF
  u64 total() const { return header_len + payload_len + trailer_len; }
};

WireLayout wire_layout() {
  WireLayout w;
  switch (g_opt.framing) {
    case Framing::None:
      w.payload_len = g_opt.size;
      break;
    case Framing::Line:
      w.payload_len = g_opt.size - 1;
      w.trailer_len = 1;
      break;
    case Framing::Length4:
      w.header_len = 4;
      w.payload_len = g_opt.size;
      for (int b = 0; b < 4; b++) w.header[b] = static_cast<uint8_t>(g_opt.size >> (8 * (3 - b)));
      break;
  }
  return w;
}

constexpr uint8_t kLineEnd = '\n';

struct TcpConn {
  int fd = -1;
  bool alive = false;
  bool connected = false;
  bool want_out = false;
  std::vector<uint8_t> out;  // queued request bytes not yet accepted by send()
  size_t out_head = 0;
  u64 next_msg = 0;          // index of the next message to queue
  u64 recv_off = 0;          // reply bytes verified so far (stream offset)
  std::vector<i64> sent_at;  // send time per in-flight message, slot = msg % K
};

class TcpPingPong {
 public:
  TcpPingPong() : conns_(g_opt.connections), ep_(make_epoll()), wire_(wire_layout()) {}

  void run() {
    connect_all();
    i64 now = now_ns();
    g_run.begin(now);
    for (u64 i = 0; i < conns_.size(); i++) {
      TcpConn& c = conns_[i];
      c.sent_at.assign(g_opt.inflight, now);
      for (u64 k = 0; k < g_opt.inflight; k++) queue_msg(i, now);
      flush(i);
    }
    std::vector<epoll_event> evs(kMaxEvents);
    while (g_run.tick(now_ns())) {
      if (live_ == 0) {
        g_run.finish(now_ns());
        break;
      }
      int n = ep_wait(ep_, evs.data(), g_run.timeout_ms(now_ns(), 100));
      for (int j = 0; j < n; j++) {
        u64 i = evs[j].data.u64;
        TcpConn& c = conns_[i];
        if (!c.alive) continue;
        uint32_t e = evs[j].events;
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(i);
        if (c.alive && (e & EPOLLOUT)) flush(i);
      }
    }
  }

 private:
  void connect_all() {
    i64 deadline = now_ns() + kConnectBudgetNs;
    u64 pending = 0;
    for (u64 i = 0; i < conns_.size(); i++) {
      int fd = tcp_connect_start();
      if (fd < 0) connect_fail(errno);
      conns_[i].fd = fd;
      conns_[i].alive = true;
      ep_ctl(ep_, EPOLL_CTL_ADD, fd, EPOLLOUT, i);
      pending++;
    }
    std::vector<epoll_event> evs(kMaxEvents);
    while (pending > 0) {
      i64 left = deadline - now_ns();
      if (left <= 0) connect_fail(ETIMEDOUT);
      int n = ep_wait(ep_, evs.data(), static_cast<int>((left + kNsPerMs - 1) / kNsPerMs));
      for (int j = 0; j < n; j++) {
        TcpConn& c = conns_[evs[j].data.u64];
        if (c.connected) continue;
        int err = socket_error(c.fd);
        if (err != 0) connect_fail(err);
        c.connected = true;
        ep_ctl(ep_, EPOLL_CTL_MOD, c.fd, EPOLLIN, evs[j].data.u64);
        pending--;
      }
    }
    live_ = conns_.size();
  }

  void queue_msg(u64 i, i64 now) {
    TcpConn& c = conns_[i];
    if (c.out_head == c.out.size()) {
      c.out.clear();
      c.out_head = 0;
    } else if (c.out_head >= 65536 && c.out_head * 2 >= c.out.size()) {
      c.out.erase(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(c.out_head));
      c.out_head = 0;
    }
    u64 m = c.next_msg++;
    const uint8_t* p = g_plain.data() + pat_off(i, m);
    c.out.insert(c.out.end(), wire_.header, wire_.header + wire_.header_len);
    c.out.insert(c.out.end(), p, p + wire_.payload_len);
    if (wire_.trailer_len) c.out.push_back(kLineEnd);
    c.sent_at[m % g_opt.inflight] = now;
  }

  void lose(u64 i, const char* why, int err) {
    TcpConn& c = conns_[i];
    if (!c.alive) return;
    g_run.errors++;
    if (g_run.errors <= 10)
      fprintf(stderr, "loadgen: connection %llu to %s lost: %s%s%s\n",
              static_cast<unsigned long long>(i), endpoint().c_str(), why, err ? ": " : "",
              err ? strerror(err) : "");
    close(c.fd);  // also removes it from the epoll set
    c.fd = -1;
    c.alive = false;
    live_--;
  }

  void flush(u64 i) {
    TcpConn& c = conns_[i];
    while (c.out_head < c.out.size()) {
      ssize_t w = send(c.fd, c.out.data() + c.out_head, c.out.size() - c.out_head, MSG_NOSIGNAL);
      if (w > 0) {
        c.out_head += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      lose(i, "send failed", errno);
      return;
    }
    bool need_out = c.out_head < c.out.size();
    if (need_out != c.want_out) {
      ep_ctl(ep_, EPOLL_CTL_MOD, c.fd, EPOLLIN | (need_out ? EPOLLOUT : 0u), i);
      c.want_out = need_out;
    }
  }

  void on_readable(u64 i) {
    TcpConn& c = conns_[i];
    for (;;) {
      ssize_t r = recv(c.fd, buf_, kRecvBuf, 0);
      if (r > 0) {
        consume(i, buf_, static_cast<size_t>(r), now_ns());
        if (static_cast<size_t>(r) < kRecvBuf) break;  // probably drained
        continue;
      }
      if (r == 0) {
        lose(i, "server closed the connection", 0);
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      lose(i, "recv failed", errno);
      return;
    }
    flush(i);
  }

  // The replies form one stream: reply m occupies [m * total, (m + 1) * total)
  // of it, so each received byte has one expected value wherever the reads
  // split the stream, and a reply frame is complete when its last byte is in.
  void consume(u64 i, const uint8_t* data, size_t n, i64 now) {
    TcpConn& c = conns_[i];
    const u64 size = wire_.total();
    // A reply can never run ahead of the requests queued so far.
    u64 sent_bytes = c.next_msg * size;
    while (n > 0) {
      u64 m = c.recv_off / size;
      u64 at = c.recv_off % size;
      size_t chunk = static_cast<size_t>(std::min<u64>(n, size - at));
      if (c.recv_off + chunk > sent_bytes) {
        fprintf(stderr,
                "loadgen: VERIFICATION FAILED (tcp %s): connection %llu received more bytes "
                "than it sent (stream offset %llu, %llu bytes sent)\n",
                endpoint().c_str(), static_cast<unsigned long long>(i),
                static_cast<unsigned long long>(c.recv_off + chunk),
                static_cast<unsigned long long>(sent_bytes));
        exit(3);
      }
      if (g_opt.framing == Framing::None) {
        const uint8_t* exp = g_upper.data() + pat_off(i, m) + at;
        size_t d = first_diff(exp, data, chunk);
        if (d != chunk)
          verify_fail("connection", i, c.recv_off + d, "stream offset", m, at + d, exp[d], data[d]);
      } else {
        verify_frame_bytes(i, m, at, data, chunk);
      }
      c.recv_off += chunk;
      data += chunk;
      n -= chunk;
      if (at + chunk == size) {  // message m fully answered
        if (g_run.measuring) {
          g_run.messages++;
          g_run.hist.add(now - c.sent_at[m % g_opt.inflight]);
        }
        queue_msg(i, now);
        sent_bytes += size;
      }
    }
  }

  // Checks bytes [at, at + n) of the reply frame to message m, part by part.
  void verify_frame_bytes(u64 i, u64 m, u64 at, const uint8_t* data, size_t n) {
    const u64 payload_end = wire_.header_len + wire_.payload_len;
    size_t done = 0;
    while (done < n) {
      const u64 pos = at + done;
      const uint8_t* exp;
      size_t len;
      if (pos < wire_.header_len) {
        exp = wire_.header + pos;
        len = static_cast<size_t>(std::min<u64>(n - done, wire_.header_len - pos));
      } else if (pos < payload_end) {
        exp = g_upper.data() + pat_off(i, m) + (pos - wire_.header_len);
        len = static_cast<size_t>(std::min<u64>(n - done, payload_end - pos));
      } else {
        exp = &kLineEnd;
        len = 1;
      }
      size_t d = first_diff(exp, data + done, len);
      if (d != len) frame_fail(i, m, pos + d, exp[d], data[done + d]);
      done += len;
    }
  }

  [[noreturn]] void frame_fail(u64 i, u64 m, u64 pos, uint8_t expected, uint8_t got) {
    const u64 stream_offset = m * wire_.total() + pos;
    char part[160];
    if (pos < wire_.header_len) {
      snprintf(part, sizeof(part), "length header byte %llu", static_cast<unsigned long long>(pos));
    } else if (pos < wire_.header_len + wire_.payload_len) {
      const u64 p = pos - wire_.header_len;
      snprintf(part, sizeof(part), "payload byte %llu of %llu%s", static_cast<unsigned long long>(p),
               static_cast<unsigned long long>(wire_.payload_len),
               g_opt.framing == Framing::Line && got == kLineEnd ? ": the reply line ended early" : "");
    } else {
      snprintf(part, sizeof(part), "the line's LF: the reply line is longer than the request");
    }
    fprintf(stderr,
            "loadgen: VERIFICATION FAILED (tcp %s, framing %s): connection %llu, stream offset %llu "
            "(reply frame %llu, %s): expected %s, got %s\n",
            endpoint().c_str(), framing_name(g_opt.framing), static_cast<unsigned long long>(i),
            static_cast<unsigned long long>(stream_offset), static_cast<unsigned long long>(m), part,
            show_byte(expected).c_str(), show_byte(got).c_str());
    exit(3);
  }

  std::vector<TcpConn> conns_;
  int ep_;
  const WireLayout wire_;
  u64 live_ = 0;
  uint8_t buf_[kRecvBuf];
};

// ---------------------------------------------------------- tcp churn

struct Worker {
  enum State { Idle, Connecting, Active } state = Idle;
  int fd = -1;
  uint32_t armed = 0;  // events currently registered with epoll
  u64 cycle = 0;
  size_t sent = 0;
  size_t got = 0;
  i64 t_start = 0;
  i64 retry_at = 0;  // when Idle after a failure: earliest retry time
};

class TcpChurn {
 public:
  TcpChurn() : workers_(g_opt.connections), ep_(make_epoll()) {}

  void run() {
    i64 now = now_ns();
    g_run.begin(now);
    first_deadline_ = now + kConnectBudgetNs;
    for (u64 w = 0; w < workers_.size(); w++) start(w, now);
    std::vector<epoll_event> evs(kMaxEvents);
    while (g_run.tick(now = now_ns())) {
      if (!ever_connected_ && now >= first_deadline_) connect_fail(ETIMEDOUT);
      if (backoff_ > 0) {
        for (u64 w = 0; w < workers_.size(); w++) {
          Worker& k = workers_[w];
          if (k.state == Worker::Idle && now >= k.retry_at) {
            backoff_--;
            start(w, now);
          }
        }
      }
      int n = ep_wait(ep_, evs.data(), g_run.timeout_ms(now, backoff_ > 0 ? 1 : 100));
      for (int j = 0; j < n; j++) on_event(evs[j].data.u64, evs[j].events);
    }
  }

 private:
  void start(u64 w, i64 now) {
    Worker& k = workers_[w];
    k.sent = k.got = 0;
    k.t_start = now;
    int fd = tcp_connect_start(g_opt.sources > 1 ? 1 + next_source_++ % g_opt.sources : 0);
    if (fd < 0) return fail(w, "connect failed", errno, now);
    k.fd = fd;
    k.state = Worker::Connecting;
    k.armed = EPOLLOUT;
    ep_ctl(ep_, EPOLL_CTL_ADD, fd, EPOLLOUT, w);
  }

  // A cycle failed: count it and retry this worker shortly (not in a hot loop).
  void fail(u64 w, const char* why, int err, i64 now) {
    Worker& k = workers_[w];
    if (!ever_connected_ && (err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH))
      connect_fail(err);
    g_run.errors++;
    if (g_run.errors <= 10)
      fprintf(stderr, "loadgen: churn worker %llu (%s): %s%s%s\n",
              static_cast<unsigned long long>(w), endpoint().c_str(), why, err ? ": " : "",
              err ? strerror(err) : "");
    if (k.fd >= 0) close(k.fd);
    k.fd = -1;
    k.state = Worker::Idle;
    k.retry_at = now + kNsPerMs;
    backoff_++;
  }

  void on_event(u64 w, uint32_t e) {
    Worker& k = workers_[w];
    i64 now = now_ns();
    if (k.state == Worker::Connecting) {
      int err = socket_error(k.fd);
      if (err != 0) return fail(w, "connect failed", err, now);
      ever_connected_ = true;
      k.state = Worker::Active;
      return send_more(w, now);
    }
    if (k.state != Worker::Active) return;
    // Read before writing: a large request can fill both directions' buffers.
    if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      if (!receive(w, now)) return;
    }
    if (k.sent < g_opt.size) send_more(w, now);
  }

  void send_more(u64 w, i64 now) {
    Worker& k = workers_[w];
    const uint8_t* p = g_plain.data() + pat_off(w, k.cycle);
    while (k.sent < g_opt.size) {
      ssize_t r = send(k.fd, p + k.sent, g_opt.size - k.sent, MSG_NOSIGNAL);
      if (r > 0) {
        k.sent += static_cast<size_t>(r);
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return fail(w, "send failed", errno, now);
    }
    uint32_t want = EPOLLIN | (k.sent < g_opt.size ? EPOLLOUT : 0u);
    if (want != k.armed) {
      ep_ctl(ep_, EPOLL_CTL_MOD, k.fd, want, w);
      k.armed = want;
    }
  }

  // Returns false if the worker finished or failed (its fd is gone).
  bool receive(u64 w, i64 now) {
    Worker& k = workers_[w];
    for (;;) {
      ssize_t r = recv(k.fd, buf_, kRecvBuf, 0);
      if (r > 0) {
        size_t n = static_cast<size_t>(r);
        if (k.got + n > k.sent) {
          fprintf(stderr,
                  "loadgen: VERIFICATION FAILED (tcp %s): churn worker %llu received %zu bytes "
                  "but has sent only %zu\n",
                  endpoint().c_str(), static_cast<unsigned long long>(w), k.got + n, k.sent);
          exit(3);
        }
        const uint8_t* exp = g_upper.data() + pat_off(w, k.cycle) + k.got;
        size_t d = first_diff(exp, buf_, n);
        if (d != n)
          verify_fail("churn worker", w, k.got + d, "offset", k.cycle, k.got + d, exp[d], buf_[d]);
        k.got += n;
        if (k.got == g_opt.size) {
          complete(w, now_ns());
          return false;
        }
        continue;
      }
      if (r == 0) {
        fail(w, "server closed before the full reply", 0, now);
        return false;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      fail(w, "recv failed", errno, now);
      return false;
    }
  }

  void complete(u64 w, i64 now) {
    Worker& k = workers_[w];
    close(k.fd);
    k.fd = -1;
    if (g_run.measuring) {
      g_run.messages++;
      g_run.hist.add(now - k.t_start);
    }
    k.cycle++;
    k.state = Worker::Idle;
    start(w, now);
  }

  std::vector<Worker> workers_;
  int ep_;
  u64 backoff_ = 0;  // workers waiting to retry after a failure
  u64 next_source_ = 0;  // the next connection's source address (--sources)
  bool ever_connected_ = false;
  i64 first_deadline_ = 0;
  uint8_t buf_[kRecvBuf];
};

// ----------------------------------------------------------- tcp idle

// Connections still opening (connect + first echo) at any moment: keeps the
// server's accept queue (backlog 511 for node:net and sockengine) from
// overflowing, which would cost a 1 s SYN retransmit per dropped connection.
constexpr u64 kIdleOpening = 256;

i64 idle_connect_budget_ns() { return kConnectBudgetNs + static_cast<i64>(g_opt.connections) * kNsPerMs; }

u64 g_idle_ready = 0;      // connections opened, echoed and verified
double g_idle_held_s = 0;  // how long they were held without traffic

struct IdleConn {
  enum State { Connecting, Echoing, Ready, Gone } state = Connecting;
  int fd = -1;
  uint32_t armed = 0;
  size_t sent = 0;
  size_t got = 0;
  i64 t_start = 0;
};

class TcpIdle {
 public:
  TcpIdle() : conns_(g_opt.connections), ep_(make_epoll()) {}

  void run() {
    const u64 total = conns_.size();
    i64 now = now_ns();
    const i64 deadline = now + idle_connect_budget_ns();
    g_run.t_start = g_run.meas_start = now;
    g_run.measuring = true;
    if (g_opt.pid > 0) g_run.cpu_ok = read_proc_cpu_ns(g_opt.pid, &g_run.cpu0);

    // Phase 1: open every connection and echo one message on it.
    std::vector<epoll_event> evs(kMaxEvents);
    u64 next = 0;
    while (g_idle_ready + gone_ < total) {
      while (opening_ < kIdleOpening && next < total) open_one(next++, now_ns());
      now = now_ns();
      if (now >= deadline) {
        fprintf(stderr, "loadgen: idle: only %llu of %llu connections to %s ready after %lld ms\n",
                static_cast<unsigned long long>(g_idle_ready), static_cast<unsigned long long>(total),
                endpoint().c_str(), static_cast<long long>((now - g_run.t_start) / kNsPerMs));
        g_run.errors++;
        break;
      }
      int n = ep_wait(ep_, evs.data(), static_cast<int>(std::min<i64>(100, (deadline - now) / kNsPerMs + 1)));
      for (int j = 0; j < n; j++) on_event(evs[j].data.u64, evs[j].events);
    }
    g_run.finish(now_ns());
    g_run.messages = g_idle_ready;

    // Phase 2: hold them, with no traffic at all, while the caller looks at the server.
    if (g_opt.json)
      printf("{\"idle_ready\":%llu,\"open_s\":%.3f}\n", static_cast<unsigned long long>(g_idle_ready),
             static_cast<double>(g_run.meas_end - g_run.meas_start) / kNsPerSec);
    else
      printf("idle: %llu connections ready in %.3f s, holding for %.1f s\n",
             static_cast<unsigned long long>(g_idle_ready),
             static_cast<double>(g_run.meas_end - g_run.meas_start) / kNsPerSec, g_opt.duration);
    fflush(stdout);
    // Nothing to hold if not every connection made it: the run has failed already.
    const bool hold = g_idle_ready == total;
    bool watch_stdin = false;
    if (hold && g_opt.stdin_release) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kStdinToken;
      // A regular file or /dev/null cannot be polled: then the hold runs its full length.
      watch_stdin = epoll_ctl(ep_, EPOLL_CTL_ADD, 0, &ev) == 0;
    }
    const i64 hold_start = now_ns();
    const i64 hold_end = hold_start + (hold ? static_cast<i64>(g_opt.duration * kNsPerSec) : 0);
    bool released = false;
    while (!released && (now = now_ns()) < hold_end) {
      int n = ep_wait(ep_, evs.data(), static_cast<int>(std::min<i64>(100, (hold_end - now) / kNsPerMs + 1)));
      for (int j = 0; j < n; j++) {
        if (evs[j].data.u64 == kStdinToken) {
          char tmp[256];
          ssize_t r = read(0, tmp, sizeof(tmp));
          if (r >= 0 || (errno != EINTR && errno != EAGAIN)) released = true;
          if (released && watch_stdin) epoll_ctl(ep_, EPOLL_CTL_DEL, 0, nullptr);
          continue;
        }
        on_event(evs[j].data.u64, evs[j].events);
      }
    }
    g_idle_held_s = static_cast<double>(now_ns() - hold_start) / kNsPerSec;
    for (IdleConn& c : conns_) {
      if (c.fd >= 0) close(c.fd);
      c.fd = -1;
    }
  }

 private:
  static constexpr u64 kStdinToken = ~0ull;

  void open_one(u64 i, i64 now) {
    IdleConn& c = conns_[i];
    int fd = tcp_connect_start();
    if (fd < 0) connect_fail(errno);  // EMFILE, EADDRNOTAVAIL...: the run cannot be done
    c.fd = fd;
    c.t_start = now;
    c.state = IdleConn::Connecting;
    arm(i, EPOLLOUT, EPOLL_CTL_ADD);
    opening_++;
  }

  void arm(u64 i, uint32_t events, int op = EPOLL_CTL_MOD) {
    IdleConn& c = conns_[i];
    if (op == EPOLL_CTL_MOD && c.armed == events) return;
    ep_ctl(ep_, op, c.fd, events, i);
    c.armed = events;
  }

  void lose(u64 i, const char* why, int err) {
    IdleConn& c = conns_[i];
    if (c.state == IdleConn::Gone) return;
    // Nothing listens there at all: say so at once instead of counting failures.
    if (g_idle_ready == 0 && gone_ == 0 && (err == ECONNREFUSED || err == ENETUNREACH || err == EHOSTUNREACH))
      connect_fail(err);
    if (c.state == IdleConn::Ready) {
      g_run.lost++;
      g_idle_ready--;
    } else {
      g_run.errors++;
      opening_--;
    }
    if (g_run.errors + g_run.lost <= 10)
      fprintf(stderr, "loadgen: idle connection %llu to %s lost: %s%s%s\n", static_cast<unsigned long long>(i),
              endpoint().c_str(), why, err ? ": " : "", err ? strerror(err) : "");
    close(c.fd);
    c.fd = -1;
    c.state = IdleConn::Gone;
    gone_++;
  }

  void on_event(u64 i, uint32_t e) {
    IdleConn& c = conns_[i];
    switch (c.state) {
      case IdleConn::Gone:
        return;
      case IdleConn::Connecting: {
        int err = socket_error(c.fd);
        if (err != 0) return lose(i, "connect failed", err);
        if (g_opt.size == 0) return ready(i);  // connect only: the caller checks the server accepted
        c.state = IdleConn::Echoing;
        return send_more(i);
      }
      case IdleConn::Echoing:
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
          receive(i);
          if (c.state != IdleConn::Echoing) return;
        }
        if (e & EPOLLOUT) send_more(i);
        return;
      case IdleConn::Ready:
        return receive(i);
    }
  }

  void ready(u64 i) {
    IdleConn& c = conns_[i];
    c.state = IdleConn::Ready;
    opening_--;
    g_idle_ready++;
    g_run.hist.add(now_ns() - c.t_start);
    arm(i, EPOLLIN);
  }

  void send_more(u64 i) {
    IdleConn& c = conns_[i];
    const uint8_t* p = g_plain.data() + pat_off(i, 0);
    while (c.sent < g_opt.size) {
      ssize_t w = send(c.fd, p + c.sent, g_opt.size - c.sent, MSG_NOSIGNAL);
      if (w > 0) {
        c.sent += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return lose(i, "send failed", errno);
    }
    arm(i, EPOLLIN | (c.sent < g_opt.size ? EPOLLOUT : 0u));
  }

  void receive(u64 i) {
    IdleConn& c = conns_[i];
    for (;;) {
      ssize_t r = recv(c.fd, buf_, kRecvBuf, 0);
      if (r > 0) {
        size_t n = static_cast<size_t>(r);
        if (c.got + n > c.sent) {
          fprintf(stderr,
                  "loadgen: VERIFICATION FAILED (tcp %s): idle connection %llu received %zu bytes "
                  "but has sent only %zu\n",
                  endpoint().c_str(), static_cast<unsigned long long>(i), c.got + n, c.sent);
          exit(3);
        }
        const uint8_t* exp = g_upper.data() + pat_off(i, 0) + c.got;
        size_t d = first_diff(exp, buf_, n);
        if (d != n) verify_fail("idle connection", i, c.got + d, "stream offset", 0, c.got + d, exp[d], buf_[d]);
        c.got += n;
        if (c.got == g_opt.size) return ready(i);
        continue;
      }
      if (r == 0) return lose(i, "server closed the connection", 0);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return lose(i, "recv failed", errno);
    }
  }

  std::vector<IdleConn> conns_;
  int ep_;
  u64 opening_ = 0;
  u64 gone_ = 0;
  uint8_t buf_[kRecvBuf];
};

// --------------------------------------------------------------- udp

// Sequence numbers ride in the first 8 bytes as 7-bit groups with the high
// bit set: bytes >= 0x80 are never touched by the a-z transform, so the
// header must come back verbatim. 56 bits of sequence is plenty.
constexpr size_t kSeqBytes = 8;

void encode_seq(uint8_t* p, u64 seq) {
  for (size_t b = 0; b < kSeqBytes; b++) p[b] = static_cast<uint8_t>(0x80 | ((seq >> (7 * b)) & 0x7f));
}

struct UdpSock {
  int fd = -1;
  std::vector<u64> slot_seq;  // seq in flight per slot; slot = seq % K
  std::vector<i64> slot_sent;
  std::deque<u64> abandoned;  // given-up seqs, only used when size < 8
};

class UdpPingPong {
 public:
  UdpPingPong() : socks_(g_opt.connections), ep_(make_epoll()), sbuf_(g_opt.size) {}

  void run() {
    sockaddr_in sa = server_addr();
    const int want_buf = static_cast<int>(std::min<u64>(4u << 20, g_opt.inflight * (g_opt.size + 64) * 2));
    for (u64 i = 0; i < socks_.size(); i++) {
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) sys_fail("socket");
      int cur = 0;
      socklen_t len = sizeof(cur);
      getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cur, &len);
      if (cur < want_buf) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want_buf, sizeof(want_buf));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want_buf, sizeof(want_buf));
      }
      if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) < 0) connect_fail(errno);
      socks_[i].fd = fd;
      ep_ctl(ep_, EPOLL_CTL_ADD, fd, EPOLLIN, i);
    }
    i64 now = now_ns();
    g_run.begin(now);
    const i64 first_deadline = now + kConnectBudgetNs;
    for (u64 i = 0; i < socks_.size(); i++) {
      UdpSock& s = socks_[i];
      s.slot_seq.resize(g_opt.inflight);
      s.slot_sent.resize(g_opt.inflight);
      for (u64 k = 0; k < g_opt.inflight; k++) {
        s.slot_seq[k] = k;
        send_dgram(i, k, now);
      }
    }
    std::vector<epoll_event> evs(kMaxEvents);
    i64 next_loss_check = now + 10 * kNsPerMs;
    while (g_run.tick(now = now_ns())) {
      if (!any_reply_ && now >= first_deadline) {
        fprintf(stderr, "loadgen: no reply from udp %s within %lld ms\n", endpoint().c_str(),
                static_cast<long long>(kConnectBudgetNs / kNsPerMs));
        exit(1);
      }
      if (now >= next_loss_check) {
        check_losses(now);
        next_loss_check = now + 10 * kNsPerMs;
      }
      int n = ep_wait(ep_, evs.data(), g_run.timeout_ms(now, 10));
      for (int j = 0; j < n; j++) on_readable(evs[j].data.u64);
    }
  }

 private:
  void fill(u64 i, u64 seq) {
    const uint8_t* src = g_plain.data() + pat_off(i, seq);
    if (g_opt.size >= kSeqBytes) {
      encode_seq(sbuf_.data(), seq);
      memcpy(sbuf_.data() + kSeqBytes, src + kSeqBytes, g_opt.size - kSeqBytes);
    } else {
      memcpy(sbuf_.data(), src, g_opt.size);
    }
  }

  void send_dgram(u64 i, u64 slot, i64 now) {
    UdpSock& s = socks_[i];
    fill(i, s.slot_seq[slot]);
    s.slot_sent[slot] = now;
    for (;;) {
      ssize_t w = send(s.fd, sbuf_.data(), g_opt.size, MSG_NOSIGNAL);
      if (w >= 0) return;
      if (errno == EINTR) continue;
      // A full queue is a drop like any other; the 200 ms timer recovers.
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return;
      connect_fail(errno);  // e.g. ECONNREFUSED reported by an earlier ICMP
    }
  }

  // A datagram unanswered for 200 ms is written off and its slot refilled,
  // so a lost packet shrinks the window only briefly and never hangs us.
  void check_losses(i64 now) {
    for (u64 i = 0; i < socks_.size(); i++) {
      UdpSock& s = socks_[i];
      for (u64 k = 0; k < g_opt.inflight; k++) {
        if (now - s.slot_sent[k] < kUdpLossNs) continue;
        if (g_opt.size < kSeqBytes) {
          s.abandoned.push_back(s.slot_seq[k]);
          while (s.abandoned.size() > 4 * g_opt.inflight) s.abandoned.pop_front();
        }
        s.slot_seq[k] += g_opt.inflight;
        if (g_run.measuring) g_run.lost++;
        send_dgram(i, k, now);
      }
    }
  }

  void on_readable(u64 i) {
    UdpSock& s = socks_[i];
    for (;;) {
      ssize_t r = recv(s.fd, rbuf_, kRecvBuf, MSG_TRUNC);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        connect_fail(errno);
      }
      i64 now = now_ns();
      any_reply_ = true;
      if (static_cast<u64>(r) != g_opt.size) {
        fprintf(stderr,
                "loadgen: VERIFICATION FAILED (udp %s): socket %llu received a %zd-byte "
                "datagram, expected %llu bytes\n",
                endpoint().c_str(), static_cast<unsigned long long>(i), r,
                static_cast<unsigned long long>(g_opt.size));
        exit(3);
      }
      if (g_opt.size >= kSeqBytes)
        on_reply_seq(i, now);
      else
        on_reply_small(i, now);
    }
  }

  void on_reply_seq(u64 i, i64 now) {
    UdpSock& s = socks_[i];
    u64 seq = 0;
    for (size_t b = 0; b < kSeqBytes; b++) {
      if (!(rbuf_[b] & 0x80))
        fail_header(i, b, "a sequence byte >= 0x80", rbuf_[b]);
      seq |= static_cast<u64>(rbuf_[b] & 0x7f) << (7 * b);
    }
    u64 slot = seq % g_opt.inflight;
    if (seq < s.slot_seq[slot]) return;  // late reply to a datagram already written off
    if (seq > s.slot_seq[slot]) {
      fprintf(stderr,
              "loadgen: VERIFICATION FAILED (udp %s): socket %llu got a reply for sequence %llu "
              "which was never sent (slot %llu is at %llu)\n",
              endpoint().c_str(), static_cast<unsigned long long>(i),
              static_cast<unsigned long long>(seq), static_cast<unsigned long long>(slot),
              static_cast<unsigned long long>(s.slot_seq[slot]));
      exit(3);
    }
    const uint8_t* exp = g_upper.data() + pat_off(i, seq);
    size_t body = g_opt.size - kSeqBytes;
    size_t d = first_diff(exp + kSeqBytes, rbuf_ + kSeqBytes, body);
    if (d != body)
      verify_fail("socket", i, kSeqBytes + d, "datagram byte", seq, kSeqBytes + d,
                  exp[kSeqBytes + d], rbuf_[kSeqBytes + d]);
    complete(i, slot, now);
  }

  // Without room for a sequence number, match the reply against the
  // datagrams in flight (they differ by pattern offset), oldest first.
  void on_reply_small(u64 i, i64 now) {
    UdpSock& s = socks_[i];
    const size_t n = g_opt.size;
    u64 best = 0;
    bool found = false;
    u64 oldest_slot = 0;
    for (u64 k = 0; k < g_opt.inflight; k++) {
      if (s.slot_seq[k] < s.slot_seq[oldest_slot]) oldest_slot = k;
      if (memcmp(g_upper.data() + pat_off(i, s.slot_seq[k]), rbuf_, n) == 0 &&
          (!found || s.slot_seq[k] < s.slot_seq[best])) {
        best = k;
        found = true;
      }
    }
    if (found) return complete(i, best, now);
    for (u64 seq : s.abandoned)
      if (memcmp(g_upper.data() + pat_off(i, seq), rbuf_, n) == 0) return;  // late reply
    u64 seq = s.slot_seq[oldest_slot];
    const uint8_t* exp = g_upper.data() + pat_off(i, seq);
    size_t d = first_diff(exp, rbuf_, n);
    verify_fail("socket", i, d, "datagram byte", seq, d, exp[d], rbuf_[d]);
  }

  [[noreturn]] void fail_header(u64 i, size_t b, const char* what, uint8_t got) {
    fprintf(stderr,
            "loadgen: VERIFICATION FAILED (udp %s): socket %llu, datagram byte %zu: expected "
            "%s (sequence header), got %s\n",
            endpoint().c_str(), static_cast<unsigned long long>(i), b, what,
            show_byte(got).c_str());
    exit(3);
  }

  void complete(u64 i, u64 slot, i64 now) {
    UdpSock& s = socks_[i];
    if (g_run.measuring) {
      g_run.messages++;
      g_run.hist.add(now - s.slot_sent[slot]);
    }
    s.slot_seq[slot] += g_opt.inflight;
    send_dgram(i, slot, now);
  }

  std::vector<UdpSock> socks_;
  int ep_;
  std::vector<uint8_t> sbuf_;
  bool any_reply_ = false;
  uint8_t rbuf_[kRecvBuf];
};

// ------------------------------------------------------------- report

void report() {
  const Options& o = g_opt;
  double dur = static_cast<double>(g_run.meas_end - g_run.meas_start) / kNsPerSec;
  if (dur <= 0) dur = 1e-9;
  double mps = static_cast<double>(g_run.messages) / dur;
  double bps = mps * static_cast<double>(o.size);
  bool have_lat = g_run.hist.count() > 0;
  double p50 = g_run.hist.quantile(0.50) / 1000.0;
  double p99 = g_run.hist.quantile(0.99) / 1000.0;
  bool have_cpu = o.pid > 0 && g_run.cpu_ok;
  double cpu_ns = have_cpu ? static_cast<double>(g_run.cpu1 - g_run.cpu0) : 0;
  bool have_cpu_per_msg = have_cpu && g_run.messages > 0;
  double cpu_per_msg = have_cpu_per_msg ? cpu_ns / static_cast<double>(g_run.messages) : 0;
  double util = have_cpu ? cpu_ns / (dur * kNsPerSec) : 0;
  bool churn = o.mode == Mode::Churn;
  bool idle = o.mode == Mode::Idle;
  const char* mode_name = churn ? "churn" : idle ? "idle" : "pingpong";
  const char* tr = o.transport == Transport::Tcp ? "tcp" : "udp";

  char num[64];
  auto fmt = [&](bool have, const char* f, double v) -> std::string {
    if (!have) return o.json ? "null" : "n/a";
    snprintf(num, sizeof(num), f, v);
    return num;
  };

  if (o.json) {
    printf("{\"transport\":\"%s\",\"mode\":\"%s\",\"connections\":%llu,\"size\":%llu,"
           "\"inflight\":%llu,\"duration_s\":%.3f,\"messages\":%llu,\"msgs_per_s\":%.1f,"
           "\"bytes_per_s\":%.1f,\"p50_us\":%s,\"p99_us\":%s,\"errors\":%llu,\"lost\":%llu,"
           "\"server_cpu_ns_per_msg\":%s,\"server_cpu_util\":%s,\"conns_per_s\":%s",
           tr, mode_name, static_cast<unsigned long long>(o.connections),
           static_cast<unsigned long long>(o.size), static_cast<unsigned long long>(o.inflight),
           dur, static_cast<unsigned long long>(g_run.messages), mps, bps,
           fmt(have_lat, "%.1f", p50).c_str(), fmt(have_lat, "%.1f", p99).c_str(),
           static_cast<unsigned long long>(g_run.errors),
           static_cast<unsigned long long>(g_run.lost),
           fmt(have_cpu_per_msg, "%.1f", cpu_per_msg).c_str(), fmt(have_cpu, "%.4f", util).c_str(),
           fmt(churn || idle, "%.1f", mps).c_str());
    if (idle) printf(",\"ready\":%llu,\"held_s\":%.3f", static_cast<unsigned long long>(g_idle_ready), g_idle_held_s);
    if (o.framing != Framing::None) printf(",\"framing\":\"%s\"", framing_name(o.framing));
    if (churn) printf(",\"sources\":%llu", static_cast<unsigned long long>(o.sources));
    printf("}\n");
  } else {
    printf("%s %s conns=%llu size=%llu inflight=%llu: %.0f %s/s, %.2f MB/s, p50 %s us, "
           "p99 %s us, %llu msgs in %.2f s, errors %llu, lost %llu",
           tr, mode_name, static_cast<unsigned long long>(o.connections),
           static_cast<unsigned long long>(o.size), static_cast<unsigned long long>(o.inflight),
           mps, churn || idle ? "conns" : "msgs", bps / 1e6, fmt(have_lat, "%.1f", p50).c_str(),
           fmt(have_lat, "%.1f", p99).c_str(), static_cast<unsigned long long>(g_run.messages),
           dur, static_cast<unsigned long long>(g_run.errors),
           static_cast<unsigned long long>(g_run.lost));
    if (o.framing != Framing::None) printf(", framing %s", framing_name(o.framing));
    if (have_cpu)
      printf(", server cpu %s ns/msg (%.1f%% of a core)",
             fmt(have_cpu_per_msg, "%.0f", cpu_per_msg).c_str(), util * 100.0);
    printf("\n");
  }
  fflush(stdout);
}

void on_alarm(int) {
  static const char msg[] = "loadgen: watchdog: run did not finish in time, aborting\n";
  ssize_t ignored = write(2, msg, sizeof(msg) - 1);
  (void)ignored;
  _exit(1);
}

void set_watchdog(double seconds) {
  itimerval it{};
  it.it_value.tv_sec = static_cast<time_t>(seconds);
  it.it_value.tv_usec = static_cast<suseconds_t>((seconds - std::floor(seconds)) * 1e6);
  setitimer(ITIMER_REAL, &it, nullptr);
}

void raise_fd_limit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_opt = parse_args(argc, argv);
  if (g_opt.pid > 0) {
    i64 tmp;
    if (!read_proc_cpu_ns(g_opt.pid, &tmp)) usage_error("cannot read /proc/" + std::to_string(g_opt.pid) + "/stat");
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
  // Normal runs end by warmup + duration + 2 s (connect budget); this is
  // only a backstop against a bug, inside the promised +5 s.
  set_watchdog(g_opt.warmup + g_opt.duration + 4.5 +
               (g_opt.mode == Mode::Idle ? static_cast<double>(idle_connect_budget_ns()) / kNsPerSec : 0.0));
  raise_fd_limit();
  build_pattern(g_opt.size, g_opt.framing == Framing::Line);
  if (g_opt.upper_payload) g_plain = g_upper;

  if (g_opt.mode == Mode::Churn) {
    TcpChurn().run();
  } else if (g_opt.mode == Mode::Idle) {
    TcpIdle().run();
  } else if (g_opt.transport == Transport::Tcp) {
    TcpPingPong().run();
  } else {
    UdpPingPong().run();
  }
  set_watchdog(0);
  report();
  if (g_run.messages == 0)
    fprintf(stderr, "loadgen: no message completed during the measurement (server hung?)\n");
  bool idle_short = g_opt.mode == Mode::Idle && (g_idle_ready < g_opt.connections || g_run.lost > 0);
  return g_run.errors > 0 || g_run.messages == 0 || idle_short ? 1 : 0;
}
