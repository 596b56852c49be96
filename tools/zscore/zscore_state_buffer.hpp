// zscore_state_buffer: a series' detector state as bytes, for --db. Numbers are stored as
// their exact bits (little-endian as the machine has them: a state file is read back on the
// machine that wrote it, and the header's check refuses any other byte order), so a restored
// detector gives bit for bit the answers the original would have.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/error.hpp"

namespace sluice::zscore {

class StateWriter {
 public:
  void put(std::uint64_t number) { append(&number, sizeof number); }
  void put(double number) { append(&number, sizeof number); }
  void put(bool flag) { put(static_cast<std::uint64_t>(flag ? 1 : 0)); }
  void put(const std::vector<double>& numbers) {
    put(static_cast<std::uint64_t>(numbers.size()));
    append(numbers.data(), numbers.size() * sizeof(double));
  }
  [[nodiscard]] const std::string& bytes() const { return bytes_; }

 private:
  void append(const void* data, std::size_t size) {
    if (size > 0) bytes_.append(static_cast<const char*>(data), size);
  }
  std::string bytes_;
};

// Reads what a StateWriter wrote, in the same order. A short or malformed buffer throws
// Error(65): the state file is damaged.
class StateReader {
 public:
  explicit StateReader(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t get_count() { return take<std::uint64_t>(); }
  std::size_t get_size() { return static_cast<std::size_t>(take<std::uint64_t>()); }
  double get_double() { return take<double>(); }
  bool get_bool() { return take<std::uint64_t>() != 0; }
  std::vector<double> get_doubles() {
    std::uint64_t count = take<std::uint64_t>();
    if (count > (bytes_.size() - offset_) / sizeof(double)) damaged();
    std::vector<double> numbers(static_cast<std::size_t>(count));
    if (count == 0) return numbers;  // memcpy must not see the empty vector's null data()
    std::memcpy(numbers.data(), bytes_.data() + offset_, numbers.size() * sizeof(double));
    offset_ += numbers.size() * sizeof(double);
    return numbers;
  }
  [[nodiscard]] bool at_end() const { return offset_ == bytes_.size(); }
  [[noreturn]] static void damaged() {
    throw Error(exit_code::data, "a series' saved state is damaged");
  }

 private:
  template <typename Number>
  Number take() {
    Number number;
    if (bytes_.size() - offset_ < sizeof number) damaged();
    std::memcpy(&number, bytes_.data() + offset_, sizeof number);
    offset_ += sizeof number;
    return number;
  }
  std::string_view bytes_;
  std::size_t offset_ = 0;
};

}  // namespace sluice::zscore
