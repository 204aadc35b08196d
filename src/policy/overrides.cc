// Local override rules: parsing and matching. See overrides.h.
#include "policy/overrides.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace tlsfence::policy {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool is_ldh_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == '.') {
      if (label == 0 || name[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(c) || c == '-' || c == '_')) return false;
    if (label == 0 && c == '-') return false;
    if (++label > 63) return false;
  }
  return label != 0 && name.back() != '-';
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x21 && c < 0x7f; });
}

}  // namespace

bool is_postfix_tls_level(std::string_view level) {
  static constexpr std::array<std::string_view, 8> levels = {"none",      "may",         "encrypt", "dane",
                                                             "dane-only", "fingerprint", "verify",  "secure"};
  return std::find(levels.begin(), levels.end(), level) != levels.end();
}

Overrides::Overrides(const std::vector<std::string>& rules) {
  for (const auto& rule : rules) {
    std::vector<std::string_view> words;
    std::string_view rest(rule);
    while (!rest.empty()) {
      const auto start = rest.find_first_not_of(" \t");
      if (start == std::string_view::npos) break;
      rest.remove_prefix(start);
      const auto end = rest.find_first_of(" \t");
      words.push_back(rest.substr(0, end));
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    }
    if (words.size() < 2) {
      throw OverrideError("local.override \"" + rule + "\": expected DOMAIN LEVEL [ARGS…]");
    }
    std::string pattern = lower(words[0]);
    if (!pattern.empty() && pattern.back() == '.') pattern.pop_back();
    const bool suffix = !pattern.empty() && pattern.front() == '.';
    const std::string name = suffix ? pattern.substr(1) : pattern;
    if (!is_ldh_name(name)) {
      throw OverrideError("local.override \"" + rule + "\": \"" + std::string(words[0]) +
                          "\" is not a domain name (use example.org or .example.org)");
    }
    if (!is_postfix_tls_level(words[1])) {
      throw OverrideError("local.override \"" + rule + "\": unknown TLS level \"" + std::string(words[1]) +
                          "\" (none, may, encrypt, dane, dane-only, fingerprint, verify, secure)");
    }
    std::string level(words[1]);
    for (size_t i = 2; i < words.size(); ++i) {
      if (!printable(words[i]) || words[i].find('=') == std::string_view::npos) {
        throw OverrideError("local.override \"" + rule + "\": attribute \"" + std::string(words[i]) +
                            "\" is not name=value");
      }
      level += ' ';
      level += words[i];
    }
    auto& map = suffix ? suffix_ : exact_;
    if (map.count(name) != 0) {
      throw OverrideError("local.override \"" + rule + "\": " + pattern + " is already overridden");
    }
    map.emplace(name, OverrideRule{pattern, std::move(level)});
  }
}

const OverrideRule* Overrides::find(std::string_view domain) const {
  if (empty()) return nullptr;
  const std::string key(domain);
  if (auto it = exact_.find(key); it != exact_.end()) return &it->second;
  // Walk up: a.b.example.org → b.example.org → example.org → org.
  for (size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', dot + 1)) {
    if (auto it = suffix_.find(key.substr(dot + 1)); it != suffix_.end()) return &it->second;
  }
  return nullptr;
}

}  // namespace tlsfence::policy
