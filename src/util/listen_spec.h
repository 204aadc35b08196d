#pragma once
// Listen addresses of the front doors: `unix:/abs/path`, `inet:HOST:PORT`,
// `inet:[IPv6]:PORT` (INTERFACE.md). Pure parsing and formatting, no I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tlsfence {

struct ListenSpec {
  enum class Kind { unix_socket, inet };
  Kind kind = Kind::unix_socket;
  std::string path;  // unix: absolute path
  std::string host;  // inet: IPv4 literal, IPv6 literal (without brackets) or host name
  std::uint16_t port = 0;
  bool ipv6 = false;  // inet: host is an IPv6 literal

  bool operator==(const ListenSpec&) const = default;
};

struct ListenSpecResult {
  std::optional<ListenSpec> spec;
  std::string error;  // why it was refused, when spec is empty
};

// Parses one listen spec. Never throws.
ListenSpecResult parse_listen_spec(std::string_view text);

// The spec in its canonical form (`unix:/p`, `inet:1.2.3.4:25`, `inet:[::1]:25`).
std::string to_string(const ListenSpec& spec);

// libmilter's syntax for the same address: `unix:/path`, `inet:PORT@HOST`, `inet6:PORT@[HOST]`.
std::string to_milter_spec(const ListenSpec& spec);

}  // namespace tlsfence
