// JSON form of one host's (day, domain) aggregates and the merge of several hosts' (see
// aggregate_codec.h).
#include "tlsrpt/aggregate_codec.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"  // g++ 12 false positive in nlohmann (GCC bug 105329)
#endif

namespace tlsfence::tlsrpt {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxCount = 1ULL << 53;  // exact in every JSON reader

bool get_string(const json& j, const char* key, std::string& out, std::string& error,
                const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    error = where + ": \"" + key + "\" missing or not a string";
    return false;
  }
  out = it->get<std::string>();
  return true;
}

bool get_count(const json& j, const char* key, std::uint64_t& out, std::string& error,
               const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() > kMaxCount) {
    error = where + ": \"" + key + "\" missing or not a count";
    return false;
  }
  out = it->get<std::uint64_t>();
  return true;
}

bool get_strings(const json& j, const char* key, std::vector<std::string>& out, std::string& error,
                 const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) {
    error = where + ": \"" + key + "\" missing or not a list";
    return false;
  }
  for (const auto& e : *it) {
    if (!e.is_string()) {
      error = where + ": \"" + key + "\" holds a non-string";
      return false;
    }
    out.push_back(e.get<std::string>());
  }
  return true;
}

auto detail_key(const FailureDetail& f) {
  return std::tie(f.result, f.sending_mta_ip, f.receiving_mx_hostname, f.receiving_ip, f.failure_reason_code);
}

}  // namespace

std::string aggregates_to_json(const std::vector<PolicyAggregate>& policies) {
  json out = json::array();
  for (const auto& p : policies) {
    json details = json::array();
    for (const auto& f : p.failures) {
      details.push_back({{"result", std::string(to_string(f.result))},
                         {"sip", f.sending_mta_ip},
                         {"mx", f.receiving_mx_hostname},
                         {"helo", f.receiving_mx_helo},
                         {"rip", f.receiving_ip},
                         {"code", f.failure_reason_code},
                         {"info", f.additional_information},
                         {"n", f.failed_session_count}});
    }
    out.push_back({{"type", std::string(to_string(p.policy.type))},
                   {"strings", p.policy.strings},
                   {"domain", p.policy.domain},
                   {"mx", p.policy.mx_hosts},
                   {"ok", p.successful_sessions},
                   {"fail", p.failed_sessions},
                   {"details", std::move(details)}});
  }
  // Invalid UTF-8 (a log line's bytes) is replaced, never a throw.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::vector<PolicyAggregate>> aggregates_from_json(std::string_view text, std::string& error) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    error = "not JSON";
    return std::nullopt;
  }
  if (!j.is_array()) {
    error = "not a list of policies";
    return std::nullopt;
  }
  std::vector<PolicyAggregate> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const json& p = j[i];
    const std::string where = "policy " + std::to_string(i + 1);
    if (!p.is_object()) {
      error = where + ": not an object";
      return std::nullopt;
    }
    PolicyAggregate a;
    std::string type;
    if (!get_string(p, "type", type, error, where)) return std::nullopt;
    const auto t = tlsrpt_policy_type_from_name(type);
    if (!t) {
      error = where + ": unknown policy type \"" + type + "\"";
      return std::nullopt;
    }
    a.policy.type = *t;
    if (!get_strings(p, "strings", a.policy.strings, error, where) ||
        !get_string(p, "domain", a.policy.domain, error, where) ||
        !get_strings(p, "mx", a.policy.mx_hosts, error, where) ||
        !get_count(p, "ok", a.successful_sessions, error, where) ||
        !get_count(p, "fail", a.failed_sessions, error, where))
      return std::nullopt;
    auto d = p.find("details");
    if (d == p.end() || !d->is_array()) {
      error = where + ": \"details\" missing or not a list";
      return std::nullopt;
    }
    std::uint64_t detailed = 0;
    for (std::size_t k = 0; k < d->size(); ++k) {
      const json& e = (*d)[k];
      const std::string w = where + " detail " + std::to_string(k + 1);
      if (!e.is_object()) {
        error = w + ": not an object";
        return std::nullopt;
      }
      FailureDetail f;
      std::string result;
      if (!get_string(e, "result", result, error, w)) return std::nullopt;
      const auto r = tlsrpt_result_from_name(result);
      if (!r) {
        error = w + ": unknown result type \"" + result + "\"";
        return std::nullopt;
      }
      f.result = *r;
      if (!get_string(e, "sip", f.sending_mta_ip, error, w) ||
          !get_string(e, "mx", f.receiving_mx_hostname, error, w) ||
          !get_string(e, "helo", f.receiving_mx_helo, error, w) ||
          !get_string(e, "rip", f.receiving_ip, error, w) ||
          !get_string(e, "code", f.failure_reason_code, error, w) ||
          !get_string(e, "info", f.additional_information, error, w) ||
          !get_count(e, "n", f.failed_session_count, error, w))
        return std::nullopt;
      detailed += f.failed_session_count;
      a.failures.push_back(std::move(f));
    }
    if (detailed > a.failed_sessions) {
      error = where + ": its details count " + std::to_string(detailed) + " failed sessions, more than its " +
              std::to_string(a.failed_sessions);
      return std::nullopt;
    }
    out.push_back(std::move(a));
  }
  return out;
}

void merge_aggregates(std::vector<PolicyAggregate>& into, const std::vector<PolicyAggregate>& from) {
  for (const auto& p : from) {
    auto it = std::find_if(into.begin(), into.end(),
                           [&](const PolicyAggregate& a) { return a.policy == p.policy; });
    if (it == into.end()) {
      into.push_back(p);
      continue;
    }
    it->successful_sessions += p.successful_sessions;
    it->failed_sessions += p.failed_sessions;
    for (const auto& f : p.failures) {
      auto d = std::find_if(it->failures.begin(), it->failures.end(),
                            [&](const FailureDetail& g) { return detail_key(g) == detail_key(f); });
      if (d == it->failures.end())
        it->failures.push_back(f);
      else
        d->failed_session_count += f.failed_session_count;
    }
  }
}

std::uint64_t total_sessions(const std::vector<PolicyAggregate>& policies) {
  std::uint64_t n = 0;
  for (const auto& p : policies) n += p.successful_sessions + p.failed_sessions;
  return n;
}

}  // namespace tlsfence::tlsrpt
