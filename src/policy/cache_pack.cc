// PackedDecision encoding: unsigned LEB128 varints, zig-zag for signed values, strings as
// length + bytes, enums as one byte, in PolicyDecision's field order. Only PolicyCache
// writes and reads these blocks (never stored on disk: that is decision_json's job), but
// unpack() still checks every length so a bug cannot read out of bounds.
#include "policy/cache_pack.h"

#include <cstring>
#include <string>

namespace tlsfence::policy {
namespace {

class Writer {
 public:
  void u(std::uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  }
  void s(std::int64_t v) { u((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
  void byte(unsigned v) { out.push_back(static_cast<char>(v)); }
  void str(std::string_view v) {
    u(v.size());
    out.append(v);
  }
  void strs(const std::vector<std::string>& v) {
    u(v.size());
    for (const auto& x : v) str(x);
  }
  std::string out;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint64_t u() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64 && pos_ < in_.size(); shift += 7) {
      const auto b = static_cast<unsigned char>(in_[pos_++]);
      v |= std::uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    pos_ = in_.size();
    return v;
  }
  std::int64_t s() {
    const std::uint64_t z = u();
    return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  unsigned byte() { return pos_ < in_.size() ? static_cast<unsigned char>(in_[pos_++]) : 0; }
  std::string str() {
    const std::uint64_t n = std::min<std::uint64_t>(u(), in_.size() - pos_);
    std::string v(in_.substr(pos_, n));
    pos_ += n;
    return v;
  }
  std::vector<std::string> strs() {
    const std::uint64_t n = std::min<std::uint64_t>(u(), in_.size() - pos_);
    std::vector<std::string> v;
    v.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) v.push_back(str());
    return v;
  }
  std::size_t pos() const { return pos_; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

template <typename E>
E enum_at(unsigned v, E max) {
  return static_cast<E>(std::min(v, static_cast<unsigned>(max)));
}

}  // namespace

PackedDecision PackedDecision::pack(const PolicyDecision& d) {
  Writer w;
  w.out.reserve(256);
  w.str(d.domain);
  w.byte(static_cast<unsigned>(d.verdict));
  w.byte(static_cast<unsigned>(d.source));
  w.byte(static_cast<unsigned>(d.mx_dnssec));
  w.str(d.level);
  w.str(d.temp_reason);
  w.str(d.result_type);
  w.u(d.ttl);
  w.s(d.decided_at.time_since_epoch().count());
  w.u(d.dane_hosts.size());
  for (const auto& h : d.dane_hosts) {
    w.str(h.name);
    w.str(h.tlsa_base);
    w.u(h.preference);
    w.byte(static_cast<unsigned>(h.address_state));
    w.byte(static_cast<unsigned>(h.tlsa_state));
    w.byte(h.dane);
    w.str(h.note);
    w.u(h.tlsa.size());
    for (const auto& r : h.tlsa) {
      w.byte(r.usage);
      w.byte(r.selector);
      w.byte(r.matching_type);
      w.byte(r.usable);
      w.str(r.data);
    }
  }
  w.byte(d.sts.has_value());
  if (d.sts) {
    w.byte(static_cast<unsigned>(d.sts->mode));
    w.strs(d.sts->mx);
    w.u(d.sts->max_age);
    w.str(d.sts->id);
    w.strs(d.sts->lines);
  }
  w.strs(d.reasons);

  PackedDecision p;
  p.size_ = static_cast<std::uint32_t>(w.out.size());
  p.data_ = std::make_unique_for_overwrite<char[]>(w.out.size());
  std::memcpy(p.data_.get(), w.out.data(), w.out.size());
  return p;
}

PolicyDecision PackedDecision::unpack() const {
  PolicyDecision d;
  if (!data_) return d;
  Reader r({data_.get(), size_});
  d.domain = r.str();
  d.verdict = enum_at(r.byte(), Verdict::temp_fail);
  d.source = enum_at(r.byte(), Source::none);
  d.mx_dnssec = enum_at(r.byte(), DnssecState::indeterminate);
  d.level = r.str();
  d.temp_reason = r.str();
  d.result_type = r.str();
  d.ttl = static_cast<std::uint32_t>(r.u());
  d.decided_at = std::chrono::system_clock::time_point{std::chrono::system_clock::duration{r.s()}};
  const std::uint64_t hosts = std::min<std::uint64_t>(r.u(), size_);
  d.dane_hosts.reserve(hosts);
  for (std::uint64_t i = 0; i < hosts; ++i) {
    DaneHost h;
    h.name = r.str();
    h.tlsa_base = r.str();
    h.preference = static_cast<std::uint16_t>(r.u());
    h.address_state = enum_at(r.byte(), DnssecState::indeterminate);
    h.tlsa_state = enum_at(r.byte(), DnssecState::indeterminate);
    h.dane = r.byte() != 0;
    h.note = r.str();
    const std::uint64_t n = std::min<std::uint64_t>(r.u(), size_);
    h.tlsa.reserve(n);
    for (std::uint64_t k = 0; k < n; ++k) {
      TlsaRecord t;
      t.usage = static_cast<std::uint8_t>(r.byte());
      t.selector = static_cast<std::uint8_t>(r.byte());
      t.matching_type = static_cast<std::uint8_t>(r.byte());
      t.usable = r.byte() != 0;
      t.data = r.str();
      h.tlsa.push_back(std::move(t));
    }
    d.dane_hosts.push_back(std::move(h));
  }
  if (r.byte()) {
    StsPolicy p;
    p.mode = enum_at(r.byte(), StsPolicy::Mode::none);
    p.mx = r.strs();
    p.max_age = static_cast<std::uint32_t>(r.u());
    p.id = r.str();
    p.lines = r.strs();
    d.sts = std::move(p);
  }
  d.reasons = r.strs();
  return d;
}

std::string_view PackedDecision::domain() const {
  if (!data_) return {};
  Reader r({data_.get(), size_});
  const std::uint64_t n = std::min<std::uint64_t>(r.u(), size_ - r.pos());
  return {data_.get() + r.pos(), n};
}

Verdict PackedDecision::verdict() const {
  if (!data_) return Verdict::temp_fail;
  const std::string_view d = domain();
  const std::size_t at = static_cast<std::size_t>(d.data() + d.size() - data_.get());
  return at < size_ ? enum_at(static_cast<unsigned char>(data_[at]), Verdict::temp_fail) : Verdict::temp_fail;
}

}  // namespace tlsfence::policy
