// Fuzz target: the _mta-sts TXT parser. The input is split at NUL bytes into several TXT
// records (so discovery over several records is fuzzed too). Invariants: an ok result has a
// 1–32 alphanumeric id; a failure has a reason.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parse/sts_txt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> records;
  std::size_t start = 0;
  while (true) {
    std::size_t nul = in.find('\0', start);
    records.emplace_back(in.substr(start, nul == std::string_view::npos ? in.npos : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }
  auto r = tlsfence::parse::parse_sts_txt(records);
  if (r.ok() && (r.id.empty() || r.id.size() > 32)) std::abort();
  if (!r.ok() && r.detail.empty()) std::abort();
  for (const auto& rec : records) (void)tlsfence::parse::parse_sts_txt_record(rec);
  return 0;
}
