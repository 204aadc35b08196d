// Parsing of `unix:PATH` / `inet:HOST:PORT` listen specs (see listen_spec.h). Pure: every
// malformed input gives an error text, never an exception.
#include "util/listen_spec.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <charconv>

namespace tlsfence {
namespace {

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '-' || s.front() == '.') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

ListenSpecResult fail(std::string why) {
  return {std::nullopt, std::move(why)};
}

ListenSpecResult parse_unix(std::string_view path) {
  if (path.empty() || path.front() != '/') return fail("unix: needs an absolute path");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) return fail("unix socket path too long");
  for (unsigned char c : path) {
    if (c < ' ' || c == 0x7f) return fail("control character in unix socket path");
  }
  ListenSpec spec;
  spec.kind = ListenSpec::Kind::unix_socket;
  spec.path = std::string(path);
  return {spec, {}};
}

ListenSpecResult parse_inet(std::string_view rest) {
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after IPv6 address");
    host = rest.substr(1, close - 1);
    if (close + 1 >= rest.size() || rest[close + 1] != ':') return fail("expected ':PORT' after ']'");
    port = rest.substr(close + 2);
    bracketed = true;
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail("expected inet:HOST:PORT");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail("IPv6 address must be in brackets");
  }
  auto p = parse_port(port);
  if (!p) return fail("port must be 1..65535");
  ListenSpec spec;
  spec.kind = ListenSpec::Kind::inet;
  spec.host = std::string(host);
  spec.port = *p;
  if (bracketed) {
    if (!is_ipv6(spec.host)) return fail("not an IPv6 address in brackets");
    spec.ipv6 = true;
  } else if (!is_ipv4(spec.host) && !is_host_name(spec.host)) {
    return fail("host must be an IPv4 address, [IPv6] or a host name");
  }
  return {spec, {}};
}

}  // namespace

ListenSpecResult parse_listen_spec(std::string_view text) {
  if (text.starts_with("unix:")) return parse_unix(text.substr(5));
  if (text.starts_with("inet:")) return parse_inet(text.substr(5));
  return fail("expected unix:/PATH or inet:HOST:PORT");
}

std::string to_string(const ListenSpec& spec) {
  if (spec.kind == ListenSpec::Kind::unix_socket) return "unix:" + spec.path;
  if (spec.ipv6) return "inet:[" + spec.host + "]:" + std::to_string(spec.port);
  return "inet:" + spec.host + ":" + std::to_string(spec.port);
}

std::string to_milter_spec(const ListenSpec& spec) {
  if (spec.kind == ListenSpec::Kind::unix_socket) return "unix:" + spec.path;
  if (spec.ipv6) return "inet6:" + std::to_string(spec.port) + "@[" + spec.host + "]";
  return "inet:" + std::to_string(spec.port) + "@" + spec.host;
}

}  // namespace tlsfence
