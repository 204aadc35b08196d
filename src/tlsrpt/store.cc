// SQLite implementation of the TLS-RPT store (see store.h). Every statement is prepared with
// bound parameters; every sqlite3 handle is owned by an RAII wrapper.
#include "tlsrpt/store.h"

#include <sqlite3.h>

#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"  // g++ 12 false positive in nlohmann (GCC bug 105329)
#endif

namespace tlsfence::tlsrpt {
namespace {

constexpr int schema_version = 1;

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

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw StoreError(std::string("tlsrpt store: prepare: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view v) {
    check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind_blob(int i, std::string_view v) {
    check(sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  // true: a row is available; false: done.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(std::string("tlsrpt store: ") + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t integer(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) {
    auto p = reinterpret_cast<const char*>(sqlite3_column_blob(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw StoreError(std::string("tlsrpt store: bind: ") + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

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

// Rolls back unless committed (an exception between BEGIN and COMMIT leaves nothing behind).
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { run("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    run("COMMIT");
    done_ = true;
  }

 private:
  void run(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw StoreError(std::string("tlsrpt store: ") + sql + ": " + msg);
    }
  }
  sqlite3* db_;
  bool done_ = false;
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
      exec(schema_sql);
      Stmt version(db_, "INSERT OR IGNORE INTO meta(key, value) VALUES('schema', ?1)");
      version.bind(1, std::to_string(schema_version)).step();
    }
    Stmt check(db_, "SELECT value FROM meta WHERE key='schema'");
    if (!check.step() || check.text(0) != std::to_string(schema_version))
      throw StoreError("tlsrpt store: " + path + ": unknown schema version");
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
    for (const auto& [k, v] : batch) {
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
  tx.commit();
  return n;
}

}  // namespace tlsfence::tlsrpt
