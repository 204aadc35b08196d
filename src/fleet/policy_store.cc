// PgPolicyStore: shared decisions and MTA-STS policies in PostgreSQL, per-domain leases with
// advisory locks, NOTIFY wake-ups (see policy_store.h).
#include "fleet/policy_store.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>

#include "fleet/schema.h"
#include "policy/decision_json.h"
#include "util/log.h"

// g++ 12 at -O2 reports a false -Wmismatched-new-delete inside Asio's coroutine frame allocator.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace tlsfence::fleet {
namespace {

using policy::to_unix_seconds;

// The advisory-lock key of a domain, computed by the server (the same on every host).
constexpr const char* kLockKey = "hashtextextended('tlsfence:' || $1, 0)";

std::string num(std::int64_t n) {
  return std::to_string(n);
}

std::int64_t to_i64(const Value& v) {
  return v ? std::atoll(v->c_str()) : 0;
}

}  // namespace

struct PgPolicyStore::Read {
  bool ok = false;
  std::optional<PolicyDecision> decision;
  std::string writer;  // host that wrote the decision
  std::optional<CachedSts> sts;
  std::optional<PolicyDecision> stale;  // past expires_at, within valid_until
  policy::TimePoint stale_expires_at{}, stale_valid_until{};
  bool locked = false;     // this host now holds the domain's lock
  bool lock_busy = false;  // another host holds it
};

PgPolicyStore::PgPolicyStore(FleetClient& client, asio::any_io_executor io, const Clock& clock,
                             Options options, policy::CachePersistence* local)
    : client_(client), io_(std::move(io)), clock_(clock), options_(options), local_(local) {}

void PgPolicyStore::erase_decision(const std::string& domain) {
  if (local_) local_->erase_decision(domain);
}

void PgPolicyStore::erase_sts(const std::string& domain) {
  if (local_) local_->erase_sts(domain);
}

void PgPolicyStore::erase_all() {
  if (local_) local_->erase_all();
}

PgPolicyStore::~PgPolicyStore() {
  *alive_ = false;
}

namespace {

// The SELECT of read(): stored decision, stored MTA-STS policy, and (try_lock) the lock attempt.
std::string read_sql(bool try_lock) {
  std::string sql =
      "SELECT d.format, d.decision, d.expires_at, d.host, s.format, s.policy, s.fetched_at, d.valid_until, ";
  sql += try_lock
             ? std::string("CASE WHEN d.domain IS NULL OR d.expires_at <= $2 THEN pg_try_advisory_lock(") +
                   kLockKey + ") END"
             : std::string("NULL");
  sql +=
      " FROM (SELECT $1::text AS domain) q"
      " LEFT JOIN tlsfence_policy_decisions d ON d.domain = q.domain"
      " LEFT JOIN tlsfence_sts_policies s ON s.domain = q.domain AND s.expires_at > $2";
  return sql;
}

// (Plain functions, not coroutines: g++ 12 cannot build log field lists inside coroutines.)
void log_lookup_failed(const std::string& domain, const std::string& error) {
  log::warning("fleet: policy lookup failed; resolving as a single host",
               {{"domain", domain}, {"error", error}});
}

void log_from_fleet(const PolicyDecision& d, const std::string& writer) {
  log::info("policy from the fleet", {{"domain", d.domain},
                                      {"verdict", to_string(d.verdict)},
                                      {"source", to_string(d.source)},
                                      {"answer", d.verdict == Verdict::policy ? d.level : std::string()},
                                      {"written_by", writer}});
}

void log_no_decision(const std::string& domain, bool woken) {
  log::info("fleet: no decision from the resolving host; resolving here",
            {{"domain", domain}, {"woken", woken}});
}

}  // namespace

// Decodes read()'s row; a row that does not decode is named and ignored.
PgPolicyStore::Read PgPolicyStore::decode(const std::string& domain, const Outcome& o, std::int64_t now) {
  Read r;
  if (!o.ok || o.rows.size() != 1 || o.rows[0].size() != 9) {
    if (client_.connected()) log_lookup_failed(domain, o.ok ? "unexpected answer" : o.error);
    return r;
  }
  r.ok = true;
  const Row& row = o.rows[0];
  if (row[1]) {
    const std::int64_t format = to_i64(row[0]);
    if (format > kRowFormat) {
      log::error("fleet: stored decision has a newer row format; ignored, resolving instead",
                 {{"domain", domain}, {"format", format}, {"known", kRowFormat}});
    } else if (const std::int64_t expires = to_i64(row[2]), valid = to_i64(row[7]); valid > now) {
      auto d = policy::decision_from_json_text(*row[1]);
      if (!d || d.value->domain != domain) {
        log::error("fleet: stored decision is corrupt; ignored, resolving instead",
                   {{"domain", domain}, {"error", d ? "it names another domain" : d.error}});
      } else if (expires > now) {
        r.decision = std::move(*d.value);
        r.writer = row[3].value_or("");
      } else {
        r.stale = std::move(*d.value);
        r.stale_expires_at = policy::from_unix_seconds(expires);
        r.stale_valid_until = policy::from_unix_seconds(valid);
      }
    }
  }
  if (row[5]) {
    const std::int64_t format = to_i64(row[4]);
    if (format > kRowFormat) {
      log::error("fleet: stored MTA-STS policy has a newer row format; ignored",
                 {{"domain", domain}, {"format", format}, {"known", kRowFormat}});
    } else if (auto s = policy::cached_sts_from_json_text(*row[5]); !s) {
      log::error("fleet: stored MTA-STS policy is corrupt; ignored",
                 {{"domain", domain}, {"error", s.error}});
    } else {
      r.sts = std::move(*s.value);
    }
  }
  if (row[8]) {
    r.locked = *row[8] == "t";
    r.lock_busy = !r.locked;
  }
  return r;
}

Task<PgPolicyStore::Read> PgPolicyStore::read(const std::string& domain, bool try_lock) {
  const std::int64_t now = to_unix_seconds(clock_.now());
  std::vector<Statement> statements{{read_sql(try_lock), {domain, num(now)}}};
  Outcome o = co_await client_.run(io_, std::move(statements), options_.query_timeout);
  co_return decode(domain, o, now);
}

Task<policy::SharedClaim> PgPolicyStore::claim(std::string domain) {
  policy::SharedClaim c;
  if (!client_.connected()) co_return c;
  // Waiting starts before the lock is tried: a NOTIFY arriving in between is not missed.
  auto timer = std::make_shared<asio::steady_timer>(io_, asio::steady_timer::time_point::max());
  waiters_[domain].push_back(timer);
  auto forget_waiter = [this, &domain, &timer] {
    auto it = waiters_.find(domain);
    if (it == waiters_.end()) return;
    std::erase(it->second, timer);
    if (it->second.empty()) waiters_.erase(it);
  };
  std::weak_ptr<bool> alive = alive_;
  Read r = co_await read(domain, !options_.read_only);
  if (alive.expired()) co_return c;
  if (r.locked) leading_.insert(domain);
  c.leader = r.locked;
  if (r.lock_busy && !r.decision) {
    // Another host is resolving it: wait for its NOTIFY (or the bound), then read once more.
    timer->expires_after(options_.wait_bound);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (alive.expired()) co_return c;
    const bool woken = ec == asio::error::operation_aborted;
    forget_waiter();
    Read again = co_await read(domain, false);
    if (alive.expired()) co_return c;
    if (again.ok) r = std::move(again);
    if (!r.decision) log_no_decision(domain, woken);
  } else {
    forget_waiter();
  }
  c.sts = std::move(r.sts);
  c.stale = std::move(r.stale);
  c.stale_expires_at = r.stale_expires_at;
  c.stale_valid_until = r.stale_valid_until;
  if (r.decision) {
    const PolicyDecision& d = *r.decision;
    if (from_fleet_.size() > 100'000) from_fleet_.clear();
    from_fleet_[domain] = to_unix_seconds(d.decided_at);
    log_from_fleet(d, r.writer);
    c.decision = std::move(r.decision);
  }
  co_return c;
}

void PgPolicyStore::release(const std::string& domain, std::vector<Statement> statements) {
  statements.push_back({std::string("SELECT pg_advisory_unlock(") + kLockKey + ")", {domain}});
  statements.push_back({"SELECT pg_notify($1, $2)", {std::string(kPolicyChannel), domain}});
  client_.submit(std::move(statements), std::chrono::steady_clock::now() + options_.write_timeout);
}

void PgPolicyStore::resolved(const std::string& domain) {
  if (!leading_.count(domain)) return;
  // The cache stores (and so writes) the decision right after this returns; the release rides
  // on that write. A decision that is not written (TEMP, TTL 0) is released here instead.
  std::weak_ptr<bool> alive = alive_;
  asio::post(io_, [this, alive, domain] {
    if (alive.expired() || !leading_.erase(domain)) return;
    release(domain, {});
  });
}

void PgPolicyStore::put_decision(std::shared_ptr<const PolicyDecision> d, policy::TimePoint expires_at,
                                 policy::TimePoint valid_until) {
  if (local_) local_->put_decision(d, expires_at, valid_until);
  if (options_.read_only) return;
  const std::string& domain = d->domain;
  std::vector<Statement> statements;
  const std::int64_t decided = to_unix_seconds(d->decided_at);
  auto seen = from_fleet_.find(domain);
  const bool echo = seen != from_fleet_.end() && seen->second == decided;
  if (seen != from_fleet_.end()) from_fleet_.erase(seen);
  if (!echo) {
    statements.push_back(
        {"INSERT INTO tlsfence_policy_decisions (domain, format, decision, decided_at, expires_at, "
         "valid_until, "
         "host, written_at) VALUES ($1, $2, $3, $4, $5, $6, $7, extract(epoch FROM now())::bigint) "
         "ON CONFLICT (domain) DO UPDATE SET format = EXCLUDED.format, decision = EXCLUDED.decision, "
         "decided_at = EXCLUDED.decided_at, expires_at = EXCLUDED.expires_at, valid_until = "
         "EXCLUDED.valid_until, host = EXCLUDED.host, written_at = EXCLUDED.written_at "
         "WHERE tlsfence_policy_decisions.decided_at <= EXCLUDED.decided_at "
         "AND tlsfence_policy_decisions.format <= EXCLUDED.format",
         {domain, num(kRowFormat), policy::decision_to_json_text(*d), num(decided),
          num(to_unix_seconds(expires_at)), num(to_unix_seconds(std::max(valid_until, expires_at))),
          client_.options().host}});
  }
  if (const auto now = clock_.now(); now - last_purge_ >= options_.purge_every) {
    last_purge_ = now;
    const std::string t = num(to_unix_seconds(now));
    statements.push_back({"DELETE FROM tlsfence_policy_decisions WHERE valid_until < $1", {t}});
    statements.push_back({"DELETE FROM tlsfence_sts_policies WHERE expires_at < $1", {t}});
  }
  if (leading_.erase(domain)) {
    release(domain, std::move(statements));
  } else if (!statements.empty() && client_.connected()) {
    client_.submit(std::move(statements), std::chrono::steady_clock::now() + options_.write_timeout);
  }
}

void PgPolicyStore::put_sts(const std::string& domain, const CachedSts& sts) {
  if (local_) local_->put_sts(domain, sts);
  if (options_.read_only || !client_.connected()) return;
  const std::int64_t fetched = to_unix_seconds(sts.fetched_at);
  client_.submit(
      {{"INSERT INTO tlsfence_sts_policies (domain, format, policy, policy_id, fetched_at, max_age, "
        "expires_at, "
        "host, written_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, extract(epoch FROM now())::bigint) "
        "ON CONFLICT (domain) DO UPDATE SET format = EXCLUDED.format, policy = EXCLUDED.policy, policy_id = "
        "EXCLUDED.policy_id, fetched_at = EXCLUDED.fetched_at, max_age = EXCLUDED.max_age, expires_at = "
        "EXCLUDED.expires_at, host = EXCLUDED.host, written_at = EXCLUDED.written_at "
        "WHERE tlsfence_sts_policies.fetched_at <= EXCLUDED.fetched_at "
        "AND tlsfence_sts_policies.format <= EXCLUDED.format",
        {domain, num(kRowFormat), policy::cached_sts_to_json_text(sts), sts.policy.id, num(fetched),
         num(sts.policy.max_age), num(fetched + static_cast<std::int64_t>(sts.policy.max_age)),
         client_.options().host}}},
      std::chrono::steady_clock::now() + options_.write_timeout);
}

void PgPolicyStore::on_resolved_elsewhere(const std::string& domain) {
  auto it = waiters_.find(domain);
  if (it == waiters_.end()) return;
  for (auto& t : it->second) t->cancel();
  waiters_.erase(it);
}

std::size_t PgPolicyStore::waiting() const {
  std::size_t n = 0;
  for (const auto& [_, v] : waiters_) n += v.size();
  return n;
}

std::vector<Statement> flush_statements(const std::string& domain, const std::string& from_host) {
  if (domain.empty())
    return {
        {"DELETE FROM tlsfence_policy_decisions", {}},
        {"DELETE FROM tlsfence_sts_policies", {}},
        {"SELECT pg_notify($1, $2)", {std::string(kControlChannel), format_control("flush", from_host, "")}}};
  return {{"DELETE FROM tlsfence_policy_decisions WHERE domain = $1", {domain}},
          {"DELETE FROM tlsfence_sts_policies WHERE domain = $1", {domain}},
          {"SELECT pg_notify($1, $2)",
           {std::string(kControlChannel), format_control("flush", from_host, domain)}}};
}

std::vector<Statement> refreshed_statements(const std::string& domain, const std::string& from_host) {
  return {{"SELECT pg_notify($1, $2)",
           {std::string(kControlChannel), format_control("refreshed", from_host, domain)}}};
}

}  // namespace tlsfence::fleet
