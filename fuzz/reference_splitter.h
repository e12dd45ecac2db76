// A deliberately plain splitter for the fuzzer to compare the Framer with: it sees the
// whole stream at once, searches with std::search from each frame's start, and does the
// length arithmetic in 128 bits, so each rule of native/framing.h reads off directly.
//
// Besides the frames it says where a fail-fast framer must stop: `failedAt` is how many
// stream bytes have arrived when the failure is certain by the rules, which are
// - line: more than maxFrame + 1 bytes pending with no LF, or an LF ending a frame whose
//   payload (CR removed) is longer than maxFrame, whichever comes first;
// - delimiter: more than maxFrame + delimiter length - 1 bytes pending with no delimiter,
//   or a delimiter ending a frame longer than maxFrame, whichever comes first;
// - length: the header's last byte, for a negative or too long payload length.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../native/framing.h"

namespace sockengine {
namespace reference {

struct Frame {
  std::vector<uint8_t> bytes;  // as emitted: without header, LF, CR (or the delimiter, unless kept)
  size_t completedAt = 0;      // stream bytes that have arrived when the frame is complete
};

struct Result {
  std::vector<Frame> frames;
  FrameStatus status = FrameStatus::kOk;
  size_t failedAt = 0;  // with an error: stream bytes that have arrived when it is certain
};

inline Result split(const FramingSpec& spec, const std::vector<uint8_t>& stream) {
  Result result;
  const size_t total = stream.size();
  const size_t maxFrame = spec.maxFrame;
  auto bytesOf = [&](size_t from, size_t to) {
    return std::vector<uint8_t>(stream.begin() + static_cast<std::ptrdiff_t>(from),
                                stream.begin() + static_cast<std::ptrdiff_t>(to));
  };
  auto fail = [&](FrameStatus status, size_t at) {
    result.status = status;
    result.failedAt = at;
    return result;
  };
  size_t start = 0;
  while (start < total) {
    switch (spec.kind) {
      case FramingSpec::Kind::kLine: {
        size_t lf = start;
        while (lf < total && stream[lf] != '\n') lf++;
        const size_t overflowAt = start + maxFrame + 2;  // the (maxFrame + 2)th pending byte
        if (lf == total) {
          if (total - start > maxFrame + 1) return fail(FrameStatus::kTooLong, overflowAt);
          return result;
        }
        size_t end = lf;
        if (end > start && stream[end - 1] == '\r') end--;
        if (end - start > maxFrame) return fail(FrameStatus::kTooLong, std::min(lf + 1, overflowAt));
        result.frames.push_back({bytesOf(start, end), lf + 1});
        start = lf + 1;
        break;
      }
      case FramingSpec::Kind::kDelimiter: {
        const std::string& delimiter = spec.delimiter;
        const size_t length = delimiter.size();
        const size_t at = static_cast<size_t>(
            std::search(stream.begin() + static_cast<std::ptrdiff_t>(start), stream.end(), delimiter.begin(),
                        delimiter.end(), [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); }) -
            stream.begin());
        const size_t overflowAt = start + maxFrame + length;
        if (at == total) {
          if (total - start > maxFrame + length - 1) return fail(FrameStatus::kTooLong, overflowAt);
          return result;
        }
        if (at - start > maxFrame) return fail(FrameStatus::kTooLong, std::min(at + length, overflowAt));
        result.frames.push_back({bytesOf(start, spec.keepDelimiter ? at + length : at), at + length});
        start = at + length;
        break;
      }
      case FramingSpec::Kind::kLength: {
        const size_t header = spec.lengthBytes;
        if (total - start < header) return result;
        unsigned __int128 value = 0;
        for (size_t i = 0; i < header; i++) {
          value = value * 256 + stream[start + (spec.littleEndian ? header - 1 - i : i)];
        }
        const __int128 payload = static_cast<__int128>(value) + spec.lengthAdjustment -
                                 static_cast<__int128>(spec.lengthIncludesHeader ? header : 0);
        if (payload < 0) return fail(FrameStatus::kBadLength, start + header);
        if (payload > static_cast<__int128>(maxFrame)) return fail(FrameStatus::kTooLong, start + header);
        const size_t end = start + header + static_cast<size_t>(payload);
        if (end > total) return result;
        result.frames.push_back({bytesOf(start + header, end), end});
        start = end;
        break;
      }
      case FramingSpec::Kind::kFixed: {
        const size_t end = start + spec.fixedSize;
        if (end > total) return result;
        result.frames.push_back({bytesOf(start, end), end});
        start = end;
        break;
      }
      case FramingSpec::Kind::kNone:
        return result;
    }
  }
  return result;
}

// Whether frameOf(length) can express `length` in a kLength header: the value written is
// length - lengthAdjustment (+ lengthBytes when it includes the header).
inline bool headerCanHold(const FramingSpec& spec, uint64_t length) {
  const __int128 value = static_cast<__int128>(length) - spec.lengthAdjustment +
                         static_cast<__int128>(spec.lengthIncludesHeader ? spec.lengthBytes : 0);
  const __int128 largest = spec.lengthBytes >= 8 ? static_cast<__int128>(UINT64_MAX)
                                                 : (static_cast<__int128>(1) << (8 * spec.lengthBytes)) - 1;
  return value >= 0 && value <= largest;
}

}  // namespace reference
}  // namespace sockengine
