// `tlsfence query` and `tlsfence explain`: resolve in process with the daemon's config and
// cache file (read only), print the socketmap answer or the decision with its reasons.
// `check`, `cache` and `report` live in their own files.
#include <cstdio>
#include <iostream>
#include <sstream>

#include "app/cli_commands.h"
#include "app/policy_stack.h"
#include "doors/socketmap/answer.h"
#include "policy/decision_json.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame
// allocator (thread_info_base.hpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence {
namespace {

// Decides every next hop in order on one io_context.
std::vector<PolicyDecision> decide_all(const Config& cfg, const std::vector<std::string>& hops) {
  asio::io_context io;
  PolicyStack stack(io, cfg, PolicyStack::CacheFile::read_only);
  std::vector<PolicyDecision> out;
  std::exception_ptr failure;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        for (const auto& hop : hops) out.push_back(co_await stack.service().decide(hop));
      },
      [&](std::exception_ptr e) {
        failure = e;
        io.stop();  // background refreshes must not keep a one-shot command alive
      });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return out;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string explain_text(const PolicyDecision& d, const std::string& answer) {
  std::ostringstream o;
  o << "domain:        " << d.domain << "\n";
  o << "answer:        " << answer << "\n";
  o << "verdict:       " << to_string(d.verdict) << " (source: " << to_string(d.source) << ")\n";
  o << "MX DNSSEC:     " << to_string(d.mx_dnssec) << "\n";
  if (!d.result_type.empty()) o << "RFC 8460 type: " << d.result_type << "\n";
  o << "valid for:     " << d.ttl << " s\n";
  if (!d.dane_hosts.empty()) {
    o << "MX hosts (DANE):\n";
    for (const auto& h : d.dane_hosts) {
      o << "  " << h.preference << " " << h.name;
      if (!h.tlsa_base.empty() && h.tlsa_base != h.name) o << " (TLSA at " << h.tlsa_base << ")";
      o << ": address " << to_string(h.address_state) << ", TLSA " << to_string(h.tlsa_state)
        << (h.dane ? " -> DANE" : " -> not DANE");
      if (!h.note.empty()) o << " (" << h.note << ")";
      o << "\n";
      for (const auto& t : h.tlsa) {
        o << "      TLSA " << int(t.usage) << " " << int(t.selector) << " " << int(t.matching_type) << " "
          << hex(t.data) << (t.usable ? "" : "  [unusable]") << "\n";
      }
    }
  }
  if (d.sts) {
    o << "MTA-STS:       id=" << d.sts->id << " mode=" << to_string(d.sts->mode)
      << " max_age=" << d.sts->max_age << "\n";
    for (const auto& mx : d.sts->mx) o << "      mx: " << mx << "\n";
  }
  o << "reasons:\n";
  for (const auto& r : d.reasons) o << "  - " << r << "\n";
  return o.str();
}

}  // namespace

int cli_query(const Config& cfg, const std::vector<std::string>& domains) {
  const auto options = socketmap::AnswerOptions::from(cfg.socketmap);
  int status = 0;
  for (const auto& d : decide_all(cfg, domains)) {
    std::cout << socketmap::format_answer(d, options) << "\n";
    if (d.verdict == Verdict::temp_fail) status = 1;
  }
  std::cout.flush();
  return status;
}

int cli_explain(const Config& cfg, bool json, const std::string& domain) {
  const auto options = socketmap::AnswerOptions::from(cfg.socketmap);
  const auto decisions = decide_all(cfg, {domain});
  const PolicyDecision& d = decisions.at(0);
  const std::string answer = socketmap::format_answer(d, options);
  if (json) {
    auto j = policy::decision_to_json(d);
    j["answer"] = answer;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << explain_text(d, answer);
  }
  return d.verdict == Verdict::temp_fail ? 1 : 0;
}

}  // namespace tlsfence
