#pragma once
// The schema of the config file: every key of INTERFACE.md (plus the [cache] extras) with
// its type, bounds, default and one line of help. One schema serves all three programs.
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "tlsfence/config.h"

namespace tlsfence::config {

// When a changed value takes effect in a running tlsfenced (tlsfence-rptd applies only the
// [daemon] log keys at a reload; tlsfence reads the file at every run).
enum class Reload {
  restart,  // at the next start
  at_once,  // at a reload (SIGHUP, systemctl reload tlsfenced)
};

struct KeyInfo {
  std::string_view name;          // "section.key", e.g. "dns.timeout"
  std::string_view default_text;  // as written in the sample config
  std::string_view help;          // one line, with the accepted values
  bool repeatable = false;        // may be given several times; an empty value clears the list
  // Validates `value` and stores it into `config` (repeatable keys append). Returns "" on
  // success or what is wrong with the value (without the key name).
  std::function<std::string(Config&, std::string_view value)> set;
  // Repeatable keys: empties the list (the first value of a winning layer replaces defaults).
  std::function<void(Config&)> clear;
  Reload reload = Reload::restart;  // set in schema() from the table of reloadable keys
};

std::span<const KeyInfo> schema();
const KeyInfo* find_key(std::string_view name);
// The sections of the schema, in file order: "daemon", "socketmap", …
std::span<const std::string_view> sections();
bool is_section(std::string_view name);

// Printable form of untrusted text for messages: control bytes escaped, at most `max` bytes.
std::string printable(std::string_view text, std::size_t max = 80);

}  // namespace tlsfence::config
