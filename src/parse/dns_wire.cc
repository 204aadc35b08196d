// Wire-format RDATA codecs. Every length is checked against the bytes that are really there;
// malformed input yields std::nullopt, never an exception or a read past the end.
#include "parse/dns_wire.h"

#include <arpa/inet.h>

#include <algorithm>

namespace tlsfence::parse {
namespace {

constexpr std::size_t kWireNameMax = 255;  // RFC 1035 §3.1, including the root octet

std::uint8_t byte_at(std::string_view s, std::size_t i) {
  return static_cast<std::uint8_t>(s[i]);
}

bool plain_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
}

void append_label(std::string& out, std::string_view label) {
  for (unsigned char c : label) {
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (plain_char(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + c / 100));
      out.push_back(static_cast<char>('0' + (c / 10) % 10));
      out.push_back(static_cast<char>('0' + c % 10));
    }
  }
}

std::optional<std::string> parse_address(std::string_view rdata, int family, std::size_t size) {
  if (rdata.size() != size) return std::nullopt;
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(family, rdata.data(), text, sizeof text) == nullptr) return std::nullopt;
  return std::string(text);
}

std::string encode_address(std::string_view address, int family, std::size_t size) {
  if (address.size() >= INET6_ADDRSTRLEN) return {};
  std::string z(address);
  unsigned char buf[16] = {};
  if (inet_pton(family, z.c_str(), buf) != 1) return {};
  return std::string(reinterpret_cast<const char*>(buf), size);
}

}  // namespace

std::optional<std::string> parse_wire_name(std::string_view wire, std::size_t& offset) {
  std::size_t pos = offset;
  std::size_t wire_len = 0;
  std::string out;
  while (true) {
    if (pos >= wire.size()) return std::nullopt;
    std::uint8_t len = byte_at(wire, pos);
    if ((len & 0xC0) != 0) return std::nullopt;  // compression pointer or reserved label type
    wire_len += 1u + len;
    if (wire_len > kWireNameMax) return std::nullopt;
    ++pos;
    if (len == 0) break;
    if (wire.size() - pos < len) return std::nullopt;
    if (!out.empty()) out.push_back('.');
    append_label(out, wire.substr(pos, len));
    pos += len;
  }
  offset = pos;
  if (out.empty()) return std::string(".");
  return out;
}

std::optional<MxRdata> parse_mx_rdata(std::string_view rdata) {
  if (rdata.size() < 3) return std::nullopt;
  MxRdata mx;
  mx.preference = static_cast<std::uint16_t>(byte_at(rdata, 0) << 8 | byte_at(rdata, 1));
  std::size_t offset = 2;
  auto name = parse_wire_name(rdata, offset);
  if (!name || offset != rdata.size()) return std::nullopt;
  mx.exchange = std::move(*name);
  return mx;
}

std::optional<std::string> parse_txt_rdata(std::string_view rdata) {
  if (rdata.empty()) return std::nullopt;
  std::string out;
  std::size_t pos = 0;
  while (pos < rdata.size()) {
    std::size_t len = byte_at(rdata, pos);
    ++pos;
    if (rdata.size() - pos < len) return std::nullopt;
    out.append(rdata.substr(pos, len));
    pos += len;
  }
  return out;
}

std::optional<std::string> parse_a_rdata(std::string_view rdata) {
  return parse_address(rdata, AF_INET, 4);
}
std::optional<std::string> parse_aaaa_rdata(std::string_view rdata) {
  return parse_address(rdata, AF_INET6, 16);
}

bool tlsa_usable(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching_type,
                 std::size_t data_size) {
  if (usage != 2 && usage != 3) return false;
  if (selector != 0 && selector != 1) return false;
  switch (matching_type) {
    case 0: return data_size > 0;
    case 1: return data_size == 32;
    case 2: return data_size == 64;
    default: return false;
  }
}

std::optional<TlsaRecord> parse_tlsa_rdata(std::string_view rdata) {
  if (rdata.size() < 3) return std::nullopt;
  TlsaRecord r;
  r.usage = byte_at(rdata, 0);
  r.selector = byte_at(rdata, 1);
  r.matching_type = byte_at(rdata, 2);
  r.data.assign(rdata.substr(3));
  r.usable = tlsa_usable(r.usage, r.selector, r.matching_type, r.data.size());
  return r;
}

std::string encode_wire_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out;
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    std::size_t end = dot == std::string_view::npos ? name.size() : dot;
    std::size_t len = end - start;
    if (len == 0 || len > 63) return {};
    out.push_back(static_cast<char>(len));
    out.append(name.substr(start, len));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
    if (start == name.size()) return {};  // "a..": empty last label
  }
  out.push_back('\0');
  return out;
}

std::string encode_mx_rdata(std::uint16_t preference, std::string_view exchange) {
  std::string out;
  out.push_back(static_cast<char>(preference >> 8));
  out.push_back(static_cast<char>(preference & 0xFF));
  out += encode_wire_name(exchange);
  return out;
}

std::string encode_txt_rdata(std::string_view text) {
  std::string out;
  do {
    std::size_t n = std::min<std::size_t>(text.size(), 255);
    out.push_back(static_cast<char>(n));
    out.append(text.substr(0, n));
    text.remove_prefix(n);
  } while (!text.empty());
  return out;
}

std::string encode_a_rdata(std::string_view address) {
  return encode_address(address, AF_INET, 4);
}
std::string encode_aaaa_rdata(std::string_view address) {
  return encode_address(address, AF_INET6, 16);
}

std::string encode_tlsa_rdata(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching_type,
                              std::string_view data) {
  std::string out;
  out.push_back(static_cast<char>(usage));
  out.push_back(static_cast<char>(selector));
  out.push_back(static_cast<char>(matching_type));
  out.append(data);
  return out;
}

}  // namespace tlsfence::parse
