// Cache-control payloads of the fleet's NOTIFY channel (see control.h).
#include "fleet/control.h"

namespace tlsfence::fleet {

ControlMessage parse_control(const std::string& payload) {
  ControlMessage m;
  const auto a = payload.find(' ');
  const auto b = a == std::string::npos ? a : payload.find(' ', a + 1);
  if (b == std::string::npos || payload.find(' ', b + 1) != std::string::npos) return m;
  m.op = payload.substr(0, a);
  m.host = payload.substr(a + 1, b - a - 1);
  m.domain = payload.substr(b + 1);
  if ((m.op != "flush" && m.op != "refreshed") || m.host.empty() || m.domain.empty()) return m;
  if (m.domain == "*") m.domain.clear();
  m.ok = true;
  return m;
}

std::string format_control(const std::string& op, const std::string& host, const std::string& domain) {
  return op + " " + host + " " + (domain.empty() ? std::string("*") : domain);
}

}  // namespace tlsfence::fleet
