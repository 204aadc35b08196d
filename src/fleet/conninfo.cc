// Connection strings through libpq's parser: validity and a redacted form (see conninfo.h).
#include "fleet/conninfo.h"

#include <libpq-fe.h>

#include <memory>

namespace tlsfence::fleet {
namespace {

struct OptionsFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsFree>;

// libpq's messages quote the offending token, which may be part of a password: keep a quoted
// token only when it looks like a keyword (lower-case letters and '_'), else show "...".
std::string without_secrets(std::string message) {
  std::string out;
  std::size_t i = 0;
  while (i < message.size()) {
    const std::size_t open = message.find('"', i);
    const std::size_t close = open == std::string::npos ? open : message.find('"', open + 1);
    if (close == std::string::npos) {
      out += message.substr(i);
      break;
    }
    const std::string token = message.substr(open + 1, close - open - 1);
    const bool keyword = !token.empty() && token.size() <= 32 &&
                         token.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos;
    out += message.substr(i, open - i) + "\"" + (keyword ? token : std::string("...")) + "\"";
    i = close + 1;
  }
  return out;
}

Options parse(std::string_view conninfo, std::string& error) {
  char* err = nullptr;
  const std::string text(conninfo);
  Options opts(PQconninfoParse(text.c_str(), &err));
  if (!opts) {
    error = err != nullptr ? err : "out of memory";
    while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    for (char& c : error)
      if (c == '\n') c = ' ';
    error = without_secrets(std::move(error));
  }
  if (err != nullptr) PQfreemem(err);
  return opts;
}

bool secret(std::string_view keyword) {
  return keyword == "password" || keyword == "sslpassword";
}

// A value quoted for a key=value connection string when it needs it.
std::string quoted(std::string_view v) {
  const bool plain = !v.empty() && v.find_first_of(" \t\n'\\") == std::string_view::npos;
  if (plain) return std::string(v);
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string conninfo_error(std::string_view conninfo) {
  std::string error;
  if (!parse(conninfo, error)) return error.empty() ? "not a libpq connection string" : error;
  return {};
}

std::string redact_conninfo(std::string_view conninfo) {
  if (conninfo.empty()) return {};
  std::string error;
  Options opts = parse(conninfo, error);
  if (!opts) return "(unparsable connection string)";
  std::string out;
  for (const PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (!out.empty()) out += ' ';
    out += std::string(key) + "=" + (secret(key) ? std::string("***") : quoted(o->val));
  }
  return out;
}

}  // namespace tlsfence::fleet
