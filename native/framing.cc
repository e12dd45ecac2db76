// The framer's non-template parts: the spec's checks and derived tables, the delimiter
// search, and the length header's arithmetic (exact for every 8-byte value and every
// adjustment, with no wider integer type).
#include "framing.h"

#include <cstring>
#include <utility>

namespace sockengine {

namespace {

// `bytes` header bytes hold values below 2^(8 * bytes).
uint64_t largestHeaderValue(size_t bytes) { return bytes >= 8 ? UINT64_MAX : (uint64_t{1} << (8 * bytes)) - 1; }

// adjustment - headerBytes as a sign and a magnitude: the difference can reach 2^63 + 8,
// past int64_t, but its magnitude always fits a uint64_t.
struct Offset {
  bool negative;
  uint64_t magnitude;
};
Offset offsetOf(int64_t adjustment, uint64_t headerBytes) {
  // Unsigned wrap-around gives the exact magnitude once the sign is known.
  const uint64_t adjustmentBits = static_cast<uint64_t>(adjustment);
  if (adjustment >= 0 && adjustmentBits >= headerBytes) return {false, adjustmentBits - headerBytes};
  return {true, headerBytes - adjustmentBits};
}

}  // namespace

Framer::Framer(FramingSpec spec) : spec_(std::move(spec)) {
  switch (spec_.kind) {
    case FramingSpec::Kind::kNone:
      valid_ = true;
      break;
    case FramingSpec::Kind::kLine:
      delimiter_ = "\n";
      maxContent_ = size_t{spec_.maxFrame} + 1;  // room for the CR a line may end with
      valid_ = true;
      break;
    case FramingSpec::Kind::kDelimiter:
      delimiter_ = spec_.delimiter;
      maxContent_ = spec_.maxFrame;
      valid_ = !delimiter_.empty();
      break;
    case FramingSpec::Kind::kLength:
      valid_ = spec_.lengthBytes == 1 || spec_.lengthBytes == 2 || spec_.lengthBytes == 4 || spec_.lengthBytes == 8;
      break;
    case FramingSpec::Kind::kFixed:
      valid_ = spec_.fixedSize >= 1 && spec_.fixedSize <= spec_.maxFrame;
      break;
  }
  if (!valid_ || delimiter_.empty()) return;
  fallback_.assign(delimiter_.size() + 1, 0);
  size_t border = 0;
  for (size_t k = 1; k < delimiter_.size(); k++) {
    while (border > 0 && delimiter_[k] != delimiter_[border]) border = fallback_[border];
    if (delimiter_[k] == delimiter_[border]) border++;
    fallback_[k + 1] = border;
  }
}

size_t Framer::findDelimiter(const uint8_t* data, size_t length) const {
  const size_t delimiterLength = delimiter_.size();
  if (length < delimiterLength) return kNotFound;
  const void* found = delimiterLength == 1 ? std::memchr(data, static_cast<uint8_t>(delimiter_[0]), length)
                                           : memmem(data, length, delimiter_.data(), delimiterLength);
  return found == nullptr ? kNotFound : static_cast<size_t>(static_cast<const uint8_t*>(found) - data);
}

size_t Framer::advance(size_t matched, uint8_t byte) const {
  while (matched > 0 && static_cast<uint8_t>(delimiter_[matched]) != byte) matched = fallback_[matched];
  if (static_cast<uint8_t>(delimiter_[matched]) == byte) matched++;
  return matched;
}

size_t Framer::matchedAtEnd(const uint8_t* data, size_t length) const {
  // A partial match is shorter than the delimiter, so only the last delimiterLength - 1
  // bytes can hold it: this costs O(delimiter), not O(frame).
  const size_t tail = std::min(length, delimiter_.size() - 1);
  size_t matched = 0;
  for (size_t i = length - tail; i < length; i++) matched = advance(matched, data[i]);
  return matched;
}

bool Framer::emittedLength(const uint8_t* frame, size_t content, size_t* emitted) const {
  if (spec_.kind == FramingSpec::Kind::kLine) {
    const size_t payload = content > 0 && frame[content - 1] == '\r' ? content - 1 : content;
    *emitted = payload;
    return payload <= spec_.maxFrame;
  }
  *emitted = spec_.keepDelimiter ? content + delimiter_.size() : content;
  return content <= spec_.maxFrame;
}

FrameStatus Framer::payloadLengthOf(const uint8_t* header, size_t* payloadLength) const {
  const size_t bytes = spec_.lengthBytes;
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; i++) {
    const uint8_t byte = spec_.littleEndian ? header[bytes - 1 - i] : header[i];
    value = (value << 8) | byte;
  }
  // payload = value + lengthAdjustment - (lengthIncludesHeader ? lengthBytes : 0)
  const Offset offset = offsetOf(spec_.lengthAdjustment, spec_.lengthIncludesHeader ? bytes : 0);
  uint64_t payload = 0;
  if (offset.negative) {
    if (value < offset.magnitude) return FrameStatus::kBadLength;
    payload = value - offset.magnitude;
  } else {
    if (value > UINT64_MAX - offset.magnitude) return FrameStatus::kTooLong;  // past 2^64 - 1
    payload = value + offset.magnitude;
  }
  if (payload > spec_.maxFrame) return FrameStatus::kTooLong;
  *payloadLength = static_cast<size_t>(payload);
  return FrameStatus::kOk;
}

bool Framer::frameOf(uint64_t length, uint8_t header[8], size_t* headerLength, const uint8_t** trailer,
                     size_t* trailerLength) const {
  *headerLength = 0;
  *trailer = nullptr;
  *trailerLength = 0;
  if (!valid_) return false;
  switch (spec_.kind) {
    case FramingSpec::Kind::kNone:
      return true;
    case FramingSpec::Kind::kLine:
    case FramingSpec::Kind::kDelimiter:
      *trailer = reinterpret_cast<const uint8_t*>(delimiter_.data());
      *trailerLength = delimiter_.size();
      return true;
    case FramingSpec::Kind::kFixed:
      return length == spec_.fixedSize;
    case FramingSpec::Kind::kLength:
      break;
  }
  // value = length - (lengthAdjustment - headerBytes): the inverse of payloadLengthOf().
  const size_t bytes = spec_.lengthBytes;
  const Offset offset = offsetOf(spec_.lengthAdjustment, spec_.lengthIncludesHeader ? bytes : 0);
  uint64_t value = 0;
  if (offset.negative) {
    if (length > UINT64_MAX - offset.magnitude) return false;
    value = length + offset.magnitude;
  } else {
    if (length < offset.magnitude) return false;
    value = length - offset.magnitude;
  }
  if (value > largestHeaderValue(bytes)) return false;
  for (size_t i = 0; i < bytes; i++) {
    const uint8_t byte = static_cast<uint8_t>(value >> (8 * i));
    header[spec_.littleEndian ? i : bytes - 1 - i] = byte;
  }
  *headerLength = bytes;
  return true;
}

}  // namespace sockengine
