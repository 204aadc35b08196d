#pragma once
// Decoders (and, for tests and fakes, encoders) of DNS RDATA in wire format as libunbound
// hands it over: one record's RDATA, names uncompressed (RFC 3597 §4: MX, and every type
// this project reads, is never compressed in ub_result data).
//
// Pure: no logging, no exceptions on bad input; a malformed RDATA gives std::nullopt.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tlsfence/policy.h"

namespace tlsfence::parse {

struct MxRdata {
  std::uint16_t preference = 0;
  std::string exchange;  // presentation form, lower case, no trailing dot; "." for the root (null MX)
};

// A domain name in wire format starting at `offset`; on success `offset` moves past it.
// Returns the presentation form in lower case without the trailing dot ("." for the root).
// Bytes other than letters, digits, '-', '_' and '*' are escaped as \DDD, so a name that is
// not a host name never looks like one. Compression pointers, labels running past the end
// and names over 255 octets are malformed.
std::optional<std::string> parse_wire_name(std::string_view wire, std::size_t& offset);

// MX (RFC 1035 §3.3.9): preference + exchange; nothing may follow the name.
std::optional<MxRdata> parse_mx_rdata(std::string_view rdata);

// TXT (RFC 1035 §3.3.14): the character-strings of one record concatenated (RFC 7208 §3.3,
// RFC 8461 §3.1). At least one character-string; a length running past the end is malformed.
std::optional<std::string> parse_txt_rdata(std::string_view rdata);

// A (4 octets) / AAAA (16 octets) → textual address ("192.0.2.1", "2001:db8::1").
std::optional<std::string> parse_a_rdata(std::string_view rdata);
std::optional<std::string> parse_aaaa_rdata(std::string_view rdata);

// TLSA (RFC 6698 §2.1): usage, selector, matching type, association data. Fewer than 3
// octets is malformed (nullopt). `usable` per RFC 7672 §3.1: usage 2 (DANE-TA) or 3 (DANE-EE),
// selector 0 or 1, matching type 0 (non-empty data), 1 (32 octets) or 2 (64 octets).
std::optional<TlsaRecord> parse_tlsa_rdata(std::string_view rdata);
bool tlsa_usable(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching_type,
                 std::size_t data_size);

// ---- Encoders: the reverse, for unit tests and fake DNS sources. ----
// A presentation name ("mx.example", "mx.example.", "." or "") → wire format. Labels are
// taken literally (no escapes); an empty or over-long label gives "" (not a valid encoding).
std::string encode_wire_name(std::string_view name);
std::string encode_mx_rdata(std::uint16_t preference, std::string_view exchange);
// Splits `text` into character-strings of at most 255 octets.
std::string encode_txt_rdata(std::string_view text);
// Textual address → 4 / 16 octets; "" when the text is not an address of that family.
std::string encode_a_rdata(std::string_view address);
std::string encode_aaaa_rdata(std::string_view address);
std::string encode_tlsa_rdata(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching_type,
                              std::string_view data);

}  // namespace tlsfence::parse
