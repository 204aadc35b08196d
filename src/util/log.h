#pragma once
// Logging: one line per event, a stable text followed by key=value fields.
//
//   tlsfence::log::info("policy decided", {{"domain", d}, {"verdict", "dane-only"}, {"ttl", 300}});
//
// Goes to syslog (facility mail, ident = program name) or to stderr, as `daemon.log` says.
// Values that are empty or contain spaces, quotes, '=' or control characters are quoted,
// with '"' and '\' escaped and control bytes written as \xNN, so a line never breaks in two.
// Thread-safe: any thread (libmilter's included) may log at any time.
#include <concepts>
#include <initializer_list>
#include <string>
#include <string_view>

#include "tlsfence/config.h"

namespace tlsfence::log {

// One key=value field. Strings are copied; integers are formatted in decimal.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) Field(std::string_view k, T v)
      : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "yes" : "no") {}

  std::string_view key;
  std::string value;
};
using Fields = std::initializer_list<Field>;

// Sets the program name, the target and the threshold. May be called again (SIGHUP reload);
// until the first call, messages go to stderr at level info with ident "tlsfence".
void init(std::string_view ident, LogTarget target, LogLevel level);
// Changes only the threshold.
void set_level(LogLevel level);
bool enabled(LogLevel level);

void write(LogLevel level, std::string_view event, Fields fields = {});
inline void error(std::string_view event, Fields fields = {}) {
  write(LogLevel::error, event, fields);
}
inline void warning(std::string_view event, Fields fields = {}) {
  write(LogLevel::warning, event, fields);
}
inline void info(std::string_view event, Fields fields = {}) {
  write(LogLevel::info, event, fields);
}
inline void debug(std::string_view event, Fields fields = {}) {
  write(LogLevel::debug, event, fields);
}

// The text of a line without the target's prefix: `event key=value key="a b"` (for tests).
std::string format(std::string_view event, Fields fields);
// `value` as it appears after `key=` (quoted and escaped when needed).
std::string quote(std::string_view value);
std::string_view to_string(LogLevel level);

}  // namespace tlsfence::log
