// Presentation helpers of the check report (see report.h).
#include "check/report.h"

#include "check/smtp_reply.h"
#include "parse/dns_wire.h"

namespace tlsfence::check {
namespace {

std::string hex(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string record_text(std::uint16_t type, const std::string& rdata) {
  switch (type) {
    case rrtype::MX:
      if (auto mx = parse::parse_mx_rdata(rdata)) return std::to_string(mx->preference) + " " + mx->exchange;
      break;
    case rrtype::TXT:
      if (auto txt = parse::parse_txt_rdata(rdata)) return printable(*txt, 1'000);
      break;
    case rrtype::A:
      if (auto a = parse::parse_a_rdata(rdata)) return *a;
      break;
    case rrtype::AAAA:
      if (auto a = parse::parse_aaaa_rdata(rdata)) return *a;
      break;
    case rrtype::TLSA:
      if (auto t = parse::parse_tlsa_rdata(rdata)) {
        return std::to_string(t->usage) + " " + std::to_string(t->selector) + " " +
               std::to_string(t->matching_type) + " " + hex(t->data) + (t->usable ? "" : " [unusable]");
      }
      break;
    default: break;
  }
  return "(malformed " + std::string(type_name(type)) + " rdata " + hex(rdata.substr(0, 64)) + ")";
}

}  // namespace

std::string_view type_name(std::uint16_t type) {
  switch (type) {
    case rrtype::A: return "A";
    case rrtype::AAAA: return "AAAA";
    case rrtype::MX: return "MX";
    case rrtype::TXT: return "TXT";
    case rrtype::TLSA: return "TLSA";
    case rrtype::CNAME: return "CNAME";
    default: return "TYPE?";
  }
}

RRsetView view_of(const DnsAnswer& a) {
  RRsetView v;
  v.name = a.qname;
  v.type = a.qtype;
  v.looked_up = true;
  v.failed = a.failed();
  v.dnssec = a.dnssec;
  v.why_bogus = a.why_bogus;
  v.ttl = a.ttl;
  if (a.timed_out) {
    v.status = "timeout";
  } else if (!a.error.empty()) {
    v.status = "error: " + a.error;
  } else if (a.rcode == rcode::servfail) {
    v.status = "servfail";
  } else if (a.rcode == rcode::nxdomain) {
    v.status = "nxdomain";
  } else if (a.rcode != rcode::noerror) {
    v.status = "rcode " + std::to_string(a.rcode);
  } else if (a.rdata.empty()) {
    v.status = "nodata";
  } else {
    v.status = "ok";
  }
  for (const auto& rd : a.rdata) v.records.push_back(record_text(a.qtype, rd));
  return v;
}

std::string_view to_string(Requirement r) {
  switch (r) {
    case Requirement::none: return "none";
    case Requirement::tls: return "tls";
    case Requirement::dane: return "dane";
    case Requirement::sts: return "mta-sts";
    case Requirement::pkix: return "pkix";
  }
  return "none";
}

std::string_view to_string(Overall o) {
  switch (o) {
    case Overall::ok: return "ok";
    case Overall::fail: return "fail";
    case Overall::temp: return "temp";
    case Overall::no_policy: return "no-policy";
  }
  return "temp";
}

}  // namespace tlsfence::check
