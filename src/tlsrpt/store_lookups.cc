// The record_lookup table of the TLS-RPT store (see store.h, schema 3): one row per (report
// day, policy domain) with what the `_smtp._tls` lookup found.
#include "tlsrpt/sqlite_util.h"
#include "tlsrpt/store.h"

namespace tlsfence::tlsrpt {
namespace {

using sql::Stmt;

constexpr const char* columns = "day, domain, state, detail, first_checked, checked, failures, next_attempt";

RecordState state_from_text(const std::string& t) {
  if (t == "valid") return RecordState::valid;
  if (t == "temporary") return RecordState::temporary;
  if (t == "gave-up") return RecordState::gave_up;
  return RecordState::none;
}

RecordLookup row(Stmt& s) {
  RecordLookup r;
  r.day = s.integer(0);
  r.domain = s.text(1);
  r.state = state_from_text(s.text(2));
  r.detail = s.text(3);
  r.first_checked = s.integer(4);
  r.checked = s.integer(5);
  r.failures = static_cast<std::uint64_t>(s.integer(6));
  r.next_attempt = s.integer(7);
  return r;
}

}  // namespace

std::string_view to_string(RecordState s) {
  switch (s) {
    case RecordState::valid: return "valid";
    case RecordState::none: return "none";
    case RecordState::temporary: return "temporary";
    case RecordState::gave_up: return "gave-up";
  }
  return "none";
}

std::optional<RecordLookup> Store::record_lookup(std::int64_t day, std::string_view domain) {
  if (!has_record_lookups_) return std::nullopt;
  Stmt s(db_, (std::string("SELECT ") + columns + " FROM record_lookup WHERE day=?1 AND domain=?2").c_str());
  s.bind(1, day).bind(2, domain);
  if (!s.step()) return std::nullopt;
  return row(s);
}

std::vector<RecordLookup> Store::record_lookups(std::int64_t day) {
  std::vector<RecordLookup> out;
  if (!has_record_lookups_) return out;
  Stmt s(db_,
         (std::string("SELECT ") + columns + " FROM record_lookup WHERE day=?1 ORDER BY domain").c_str());
  s.bind(1, day);
  while (s.step()) out.push_back(row(s));
  return out;
}

std::vector<RecordLookup> Store::due_record_lookups(std::int64_t now) {
  std::vector<RecordLookup> out;
  if (!has_record_lookups_) return out;
  Stmt s(db_, (std::string("SELECT ") + columns +
               " FROM record_lookup WHERE state='temporary' AND next_attempt<=?1 ORDER BY day, domain")
                  .c_str());
  s.bind(1, now);
  while (s.step()) out.push_back(row(s));
  return out;
}

std::optional<std::int64_t> Store::next_record_lookup_time() {
  if (!has_record_lookups_) return std::nullopt;
  Stmt s(db_, "SELECT min(next_attempt) FROM record_lookup WHERE state='temporary'");
  if (!s.step() || s.null(0)) return std::nullopt;
  return s.integer(0);
}

void Store::put_record_lookup(const RecordLookup& r) {
  Stmt s(db_, (std::string("INSERT OR REPLACE INTO record_lookup(") + columns +
               ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                  .c_str());
  s.bind(1, r.day).bind(2, r.domain).bind(3, to_string(r.state)).bind(4, r.detail);
  s.bind(5, r.first_checked).bind(6, r.checked).bind(7, static_cast<std::int64_t>(r.failures));
  s.bind(8, r.next_attempt);
  s.step();
}

}  // namespace tlsfence::tlsrpt
