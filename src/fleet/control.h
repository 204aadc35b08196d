#pragma once
// The fleet's cache-control messages, as NOTIFY tlsfence_control payloads (text from the
// database: untrusted, parsed strictly, never throws). Standard library only (fuzzed).
//   "flush HOST DOMAIN"      `tlsfence cache flush DOMAIN` ran on HOST: drop DOMAIN from memory
//   "refreshed HOST DOMAIN"  HOST refreshed DOMAIN and wrote it: drop the memory copy
// DOMAIN "*" means every domain. HOST and DOMAIN contain no space.
#include <string>

namespace tlsfence::fleet {

struct ControlMessage {
  std::string op, host, domain;  // domain "" = all
  bool ok = false;
};

ControlMessage parse_control(const std::string& payload);
// The payload of a message (`domain` "" = all).
std::string format_control(const std::string& op, const std::string& host, const std::string& domain);

}  // namespace tlsfence::fleet
