// libFuzzer target: the Framer, fed a stream in random pieces, must agree with the plain
// whole-stream splitter in reference_splitter.h on every frame, on the read in which each
// frame is emitted, on the bytes it holds between reads, and on the failure and the read
// in which it is reported; frameOf() output must split back into its payload. Any
// disagreement traps. Built and run by scripts/fuzz.sh.
//
// Input: the spec's bytes (see parse()), then the piece sizes, then the stream.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "../native/framing.h"
#include "reference_splitter.h"

// Traps rather than aborts: libFuzzer reports it as a crash with the input that caused it.
#define CHECK(condition)                \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace sockengine {
namespace {

// Hands out input bytes in order; past the end, zeros.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t next() { return offset_ < size_ ? data_[offset_++] : 0; }
  std::vector<uint8_t> rest() {
    std::vector<uint8_t> bytes(data_ + std::min(offset_, size_), data_ + size_);
    offset_ = size_;
    return bytes;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t offset_ = 0;
};

// Streams drawn from four bytes (a, b, CR, LF) make delimiters, CRLF and overlapping
// matches common; raw bytes reach every header value.
uint8_t mapped(uint8_t byte, bool smallAlphabet) { return smallAlphabet ? "ab\r\n"[byte & 3] : byte; }

struct Case {
  FramingSpec spec;
  bool smallAlphabet = false;
  int stopAtEmit = -1;       // emit returns false for this emit (counting from 0), or never
  size_t roundTripLength = 0;
  std::vector<size_t> pieces;  // piece sizes, used in turn; empty: the whole stream at once
  std::vector<uint8_t> stream;
};

Case parse(Input& input) {
  Case c;
  FramingSpec& spec = c.spec;
  const uint8_t kind = input.next();
  const uint8_t flags = input.next();
  const uint8_t sizes = input.next();
  const uint8_t adjustment = input.next();
  const uint8_t maxFrame = input.next();
  const uint8_t fixedSize = input.next();
  const uint8_t stop = input.next();
  const uint8_t roundTrip = input.next();
  uint8_t delimiter[4];
  for (uint8_t& byte : delimiter) byte = input.next();

  c.smallAlphabet = flags & 8;
  spec.kind = static_cast<FramingSpec::Kind>(kind % 4 + 1);
  spec.keepDelimiter = flags & 1;
  spec.littleEndian = flags & 2;
  spec.lengthIncludesHeader = flags & 4;
  static const uint8_t kHeaderSizes[] = {1, 2, 4, 8};
  spec.lengthBytes = spec.kind == FramingSpec::Kind::kLength ? kHeaderSizes[sizes & 3] : 0;
  // Small adjustments mostly; the extremes reach the header arithmetic's overflow paths.
  static const int64_t kLargeAdjustments[] = {std::numeric_limits<int64_t>::min(),
                                              std::numeric_limits<int64_t>::min() + 1,
                                              std::numeric_limits<int64_t>::max(),
                                              std::numeric_limits<int64_t>::max() - 7,
                                              -(int64_t{1} << 32),
                                              int64_t{1} << 32,
                                              -(int64_t{1} << 16),
                                              int64_t{1} << 16};
  if (spec.kind == FramingSpec::Kind::kLength) {
    spec.lengthAdjustment = (flags & 16) ? kLargeAdjustments[adjustment & 7] : static_cast<int8_t>(adjustment) / 8;
  }
  // Small limits so too-long frames are common; the large ones check that the limit
  // arithmetic has room (maxFrame + delimiter must not wrap).
  spec.maxFrame = (flags & 32) ? ((maxFrame & 1) ? 65536 : std::numeric_limits<uint32_t>::max()) : maxFrame % 40;
  if (spec.kind == FramingSpec::Kind::kFixed) {
    spec.fixedSize = fixedSize % 16 + 1;
    if (spec.fixedSize > spec.maxFrame) spec.maxFrame = spec.fixedSize;  // callers ensure this
  }
  if (spec.kind == FramingSpec::Kind::kDelimiter) {
    const size_t length = (sizes >> 2) % 4 + 1;
    for (size_t i = 0; i < length; i++) spec.delimiter.push_back(static_cast<char>(mapped(delimiter[i], c.smallAlphabet)));
  }
  c.stopAtEmit = (stop & 0x80) ? (stop & 0x3f) : -1;
  c.roundTripLength = roundTrip;

  const size_t pieceCount = input.next() % 16;
  size_t pieceTotal = 0;
  for (size_t i = 0; i < pieceCount; i++) {
    c.pieces.push_back(input.next());
    pieceTotal += c.pieces.back();
  }
  if (pieceTotal == 0) c.pieces.clear();  // only empty pieces would never finish
  c.stream = input.rest();
  for (uint8_t& byte : c.stream) byte = mapped(byte, c.smallAlphabet);
  return c;
}

// Feeds the stream piece by piece, each piece in its own exactly-sized allocation so ASan
// sees any read past it, and checks every read against the reference.
void checkPieces(const Framer& framer, const Case& c) {
  const reference::Result expected = reference::split(c.spec, c.stream);
  std::unique_ptr<PartialFrame> partial;
  size_t emitted = 0;  // frames emitted so far, in all reads
  size_t fed = 0;
  size_t pieceIndex = 0;
  bool stopped = false;
  for (size_t reads = 0; fed < c.stream.size() || reads == 0; reads++) {
    const size_t size = c.pieces.empty() ? c.stream.size() : std::min(c.pieces[pieceIndex++ % c.pieces.size()], c.stream.size() - fed);
    const std::vector<uint8_t> piece(c.stream.begin() + static_cast<std::ptrdiff_t>(fed),
                                     c.stream.begin() + static_cast<std::ptrdiff_t>(fed + size));
    const size_t before = fed;
    fed += size;
    const FrameStatus status = framer.split(partial, piece.data(), piece.size(), [&](const uint8_t* frame, size_t length) {
      CHECK(emitted < expected.frames.size());
      const reference::Frame& want = expected.frames[emitted];
      CHECK(want.completedAt > before && want.completedAt <= fed);  // emitted in the read that completes it
      CHECK(length == want.bytes.size());
      CHECK(length == 0 || (frame != nullptr && std::memcmp(frame, want.bytes.data(), length) == 0));
      if (static_cast<int>(emitted++) == c.stopAtEmit) {
        stopped = true;
        return false;
      }
      return true;
    });
    // Every frame the reference completes within this read was emitted (unless stopped).
    size_t completed = 0;
    while (completed < expected.frames.size() && expected.frames[completed].completedAt <= fed) completed++;
    if (stopped) {
      CHECK(status == FrameStatus::kOk);
      return;
    }
    CHECK(emitted == completed);
    const bool failsHere = expected.status != FrameStatus::kOk && expected.failedAt > before && expected.failedAt <= fed;
    if (failsHere) {
      CHECK(status == expected.status);
      return;
    }
    CHECK(status == FrameStatus::kOk);
    // Between reads the framer holds exactly the unfinished frame's bytes, and nothing
    // (not even an empty object) when the read ended on a frame boundary.
    const size_t lastEnd = completed > 0 ? expected.frames[completed - 1].completedAt : 0;
    if (fed == lastEnd) {
      CHECK(partial == nullptr);
    } else {
      CHECK(partial != nullptr && partial->received() == fed - lastEnd);
      CHECK(partial->received() <= size_t{c.spec.maxFrame} + 8);  // the memory bound
    }
  }
  CHECK(expected.status == FrameStatus::kOk);  // a failure the framer never reported
}

// frameOf() must agree with the reference about which lengths a header can express, and
// its frame must split back into the payload.
void checkRoundTrip(const Framer& framer, const Case& c) {
  const FramingSpec& spec = c.spec;
  uint8_t header[8];
  size_t headerLength = 0;
  const uint8_t* trailer = nullptr;
  size_t trailerLength = 0;
  const uint64_t extremes[] = {0, 1, spec.maxFrame, uint64_t{1} << 32, (uint64_t{1} << 63) + 3, UINT64_MAX};
  for (uint64_t length : extremes) {
    const bool expressible = framer.frameOf(length, header, &headerLength, &trailer, &trailerLength);
    if (spec.kind == FramingSpec::Kind::kLength) CHECK(expressible == reference::headerCanHold(spec, length));
    if (spec.kind == FramingSpec::Kind::kFixed) CHECK(expressible == (length == spec.fixedSize));
  }

  const size_t length = std::min<size_t>(c.roundTripLength, c.stream.size());
  const std::vector<uint8_t> payload(c.stream.begin(), c.stream.begin() + static_cast<std::ptrdiff_t>(length));
  const bool expressible = framer.frameOf(length, header, &headerLength, &trailer, &trailerLength);
  switch (spec.kind) {
    case FramingSpec::Kind::kLength:
      CHECK(expressible == reference::headerCanHold(spec, length));
      CHECK(!expressible || headerLength == spec.lengthBytes);
      break;
    case FramingSpec::Kind::kFixed:
      CHECK(expressible == (length == spec.fixedSize));
      break;
    default:
      CHECK(expressible && headerLength == 0 && trailerLength > 0);
      break;
  }
  if (!expressible || length > spec.maxFrame) return;
  std::vector<uint8_t> encoded(header, header + headerLength);
  encoded.insert(encoded.end(), payload.begin(), payload.end());
  encoded.insert(encoded.end(), trailer, trailer + trailerLength);
  std::vector<uint8_t> want = payload;
  if (spec.kind == FramingSpec::Kind::kLine) {
    // A line payload holding an LF, or ending in CR, is not one line.
    if (std::find(payload.begin(), payload.end(), '\n') != payload.end()) return;
    if (!payload.empty() && payload.back() == '\r') return;
  }
  if (spec.kind == FramingSpec::Kind::kDelimiter) {
    // Nor is a payload whose delimiter is found earlier (inside it, or overlapping its end).
    const auto first = std::search(encoded.begin(), encoded.end(), spec.delimiter.begin(), spec.delimiter.end(),
                                   [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); });
    if (static_cast<size_t>(first - encoded.begin()) != length) return;
    if (spec.keepDelimiter) want.insert(want.end(), trailer, trailer + trailerLength);
  }
  std::unique_ptr<PartialFrame> partial;
  size_t frames = 0;
  const FrameStatus status = framer.split(partial, encoded.data(), encoded.size(), [&](const uint8_t* frame, size_t size) {
    CHECK(frames++ == 0);
    CHECK(size == want.size() && (size == 0 || std::memcmp(frame, want.data(), size) == 0));
    return true;
  });
  CHECK(status == FrameStatus::kOk && frames == 1 && partial == nullptr);
}

}  // namespace
}  // namespace sockengine

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sockengine::Input input(data, size);
  const sockengine::Case c = sockengine::parse(input);
  const sockengine::Framer framer(c.spec);
  CHECK(framer.valid());
  sockengine::checkPieces(framer, c);
  sockengine::checkRoundTrip(framer, c);
  return 0;
}
