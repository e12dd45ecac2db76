// Splitting a connection's byte stream into frames: lines, delimited records, length-prefixed
// messages or fixed-size records. No Node types here, so it is fuzzed on its own
// (fuzz/framing_fuzz.cc against fuzz/reference_splitter.h), and lib/framing.ts implements
// the same rules, with the same fail-fast points, for the node:net backend.
//
// Design:
// - A partial frame lives in a heap object made only when a read ends inside a frame, and
//   freed as soon as that frame completes. A connection between frames holds one null
//   pointer and nothing else, so the engine's idle cost per connection (the 32-byte
//   Connection) grows by 8 bytes, not by a buffer; frames lying wholly inside one read are
//   handed out as pointers into the shared receive buffer, never copied.
// - The delimiter search looks at each byte once: a partial frame keeps how many delimiter
//   bytes its end already matches (a Knuth-Morris-Pratt state), so the next read resumes
//   there instead of rescanning the held bytes, and a 64 KiB frame arriving a byte per read
//   costs O(n), not O(n^2). Frames inside one read are found with memchr/memmem.
// - Fail fast: a frame longer than maxFrame is reported as soon as that is certain (right
//   after a length header, before any payload; once more bytes are pending than a frame
//   and its delimiter may have), so a peer can make a connection hold at most maxFrame +
//   delimiter bytes, and never makes it wait for (or read) megabytes it will refuse anyway.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "buffer.h"

namespace sockengine {

// How a stream is cut into frames. lib/framing.ts checkFraming() validates the options
// before they get here; a spec that fails Framer::valid() splits nothing.
struct FramingSpec {
  enum class Kind : uint8_t { kNone = 0, kLine = 1, kDelimiter = 2, kLength = 3, kFixed = 4 };
  Kind kind = Kind::kNone;
  std::string delimiter;              // kDelimiter: one or more bytes, any values
  bool keepDelimiter = false;         // kDelimiter: the delimiter stays at the end of each frame
  uint8_t lengthBytes = 0;            // kLength: 1, 2, 4 or 8
  bool littleEndian = false;          // kLength: default big-endian
  int64_t lengthAdjustment = 0;       // kLength: added to the header's value (Netty's meaning)
  bool lengthIncludesHeader = false;  // kLength: the value counts the header bytes too
  uint32_t fixedSize = 0;             // kFixed: 1 to maxFrame
  // Payload bytes allowed per frame, not counting a delimiter, a line's CR or a header.
  // It limits what is received; frameOf() does not apply it to what is sent.
  uint32_t maxFrame = 65536;
};

enum class FrameStatus : uint8_t {
  kOk = 0,
  kTooLong = 1,    // a frame's payload exceeds maxFrame
  kBadLength = 2,  // a length header gives a negative payload length (or the spec is invalid)
};

// The bytes of an unfinished frame, kept by a connection between reads. It exists only
// while a frame is partial: an idle connection holds none.
struct PartialFrame {
  // The frame's bytes so far: for line and delimiter framing everything since the last
  // frame (possibly ending in part of a delimiter); for length framing the payload only.
  ByteBuffer bytes;
  // Line and delimiter framing: how many delimiter bytes the end of `bytes` matches, so the
  // next read resumes the search there instead of rescanning `bytes`.
  size_t matched = 0;
  // Length framing: the payload's length, once the header is complete.
  size_t payloadLength = 0;
  // Length framing: the header as it arrives; headerBytes == lengthBytes once decoded.
  uint8_t header[8] = {};
  uint8_t headerBytes = 0;

  // Stream bytes of the unfinished frame received so far (a header included).
  size_t received() const { return headerBytes + bytes.size(); }
};

// Splits streams by one spec. Shared by every connection of a server: all per-connection
// state is in the PartialFrame each connection owns.
class Framer {
 public:
  explicit Framer(FramingSpec spec);

  const FramingSpec& spec() const { return spec_; }
  // False for a spec split() cannot honour (empty delimiter, a header size other than 1, 2,
  // 4 or 8, fixedSize 0 or above maxFrame, an unknown kind): split() then returns
  // kBadLength and frameOf() false. lib/framing.ts rejects all of these first.
  bool valid() const { return valid_; }
  // Length-prefixed and fixed-size framing: a frame's end is counted, not searched for, so
  // an unfinished frame's bytes can be split again with what follows at no extra cost.
  bool counted() const { return spec_.kind == FramingSpec::Kind::kLength || spec_.kind == FramingSpec::Kind::kFixed; }

  // Splits `data` (usually straight from a shared receive buffer). Calls
  // `bool emit(const uint8_t* frame, size_t length)` once per complete frame, in order.
  // Frames lying wholly inside `data` are passed as pointers into `data` (no copy); a frame
  // begun in an earlier call is assembled in *partial. Leftover bytes of an unfinished frame
  // go into `partial`, allocated only when needed and reset (freed) when no partial frame
  // remains. emit returning false stops the split at once (the connection is going away);
  // the result is then kOk and partial may be left as is. Returns the first error: frames
  // before it were emitted, nothing after it is; the connection should then be closed.
  // kNone passes each non-empty `data` through as one frame.
  template <typename Emit>
  FrameStatus split(std::unique_ptr<PartialFrame>& partial, const uint8_t* data, size_t length, Emit&& emit) const;

  // What send() puts around a payload of `length` bytes: a header (length prefix, written
  // into `header`, up to 8 bytes) or a trailer (the delimiter; "\n" for kLine). Returns
  // false when `length` cannot be expressed (negative or too big for the header after the
  // adjustment), or for kFixed when length != fixedSize.
  bool frameOf(uint64_t length, uint8_t header[8], size_t* headerLength, const uint8_t** trailer,
               size_t* trailerLength) const;

 private:
  static constexpr size_t kNotFound = SIZE_MAX;
  // A length-prefixed frame reserves its whole payload at once up to this size (one
  // allocation for the common case), and beyond it grows with the bytes that arrive: a
  // header alone must not make a connection allocate maxFrame bytes. 64 KiB is one full
  // unframed read (kReadSize in loop.h).
  static constexpr size_t kReserveAtOnce = 64 * 1024;

  template <typename Emit>
  FrameStatus splitDelimited(std::unique_ptr<PartialFrame>& partial, const uint8_t* data, size_t length,
                             Emit& emit) const;
  template <typename Emit>
  FrameStatus splitCounted(std::unique_ptr<PartialFrame>& partial, const uint8_t* data, size_t length,
                           Emit& emit) const;

  // Where the first delimiter starts in data[0, length), or kNotFound.
  size_t findDelimiter(const uint8_t* data, size_t length) const;
  // One search step: the delimiter bytes matched after `byte`, given `matched` before it
  // (never the whole delimiter).
  size_t advance(size_t matched, uint8_t byte) const;
  // The delimiter bytes matched at the end of data[0, length), which holds no delimiter.
  size_t matchedAtEnd(const uint8_t* data, size_t length) const;
  // For a frame of `content` bytes before its delimiter: the length to emit (a line loses
  // its CR, keepDelimiter adds the delimiter), or false when the payload is too long.
  bool emittedLength(const uint8_t* frame, size_t content, size_t* emitted) const;
  // Length framing: the payload length a complete header gives, or the error it means.
  FrameStatus payloadLengthOf(const uint8_t* header, size_t* payloadLength) const;
  // The header bytes of a kLength or kFixed frame: 0 for kFixed.
  size_t headerLength() const { return spec_.kind == FramingSpec::Kind::kLength ? spec_.lengthBytes : 0; }

  FramingSpec spec_;
  bool valid_ = false;
  // What ends a frame: spec_.delimiter, or "\n" for lines.
  std::string delimiter_;
  // fallback_[k]: the longest proper prefix of delimiter_ that is also a suffix of its first
  // k bytes (the Knuth-Morris-Pratt table), so a failed match resumes without going back.
  std::vector<size_t> fallback_;
  // Bytes a frame may have before its delimiter: maxFrame, plus one for a line's CR.
  size_t maxContent_ = 0;
};

template <typename Emit>
FrameStatus Framer::split(std::unique_ptr<PartialFrame>& partial, const uint8_t* data, size_t length,
                          Emit&& emit) const {
  if (!valid_) return FrameStatus::kBadLength;
  switch (spec_.kind) {
    case FramingSpec::Kind::kLine:
    case FramingSpec::Kind::kDelimiter:
      return splitDelimited(partial, data, length, emit);
    case FramingSpec::Kind::kLength:
    case FramingSpec::Kind::kFixed:
      return splitCounted(partial, data, length, emit);
    case FramingSpec::Kind::kNone:
      if (length > 0) emit(data, length);
      return FrameStatus::kOk;
  }
  return FrameStatus::kBadLength;
}

template <typename Emit>
FrameStatus Framer::splitDelimited(std::unique_ptr<PartialFrame>& partial, const uint8_t* data, size_t length,
                                   Emit& emit) const {
  const size_t delimiterLength = delimiter_.size();
  // A frame with its delimiter never has more bytes than this; bytes pending without a
  // delimiter once there are this many are a frame that is too long.
  const size_t limit = maxContent_ + delimiterLength;
  size_t position = 0;
  if (partial) {
    PartialFrame& frame = *partial;
    const size_t held = frame.bytes.size();  // < limit, or the last call failed
    // A delimiter begun in the held bytes ends within the first delimiterLength - 1 new
    // bytes; one lying wholly in `data` starts at 0 or later and is found by the search.
    size_t matched = frame.matched;
    const size_t straddle = std::min(length, delimiterLength - 1);
    size_t end = 0;  // bytes of `data` up to and including the delimiter, once found
    for (size_t i = 0; i < straddle; i++) {
      matched = advance(matched, data[i]);
      if (matched == delimiterLength) {
        end = i + 1;
        break;
      }
    }
    if (end == 0) {
      const size_t window = held < limit ? std::min(length, limit - held) : 0;
      const size_t found = findDelimiter(data, window);
      if (found == kNotFound) {
        if (held + length >= limit) return FrameStatus::kTooLong;
        frame.matched = length >= delimiterLength - 1 ? matchedAtEnd(data, length) : matched;
        if (length > 0) frame.bytes.append(data, length);
        return FrameStatus::kOk;
      }
      end = found + delimiterLength;
    }
    const size_t content = held + end - delimiterLength;
    if (content > maxContent_) return FrameStatus::kTooLong;
    frame.bytes.append(data, end);
    // Moved out first: whatever emit does, the connection holds no finished frame.
    std::unique_ptr<PartialFrame> done = std::move(partial);
    size_t emitted = 0;
    if (!emittedLength(done->bytes.data(), content, &emitted)) return FrameStatus::kTooLong;
    if (!emit(static_cast<const uint8_t*>(done->bytes.data()), emitted)) return FrameStatus::kOk;
    position = end;
  }
  while (position < length) {
    const uint8_t* start = data + position;
    const size_t rest = length - position;
    const size_t found = findDelimiter(start, std::min(rest, limit));
    if (found == kNotFound) {
      if (rest >= limit) return FrameStatus::kTooLong;
      partial = std::make_unique<PartialFrame>();
      partial->bytes.append(start, rest);
      partial->matched = matchedAtEnd(start, rest);
      return FrameStatus::kOk;
    }
    size_t emitted = 0;
    if (!emittedLength(start, found, &emitted)) return FrameStatus::kTooLong;
    if (!emit(start, emitted)) return FrameStatus::kOk;
    position += found + delimiterLength;
  }
  return FrameStatus::kOk;
}

// Length and fixed framing: a frame is an optional header and a payload whose length is
// known before it arrives.
template <typename Emit>
FrameStatus Framer::splitCounted(std::unique_ptr<PartialFrame>& partial, const uint8_t* data, size_t length,
                                 Emit& emit) const {
  const size_t header = headerLength();
  size_t position = 0;
  if (partial) {
    PartialFrame& frame = *partial;
    if (frame.headerBytes < header) {
      const size_t take = std::min(length, header - frame.headerBytes);
      if (take > 0) std::memcpy(frame.header + frame.headerBytes, data, take);
      frame.headerBytes = static_cast<uint8_t>(frame.headerBytes + take);
      position = take;
      if (frame.headerBytes < header) return FrameStatus::kOk;
      FrameStatus status = payloadLengthOf(frame.header, &frame.payloadLength);
      if (status != FrameStatus::kOk) return status;
      frame.bytes.reserve(std::min(frame.payloadLength, kReserveAtOnce));
    }
    const size_t take = std::min(length - position, frame.payloadLength - frame.bytes.size());
    if (take > 0) frame.bytes.append(data + position, take);
    position += take;
    if (frame.bytes.size() < frame.payloadLength) return FrameStatus::kOk;
    std::unique_ptr<PartialFrame> done = std::move(partial);
    // An empty payload has no bytes of its own; any valid pointer will do.
    const uint8_t* payload = done->payloadLength > 0 ? done->bytes.data() : data + position;
    if (!emit(payload, done->payloadLength)) return FrameStatus::kOk;
  }
  while (position < length) {
    const uint8_t* start = data + position;
    size_t rest = length - position;
    if (rest < header) {
      partial = std::make_unique<PartialFrame>();
      std::memcpy(partial->header, start, rest);
      partial->headerBytes = static_cast<uint8_t>(rest);
      return FrameStatus::kOk;
    }
    size_t payloadLength = spec_.fixedSize;
    if (header > 0) {
      FrameStatus status = payloadLengthOf(start, &payloadLength);
      if (status != FrameStatus::kOk) return status;
      start += header;
      rest -= header;
    }
    if (rest < payloadLength) {
      partial = std::make_unique<PartialFrame>();
      std::memcpy(partial->header, start - header, header);
      partial->headerBytes = static_cast<uint8_t>(header);
      partial->payloadLength = payloadLength;
      partial->bytes.reserve(std::min(payloadLength, kReserveAtOnce));
      if (rest > 0) partial->bytes.append(start, rest);
      return FrameStatus::kOk;
    }
    if (!emit(start, payloadLength)) return FrameStatus::kOk;
    position += header + payloadLength;
  }
  return FrameStatus::kOk;
}

}  // namespace sockengine
