#pragma once
// RFC 8460 reports: the JSON of §4, its gzip file (§5.3 file name, written atomically into
// the outbox) and the multipart/report mail of §5.3. Pure functions except write_report().
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsrpt/store.h"

namespace tlsfence::tlsrpt {

struct ReportMeta {
  std::string organization_name;  // [tlsrpt] organization-name
  std::string contact_info;       // [tlsrpt] contact-info
  std::string submitter;          // [tlsrpt] submitter (the sending domain)
};

struct BuiltReport {
  std::int64_t day = 0;
  std::string policy_domain;
  std::string report_id;   // "<YYYY-MM-DD>_<policy-domain>@<submitter>": stable for a rebuild
  std::int64_t begin = 0;  // Unix seconds of 00:00:00Z of the day
  std::int64_t end = 0;    // Unix seconds of 23:59:59Z of the day (RFC 8460 §4.4 example)
  std::string json;        // the report
  std::string gzip;        // gzip of json
  std::string file_name;   // SUBMITTER!POLICY-DOMAIN!BEGIN!END!ID.json.gz
};

std::string report_id_for(std::int64_t day, std::string_view policy_domain, std::string_view submitter);

// "2026-11-22T00:00:00Z"
std::string rfc3339_utc(std::int64_t unix_seconds);

// The report JSON text (fields in the RFC's order).
std::string report_json(const ReportMeta& meta, std::int64_t day, std::string_view policy_domain,
                        std::string_view report_id, const std::vector<PolicyAggregate>& policies);

// File name of §5.3 / INTERFACE.md; ID is alphanumeric (§5.3 unique-id = 1*(ALPHA / DIGIT)):
// 16 hex digits derived from the report id.
std::string report_file_name(std::string_view submitter, std::string_view policy_domain, std::int64_t begin,
                             std::int64_t end, std::string_view report_id);

BuiltReport build_report(const ReportMeta& meta, std::int64_t day, std::string_view policy_domain,
                         const std::vector<PolicyAggregate>& policies);

std::string gzip_compress(std::string_view data);
// nullopt on corrupt input or output larger than max_size.
std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_size = 64 * 1024 * 1024);

enum class Durability { fsync, none };
// Writes outbox/<file_name> atomically (temporary file + rename); with Durability::fsync the
// file and the directory are fsync'ed before returning. Returns the final path. Throws
// std::system_error on I/O failure (nothing half-written is left under the final name).
std::filesystem::path write_report(const std::filesystem::path& outbox, const BuiltReport& report,
                                   Durability durability = Durability::fsync);
// After many Durability::none writes: flush the outbox's file system once.
void sync_outbox(const std::filesystem::path& outbox);

struct MailEnvelope {
  std::string from;             // e.g. "tlsrpt-noreply@mail.sender.example"
  std::vector<std::string> to;  // decoded mailto: addresses
  std::int64_t date_unix = 0;
  std::string message_id;  // without <>; "" → "tlsfence-report.HASH.TIME@SUBMITTER" (outcome.h)
  std::string boundary;    // "" → derived from the report id
};

// The RFC 8460 §5.3 message: multipart/report; report-type="tlsrpt", a text/plain part and
// the application/tlsrpt+gzip part (base64), with TLS-Report-Domain, TLS-Report-Submitter,
// TLS-Required: No, Subject, Message-ID, Date, From, To. CRLF line endings.
std::string report_mail(const ReportMeta& meta, const BuiltReport& report, const MailEnvelope& env);

// RFC 5322 date ("Sun, 22 Nov 2026 06:47:50 +0000") and base64 (76-column lines, CRLF).
std::string rfc5322_date(std::int64_t unix_seconds);
std::string base64_lines(std::string_view data);

}  // namespace tlsfence::tlsrpt
