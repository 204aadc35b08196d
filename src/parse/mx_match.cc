// MTA-STS MX host matching (RFC 8461 §4.1); see mx_match.h.
#include "parse/mx_match.h"

namespace tlsfence::parse {
namespace {

std::string_view strip_dot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

bool mx_matches(std::string_view host, std::string_view pattern) {
  host = strip_dot(host);
  pattern = strip_dot(pattern);
  if (host.empty() || pattern.empty()) return false;
  if (pattern.substr(0, 2) != "*.") return iequals(host, pattern);
  std::string_view suffix = pattern.substr(1);  // ".example.com"
  if (suffix.size() < 2 || host.size() <= suffix.size()) return false;
  std::string_view label = host.substr(0, host.size() - suffix.size());
  if (label.find('.') != std::string_view::npos || label == "*") return false;
  return iequals(host.substr(label.size()), suffix);
}

bool mx_matches_any(std::string_view host, const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    if (mx_matches(host, p)) return true;
  }
  return false;
}

}  // namespace tlsfence::parse
