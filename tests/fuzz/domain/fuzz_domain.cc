// Fuzz target: next-hop normalisation (src/parse/domain.h). A domain result must be a valid
// host name, and normalising it again must give the same name.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "parse/domain.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tlsfence::parse;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  NextHop h = parse_next_hop(in);
  switch (h.kind) {
    case NextHopKind::domain: {
      if (!is_valid_hostname(h.domain)) std::abort();
      NextHop again = parse_next_hop(h.domain);
      if (again.kind != NextHopKind::domain || again.domain != h.domain) std::abort();
      break;
    }
    case NextHopKind::invalid:
      if (h.error.empty()) std::abort();
      break;
    case NextHopKind::not_a_domain: break;
  }
  (void)is_valid_hostname(in);
  return 0;
}
