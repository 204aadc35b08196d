// gen_conf_keys — writes the key reference of tlsfence.conf(5) in scdoc syntax, from the config
// schema itself (src/config/schema.cc), so the manual cannot drift from the code: every key the
// programs accept, with its default, its bounds / accepted values (the schema's help text),
// whether it repeats, and when a changed value takes effect. Run by the build only.
//
//   gen_conf_keys > keys.scd
#include <array>
#include <cctype>
#include <iostream>
#include <string>
#include <string_view>

#include "config/schema.h"

namespace {

using tlsfence::config::KeyInfo;
using tlsfence::config::Reload;

struct SectionDoc {
  std::string_view name;
  std::string_view what;
};

// One sentence per section: what it configures and which programs read it. A section of the
// schema missing here is an error (the build fails), so a new section gets its sentence.
constexpr std::array<SectionDoc, 12> kSectionDocs = {{
    {"daemon", "Process settings of tlsfenced and tlsfence-rptd: the user to run as and logging."},
    {"socketmap", "The socketmap door of tlsfenced (Postfix smtp_tls_policy_maps, Sendmail FEATURE(sts))."},
    {"policy", "The Postfix policy-delegation door of tlsfenced (check_policy_service)."},
    {"milter", "The milter door of tlsfenced (Postfix smtpd_milters, Sendmail INPUT_MAIL_FILTER)."},
    {"reception",
     "What the policy and milter doors decide at RCPT time: prefetch wait, forced TLS, "
     "refusal of DNSSEC-bogus recipient domains."},
    {"local", "Local overrides, answered before DANE and MTA-STS (tlsfenced, tlsfence query/explain/check)."},
    {"cache",
     "The policy cache: memory in tlsfenced, SQLite on disk shared with tlsfence and "
     "tlsfence-rptd."},
    {"dns", "In-process DNSSEC validation with libunbound (tlsfenced, tlsfence, tlsfence-rptd)."},
    {"mta-sts", "MTA-STS policy fetches over HTTPS (tlsfenced, tlsfence)."},
    {"tlsrpt", "The TLS-RPT sidecar tlsfence-rptd and tlsfence report: sources, store, reports, delivery."},
    {"fleet", "Several MTAs sharing one PostgreSQL (all three programs); empty: this host alone."},
    {"metrics",
     "Prometheus metrics and health over HTTP (tlsfenced and tlsfence-rptd, each its own address)."},
}};

// scdoc's inline markup characters, escaped so help text prints as written.
std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string_view section_of(std::string_view key) {
  return key.substr(0, key.find('.'));
}

const SectionDoc* doc_of(std::string_view section) {
  for (const SectionDoc& d : kSectionDocs) {
    if (d.name == section) return &d;
  }
  return nullptr;
}

void print_key(const KeyInfo& k) {
  const std::string_view name = k.name.substr(k.name.find('.') + 1);
  std::cout << "*" << escaped(name) << "* = ";
  if (k.default_text.empty()) {
    std::cout << "(empty)";
  } else {
    std::cout << "_" << escaped(k.default_text) << "_";
  }
  std::string help = escaped(k.help);
  if (!help.empty()) help[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(help[0])));
  std::cout << "\n\t" << help << ".";
  if (k.repeatable && !k.help.starts_with("repeatable")) std::cout << " Repeatable.";
  if (k.repeatable) std::cout << " An empty value means none.";
  std::cout << " Command line: *--" << escaped(k.name) << "=*_VALUE_.";
  std::cout << (k.reload == Reload::at_once ? " Reload: applied at once by a running tlsfenced (SIGHUP)."
                                            : " Reload: takes effect at the next start.");
  std::cout << "\n\n";
}

}  // namespace

int main() {
  for (std::string_view section : tlsfence::config::sections()) {
    const SectionDoc* doc = doc_of(section);
    if (doc == nullptr) {
      std::cerr << "gen_conf_keys: section [" << section << "] has no description in gen_conf_keys.cc\n";
      return 1;
    }
    std::cout << "## [" << section << "]\n\n" << escaped(doc->what) << "\n\n";
    for (const KeyInfo& k : tlsfence::config::schema()) {
      if (section_of(k.name) == section) print_key(k);
    }
  }
  return std::cout.good() ? 0 : 1;
}
