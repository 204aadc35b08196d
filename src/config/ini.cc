// The INI reader: `[section]`, `key = value`, comments (`#` or `;` at the start of a line, or
// ` #` after a value), optional double quotes around a value. Keeps FILE:LINE for messages.
// Bad text of any kind (binary, no '=', a key outside a section) is a ConfigError, never a
// crash.
#include <string>

#include "config/load.h"
#include "config/schema.h"
#include "tlsfence/limits.h"

namespace tlsfence::config {
namespace {

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Cuts an inline comment: '#' at the start of the value or after a blank.
std::string_view strip_comment(std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '#' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t')) return trim(v.substr(0, i));
  }
  return v;
}

// A value in double quotes keeps '#' and blanks; after the closing quote only a comment may follow.
std::string_view value_of(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"') {
    auto close = v.find('"', 1);
    if (close != std::string_view::npos && strip_comment(trim(v.substr(close + 1))).empty()) {
      return v.substr(1, close - 1);
    }
  }
  return strip_comment(v);
}

}  // namespace

std::vector<Setting> parse_ini(std::string_view text, std::string_view name) {
  if (text.size() > limits::config_file_max) {
    throw ConfigError(std::string(name) + ": file larger than " + std::to_string(limits::config_file_max) +
                      " bytes");
  }
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM
  std::vector<Setting> out;
  std::string section;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    std::string where = std::string(name) + ":" + std::to_string(line_no);
    if (raw.size() > limits::config_line_max) {
      throw ConfigError(where + ": line longer than " + std::to_string(limits::config_line_max) + " bytes");
    }
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      std::string_view head = strip_comment(line);
      if (head.back() != ']')
        throw ConfigError(where + ": expected \"[section]\", got \"" + printable(line) + "\"");
      std::string_view sec = trim(head.substr(1, head.size() - 2));
      if (!is_section(sec)) throw ConfigError(where + ": unknown section [" + printable(sec) + "]");
      section = std::string(sec);
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      throw ConfigError(where + ": expected \"key = value\" or \"[section]\", got \"" + printable(line) +
                        "\"");
    }
    std::string_view key = trim(line.substr(0, eq));
    if (key.empty()) throw ConfigError(where + ": missing key before '='");
    if (section.empty()) {
      throw ConfigError(where + ": key \"" + printable(key) + "\" outside any [section]");
    }
    std::string_view value = value_of(trim(line.substr(eq + 1)));
    out.push_back(Setting{section + "." + std::string(key), std::string(value), where});
  }
  return out;
}

}  // namespace tlsfence::config
