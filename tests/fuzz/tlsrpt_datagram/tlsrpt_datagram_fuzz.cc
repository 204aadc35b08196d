// Fuzz target: one libtlsrpt datagram; must never crash or throw, and a parsed datagram
// always has a domain and at least one policy.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "parse/tlsrpt_datagram.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r =
      tlsfence::parse::parse_tlsrpt_datagram(std::string_view(reinterpret_cast<const char*>(data), size));
  if (r.datagram && (r.datagram->domain.empty() || r.datagram->policies.empty())) std::abort();
  if (!r.datagram && r.error == tlsfence::parse::DatagramError::none) std::abort();
  return 0;
}
