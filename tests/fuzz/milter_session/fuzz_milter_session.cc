// Structure-aware fuzz target: one MTA connection's sequence of milter packets through the
// native milter door's state machine (src/doors/milter/session.h, the code the door runs),
// with a fake in-process lookup.
//
// Input: byte 0 chooses the rules and the MTA's negotiation (on-dnssec-bogus; forced-TLS
// rules or none; the no-reply steps and header action the MTA offers; whether a proper
// negotiation is sent first); then records [command][length][data] become milter packets,
// fed to the packet reader in chunks like socket reads. The fake lookup answers from the
// domain: "bogus" in it → DNSSEC-bogus temp_fail, "late" → not in time, "throw" → an
// exception, anything else → a DANE decision.
//
// Checks, against what an MTA relies on: the door's output is whole packets of reply
// commands the protocol knows; every step that expects a reply gets exactly one (none for
// macros, abort, QUIT_NC and the steps negotiated as no-reply); a header is added only at
// end of message and only with forced-TLS rules; 550 only with on-dnssec-bogus = reject and
// 451 4.7.5 only with defer; nothing is handled after QUIT or a close.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../chunks.h"
#include "doors/milter/session.h"
#include "parse/milter_wire.h"
#include "util/log.h"

namespace {

namespace wire = tlsfence::parse::milter;
using tlsfence::milter::MilterSession;
using tlsfence::milter::Step;

constexpr std::uint32_t kNrConn = 0x1000, kNrMail = 0x4000, kNrHdr = 0x80;  // SMFIP_NR_*
constexpr std::uint32_t kAddHeaders = 0x01;                                 // SMFIF_ADDHDRS

tlsfence::milter::SessionRules rules_from(std::uint8_t b) {
  tlsfence::Config::Reception r;
  static constexpr tlsfence::BogusAction actions[] = {
      tlsfence::BogusAction::continue_, tlsfence::BogusAction::defer, tlsfence::BogusAction::reject,
      tlsfence::BogusAction::defer};
  r.on_dnssec_bogus = actions[b & 3];
  if (b & 4) {
    r.forced_tls_sender = {"@clinic.example"};
    r.forced_tls_recipient_domain = {"partner.test"};
    r.forced_tls_sasl_user = {"alice"};
    r.forced_tls_client_network = {"192.0.2.0/24"};
  }
  return {tlsfence::policy::ReceptionOptions::from_config(r), tlsfence::policy::ForcedTls::from_config(r)};
}

std::optional<tlsfence::PolicyDecision> fake_lookup(const std::string& key) {
  if (key.find("throw") != std::string::npos) throw std::runtime_error("fake lookup failure");
  if (key.find("late") != std::string::npos) return std::nullopt;
  tlsfence::PolicyDecision d;
  d.domain = key;
  if (key.find("bogus") != std::string::npos) {
    d.verdict = tlsfence::Verdict::temp_fail;
    d.result_type = "dnssec-invalid";
  }
  return d;
}

std::string packet(char command, std::string_view data) {
  return wire::encode_packet(command, data);
}

// The replies in `out` (whole packets, or abort); returns their count, not counting the
// header added before an end-of-message reply.
int replies(const std::string& out, char command, const tlsfence::milter::SessionRules& rules) {
  wire::PacketReader r;
  r.feed(out);
  int n = 0;
  while (true) {
    auto p = r.next();
    if (p.status == wire::PacketReader::Status::need_more) break;
    if (p.status == wire::PacketReader::Status::error) std::abort();
    switch (p.packet.command) {
      case 'O':
        if (command != 'O') std::abort();
        break;
      case 'c':
      case 'a': break;
      case 'h':
        if (command != 'E' || rules.forced.empty()) std::abort();
        continue;  // comes with the end-of-message reply
      case 'y': {
        const std::string_view d = p.packet.data;
        if (d.starts_with("550") && rules.options.on_dnssec_bogus != tlsfence::BogusAction::reject)
          std::abort();
        if (d.starts_with("451 4.7.5") && rules.options.on_dnssec_bogus != tlsfence::BogusAction::defer)
          std::abort();
        break;
      }
      default: std::abort();
    }
    ++n;
  }
  if (r.mid_packet()) std::abort();
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    tlsfence::log::set_level(tlsfence::LogLevel::error);
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  const std::uint8_t config = data[0];
  // The 8 rule sets (bits 0-2 of byte 0), built once rather than per input.
  static const std::vector<tlsfence::milter::SessionRules> all_rules = [] {
    std::vector<tlsfence::milter::SessionRules> v;
    for (std::uint8_t b = 0; b < 8; ++b) v.push_back(rules_from(b));
    return v;
  }();
  const auto& rules = all_rules[config & 7];

  std::string stream;
  if ((config & 0x20) == 0) {
    const std::uint32_t protocol = (config & 0x08) ? (kNrConn | kNrMail | kNrHdr) : 0;
    stream += wire::encode_negotiation({6, (config & 0x10) ? kAddHeaders : 0u, protocol});
  }
  for (std::size_t i = 1; i + 1 < size;) {
    const char command = static_cast<char>(data[i]);
    const std::size_t n = std::min<std::size_t>(data[i + 1], size - i - 2);
    stream += packet(command, std::string_view(reinterpret_cast<const char*>(data) + i + 2, n));
    i += 2 + n;
  }

  tlsfence::milter::MilterCounters counters;
  MilterSession session(counters);
  wire::PacketReader reader;
  std::uint32_t no_reply = 0;
  bool negotiated = false, ended = false;
  tlsfence::fuzz::feed_in_chunks(
      reinterpret_cast<const std::uint8_t*>(stream.data()), stream.size(), [&](std::string_view chunk) {
        reader.feed(chunk);
        while (!ended) {
          auto r = reader.next();
          if (r.status == wire::PacketReader::Status::need_more) return true;
          if (r.status == wire::PacketReader::Status::error) return false;
          const char command = r.packet.command;
          std::string out;
          Step s = session.on_packet(rules, command, r.packet.data, out);
          if (s.next == Step::Next::lookup) {
            if (s.key.empty() || command != 'R') std::abort();
            try {
              session.on_rcpt_decision(rules, s.wait ? fake_lookup(s.key) : std::nullopt, out);
            } catch (const std::runtime_error& e) {
              session.on_rcpt_failure(e.what(), out);
            }
          }
          if (s.next == Step::Next::close || s.next == Step::Next::quit) {
            if (!out.empty()) std::abort();
            ended = true;
            return false;
          }
          const int n = replies(out, command, rules);
          if (!negotiated) {
            if (command != 'O' || n != 1) std::abort();
            no_reply = wire::decode_negotiation(std::string_view(out).substr(5))->protocol &
                       (kNrConn | kNrMail | kNrHdr);
            negotiated = true;
            continue;
          }
          bool expects = command != 'D' && command != 'A' && command != 'K';
          if ((command == 'C' && (no_reply & kNrConn)) || (command == 'M' && (no_reply & kNrMail)) ||
              (command == 'L' && (no_reply & kNrHdr)))
            expects = false;
          if (n != (expects ? 1 : 0)) std::abort();
        }
        return false;
      });
  return 0;
}
