// SSRF guard: address classification table.
#include <gtest/gtest.h>

#include <string>

#include "https/address_guard.h"

namespace tlsfence::https {
namespace {

using C = AddressClass;

struct Case {
  const char* address;
  C cls;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.address;
}

class AddressGuard : public testing::TestWithParam<Case> {};

TEST_P(AddressGuard, Classifies) {
  const auto& c = GetParam();
  EXPECT_EQ(classify_address(c.address), c.cls)
      << c.address << " -> " << to_string(classify_address(c.address));
}

INSTANTIATE_TEST_SUITE_P(
    Table, AddressGuard,
    testing::Values(
        Case{"93.184.216.34", C::global}, Case{"8.8.8.8", C::global}, Case{"1.1.1.1", C::global},
        Case{"2606:2800:220:1:248:1893:25c8:1946", C::global}, Case{"127.0.0.1", C::loopback},
        Case{"127.0.0.20", C::loopback}, Case{"127.255.255.254", C::loopback}, Case{"::1", C::loopback},
        Case{"10.0.0.1", C::private_use}, Case{"172.16.0.1", C::private_use},
        Case{"172.31.255.255", C::private_use}, Case{"172.32.0.1", C::global},
        Case{"172.15.255.255", C::global}, Case{"192.168.1.1", C::private_use},
        Case{"fc00::1", C::private_use}, Case{"fd12:3456::1", C::private_use},
        Case{"169.254.169.254", C::link_local}, Case{"fe80::1", C::link_local}, Case{"100.64.0.1", C::shared},
        Case{"100.127.255.255", C::shared}, Case{"100.128.0.1", C::global}, Case{"100.63.255.255", C::global},
        Case{"224.0.0.1", C::multicast}, Case{"239.255.255.255", C::multicast}, Case{"ff02::1", C::multicast},
        Case{"0.0.0.0", C::unspecified}, Case{"::", C::unspecified}, Case{"0.1.2.3", C::reserved},
        Case{"255.255.255.255", C::reserved}, Case{"240.0.0.1", C::reserved}, Case{"192.0.2.1", C::reserved},
        Case{"198.51.100.7", C::reserved}, Case{"203.0.113.9", C::reserved}, Case{"198.18.0.1", C::reserved},
        Case{"2001:db8::1", C::reserved}, Case{"fec0::1", C::reserved},
        // IPv4 inside IPv6: classified by the IPv4 address
        Case{"::ffff:127.0.0.1", C::loopback}, Case{"::ffff:10.1.2.3", C::private_use},
        Case{"::ffff:169.254.1.1", C::link_local}, Case{"::ffff:8.8.8.8", C::global},
        Case{"64:ff9b::7f00:1", C::loopback}, Case{"64:ff9b::808:808", C::global},
        Case{"2002:7f00:1::1", C::loopback}, Case{"2002:c0a8:101::1", C::private_use},
        Case{"::127.0.0.1", C::reserved},
        // not addresses
        Case{"", C::invalid}, Case{"localhost", C::invalid}, Case{"1.2.3", C::invalid},
        Case{"256.1.1.1", C::invalid}, Case{"[::1]", C::invalid}, Case{"127.0.0.1 ", C::invalid},
        Case{"fe80::1%eth0", C::invalid}),
    [](const testing::TestParamInfo<Case>& i) { return "case" + std::to_string(i.index); });

TEST(AddressGuard, AllowedByDefaultOnlyGlobal) {
  EXPECT_TRUE(address_allowed(C::global, false));
  for (C c : {C::loopback, C::private_use, C::link_local, C::shared, C::reserved, C::multicast,
              C::unspecified, C::invalid}) {
    EXPECT_FALSE(address_allowed(c, false)) << to_string(c);
  }
}

TEST(AddressGuard, AllowPrivateStillRefusesMulticastAndUnspecified) {
  for (C c : {C::global, C::loopback, C::private_use, C::link_local, C::shared, C::reserved}) {
    EXPECT_TRUE(address_allowed(c, true)) << to_string(c);
  }
  for (C c : {C::multicast, C::unspecified, C::invalid})
    EXPECT_FALSE(address_allowed(c, true)) << to_string(c);
}

}  // namespace
}  // namespace tlsfence::https
