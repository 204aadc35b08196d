#pragma once
// Every protocol and input limit in one place. Each is tested at the limit and one past it.
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace tlsfence::limits {

// Socketmap (Postfix dict_sockmap / Sendmail socket map)
inline constexpr std::size_t socketmap_request_max = 10'000;  // bytes of a request netstring
inline constexpr std::size_t socketmap_reply_max = 100'000;   // bytes of a reply netstring

// Domain names (RFC 1035)
inline constexpr std::size_t domain_name_max = 253;  // presentation form, no trailing dot
inline constexpr std::size_t domain_label_max = 63;

// MTA-STS (RFC 8461)
inline constexpr std::size_t sts_body_max = 64 * 1024;          // §3.3
inline constexpr std::uint32_t sts_max_age_max = 31'557'600;    // §3.2, errata 7282: cap
inline constexpr std::size_t sts_id_max = 32;                   // §3.1
inline constexpr std::size_t sts_mx_patterns_max = 1'000;       // defensive

// Postfix policy delegation
inline constexpr std::size_t policy_line_max = 8'192;
inline constexpr std::size_t policy_attributes_max = 256;

// libtlsrpt datagrams
inline constexpr std::size_t tlsrpt_datagram_max = 64 * 1024;

// Log lines (longer lines are skipped and counted, never parsed partially)
inline constexpr std::size_t log_line_max = 16 * 1024;

}  // namespace tlsfence::limits
