// Fuzz target: TLSA RDATA decoding (src/parse/dns_wire.h). Checks the usability invariant.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "parse/dns_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = tlsfence::parse::parse_tlsa_rdata(in);
  if (size < 3 && r) std::abort();
  if (r) {
    if (r->data.size() != size - 3) std::abort();
    if (r->usable != tlsfence::parse::tlsa_usable(r->usage, r->selector, r->matching_type, r->data.size()))
      std::abort();
    if (tlsfence::parse::encode_tlsa_rdata(r->usage, r->selector, r->matching_type, r->data) != in)
      std::abort();
  }
  return 0;
}
