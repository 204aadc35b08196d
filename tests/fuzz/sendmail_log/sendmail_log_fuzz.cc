// Fuzz target: one Sendmail log line; must never crash, views stay inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "parse/sendmail_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (auto e = tlsfence::parse::parse_sendmail_line(line)) {
    for (auto v : {e->host, e->ip, e->queue_id, e->recipients, e->first_recipient_domain, e->verify,
                   e->verifymsg, e->stat_text}) {
      if (!v.empty() && (v.data() < line.data() || v.data() + v.size() > line.data() + line.size()))
        std::abort();
    }
  }
  return 0;
}
