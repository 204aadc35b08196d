// Fuzz target: bytes an SMTP server sends, split into replies as the STARTTLS probe does.
// Must never crash; a complete reply consumes at least one line, stays within the limits,
// and has a code in 200..599.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "check/smtp_reply.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tlsfence::check;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    ReplyParse p = parse_reply(rest);
    if (p.status != ReplyStatus::complete) break;
    if (p.consumed == 0 || p.consumed > rest.size()) std::abort();
    if (p.reply.code < 200 || p.reply.code > 599) std::abort();
    if (p.reply.lines.empty() || p.reply.lines.size() > smtp_reply_lines_max) std::abort();
    for (const auto& k : ehlo_keywords(p.reply)) {
      if (k.empty()) std::abort();
    }
    (void)ehlo_offers(p.reply, "STARTTLS");
    rest.remove_prefix(p.consumed);
  }
  (void)printable(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
