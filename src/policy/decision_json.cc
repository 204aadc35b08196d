// PolicyDecision / CachedSts <-> JSON. Decoding trusts nothing: a field of the wrong type,
// an unknown enum name, bad hex or an out-of-range number makes the whole value an error.
// Internally a decoding failure throws BadField, which never leaves this file.
#include "policy/decision_json.h"

#include <array>
#include <cstdint>
#include <exception>
#include <limits>

namespace tlsfence::policy {
namespace {

using nlohmann::json;

struct BadField : std::exception {
  std::string what_;
  explicit BadField(std::string w) : what_(std::move(w)) {}
  const char* what() const noexcept override { return what_.c_str(); }
};

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string from_hex(std::string_view hex, const char* field) {
  if (hex.size() % 2 != 0) throw BadField(std::string(field) + ": odd number of hex digits");
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) throw BadField(std::string(field) + ": not hex");
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// Field readers: absent keys keep the default; present keys must have the right type.
const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

void need_object(const json& j, const char* what) {
  if (!j.is_object()) throw BadField(std::string(what) + " is not an object");
}

std::string get_string(const json& obj, const char* key, bool required = false) {
  const json* v = field(obj, key);
  if (!v) {
    if (required) throw BadField(std::string("missing ") + key);
    return {};
  }
  if (!v->is_string()) throw BadField(std::string(key) + " is not a string");
  return v->get<std::string>();
}

std::int64_t get_int(const json& obj, const char* key, std::int64_t lo, std::int64_t hi,
                     std::int64_t dflt = 0) {
  const json* v = field(obj, key);
  if (!v) return dflt;
  std::int64_t n = 0;
  if (v->is_number_unsigned()) {
    auto u = v->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw BadField(std::string(key) + " out of range");
    n = static_cast<std::int64_t>(u);
  } else if (v->is_number_integer()) {
    n = v->get<std::int64_t>();
  } else {
    throw BadField(std::string(key) + " is not an integer");
  }
  if (n < lo || n > hi) throw BadField(std::string(key) + " out of range");
  return n;
}

bool get_bool(const json& obj, const char* key) {
  const json* v = field(obj, key);
  if (!v) return false;
  if (!v->is_boolean()) throw BadField(std::string(key) + " is not a boolean");
  return v->get<bool>();
}

std::vector<std::string> get_strings(const json& obj, const char* key) {
  std::vector<std::string> out;
  const json* v = field(obj, key);
  if (!v) return out;
  if (!v->is_array()) throw BadField(std::string(key) + " is not an array");
  out.reserve(v->size());
  for (const auto& s : *v) {
    if (!s.is_string()) throw BadField(std::string(key) + " has a non-string element");
    out.push_back(s.get<std::string>());
  }
  return out;
}

template <typename E, std::size_t N>
E get_enum(const json& obj, const char* key, const std::array<E, N>& values, E dflt, bool required = false) {
  const json* v = field(obj, key);
  if (!v) {
    if (required) throw BadField(std::string("missing ") + key);
    return dflt;
  }
  if (!v->is_string()) throw BadField(std::string(key) + " is not a string");
  const auto& s = v->get_ref<const std::string&>();
  for (E e : values)
    if (to_string(e) == s) return e;
  throw BadField(std::string(key) + ": unknown value \"" + s + "\"");
}

constexpr std::array kDnssec{DnssecState::secure, DnssecState::insecure, DnssecState::bogus,
                             DnssecState::indeterminate};
constexpr std::array kVerdict{Verdict::policy, Verdict::no_policy, Verdict::temp_fail};
constexpr std::array kSource{Source::override_rule, Source::dane, Source::mta_sts, Source::none};
constexpr std::array kMode{StsPolicy::Mode::enforce, StsPolicy::Mode::testing, StsPolicy::Mode::none};

constexpr std::int64_t kU8 = 0xff, kU16 = 0xffff, kU32 = 0xffffffffLL;
// Unix seconds accepted on decode: year 0 .. 9999, comfortably inside system_clock's range.
constexpr std::int64_t kTimeMin = -62'167'219'200LL, kTimeMax = 253'402'300'799LL;

json tlsa_to_json(const TlsaRecord& r) {
  return json{{"usage", r.usage},
              {"selector", r.selector},
              {"matching_type", r.matching_type},
              {"data", to_hex(r.data)},
              {"usable", r.usable}};
}

TlsaRecord tlsa_from_json(const json& j) {
  need_object(j, "tlsa record");
  TlsaRecord r;
  r.usage = static_cast<std::uint8_t>(get_int(j, "usage", 0, kU8));
  r.selector = static_cast<std::uint8_t>(get_int(j, "selector", 0, kU8));
  r.matching_type = static_cast<std::uint8_t>(get_int(j, "matching_type", 0, kU8));
  r.data = from_hex(get_string(j, "data"), "data");
  r.usable = get_bool(j, "usable");
  return r;
}

json host_to_json(const DaneHost& h) {
  json tlsa = json::array();
  for (const auto& r : h.tlsa) tlsa.push_back(tlsa_to_json(r));
  return json{{"name", h.name},
              {"tlsa_base", h.tlsa_base},
              {"preference", h.preference},
              {"address_dnssec", to_string(h.address_state)},
              {"tlsa_dnssec", to_string(h.tlsa_state)},
              {"tlsa", std::move(tlsa)},
              {"dane", h.dane},
              {"note", h.note}};
}

DaneHost host_from_json(const json& j) {
  need_object(j, "dane host");
  DaneHost h;
  h.name = get_string(j, "name");
  h.tlsa_base = get_string(j, "tlsa_base");
  h.preference = static_cast<std::uint16_t>(get_int(j, "preference", 0, kU16));
  h.address_state = get_enum(j, "address_dnssec", kDnssec, DnssecState::indeterminate);
  h.tlsa_state = get_enum(j, "tlsa_dnssec", kDnssec, DnssecState::indeterminate);
  if (const json* t = field(j, "tlsa")) {
    if (!t->is_array()) throw BadField("tlsa is not an array");
    for (const auto& r : *t) h.tlsa.push_back(tlsa_from_json(r));
  }
  h.dane = get_bool(j, "dane");
  h.note = get_string(j, "note");
  return h;
}

StsPolicy sts_from(const json& j) {
  need_object(j, "sts policy");
  StsPolicy p;
  p.mode = get_enum(j, "mode", kMode, StsPolicy::Mode::none, true);
  p.mx = get_strings(j, "mx");
  p.max_age = static_cast<std::uint32_t>(get_int(j, "max_age", 0, kU32));
  p.id = get_string(j, "id");
  p.lines = get_strings(j, "lines");
  return p;
}

PolicyDecision decision_from(const json& j) {
  need_object(j, "decision");
  PolicyDecision d;
  d.domain = get_string(j, "domain", true);
  d.verdict = get_enum(j, "verdict", kVerdict, Verdict::no_policy, true);
  d.source = get_enum(j, "source", kSource, Source::none);
  d.level = get_string(j, "level");
  d.temp_reason = get_string(j, "temp_reason");
  d.result_type = get_string(j, "result_type");
  d.mx_dnssec = get_enum(j, "mx_dnssec", kDnssec, DnssecState::indeterminate);
  if (const json* hosts = field(j, "dane_hosts")) {
    if (!hosts->is_array()) throw BadField("dane_hosts is not an array");
    for (const auto& h : *hosts) d.dane_hosts.push_back(host_from_json(h));
  }
  if (const json* sts = field(j, "sts")) d.sts = sts_from(*sts);
  d.ttl = static_cast<std::uint32_t>(get_int(j, "ttl", 0, kU32));
  d.decided_at = from_unix_seconds(get_int(j, "decided_at", kTimeMin, kTimeMax));
  d.reasons = get_strings(j, "reasons");
  return d;
}

template <typename T, typename F>
JsonResult<T> guarded(F&& f) {
  JsonResult<T> r;
  try {
    r.value = f();
  } catch (const BadField& e) {
    r.error = e.what();
  } catch (const std::exception& e) {  // nlohmann type errors, bad_alloc on absurd input
    r.error = std::string("malformed JSON value: ") + e.what();
  }
  return r;
}

std::optional<json> parse_text(std::string_view text, std::string& error) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    error = "not valid JSON";
    return std::nullopt;
  }
  return j;
}

}  // namespace

std::int64_t to_unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point from_unix_seconds(std::int64_t s) {
  return std::chrono::system_clock::time_point{std::chrono::seconds{s}};
}

nlohmann::json sts_policy_to_json(const StsPolicy& p) {
  return json{
      {"mode", to_string(p.mode)}, {"mx", p.mx}, {"max_age", p.max_age}, {"id", p.id}, {"lines", p.lines}};
}

JsonResult<StsPolicy> sts_policy_from_json(const nlohmann::json& j) {
  return guarded<StsPolicy>([&] { return sts_from(j); });
}

nlohmann::json decision_to_json(const PolicyDecision& d) {
  json hosts = json::array();
  for (const auto& h : d.dane_hosts) hosts.push_back(host_to_json(h));
  json j{{"domain", d.domain},
         {"verdict", to_string(d.verdict)},
         {"source", to_string(d.source)},
         {"level", d.level},
         {"temp_reason", d.temp_reason},
         {"result_type", d.result_type},
         {"mx_dnssec", to_string(d.mx_dnssec)},
         {"dane_hosts", std::move(hosts)},
         {"sts", d.sts ? sts_policy_to_json(*d.sts) : json(nullptr)},
         {"ttl", d.ttl},
         {"decided_at", to_unix_seconds(d.decided_at)},
         {"reasons", d.reasons}};
  return j;
}

std::string decision_to_json_text(const PolicyDecision& d) {
  // Replace invalid UTF-8 (a reason quoting raw DNS data) instead of throwing.
  return decision_to_json(d).dump(-1, ' ', false, json::error_handler_t::replace);
}

JsonResult<PolicyDecision> decision_from_json(const nlohmann::json& j) {
  return guarded<PolicyDecision>([&] { return decision_from(j); });
}

JsonResult<PolicyDecision> decision_from_json_text(std::string_view text) {
  JsonResult<PolicyDecision> r;
  auto j = parse_text(text, r.error);
  if (!j) return r;
  return decision_from_json(*j);
}

nlohmann::json cached_sts_to_json(const CachedSts& c) {
  return json{{"policy", sts_policy_to_json(c.policy)}, {"fetched_at", to_unix_seconds(c.fetched_at)}};
}

std::string cached_sts_to_json_text(const CachedSts& c) {
  return cached_sts_to_json(c).dump(-1, ' ', false, json::error_handler_t::replace);
}

JsonResult<CachedSts> cached_sts_from_json(const nlohmann::json& j) {
  return guarded<CachedSts>([&] {
    need_object(j, "cached sts");
    const json* p = field(j, "policy");
    if (!p) throw BadField("missing policy");
    CachedSts c{sts_from(*p), from_unix_seconds(get_int(j, "fetched_at", kTimeMin, kTimeMax))};
    return c;
  });
}

JsonResult<CachedSts> cached_sts_from_json_text(std::string_view text) {
  JsonResult<CachedSts> r;
  auto j = parse_text(text, r.error);
  if (!j) return r;
  return cached_sts_from_json(*j);
}

}  // namespace tlsfence::policy
