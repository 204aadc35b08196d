#pragma once
// An independent check of an MTA-STS policy body against RFC 8461 §3.2, written from the ABNF
// (not from src/parse/sts_policy.cc) for the differential fuzz target:
//
//   sts-policy-record   = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP)
//                         [sts-policy-term]
//   sts-policy-field    = version / mode / max_age / mx / extension;  field-delim = ":" *WSP
//   version: %s"STSv1"   mode: %s"testing" / %s"enforce" / %s"none"   max_age: 1*10DIGIT
//   mx: ["*."] Domain (RFC 5321)     ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//   ext-value = vchar [*(%x20 / vchar) vchar];  vchar = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4
//   sts-policy-term = LF / CRLF
//
// plus the rules the RFC states in prose and the project's documented choices
// (sts_policy.h): version, mode and max_age required, the first of each wins (a repeat is read
// as an extension field); every mx line is an mx field; mx required unless mode none; a
// Domain's labels are 1–63 characters, 253 in all, the last not all digits; at most
// `mx_max` mx lines.
#include <cstddef>
#include <string_view>

namespace tlsfence::fuzz {

bool rfc8461_policy_valid(std::string_view body, std::size_t mx_max);

}  // namespace tlsfence::fuzz
