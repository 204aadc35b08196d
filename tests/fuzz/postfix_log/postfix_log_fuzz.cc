// Fuzz target: every input is one log line for parse_postfix_line (and the syslog prefix);
// must never crash, and every view it returns must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "parse/postfix_log.h"

namespace {
void inside(std::string_view whole, std::string_view part) {
  if (part.empty()) return;
  if (part.data() < whole.data() || part.data() + part.size() > whole.data() + whole.size()) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (auto s = tlsfence::parse::parse_syslog_line(line)) {
    inside(line, s->host);
    inside(line, s->message);
    (void)tlsfence::parse::syslog_unix_time(s->time, 1'795'330'070);
  }
  if (auto e = tlsfence::parse::parse_postfix_line(line)) {
    for (auto v : {e->host, e->ip, e->queue_id, e->recipient, e->status, e->status_text, e->reason,
                   e->protocol, e->cipher, e->policy_domain, e->dsn})
      inside(line, v);
  }
  return 0;
}
