// Fuzz target: one _smtp._tls TXT record (and the same split on NUL as several records);
// must never crash, and a parsed record always has at least one URI.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parse/tlsrpt_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view txt(reinterpret_cast<const char*>(data), size);
  auto r = tlsfence::parse::parse_tlsrpt_record(txt);
  if (r.record && r.record->rua.empty()) std::abort();
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (pos <= txt.size()) {
    auto nul = txt.find('\0', pos);
    parts.emplace_back(txt.substr(pos, nul == std::string_view::npos ? txt.npos : nul - pos));
    if (nul == std::string_view::npos) break;
    pos = nul + 1;
  }
  auto s = tlsfence::parse::select_tlsrpt_record(parts);
  if (s.record && s.record->rua.empty()) std::abort();
  (void)tlsfence::parse::percent_decode(txt);
  return 0;
}
