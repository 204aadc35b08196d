#pragma once
// For fuzz targets of incremental parsers: the input cut into chunks whose sizes come from the
// input itself (1–13 bytes, varying), so a parser fed whole and fed in pieces can be compared.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tlsfence::fuzz {

// Calls feed(chunk) for each chunk in order while it returns true.
template <typename Feed>
void feed_in_chunks(const std::uint8_t* data, std::size_t size, Feed feed) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t pos = 0;
  std::size_t step = size ? (data[0] % 7) + 1 : 1;
  while (pos < size) {
    const std::size_t n = std::min(step, size - pos);
    if (!feed(input.substr(pos, n))) return;
    pos += n;
    step = (step * 3) % 13 + 1;
  }
}

}  // namespace tlsfence::fuzz
