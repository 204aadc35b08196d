#pragma once
// Turns a stream of MTA log lines into TLS-RPT outcomes.
//
// Postfix logs a connection's TLS line(s) before the delivery line of the queue id, all from
// the same smtp(8) process: the correlator keeps, per process id, the session in progress
// (peer, TLS established?, first failure) and closes it with the next delivery line of that
// process, whose to= address gives the policy (next-hop) domain. A non-final "QID: reason"
// note closes a failed session that waits for the queue id's delivery line. One connection is
// one session: further deliveries over it (and "reused" connections) are not counted again.
// Once Postfix 3.10's "TLSRPT: status=…" lines appear, they alone are used (no double count);
// each is held until the delivery line of its process names the queue id.
// Lines that cannot be correlated are counted and dropped. State is bounded.
//
// No report loops: the sidecar's own report mail carries a Message-ID starting with
// `own_message_id_prefix` (tlsrpt/outcome.h). cleanup(8) logs it per queue id before smtp(8)
// delivers (Sendmail: msgid= in the from= line); the sessions that deliver such a queue id are
// not counted (stats own_reports) — nor a later delivery over the same connection.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "parse/postfix_log.h"
#include "parse/sendmail_log.h"
#include "tlsrpt/outcome.h"

namespace tlsfence::tlsrpt {

struct CorrelatorOptions {
  int local_offset_seconds = 0;      // zone of traditional syslog times (east of UTC)
  std::size_t max_processes = 4096;  // bound on per-process state
  std::string own_message_id_prefix{tlsrpt::own_message_id_prefix};  // of the sidecar's report mail
  std::size_t max_own_queue_ids = 4096;                              // newest kept
};

// Queue ids of the sidecar's own report mail (bounded: the oldest are forgotten).
class OwnQueueIds {
 public:
  explicit OwnQueueIds(std::size_t max) : max_(max) {}
  void add(std::string_view qid);
  bool contains(std::string_view qid) const { return !ids_.empty() && ids_.count(std::string(qid)) != 0; }

 private:
  std::size_t max_;
  std::unordered_set<std::string> ids_;
  std::deque<std::string> order_;
};

struct CorrelatorStats {
  std::uint64_t lines = 0;         // lines fed
  std::uint64_t too_long = 0;      // lines over limits::log_line_max, skipped
  std::uint64_t events = 0;        // lines that parsed as a relevant event
  std::uint64_t outcomes = 0;      // outcomes produced
  std::uint64_t uncorrelated = 0;  // sessions or deliveries that could not be paired, dropped
  std::uint64_t reused = 0;        // reused connections (not a new session)
  std::uint64_t own_reports = 0;   // sessions that delivered our own report mail, not counted
  bool operator==(const CorrelatorStats&) const = default;
};

class PostfixCorrelator {
 public:
  explicit PostfixCorrelator(CorrelatorOptions options = {})
      : options_(std::move(options)), own_(options_.max_own_queue_ids) {}

  // One log line (without its newline). `now_unix` anchors traditional syslog times that
  // carry no year. Completed outcomes are appended to `out` (attribution is the caller's).
  void feed(std::string_view line, std::int64_t now_unix, std::vector<Outcome>& out);
  void feed(const parse::PostfixEvent& ev, std::int64_t now_unix, std::vector<Outcome>& out);

  const CorrelatorStats& stats() const { return stats_; }

 private:
  struct Session {
    std::string host, ip;
    std::int64_t time = 0;
    bool tls = false;
    bool reported = false;
    std::optional<TlsrptResult> failure;
    std::string reason;
  };
  struct Waiting {
    std::string queue_id;
    Session session;
  };
  struct Held {  // a TLSRPT line waiting for its delivery line
    Session session;
    std::string domain;
  };

  std::int64_t unix_time(const parse::SyslogTime& t, std::int64_t now) const;
  void emit(const Session& s, std::string_view domain, std::vector<Outcome>& out);
  Session& fresh_session(std::uint32_t pid);
  void bound_state();
  void release_held(std::uint32_t pid, bool own, std::vector<Outcome>& out);

  CorrelatorOptions options_;
  CorrelatorStats stats_;
  OwnQueueIds own_;
  bool tlsrpt_lines_seen_ = false;
  std::unordered_map<std::uint32_t, Session> sessions_;
  std::unordered_map<std::uint32_t, std::vector<Waiting>> waiting_;
  std::unordered_map<std::uint32_t, std::vector<Held>> held_;
};

// Sendmail: "STARTTLS=client, relay=…, verify=…" then the delivery line(s) of the same
// process. verify=FAIL is a soft failure (Outcome::failure_needs_policy), certificate-not-
// trusted unless the "STARTTLS=client, cert-subject=…, verifymsg=…" line between them (LogLevel
// 12 and above) names the failure (e.g. certificate-expired).
class SendmailCorrelator {
 public:
  explicit SendmailCorrelator(CorrelatorOptions options = {})
      : options_(std::move(options)), own_(options_.max_own_queue_ids) {}
  void feed(std::string_view line, std::int64_t now_unix, std::vector<Outcome>& out);
  void feed(const parse::SendmailEvent& ev, std::int64_t now_unix, std::vector<Outcome>& out);
  const CorrelatorStats& stats() const { return stats_; }

 private:
  struct Session {
    std::string host, ip;
    std::int64_t time = 0;
    bool reported = false;
    std::optional<TlsrptResult> failure;
    bool needs_policy = false;
    std::string verify;
  };
  CorrelatorOptions options_;
  CorrelatorStats stats_;
  OwnQueueIds own_;
  std::unordered_map<std::uint32_t, Session> sessions_;
};

}  // namespace tlsfence::tlsrpt
