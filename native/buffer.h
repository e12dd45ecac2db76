// Byte buffers with uninitialised growth: the read path reserves a full read's room before
// each recv(), and zero-filling 64 KiB per read (as std::vector::resize does) would cost
// more than the recv itself for small messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace sockengine {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ~ByteBuffer() { std::free(data_); }

  uint8_t* data() { return data_ + head_; }
  const uint8_t* data() const { return data_ + head_; }
  size_t size() const { return size_ - head_; }
  bool empty() const { return size_ == head_; }
  size_t capacity() const { return capacity_; }

  // Returns room for `extra` bytes at the end; commit() says how many were written.
  uint8_t* reserve(size_t extra) {
    if (capacity_ - size_ < extra) grow(extra);
    return data_ + size_;
  }
  void commit(size_t written) { size_ += written; }
  void append(const uint8_t* bytes, size_t length) {
    std::memcpy(reserve(length), bytes, length);
    commit(length);
  }
  // Drops `length` bytes from the front (bytes the kernel accepted).
  void consume(size_t length) {
    head_ += length;
    if (head_ == size_) clear();
  }
  void clear() { head_ = size_ = 0; }
  // Gives the memory back: an idle connection should hold no buffer.
  void release() {
    std::free(data_);
    data_ = nullptr;
    head_ = size_ = capacity_ = 0;
  }

 private:
  void grow(size_t extra) {
    if (head_ > 0) {  // Reuse the consumed front before asking for more memory.
      std::memmove(data_, data_ + head_, size_ - head_);
      size_ -= head_;
      head_ = 0;
      if (capacity_ - size_ >= extra) return;
    }
    size_t wanted = size_ + extra;
    size_t next = capacity_ ? capacity_ * 2 : 4096;
    while (next < wanted) next *= 2;
    auto* grown = static_cast<uint8_t*>(std::realloc(data_, next));
    if (grown == nullptr) std::abort();  // Built without exceptions; out of memory is fatal.
    data_ = grown;
    capacity_ = next;
  }

  uint8_t* data_ = nullptr;
  size_t head_ = 0;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace sockengine
