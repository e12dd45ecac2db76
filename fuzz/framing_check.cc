// Runs the native Framer outside Node, for test/framing.test.ts to compare with
// lib/framing.ts. Reads commands from stdin, one a line, and answers on stdout:
//
//   spec KIND DELIMITER KEEP LENGTHBYTES LITTLEENDIAN ADJUSTMENT INCLUDESHEADER FIXED MAXFRAME
//       KIND is line, delimiter, length or fixed; DELIMITER hex or -; flags 0 or 1.
//       Answers "spec ok", or "spec invalid" when Framer::valid() is false.
//   feed PIECE...
//       A new connection reads the pieces (hex, - for an empty read) in order. Answers one
//       "frame HEX" line per frame (- for an empty one), then
//       "end STATUS READ PENDING": STATUS ok, too-long or bad-length; READ the index of the
//       read that failed, or -1; PENDING the bytes held for an unfinished frame.
//   encode LENGTH
//       Answers "encode HEADER TRAILER" (hex, - for none) or "encode unexpressible".
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "../native/framing.h"

namespace {

using sockengine::FramingSpec;
using sockengine::FrameStatus;

std::string hexOf(const uint8_t* bytes, size_t length) {
  if (length == 0) return "-";
  static const char kDigits[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < length; i++) {
    text.push_back(kDigits[bytes[i] >> 4]);
    text.push_back(kDigits[bytes[i] & 15]);
  }
  return text;
}

std::vector<uint8_t> bytesOf(const std::string& hex) {
  std::vector<uint8_t> bytes;
  if (hex == "-") return bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    const char pair[3] = {hex[i], hex[i + 1], 0};
    bytes.push_back(static_cast<uint8_t>(std::strtoul(pair, nullptr, 16)));
  }
  return bytes;
}

const char* statusName(FrameStatus status) {
  switch (status) {
    case FrameStatus::kOk:
      return "ok";
    case FrameStatus::kTooLong:
      return "too-long";
    case FrameStatus::kBadLength:
      return "bad-length";
  }
  return "?";
}

bool parseSpec(std::istringstream& words, FramingSpec* spec) {
  std::string kind, delimiter;
  int keep = 0, lengthBytes = 0, littleEndian = 0, includesHeader = 0;
  long long adjustment = 0;
  unsigned long fixedSize = 0, maxFrame = 0;
  if (!(words >> kind >> delimiter >> keep >> lengthBytes >> littleEndian >> adjustment >> includesHeader >>
        fixedSize >> maxFrame)) {
    return false;
  }
  if (kind == "line") spec->kind = FramingSpec::Kind::kLine;
  else if (kind == "delimiter") spec->kind = FramingSpec::Kind::kDelimiter;
  else if (kind == "length") spec->kind = FramingSpec::Kind::kLength;
  else if (kind == "fixed") spec->kind = FramingSpec::Kind::kFixed;
  else return false;
  const std::vector<uint8_t> delimiterBytes = bytesOf(delimiter);
  spec->delimiter.assign(delimiterBytes.begin(), delimiterBytes.end());
  spec->keepDelimiter = keep != 0;
  spec->lengthBytes = static_cast<uint8_t>(lengthBytes);
  spec->littleEndian = littleEndian != 0;
  spec->lengthAdjustment = adjustment;
  spec->lengthIncludesHeader = includesHeader != 0;
  spec->fixedSize = static_cast<uint32_t>(fixedSize);
  spec->maxFrame = static_cast<uint32_t>(maxFrame);
  return true;
}

void feed(const sockengine::Framer& framer, std::istringstream& words) {
  std::unique_ptr<sockengine::PartialFrame> partial;
  std::string piece;
  FrameStatus status = FrameStatus::kOk;
  long failedRead = -1;
  for (long read = 0; words >> piece; read++) {
    const std::vector<uint8_t> bytes = bytesOf(piece);
    status = framer.split(partial, bytes.data(), bytes.size(), [](const uint8_t* frame, size_t length) {
      std::printf("frame %s\n", hexOf(frame, length).c_str());
      return true;
    });
    if (status != FrameStatus::kOk) {
      failedRead = read;
      break;
    }
  }
  const size_t pending = status == FrameStatus::kOk && partial ? partial->received() : 0;
  std::printf("end %s %ld %zu\n", statusName(status), failedRead, pending);
}

void encode(const sockengine::Framer& framer, std::istringstream& words) {
  unsigned long long length = 0;
  words >> length;
  uint8_t header[8];
  size_t headerLength = 0;
  const uint8_t* trailer = nullptr;
  size_t trailerLength = 0;
  if (!framer.frameOf(length, header, &headerLength, &trailer, &trailerLength)) {
    std::printf("encode unexpressible\n");
    return;
  }
  std::printf("encode %s %s\n", hexOf(header, headerLength).c_str(), hexOf(trailer, trailerLength).c_str());
}

}  // namespace

int main() {
  std::unique_ptr<sockengine::Framer> framer;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command;
    if (!(words >> command)) continue;
    if (command == "spec") {
      FramingSpec spec;
      if (!parseSpec(words, &spec)) {
        std::fprintf(stderr, "framing_check: bad spec line: %s\n", line.c_str());
        return 2;
      }
      framer = std::make_unique<sockengine::Framer>(spec);
      std::printf("spec %s\n", framer->valid() ? "ok" : "invalid");
    } else if (framer && command == "feed") {
      feed(*framer, words);
    } else if (framer && command == "encode") {
      encode(*framer, words);
    } else {
      std::fprintf(stderr, "framing_check: unexpected line: %s\n", line.c_str());
      return 2;
    }
  }
  return 0;
}
