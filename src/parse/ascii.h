#pragma once
// Byte classes and small scanning helpers shared by the pure parsers (ASCII only, locale-free).
#include <string_view>

namespace tlsfence::parse::ascii {

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
constexpr bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}  // RFC 5234 WSP

// Removes `prefix` from the front of `s` when it is there.
constexpr bool consume(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// RFC 8461 §3.1/§3.2 sts-ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
constexpr bool is_sts_ext_name(std::string_view s) {
  if (s.empty() || s.size() > 32 || !is_alnum(s[0])) return false;
  for (char c : s.substr(1)) {
    if (!is_alnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace tlsfence::parse::ascii
