#pragma once
// Strings into the JSON the fleet's statements carry: PostgreSQL's json functions refuse a
// NUL character and invalid UTF-8 is not JSON, so both are replaced (U+FFFD), never a throw.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace tlsfence::rptd {

inline std::string json_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\0')
      out += "\xEF\xBF\xBD";
    else
      out += c;
  }
  return out;
}

inline std::string json_dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tlsfence::rptd
