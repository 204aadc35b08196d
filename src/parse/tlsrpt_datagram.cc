// libtlsrpt datagram parser. Input comes from any local process that can write to the
// socket: validate every type, bound every list, and never let an exception escape
// (nlohmann::json is used with exceptions disabled at parse time, and only checked accessors).
#include "parse/tlsrpt_datagram.h"

// g++ 12 reports a false -Wrestrict inside std::string copies that nlohmann::json
// instantiates at -O2 (GCC bug 105329); nothing in this file overlaps memory.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <nlohmann/json.hpp>

#include "tlsfence/limits.h"

namespace tlsfence::parse {
namespace {

using json = nlohmann::json;

struct Fail {
  DatagramError error;
  std::string detail;
};

// Optional string member: absent or null → "", string → its value, else error.
bool opt_string(const json& obj, const char* key, std::string& out, std::optional<Fail>& fail) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_string()) {
    fail = Fail{DatagramError::bad_type, key};
    return false;
  }
  out = it->get_ref<const std::string&>();
  return true;
}

bool opt_string_array(const json& obj, const char* key, std::vector<std::string>& out,
                      std::optional<Fail>& fail) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return true;
  if (!it->is_array()) {
    fail = Fail{DatagramError::bad_type, key};
    return false;
  }
  if (it->size() > limits::tlsrpt_datagram_strings_max) {
    fail = Fail{DatagramError::too_many, key};
    return false;
  }
  for (const auto& v : *it) {
    if (!v.is_string()) {
      fail = Fail{DatagramError::bad_type, key};
      return false;
    }
    out.push_back(v.get_ref<const std::string&>());
  }
  return true;
}

// An integer member (libtlsrpt writes numbers; a numeric string is accepted too).
std::optional<long> integer(const json& v) {
  if (v.is_number_integer()) return static_cast<long>(v.get<std::int64_t>());
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (u > 1'000'000) return std::nullopt;
    return static_cast<long>(u);
  }
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.empty() || s.size() > 9) return std::nullopt;
    long n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    return n;
  }
  return std::nullopt;
}

std::optional<Fail> parse_failure(const json& j, DatagramFailure& out) {
  if (!j.is_object()) return Fail{DatagramError::bad_type, "failure-details[]"};
  auto c = j.find("c");
  if (c == j.end()) return Fail{DatagramError::missing_field, "c"};
  auto code = integer(*c);
  if (!code) return Fail{DatagramError::bad_type, "c"};
  auto result = tlsrpt_result_from_code(*code);
  if (!result) return Fail{DatagramError::bad_value, "c"};
  out.result = *result;
  std::optional<Fail> fail;
  if (!opt_string(j, "s", out.sending_mta_ip, fail) || !opt_string(j, "n", out.receiving_mx_hostname, fail) ||
      !opt_string(j, "h", out.receiving_mx_helo, fail) || !opt_string(j, "r", out.receiving_ip, fail) ||
      !opt_string(j, "a", out.additional_information, fail) ||
      !opt_string(j, "f", out.failure_reason_code, fail))
    return fail;
  return std::nullopt;
}

std::optional<Fail> parse_policy(const json& j, DatagramPolicy& out) {
  if (!j.is_object()) return Fail{DatagramError::bad_type, "policies[]"};
  auto pt = j.find("policy-type");
  if (pt == j.end()) return Fail{DatagramError::missing_field, "policy-type"};
  auto type_code = integer(*pt);
  if (!type_code) return Fail{DatagramError::bad_type, "policy-type"};
  auto type = tlsrpt_policy_type_from_code(*type_code);
  if (!type) return Fail{DatagramError::bad_value, "policy-type"};
  out.type = *type;
  std::optional<Fail> fail;
  if (!opt_string(j, "policy-domain", out.domain, fail) ||
      !opt_string_array(j, "policy-string", out.strings, fail) ||
      !opt_string_array(j, "mx-host", out.mx_hosts, fail))
    return fail;
  auto f = j.find("f");
  if (f == j.end()) return Fail{DatagramError::missing_field, "f"};
  auto final_result = integer(*f);
  if (!final_result) return Fail{DatagramError::bad_type, "f"};
  if (*final_result != 0 && *final_result != 1) return Fail{DatagramError::bad_value, "f"};
  out.failed = *final_result == 1;
  auto fd = j.find("failure-details");
  if (fd != j.end() && !fd->is_null()) {
    if (!fd->is_array()) return Fail{DatagramError::bad_type, "failure-details"};
    if (fd->size() > limits::tlsrpt_datagram_details_max)
      return Fail{DatagramError::too_many, "failure-details"};
    for (const auto& item : *fd) {
      DatagramFailure failure;
      if (auto e = parse_failure(item, failure)) return e;
      out.failures.push_back(std::move(failure));
    }
  }
  if (auto t = j.find("t"); t != j.end() && !integer(*t)) return Fail{DatagramError::bad_type, "t"};
  return std::nullopt;
}

}  // namespace

std::string_view to_string(DatagramError e) {
  switch (e) {
    case DatagramError::none: return "ok";
    case DatagramError::too_large: return "datagram too large";
    case DatagramError::bad_json: return "not JSON";
    case DatagramError::not_object: return "not a JSON object";
    case DatagramError::missing_field: return "missing field";
    case DatagramError::bad_type: return "field of the wrong type";
    case DatagramError::bad_value: return "bad field value";
    case DatagramError::too_many: return "too many items";
    case DatagramError::unsupported_version: return "unsupported dpv";
  }
  return "bad datagram";
}

DatagramResult parse_tlsrpt_datagram(std::string_view bytes) {
  DatagramResult result;
  auto fail = [&](DatagramError e, std::string detail) {
    result.error = e;
    result.detail = std::move(detail);
    return result;
  };
  if (bytes.size() > limits::tlsrpt_datagram_max) return fail(DatagramError::too_large, "");
  json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(DatagramError::bad_json, "");
  if (!j.is_object()) return fail(DatagramError::not_object, "");
  Datagram d;
  if (auto v = j.find("dpv"); v != j.end() && !v->is_null()) {
    auto n = integer(*v);
    if (!n) return fail(DatagramError::bad_type, "dpv");
    if (*n != 1) return fail(DatagramError::unsupported_version, "dpv");
    d.version = "1";
  }
  auto dom = j.find("d");
  if (dom == j.end()) return fail(DatagramError::missing_field, "d");
  if (!dom->is_string()) return fail(DatagramError::bad_type, "d");
  d.domain = dom->get_ref<const std::string&>();
  if (d.domain.empty()) return fail(DatagramError::bad_value, "d");
  std::optional<Fail> f;
  if (!opt_string(j, "pr", d.policy_record, f)) return fail(f->error, f->detail);
  auto pols = j.find("policies");
  if (pols == j.end()) return fail(DatagramError::missing_field, "policies");
  if (!pols->is_array()) return fail(DatagramError::bad_type, "policies");
  if (pols->empty()) return fail(DatagramError::bad_value, "policies");
  if (pols->size() > limits::tlsrpt_datagram_policies_max) return fail(DatagramError::too_many, "policies");
  for (const auto& p : *pols) {
    DatagramPolicy policy;
    if (auto e = parse_policy(p, policy)) return fail(e->error, e->detail);
    d.policies.push_back(std::move(policy));
  }
  result.datagram = std::move(d);
  return result;
}

}  // namespace tlsfence::parse
