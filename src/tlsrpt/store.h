#pragma once
// Durable TLS-RPT aggregation (SQLite, WAL, synchronous=FULL).
//
// Outcomes are aggregated per (UTC day, policy domain, policy: type + strings + policy-domain
// + mx hosts) into success/failure session counts, and failures further grouped by (result
// type, sending ip, receiving mx host, receiving ip, failure-reason-code) — the EHLO reply and
// additional-information are kept (first seen) but never split a group.
// add() returns only after COMMIT: an outcome acknowledged is never lost, even on kill -9.
// Log-follower positions are written in the same transaction as the outcomes they produced,
// so a restart resumes exactly after the last committed line (never lost, never doubled).
// One Store per thread; several processes may open the same file (one writer at a time,
// readers never block the writer thanks to WAL). Errors throw StoreError.
//
// Report delivery is recorded here too (schema 2): one `delivery` row per (day, policy domain,
// rua) planned when the day's report is built, and one `delivery_attempt` row per attempt
// (time, success or failure with its detail — error text, HTTP status —, next retry time, given
// up). A restart resumes pending deliveries from these rows. Schema 1 files are migrated on the
// first read-write open; a read-only open of a schema 1 file shows no deliveries.
//
// Schema 4 adds `upload_pending`: the (day, domain) aggregates changed since their last upload
// to the fleet's PostgreSQL ([fleet] postgresql; marked by add() in the same transaction).
//
// Schema 3 adds `record_lookup`: the `_smtp._tls` TXT lookup of each (report day, policy
// domain), so a domain is looked up once per day whatever rebuilds or restarts happen. A
// temporary failure (SERVFAIL, timeout) is kept as `temporary` with its retry time; the caller
// decides when to give up (store_lookups.cc).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tlsrpt/outcome.h"

struct sqlite3;

namespace tlsfence::tlsrpt {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where a log follower is in its file. `inode` and `head` (e.g. a hash of the first line)
// let the follower recognise rotation and truncation; the store only keeps them.
struct LogPosition {
  std::string source;  // e.g. "postfix-log:/var/log/mail.log"
  std::uint64_t inode = 0;
  std::uint64_t offset = 0;
  std::string head;
  bool operator==(const LogPosition&) const = default;
};

struct FailureDetail {
  TlsrptResult result = TlsrptResult::validation_failure;
  std::string sending_mta_ip;
  std::string receiving_mx_hostname;
  std::string receiving_mx_helo;
  std::string receiving_ip;
  std::string failure_reason_code;
  std::string additional_information;
  std::uint64_t failed_session_count = 0;
};

struct PolicyAggregate {
  ReportPolicy policy;
  std::uint64_t successful_sessions = 0;
  std::uint64_t failed_sessions = 0;
  std::vector<FailureDetail> failures;  // ordered by result type, then receiving mx, ip
};

struct DomainAggregate {
  std::string policy_domain;
  std::vector<PolicyAggregate> policies;
};

struct DaySummary {
  std::int64_t day = 0;
  std::string policy_domain;
  std::uint64_t successful_sessions = 0;
  std::uint64_t failed_sessions = 0;
};

struct RejectedInput {
  std::int64_t received_unix = 0;
  std::string source;  // "datagram", "postfix-log"…
  std::string error;
  std::string data;
};

enum class DeliveryState { pending, delivered, gave_up };
std::string_view to_string(DeliveryState s);

// One rua of one day's report of one policy domain.
struct Delivery {
  std::int64_t id = 0;
  std::int64_t day = 0;
  std::string policy_domain;
  std::string report_id;
  std::string file;          // the report's file name in the outbox
  std::string rua;           // the URI as written in the record
  std::string target;        // mailto: the address; https: the URL
  std::int64_t created = 0;  // Unix time the delivery was planned (the 24 h of retries count from here)
  DeliveryState state = DeliveryState::pending;
  std::int64_t next_attempt = 0;  // pending: Unix time of the next attempt; else 0
  std::uint64_t attempts = 0;
  std::uint64_t failures = 0;
};

struct DeliveryAttempt {
  std::int64_t delivery_id = 0;
  std::int64_t time = 0;  // Unix time of the attempt
  bool ok = false;
  std::string detail;                      // "HTTP status 200", an error text…
  std::optional<std::int64_t> next_retry;  // failure with a retry planned
  bool gave_up = false;                    // failure, no retry any more
};

// What the `_smtp._tls.<domain>` lookup of one report day found (RFC 8460 §3).
enum class RecordState {
  valid,      // exactly one valid record: detail is its text
  none,       // no record, several, or a malformed one: detail says which (no report)
  temporary,  // SERVFAIL / timeout: detail is the error; retried at next_attempt
  gave_up,    // temporary for too long: no report for that day
};
std::string_view to_string(RecordState s);

struct RecordLookup {
  std::int64_t day = 0;
  std::string domain;
  RecordState state = RecordState::none;
  std::string detail;
  std::int64_t first_checked = 0;  // Unix time of the first lookup
  std::int64_t checked = 0;        // Unix time of the latest lookup
  std::uint64_t failures = 0;      // temporary failures so far
  std::int64_t next_attempt = 0;   // temporary: when to look up again; else 0
};

// A (day, policy domain) whose aggregates changed since its last upload to the fleet, with
// those aggregates (absolute counts) and the generation they belong to.
struct PendingUpload {
  std::int64_t day = 0;
  std::string policy_domain;
  std::int64_t gen = 0;
  std::vector<PolicyAggregate> policies;
};

struct PlannedRua {
  std::string rua, target;
};

class Store {
 public:
  enum class Mode { read_write, read_only };
  // Opens (creating the file and schema in read_write mode). Throws StoreError.
  explicit Store(const std::string& path, Mode mode = Mode::read_write);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // One transaction: all outcomes and all positions, or nothing. Returns after COMMIT.
  void add(std::span<const Outcome> outcomes, std::span<const LogPosition> positions = {});
  std::optional<LogPosition> position(std::string_view source);

  // Invalid datagrams / lines kept for inspection (the newest `keep` rows are kept).
  void add_rejected(const RejectedInput& r, std::size_t keep = 1000);
  std::vector<RejectedInput> rejected(std::size_t limit = 100);

  std::vector<std::string> policy_domains(std::int64_t day);
  std::vector<PolicyAggregate> aggregates(std::int64_t day, std::string_view policy_domain);
  std::vector<DomainAggregate> day_aggregates(std::int64_t day);  // every domain, sorted
  std::vector<DaySummary> summary();                              // every (day, domain)
  std::vector<std::int64_t> days();

  // Delivery bookkeeping. plan_deliveries() adds one pending delivery per rua (due at `now`)
  // unless that (day, domain, rua) is planned already; returns how many are new.
  std::size_t plan_deliveries(std::int64_t day, std::string_view policy_domain, std::string_view report_id,
                              std::string_view file, std::span<const PlannedRua> rua, std::int64_t now);
  std::vector<Delivery> deliveries();                      // every one, by day, domain, id
  std::vector<Delivery> deliveries(std::int64_t day);      // of one day
  std::vector<Delivery> due_deliveries(std::int64_t now);  // pending with next_attempt <= now
  std::optional<std::int64_t> next_delivery_time();        // earliest pending next_attempt
  // One transaction: the attempt row and the delivery's new state (delivered when ok; gave_up
  // when gave_up; else pending until next_retry).
  void record_attempt(const DeliveryAttempt& a);
  std::vector<DeliveryAttempt> attempts(std::int64_t delivery_id);

  // Record lookups (store_lookups.cc). put_record_lookup() replaces the row of (day, domain).
  std::optional<RecordLookup> record_lookup(std::int64_t day, std::string_view domain);
  std::vector<RecordLookup> record_lookups(std::int64_t day);      // of one day, by domain
  std::vector<RecordLookup> due_record_lookups(std::int64_t now);  // temporary, next_attempt <= now
  std::optional<std::int64_t> next_record_lookup_time();           // earliest temporary next_attempt
  void put_record_lookup(const RecordLookup& r);

  // Fleet uploads (schema 4): add() marks each (day, domain) it changes. pending_uploads()
  // reads up to `limit` marked ones with their aggregates in one read transaction;
  // uploaded() clears the marks of those still at the generation read (a change in between
  // keeps its mark, so it is uploaded again).
  std::vector<PendingUpload> pending_uploads(std::size_t limit);
  void uploaded(std::span<const PendingUpload> done);
  std::uint64_t pending_upload_count();

  // Small persistent settings (e.g. the last day whose reports were built).
  std::optional<std::string> meta(std::string_view key);
  void set_meta(std::string_view key, std::string_view value);

  // Deletes every day before `first_day_kept`; returns the number of (day, domain, policy) rows.
  std::uint64_t prune(std::int64_t first_day_kept);

 private:
  void exec(const char* sql);
  std::vector<PolicyAggregate> load(std::int64_t day, const std::string* domain,
                                    std::vector<std::string>* domains_out);
  std::vector<Delivery> load_deliveries(const char* where, std::optional<std::int64_t> arg);
  sqlite3* db_ = nullptr;
  bool has_deliveries_ = true;      // false: a schema 1 file opened read-only
  bool has_record_lookups_ = true;  // false: a schema 1 or 2 file opened read-only
  bool has_upload_pending_ = true;  // false: a schema 1, 2 or 3 file opened read-only
};

}  // namespace tlsfence::tlsrpt
