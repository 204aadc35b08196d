#pragma once
// TLS-RPT (RFC 8460) vocabulary shared by the parsers, the sidecar and the policy code:
// the result types of §4.3 and the policy types of §4.4, with their report names and the
// integer codes libtlsrpt puts in its datagrams (201–205, 301–306; policy 1, 2, 9).
#include <optional>
#include <string_view>

namespace tlsfence {

enum class TlsrptResult {
  // TLS negotiation failures (§4.3.1)
  starttls_not_supported,
  certificate_host_mismatch,
  certificate_expired,
  certificate_not_trusted,
  validation_failure,
  // MTA-STS failures (§4.3.2.2)
  sts_policy_fetch_error,
  sts_policy_invalid,
  sts_webpki_invalid,
  // DNS / DANE failures (§4.3.2.1)
  tlsa_invalid,
  dnssec_invalid,
  dane_required,
};

enum class TlsrptPolicyType { tlsa, sts, no_policy_found };

inline constexpr std::string_view to_string(TlsrptResult r) {
  switch (r) {
    case TlsrptResult::starttls_not_supported: return "starttls-not-supported";
    case TlsrptResult::certificate_host_mismatch: return "certificate-host-mismatch";
    case TlsrptResult::certificate_expired: return "certificate-expired";
    case TlsrptResult::certificate_not_trusted: return "certificate-not-trusted";
    case TlsrptResult::validation_failure: return "validation-failure";
    case TlsrptResult::sts_policy_fetch_error: return "sts-policy-fetch-error";
    case TlsrptResult::sts_policy_invalid: return "sts-policy-invalid";
    case TlsrptResult::sts_webpki_invalid: return "sts-webpki-invalid";
    case TlsrptResult::tlsa_invalid: return "tlsa-invalid";
    case TlsrptResult::dnssec_invalid: return "dnssec-invalid";
    case TlsrptResult::dane_required: return "dane-required";
  }
  return "validation-failure";
}

inline constexpr std::string_view to_string(TlsrptPolicyType t) {
  switch (t) {
    case TlsrptPolicyType::tlsa: return "tlsa";
    case TlsrptPolicyType::sts: return "sts";
    case TlsrptPolicyType::no_policy_found: return "no-policy-found";
  }
  return "no-policy-found";
}

// Every result type, in the enum's order.
inline constexpr TlsrptResult kAllTlsrptResults[] = {
    TlsrptResult::starttls_not_supported, TlsrptResult::certificate_host_mismatch,
    TlsrptResult::certificate_expired,    TlsrptResult::certificate_not_trusted,
    TlsrptResult::validation_failure,     TlsrptResult::sts_policy_fetch_error,
    TlsrptResult::sts_policy_invalid,     TlsrptResult::sts_webpki_invalid,
    TlsrptResult::tlsa_invalid,           TlsrptResult::dnssec_invalid,
    TlsrptResult::dane_required};

// "certificate-expired" (report form) or "certificate_expired" (Postfix's TLSRPT log form).
inline constexpr std::optional<TlsrptResult> tlsrpt_result_from_name(std::string_view s) {
  for (TlsrptResult r : kAllTlsrptResults) {
    std::string_view name = to_string(r);
    if (name.size() != s.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < s.size() && same; ++i) {
      char c = s[i] == '_' ? '-' : s[i];
      same = c == name[i];
    }
    if (same) return r;
  }
  return std::nullopt;
}

inline constexpr std::optional<TlsrptPolicyType> tlsrpt_policy_type_from_name(std::string_view s) {
  if (s == "tlsa") return TlsrptPolicyType::tlsa;
  if (s == "sts") return TlsrptPolicyType::sts;
  if (s == "no-policy-found") return TlsrptPolicyType::no_policy_found;
  return std::nullopt;
}

// libtlsrpt's integer codes (tlsrpt.h: tlsrpt_failure_t, tlsrpt_policy_type_t).
inline constexpr std::optional<TlsrptResult> tlsrpt_result_from_code(long code) {
  switch (code) {
    case 201: return TlsrptResult::starttls_not_supported;
    case 202: return TlsrptResult::certificate_host_mismatch;
    case 203: return TlsrptResult::certificate_not_trusted;
    case 204: return TlsrptResult::certificate_expired;
    case 205: return TlsrptResult::validation_failure;
    case 301: return TlsrptResult::sts_policy_fetch_error;
    case 302: return TlsrptResult::sts_policy_invalid;
    case 303: return TlsrptResult::sts_webpki_invalid;
    case 304: return TlsrptResult::tlsa_invalid;
    case 305: return TlsrptResult::dnssec_invalid;
    case 306: return TlsrptResult::dane_required;
    default: return std::nullopt;
  }
}

inline constexpr std::optional<TlsrptPolicyType> tlsrpt_policy_type_from_code(long code) {
  switch (code) {
    case 1: return TlsrptPolicyType::tlsa;
    case 2: return TlsrptPolicyType::sts;
    case 9: return TlsrptPolicyType::no_policy_found;
    default: return std::nullopt;
  }
}

}  // namespace tlsfence
