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
inline constexpr std::size_t sts_body_max = 64 * 1024;        // §3.3
inline constexpr std::uint32_t sts_max_age_max = 31'557'600;  // §3.2, errata 7282: cap
inline constexpr std::size_t sts_id_max = 32;                 // §3.1
inline constexpr std::size_t sts_mx_patterns_max = 1'000;     // defensive

// Postfix policy delegation
inline constexpr std::size_t policy_line_max = 8'192;
inline constexpr std::size_t policy_attributes_max = 256;

// Milter (libmilter's wire protocol): one packet, command byte and data. libmilter's own
// largest is 1 MiB (SMFIP_MDS_1M); Postfix sends a header as one packet (header_size_limit,
// 100 KiB by default).
inline constexpr std::size_t milter_packet_max = 1024 * 1024;

// libtlsrpt datagrams
inline constexpr std::size_t tlsrpt_datagram_max = 64 * 1024;

// TLS-RPT (RFC 8460): _smtp._tls record and datagram contents (defensive bounds)
inline constexpr std::size_t tlsrpt_record_max = 4'096;            // bytes of one TXT record
inline constexpr std::size_t tlsrpt_rua_max = 32;                  // URIs kept from one rua field
inline constexpr std::size_t tlsrpt_datagram_policies_max = 64;    // policies[] in one datagram
inline constexpr std::size_t tlsrpt_datagram_details_max = 256;    // failure-details[] per policy
inline constexpr std::size_t tlsrpt_datagram_strings_max = 1'000;  // policy-string[] / mx-host[] items

// Log lines (longer lines are skipped and counted, never parsed partially)
inline constexpr std::size_t log_line_max = 16 * 1024;

// Config file (src/config)
inline constexpr std::size_t config_file_max = 1024 * 1024;  // bytes
inline constexpr std::size_t config_line_max = 4'096;        // bytes of one line

}  // namespace tlsfence::limits
