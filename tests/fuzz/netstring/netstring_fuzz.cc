// Fuzz target: the netstring decoder, whole and fed in chunks, must agree and never crash.
// The first input byte picks the chunk size, so the corpus also exercises split reads.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parse/netstring.h"

using namespace tlsfence::parse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 17;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t max = 10'000;

  // Whole-buffer decoding.
  std::vector<std::string> whole;
  NetstringError whole_error = NetstringError::none;
  std::string_view rest = input;
  for (;;) {
    NetstringResult r = decode_netstring(rest, max);
    if (r.status == NetstringStatus::incomplete) break;
    if (r.status == NetstringStatus::error) {
      whole_error = r.error;
      break;
    }
    if (r.consumed == 0 || r.consumed > rest.size() || r.data.size() > max) std::abort();
    whole.emplace_back(r.data);
    rest.remove_prefix(r.consumed);
  }

  // Chunked decoding must give the same netstrings and the same error.
  NetstringDecoder dec(max);
  std::vector<std::string> chunked;
  NetstringError chunked_error = NetstringError::none;
  for (std::size_t at = 0; at < input.size() && chunked_error == NetstringError::none; at += chunk) {
    dec.feed(input.substr(at, chunk));
    for (;;) {
      NetstringResult r = dec.next();
      if (r.status == NetstringStatus::incomplete) break;
      if (r.status == NetstringStatus::error) {
        chunked_error = r.error;
        break;
      }
      chunked.emplace_back(r.data);
    }
  }
  if (chunked != whole || chunked_error != whole_error) std::abort();

  // Round trip: encoding what was decoded decodes to the same bytes.
  for (const auto& s : whole) {
    const std::string enc = encode_netstring(s);
    NetstringResult r = decode_netstring(enc, max);
    if (r.status != NetstringStatus::complete || r.data != s || r.consumed != enc.size()) std::abort();
  }
  return 0;
}
