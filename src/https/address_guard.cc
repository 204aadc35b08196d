// SSRF guard: address classification (see address_guard.h).
#include "https/address_guard.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <string>

namespace tlsfence::https {
namespace {

bool in(std::uint32_t a, std::uint32_t net, int bits) {
  std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
  return (a & mask) == net;
}

constexpr std::uint32_t v4(int a, int b, int c, int d) {
  return std::uint32_t(a) << 24 | std::uint32_t(b) << 16 | std::uint32_t(c) << 8 | std::uint32_t(d);
}

AddressClass classify_v4(std::uint32_t a) {
  if (a == 0) return AddressClass::unspecified;
  if (in(a, v4(127, 0, 0, 0), 8)) return AddressClass::loopback;
  if (in(a, v4(10, 0, 0, 0), 8) || in(a, v4(172, 16, 0, 0), 12) || in(a, v4(192, 168, 0, 0), 16)) {
    return AddressClass::private_use;
  }
  if (in(a, v4(100, 64, 0, 0), 10)) return AddressClass::shared;
  if (in(a, v4(169, 254, 0, 0), 16)) return AddressClass::link_local;
  if (in(a, v4(224, 0, 0, 0), 4)) return AddressClass::multicast;
  if (in(a, v4(0, 0, 0, 0), 8) || in(a, v4(240, 0, 0, 0), 4) || in(a, v4(192, 0, 0, 0), 24) ||
      in(a, v4(192, 0, 2, 0), 24) || in(a, v4(198, 18, 0, 0), 15) || in(a, v4(198, 51, 100, 0), 24) ||
      in(a, v4(203, 0, 113, 0), 24)) {
    return AddressClass::reserved;
  }
  return AddressClass::global;
}

std::uint32_t v4_at(const std::array<unsigned char, 16>& b, int i) {
  return std::uint32_t(b[i]) << 24 | std::uint32_t(b[i + 1]) << 16 | std::uint32_t(b[i + 2]) << 8 |
         std::uint32_t(b[i + 3]);
}

bool zeros(const std::array<unsigned char, 16>& b, int from, int to) {
  for (int i = from; i < to; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

AddressClass classify_v6(const std::array<unsigned char, 16>& b) {
  if (zeros(b, 0, 16)) return AddressClass::unspecified;
  if (zeros(b, 0, 15) && b[15] == 1) return AddressClass::loopback;
  if (zeros(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) return classify_v4(v4_at(b, 12));  // mapped
  if (zeros(b, 0, 12)) return AddressClass::reserved;  // IPv4-compatible (deprecated)
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(b, 4, 12)) {
    return classify_v4(v4_at(b, 12));  // NAT64 well-known prefix
  }
  if (b[0] == 0x20 && b[1] == 0x02) return classify_v4(v4_at(b, 2));  // 6to4
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::private_use;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::link_local;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressClass::reserved;  // site-local
  if (b[0] == 0xff) return AddressClass::multicast;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return AddressClass::reserved;
  if (b[0] == 0x01 && b[1] == 0x00 && zeros(b, 2, 8)) return AddressClass::reserved;  // discard
  return AddressClass::global;
}

}  // namespace

std::string_view to_string(AddressClass c) {
  switch (c) {
    case AddressClass::global: return "global";
    case AddressClass::loopback: return "loopback";
    case AddressClass::private_use: return "private";
    case AddressClass::link_local: return "link-local";
    case AddressClass::shared: return "shared (CGNAT)";
    case AddressClass::multicast: return "multicast";
    case AddressClass::unspecified: return "unspecified";
    case AddressClass::reserved: return "reserved";
    case AddressClass::invalid: return "invalid";
  }
  return "invalid";
}

AddressClass classify_address(std::string_view address) {
  if (address.empty() || address.size() > 64) return AddressClass::invalid;
  std::string text(address);
  unsigned char buf4[4];
  if (inet_pton(AF_INET, text.c_str(), buf4) == 1) {
    return classify_v4(std::uint32_t(buf4[0]) << 24 | std::uint32_t(buf4[1]) << 16 |
                       std::uint32_t(buf4[2]) << 8 | std::uint32_t(buf4[3]));
  }
  std::array<unsigned char, 16> buf6{};
  if (inet_pton(AF_INET6, text.c_str(), buf6.data()) == 1) return classify_v6(buf6);
  return AddressClass::invalid;
}

bool address_allowed(AddressClass c, bool allow_private_addresses) {
  switch (c) {
    case AddressClass::global: return true;
    case AddressClass::multicast:
    case AddressClass::unspecified:
    case AddressClass::invalid: return false;
    default: return allow_private_addresses;
  }
}

}  // namespace tlsfence::https
