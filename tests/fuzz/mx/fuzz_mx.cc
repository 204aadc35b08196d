// Fuzz target: MX RDATA and wire names (src/parse/dns_wire.h), plus TXT and addresses since
// they share the input shape. A decoded name must stay inside the input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "parse/dns_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tlsfence::parse;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto mx = parse_mx_rdata(in);
  if (mx && mx->exchange.empty()) std::abort();
  for (std::size_t start = 0; start < size && start < 4; ++start) {
    std::size_t offset = start;
    auto name = parse_wire_name(in, offset);
    if (name ? (offset <= start || offset > size) : offset != start) std::abort();
  }
  (void)parse_txt_rdata(in);
  (void)parse_a_rdata(in);
  (void)parse_aaaa_rdata(in);
  return 0;
}
