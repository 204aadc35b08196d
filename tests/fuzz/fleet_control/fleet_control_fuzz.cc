// Fuzz target: the fleet's cache-control NOTIFY payloads (fleet/control.h), text from the
// database. Invariants: an accepted message has a known op, a host and a domain without
// spaces, and formats back to the same payload ("*" for every domain); nothing throws.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fleet/control.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const tlsfence::fleet::ControlMessage m = tlsfence::fleet::parse_control(in);
  if (!m.ok) return 0;
  if (m.op != "flush" && m.op != "refreshed") std::abort();
  if (m.host.empty() || m.host.find(' ') != std::string::npos) std::abort();
  if (m.domain.find(' ') != std::string::npos || m.domain == "*") std::abort();
  if (tlsfence::fleet::format_control(m.op, m.host, m.domain) != in) std::abort();
  return 0;
}
