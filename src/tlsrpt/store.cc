// SQLite implementation of the TLS-RPT store (see store.h). Every statement is prepared with
// bound parameters; every sqlite3 handle is owned by an RAII wrapper.
#include "tlsrpt/store.h"
#include "tlsrpt/counters.h"

#include <sqlite3.h>

#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "tlsrpt/sqlite_util.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"  // g++ 12 false positive in nlohmann (GCC bug 105329)
#endif

namespace tlsfence::tlsrpt {
namespace {

using sql::Stmt;
using sql::Transaction;

// 1: outcomes, positions, rejected input. 2: + delivery, delivery_attempt. 3: + record_lookup.
// 4: + upload_pending.
constexpr int schema_version = 4;

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policy_day(
  id INTEGER PRIMARY KEY,
  day INTEGER NOT NULL,
  policy_domain TEXT NOT NULL,
  policy_type TEXT NOT NULL,
  policy_strings TEXT NOT NULL,
  policy_policy_domain TEXT NOT NULL,
  mx_hosts TEXT NOT NULL,
  successes INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  UNIQUE(day, policy_domain, policy_type, policy_strings, policy_policy_domain, mx_hosts));
CREATE TABLE IF NOT EXISTS failure_detail(
  policy_day_id INTEGER NOT NULL REFERENCES policy_day(id) ON DELETE CASCADE,
  result_type TEXT NOT NULL,
  sending_ip TEXT NOT NULL,
  receiving_mx TEXT NOT NULL,
  receiving_ip TEXT NOT NULL,
  failure_reason_code TEXT NOT NULL,
  receiving_helo TEXT NOT NULL,
  additional_information TEXT NOT NULL,
  sessions INTEGER NOT NULL,
  PRIMARY KEY(policy_day_id, result_type, sending_ip, receiving_mx, receiving_ip, failure_reason_code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS source_position(
  source TEXT PRIMARY KEY, inode INTEGER NOT NULL, offset INTEGER NOT NULL, head TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rejected_input(
  id INTEGER PRIMARY KEY, received INTEGER NOT NULL, source TEXT NOT NULL, error TEXT NOT NULL, data BLOB NOT NULL);
)sql";

// Schema 2 (also run on a schema 1 file to migrate it).
constexpr const char* delivery_sql = R"sql(
CREATE TABLE IF NOT EXISTS delivery(
  id INTEGER PRIMARY KEY,
  day INTEGER NOT NULL,
  policy_domain TEXT NOT NULL,
  report_id TEXT NOT NULL,
  file TEXT NOT NULL,
  rua TEXT NOT NULL,
  target TEXT NOT NULL,
  created INTEGER NOT NULL,
  state TEXT NOT NULL,
  next_attempt INTEGER NOT NULL,
  UNIQUE(day, policy_domain, rua));
CREATE INDEX IF NOT EXISTS delivery_due ON delivery(state, next_attempt);
CREATE TABLE IF NOT EXISTS delivery_attempt(
  id INTEGER PRIMARY KEY,
  delivery_id INTEGER NOT NULL REFERENCES delivery(id) ON DELETE CASCADE,
  time INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  detail TEXT NOT NULL,
  next_retry INTEGER,
  gave_up INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS delivery_attempt_of ON delivery_attempt(delivery_id, id);
)sql";

// Schema 3 (also run on schema 1 and 2 files): the _smtp._tls lookup of each (day, domain).
constexpr const char* record_lookup_sql = R"sql(
CREATE TABLE IF NOT EXISTS record_lookup(
  day INTEGER NOT NULL,
  domain TEXT NOT NULL,
  state TEXT NOT NULL,
  detail TEXT NOT NULL,
  first_checked INTEGER NOT NULL,
  checked INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL,
  PRIMARY KEY(day, domain)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_lookup_due ON record_lookup(state, next_attempt);
)sql";

// Schema 4: the (day, domain) aggregates changed since they were last uploaded to the fleet's
// PostgreSQL. `gen` grows with every change, so an upload removes only what it uploaded. A file
// migrated from an older schema marks everything it holds (a host joining a fleet uploads it).
constexpr const char* upload_pending_sql = R"sql(
CREATE TABLE IF NOT EXISTS upload_pending(
  day INTEGER NOT NULL,
  policy_domain TEXT NOT NULL,
  gen INTEGER NOT NULL,
  PRIMARY KEY(day, policy_domain)) WITHOUT ROWID;
INSERT OR IGNORE INTO upload_pending(day, policy_domain, gen)
  SELECT DISTINCT day, policy_domain, 1 FROM policy_day;
)sql";

std::string json_list(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump();
}

std::vector<std::string> parse_list(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& e : j)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

struct PolicyKey {
  std::int64_t day;
  std::string domain, type, strings, policy_domain, mx;
  auto operator<=>(const PolicyKey&) const = default;
};

struct DetailKey {
  std::string result, sending_ip, mx, ip, reason;
  auto operator<=>(const DetailKey&) const = default;
};

struct DetailValue {
  std::string helo, info;
  std::int64_t count = 0;
};

struct PolicyValue {
  std::int64_t successes = 0, failures = 0;
  std::map<DetailKey, DetailValue> details;
};

}  // namespace

Store::Store(const std::string& path, Mode mode) {
  int flags = mode == Mode::read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("tlsrpt store: cannot open " + path + ": " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 10'000);
    exec("PRAGMA foreign_keys=ON");
    if (mode == Mode::read_write) {
      exec("PRAGMA journal_mode=WAL");
      exec("PRAGMA synchronous=FULL");
      Transaction tx(db_);
      exec(schema_sql);
      Stmt current(db_, "SELECT value FROM meta WHERE key='schema'");
      const std::string found = current.step() ? current.text(0) : "";
      if (found.empty() || found == "1" || found == "2" || found == "3") {  // new, or older: add tables
        exec(delivery_sql);
        exec(record_lookup_sql);
        exec(upload_pending_sql);
        Stmt version(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?1)");
        version.bind(1, std::to_string(schema_version)).step();
      }
      tx.commit();
    }
    Stmt check(db_, "SELECT value FROM meta WHERE key='schema'");
    const std::string found = check.step() ? check.text(0) : "";
    if (mode == Mode::read_only && (found == "1" || found == "2" || found == "3")) {
      has_deliveries_ = found != "1";
      has_record_lookups_ = found == "3";
      has_upload_pending_ = false;
    } else if (found != std::to_string(schema_version)) {
      throw StoreError("tlsrpt store: " + path + ": unknown schema version " + found);
    }
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Store::~Store() {
  sqlite3_close(db_);
}

void Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StoreError("tlsrpt store: " + msg);
  }
}

void Store::add(std::span<const Outcome> outcomes, std::span<const LogPosition> positions) {
  // Aggregate the batch in memory first: one upsert per group, not per outcome.
  std::map<PolicyKey, PolicyValue> batch;
  for (const auto& o : outcomes) {
    PolicyKey key{o.day,
                  o.policy_domain,
                  std::string(to_string(o.policy.type)),
                  json_list(o.policy.strings),
                  o.policy.domain.empty() ? o.policy_domain : o.policy.domain,
                  json_list(o.policy.mx_hosts)};
    auto& v = batch[key];
    if (!o.failure) {
      ++v.successes;
      continue;
    }
    ++v.failures;
    DetailKey dk{std::string(to_string(*o.failure)), o.sending_ip, o.mx_host, o.receiving_ip,
                 o.failure_reason_code};
    auto& d = v.details[dk];
    if (d.count == 0) {
      d.helo = o.helo;
      d.info = o.additional_information;
    }
    ++d.count;
  }
  Transaction tx(db_);
  if (!batch.empty()) {
    Stmt policy(
        db_,
        "INSERT INTO policy_day(day, policy_domain, policy_type, policy_strings, policy_policy_domain, "
        "mx_hosts, successes, failures) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(day, policy_domain, policy_type, policy_strings, policy_policy_domain, mx_hosts) "
        "DO UPDATE SET successes = successes + excluded.successes, failures = failures + excluded.failures "
        "RETURNING id");
    Stmt detail(
        db_,
        "INSERT INTO failure_detail(policy_day_id, result_type, sending_ip, receiving_mx, receiving_ip, "
        "failure_reason_code, receiving_helo, additional_information, sessions) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT(policy_day_id, result_type, sending_ip, receiving_mx, receiving_ip, "
        "failure_reason_code) "
        "DO UPDATE SET sessions = sessions + excluded.sessions");
    Stmt pending(db_,
                 "INSERT INTO upload_pending(day, policy_domain, gen) VALUES(?1, ?2, 1) "
                 "ON CONFLICT(day, policy_domain) DO UPDATE SET gen = gen + 1");
    const PolicyKey* last = nullptr;
    for (const auto& [k, v] : batch) {
      if (!last || last->day != k.day || last->domain != k.domain) {  // the map is ordered by day, domain
        pending.reset();
        pending.bind(1, k.day).bind(2, k.domain).step();
        last = &k;
      }
      policy.reset();
      policy.bind(1, k.day).bind(2, k.domain).bind(3, k.type).bind(4, k.strings).bind(5, k.policy_domain);
      policy.bind(6, k.mx).bind(7, v.successes).bind(8, v.failures);
      if (!policy.step()) throw StoreError("tlsrpt store: upsert returned no id");
      std::int64_t id = policy.integer(0);
      while (policy.step()) {
      }
      for (const auto& [dk, dv] : v.details) {
        detail.reset();
        detail.bind(1, id).bind(2, dk.result).bind(3, dk.sending_ip).bind(4, dk.mx).bind(5, dk.ip);
        detail.bind(6, dk.reason).bind(7, dv.helo).bind(8, dv.info).bind(9, dv.count);
        detail.step();
      }
    }
  }
  if (!positions.empty()) {
    Stmt pos(db_,
             "INSERT INTO source_position(source, inode, offset, head) VALUES(?1, ?2, ?3, ?4) "
             "ON CONFLICT(source) DO UPDATE SET inode = excluded.inode, offset = excluded.offset, head = "
             "excluded.head");
    for (const auto& p : positions) {
      pos.reset();
      pos.bind(1, p.source)
          .bind(2, static_cast<std::int64_t>(p.inode))
          .bind(3, static_cast<std::int64_t>(p.offset))
          .bind(4, p.head);
      pos.step();
    }
  }
  tx.commit();
  for (const auto& o : outcomes) {
    if (o.success()) {
      counters().outcomes_success.inc();
    } else {
      counters().outcomes_failure.inc();
      counters().failures.inc(static_cast<std::size_t>(*o.failure));
    }
  }
}

std::optional<LogPosition> Store::position(std::string_view source) {
  Stmt q(db_, "SELECT inode, offset, head FROM source_position WHERE source = ?1");
  q.bind(1, source);
  if (!q.step()) return std::nullopt;
  LogPosition p;
  p.source = std::string(source);
  p.inode = static_cast<std::uint64_t>(q.integer(0));
  p.offset = static_cast<std::uint64_t>(q.integer(1));
  p.head = q.text(2);
  return p;
}

void Store::add_rejected(const RejectedInput& r, std::size_t keep) {
  Transaction tx(db_);
  Stmt ins(db_, "INSERT INTO rejected_input(received, source, error, data) VALUES(?1, ?2, ?3, ?4)");
  ins.bind(1, r.received_unix).bind(2, r.source).bind(3, r.error).bind_blob(4, r.data);
  ins.step();
  Stmt trim(db_, "DELETE FROM rejected_input WHERE id <= (SELECT MAX(id) FROM rejected_input) - ?1");
  trim.bind(1, static_cast<std::int64_t>(keep));
  (r.source == "datagram" ? counters().rejected_datagrams : counters().rejected_other).inc();
  trim.step();
  tx.commit();
}

std::vector<RejectedInput> Store::rejected(std::size_t limit) {
  Stmt q(db_, "SELECT received, source, error, data FROM rejected_input ORDER BY id DESC LIMIT ?1");
  q.bind(1, static_cast<std::int64_t>(limit));
  std::vector<RejectedInput> out;
  while (q.step()) out.push_back(RejectedInput{q.integer(0), q.text(1), q.text(2), q.text(3)});
  return out;
}

std::vector<std::string> Store::policy_domains(std::int64_t day) {
  Stmt q(db_, "SELECT DISTINCT policy_domain FROM policy_day WHERE day = ?1 ORDER BY policy_domain");
  q.bind(1, day);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

std::vector<PolicyAggregate> Store::load(std::int64_t day, const std::string* domain,
                                         std::vector<std::string>* domains_out) {
  // Policies and their failure details in one ordered pass (LEFT JOIN: policies without
  // failures have NULL detail columns).
  std::string sql =
      "SELECT p.id, p.policy_domain, p.policy_type, p.policy_strings, p.policy_policy_domain, p.mx_hosts, "
      "p.successes, p.failures, d.result_type, d.sending_ip, d.receiving_mx, d.receiving_ip, "
      "d.failure_reason_code, d.receiving_helo, d.additional_information, d.sessions "
      "FROM policy_day p LEFT JOIN failure_detail d ON d.policy_day_id = p.id WHERE p.day = ?1";
  if (domain) sql += " AND p.policy_domain = ?2";
  sql += " ORDER BY p.policy_domain, p.id, d.result_type, d.receiving_mx, d.receiving_ip";
  Stmt q(db_, sql.c_str());
  q.bind(1, day);
  if (domain) q.bind(2, *domain);
  std::vector<PolicyAggregate> out;
  std::int64_t last_id = -1;
  while (q.step()) {
    std::int64_t id = q.integer(0);
    if (id != last_id) {
      last_id = id;
      PolicyAggregate a;
      a.policy.type = tlsrpt_policy_type_from_name(q.text(2)).value_or(TlsrptPolicyType::no_policy_found);
      a.policy.strings = parse_list(q.text(3));
      a.policy.domain = q.text(4);
      a.policy.mx_hosts = parse_list(q.text(5));
      a.successful_sessions = static_cast<std::uint64_t>(q.integer(6));
      a.failed_sessions = static_cast<std::uint64_t>(q.integer(7));
      out.push_back(std::move(a));
      if (domains_out) domains_out->push_back(q.text(1));
    }
    std::string result = q.text(8);
    if (result.empty()) continue;
    FailureDetail f;
    f.result = tlsrpt_result_from_name(result).value_or(TlsrptResult::validation_failure);
    f.sending_mta_ip = q.text(9);
    f.receiving_mx_hostname = q.text(10);
    f.receiving_ip = q.text(11);
    f.failure_reason_code = q.text(12);
    f.receiving_mx_helo = q.text(13);
    f.additional_information = q.text(14);
    f.failed_session_count = static_cast<std::uint64_t>(q.integer(15));
    out.back().failures.push_back(std::move(f));
  }
  return out;
}

std::vector<PolicyAggregate> Store::aggregates(std::int64_t day, std::string_view policy_domain) {
  std::string d(policy_domain);
  return load(day, &d, nullptr);
}

std::vector<DomainAggregate> Store::day_aggregates(std::int64_t day) {
  std::vector<std::string> domains;
  auto all = load(day, nullptr, &domains);
  std::vector<DomainAggregate> out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (out.empty() || out.back().policy_domain != domains[i]) out.push_back(DomainAggregate{domains[i], {}});
    out.back().policies.push_back(std::move(all[i]));
  }
  return out;
}

std::vector<DaySummary> Store::summary() {
  Stmt q(
      db_,
      "SELECT day, policy_domain, SUM(successes), SUM(failures) FROM policy_day GROUP BY day, policy_domain "
      "ORDER BY day, policy_domain");
  std::vector<DaySummary> out;
  while (q.step())
    out.push_back(DaySummary{q.integer(0), q.text(1), static_cast<std::uint64_t>(q.integer(2)),
                             static_cast<std::uint64_t>(q.integer(3))});
  return out;
}

std::vector<std::int64_t> Store::days() {
  Stmt q(db_, "SELECT DISTINCT day FROM policy_day ORDER BY day");
  std::vector<std::int64_t> out;
  while (q.step()) out.push_back(q.integer(0));
  return out;
}

std::uint64_t Store::prune(std::int64_t first_day_kept) {
  Transaction tx(db_);
  Stmt del(db_, "DELETE FROM policy_day WHERE day < ?1");
  del.bind(1, first_day_kept);
  del.step();
  auto n = static_cast<std::uint64_t>(sqlite3_changes(db_));
  Stmt del_delivery(db_, "DELETE FROM delivery WHERE day < ?1");
  del_delivery.bind(1, first_day_kept);
  del_delivery.step();
  Stmt del_lookup(db_, "DELETE FROM record_lookup WHERE day < ?1");
  del_lookup.bind(1, first_day_kept);
  del_lookup.step();
  Stmt del_pending(db_, "DELETE FROM upload_pending WHERE day < ?1");
  del_pending.bind(1, first_day_kept);
  del_pending.step();
  tx.commit();
  return n;
}

std::string_view to_string(DeliveryState s) {
  switch (s) {
    case DeliveryState::pending: return "pending";
    case DeliveryState::delivered: return "delivered";
    case DeliveryState::gave_up: return "gave-up";
  }
  return "pending";
}

namespace {
DeliveryState state_from_text(const std::string& t) {
  if (t == "delivered") return DeliveryState::delivered;
  if (t == "gave-up") return DeliveryState::gave_up;
  return DeliveryState::pending;
}
}  // namespace

std::size_t Store::plan_deliveries(std::int64_t day, std::string_view policy_domain,
                                   std::string_view report_id, std::string_view file,
                                   std::span<const PlannedRua> rua, std::int64_t now) {
  Transaction tx(db_);
  Stmt ins(db_,
           "INSERT OR IGNORE INTO delivery(day, policy_domain, report_id, file, rua, target, created, state, "
           "next_attempt) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?7)");
  std::size_t added = 0;
  for (const auto& r : rua) {
    ins.reset();
    ins.bind(1, day).bind(2, policy_domain).bind(3, report_id).bind(4, file).bind(5, r.rua).bind(6, r.target);
    ins.bind(7, now);
    ins.step();
    added += static_cast<std::size_t>(sqlite3_changes(db_));
  }
  tx.commit();
  return added;
}

std::vector<Delivery> Store::load_deliveries(const char* where, std::optional<std::int64_t> arg) {
  std::vector<Delivery> out;
  if (!has_deliveries_) return out;
  std::string sql =
      "SELECT d.id, d.day, d.policy_domain, d.report_id, d.file, d.rua, d.target, d.created, d.state, "
      "d.next_attempt, (SELECT COUNT(*) FROM delivery_attempt a WHERE a.delivery_id = d.id), "
      "(SELECT COUNT(*) FROM delivery_attempt a WHERE a.delivery_id = d.id AND a.ok = 0) FROM delivery d ";
  sql += where;
  Stmt q(db_, sql.c_str());
  if (arg) q.bind(1, *arg);
  while (q.step()) {
    Delivery d;
    d.id = q.integer(0);
    d.day = q.integer(1);
    d.policy_domain = q.text(2);
    d.report_id = q.text(3);
    d.file = q.text(4);
    d.rua = q.text(5);
    d.target = q.text(6);
    d.created = q.integer(7);
    d.state = state_from_text(q.text(8));
    d.next_attempt = d.state == DeliveryState::pending ? q.integer(9) : 0;
    d.attempts = static_cast<std::uint64_t>(q.integer(10));
    d.failures = static_cast<std::uint64_t>(q.integer(11));
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Delivery> Store::deliveries() {
  return load_deliveries("ORDER BY d.day, d.policy_domain, d.id", std::nullopt);
}

std::vector<Delivery> Store::deliveries(std::int64_t day) {
  return load_deliveries("WHERE d.day = ?1 ORDER BY d.policy_domain, d.id", day);
}

std::vector<Delivery> Store::due_deliveries(std::int64_t now) {
  return load_deliveries("WHERE d.state = 'pending' AND d.next_attempt <= ?1 ORDER BY d.next_attempt, d.id",
                         now);
}

std::optional<std::int64_t> Store::next_delivery_time() {
  if (!has_deliveries_) return std::nullopt;
  Stmt q(db_, "SELECT MIN(next_attempt) FROM delivery WHERE state = 'pending'");
  if (!q.step() || q.null(0)) return std::nullopt;
  return q.integer(0);
}

void Store::record_attempt(const DeliveryAttempt& a) {
  Transaction tx(db_);
  Stmt ins(db_,
           "INSERT INTO delivery_attempt(delivery_id, time, ok, detail, next_retry, gave_up) "
           "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  ins.bind(1, a.delivery_id).bind(2, a.time).bind(3, std::int64_t{a.ok}).bind(4, a.detail);
  if (a.next_retry) ins.bind(5, *a.next_retry);
  ins.bind(6, std::int64_t{a.gave_up});
  ins.step();
  const char* state = a.ok ? "delivered" : (a.gave_up || !a.next_retry) ? "gave-up" : "pending";
  Stmt upd(db_, "UPDATE delivery SET state = ?2, next_attempt = ?3 WHERE id = ?1");
  upd.bind(1, a.delivery_id).bind(2, std::string_view(state)).bind(3, a.next_retry.value_or(0));
  upd.step();
  if (sqlite3_changes(db_) != 1)
    throw StoreError("tlsrpt store: no delivery " + std::to_string(a.delivery_id));
  tx.commit();
}

std::vector<DeliveryAttempt> Store::attempts(std::int64_t delivery_id) {
  std::vector<DeliveryAttempt> out;
  if (!has_deliveries_) return out;
  Stmt q(db_,
         "SELECT time, ok, detail, next_retry, gave_up FROM delivery_attempt WHERE delivery_id = ?1 ORDER BY "
         "id");
  q.bind(1, delivery_id);
  while (q.step()) {
    DeliveryAttempt a;
    a.delivery_id = delivery_id;
    a.time = q.integer(0);
    a.ok = q.integer(1) != 0;
    a.detail = q.text(2);
    if (!q.null(3)) a.next_retry = q.integer(3);
    a.gave_up = q.integer(4) != 0;
    out.push_back(std::move(a));
  }
  return out;
}

std::optional<std::string> Store::meta(std::string_view key) {
  Stmt q(db_, "SELECT value FROM meta WHERE key = ?1");
  q.bind(1, key);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

void Store::set_meta(std::string_view key, std::string_view value) {
  Stmt q(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)");
  q.bind(1, key).bind(2, value);
  q.step();
}

}  // namespace tlsfence::tlsrpt

namespace tlsfence::tlsrpt {

std::vector<PendingUpload> Store::pending_uploads(std::size_t limit) {
  std::vector<PendingUpload> out;
  if (!has_upload_pending_) return out;
  // One read transaction: the aggregates are those of the generation read.
  exec("BEGIN");
  try {
    Stmt q(db_, "SELECT day, policy_domain, gen FROM upload_pending ORDER BY day, policy_domain LIMIT ?1");
    q.bind(1, static_cast<std::int64_t>(limit));
    while (q.step()) out.push_back(PendingUpload{q.integer(0), q.text(1), q.integer(2), {}});
    for (auto& p : out) p.policies = load(p.day, &p.policy_domain, nullptr);
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return out;
}

void Store::uploaded(std::span<const PendingUpload> done) {
  if (done.empty()) return;
  Transaction tx(db_);
  Stmt del(db_, "DELETE FROM upload_pending WHERE day = ?1 AND policy_domain = ?2 AND gen = ?3");
  for (const auto& p : done) {
    del.reset();
    del.bind(1, p.day).bind(2, p.policy_domain).bind(3, p.gen).step();
  }
  tx.commit();
}

std::uint64_t Store::pending_upload_count() {
  if (!has_upload_pending_) return 0;
  Stmt q(db_, "SELECT COUNT(*) FROM upload_pending");
  return q.step() ? static_cast<std::uint64_t>(q.integer(0)) : 0;
}

}  // namespace tlsfence::tlsrpt
