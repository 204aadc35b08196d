#pragma once
// Forced TLS at reception: which messages must leave encrypted whatever the recipient domain
// publishes ([reception] forced-tls-* keys). One matcher, shared by the policy delegation door
// and the milter door; built once at start-up, immutable, safe to use from any thread.
//
// Rules (all comparisons of domains and user names are case-insensitive; domains may be
// written as U-labels, they are compared as A-labels; a trailing dot is ignored):
//  forced-tls-sender            `user@domain`  that exact address;
//                               `@domain`      any address at exactly that domain;
//                               `domain`       any address at that domain OR a subdomain of it
//                                              (like Postfix access(5) with
//                                              parent_domain_matches_subdomains);
//                               `.domain`      any address at a subdomain only.
//                               The null sender `<>` never matches.
//  forced-tls-recipient-domain  `domain` (and its subdomains) or `.domain` (subdomains only).
//  forced-tls-sasl-user         the SASL login name, exactly (case-insensitive).
//  forced-tls-client-network    CIDR `192.0.2.0/24`, `2001:db8::/32`, or a bare address
//                               (/32, /128). Host bits must be zero. An IPv4-mapped IPv6
//                               client address (::ffff:192.0.2.1) matches IPv4 rules.
// A malformed rule makes the factory throw ForcedTlsError naming the key and the rule.
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tlsfence/config.h"

namespace tlsfence::policy {

class ForcedTlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a door knows about a message when it asks. Empty fields are unknown / absent.
struct MessageFacts {
  std::string sender;                   // envelope sender, without <>; "" for the null sender
  std::string sasl_user;                // SASL login name ("" when not authenticated)
  std::string client_address;           // "192.0.2.1", "2001:db8::1" (brackets/"IPv6:" tolerated)
  std::vector<std::string> recipients;  // envelope recipients, without <>
};

// Which rule family forced the message (for the decision log line).
enum class ForcedBy { none, sender, sasl_user, client_network, recipient_domain };
std::string_view to_string(ForcedBy f);

class ForcedTls {
 public:
  // No rules: nothing is forced.
  ForcedTls() = default;
  // Validates every rule; throws ForcedTlsError("forced-tls-sender: bad rule \"…\": why").
  static ForcedTls from_config(const Config::Reception& reception);

  bool forced(const MessageFacts& facts) const { return why(facts) != ForcedBy::none; }
  // The first family that matches, in the order sender, sasl user, client, recipients.
  ForcedBy why(const MessageFacts& facts) const;

  bool sender_forced(std::string_view sender) const;
  bool sasl_user_forced(std::string_view user) const;
  bool client_forced(std::string_view address) const;
  bool recipient_forced(std::string_view recipient) const;

  bool empty() const;

 private:
  struct DomainRule {
    std::string domain;  // normalised A-label
    bool self = true;    // matches the domain itself
    bool subdomains = true;
  };
  struct Network {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};  // v4 uses the first 4
    unsigned prefix = 0;
  };

  static bool domain_matches(const DomainRule& rule, std::string_view domain);

  std::vector<std::string> sender_addresses_;  // `user@domain`, lower-cased, domain normalised
  std::vector<DomainRule> sender_domains_;
  std::vector<std::string> sasl_users_;  // lower-cased
  std::vector<Network> networks_;
  std::vector<DomainRule> recipient_domains_;
};

// The domain part of an address (after the last '@'), "" when there is none.
std::string_view address_domain(std::string_view address);
// Strips one pair of enclosing <> and surrounding blanks: "<a@b>" → "a@b".
std::string_view strip_angle_brackets(std::string_view address);

}  // namespace tlsfence::policy
