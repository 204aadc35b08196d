// Log-line correlation for Postfix and Sendmail (see correlator.h for the model).
// Never throws on input: a line that does not fit is counted and dropped.
#include "tlsrpt/correlator.h"

#include "tlsfence/limits.h"

namespace tlsfence::tlsrpt {
namespace {

std::string recipient_domain(std::string_view rcpt) {
  auto at = rcpt.rfind('@');
  if (at == std::string_view::npos || at + 1 >= rcpt.size()) return {};
  return normalize_domain(rcpt.substr(at + 1));
}

}  // namespace

void OwnQueueIds::add(std::string_view qid) {
  if (!ids_.emplace(qid).second) return;
  order_.emplace_back(qid);
  while (order_.size() > max_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
}

std::int64_t PostfixCorrelator::unix_time(const parse::SyslogTime& t, std::int64_t now) const {
  return parse::syslog_unix_time(t, now, options_.local_offset_seconds);
}

void PostfixCorrelator::bound_state() {
  if (sessions_.size() > options_.max_processes) {
    for (const auto& [pid, s] : sessions_)
      if (!s.reported) ++stats_.uncorrelated;
    sessions_.clear();
  }
  if (waiting_.size() > options_.max_processes) {
    for (const auto& [pid, w] : waiting_) stats_.uncorrelated += w.size();
    waiting_.clear();
  }
  if (held_.size() > options_.max_processes) {
    for (const auto& [pid, h] : held_) stats_.uncorrelated += h.size();
    held_.clear();
  }
}

void PostfixCorrelator::release_held(std::uint32_t pid, bool own, std::vector<Outcome>& out) {
  auto it = held_.find(pid);
  if (it == held_.end()) return;
  for (const auto& h : it->second) {
    if (own) {
      ++stats_.own_reports;
    } else {
      emit(h.session, h.domain, out);
    }
  }
  held_.erase(it);
}

PostfixCorrelator::Session& PostfixCorrelator::fresh_session(std::uint32_t pid) {
  auto& s = sessions_[pid];
  if (!s.reported && (s.tls || s.failure)) ++stats_.uncorrelated;  // never closed
  s = Session{};
  return s;
}

void PostfixCorrelator::emit(const Session& s, std::string_view domain, std::vector<Outcome>& out) {
  Outcome o;
  o.day = utc_day(s.time);
  o.policy_domain = std::string(domain);
  o.policy.domain = o.policy_domain;
  o.mx_host = normalize_domain(s.host);
  o.receiving_ip = s.ip;
  o.failure = s.failure;
  if (s.failure) o.failure_reason_code = s.reason;
  out.push_back(std::move(o));
  ++stats_.outcomes;
}

void PostfixCorrelator::feed(std::string_view line, std::int64_t now_unix, std::vector<Outcome>& out) {
  ++stats_.lines;
  if (line.size() > limits::log_line_max) {
    ++stats_.too_long;
    return;
  }
  if (auto ev = parse::parse_postfix_line(line)) feed(*ev, now_unix, out);
}

void PostfixCorrelator::feed(const parse::PostfixEvent& ev, std::int64_t now_unix,
                             std::vector<Outcome>& out) {
  using K = parse::PostfixEventKind;
  ++stats_.events;
  const std::int64_t t = unix_time(ev.time, now_unix);
  switch (ev.kind) {
    case K::tls_warning: return;  // context only: the delivery line carries the outcome
    case K::message_id:
      if (ev.message_id.starts_with(options_.own_message_id_prefix)) own_.add(ev.queue_id);
      return;
    case K::tlsrpt_status: {
      if (!tlsrpt_lines_seen_) {
        tlsrpt_lines_seen_ = true;
        // From now on the TLSRPT lines are the only source; pending classic state would
        // count the same sessions twice.
        sessions_.clear();
        waiting_.clear();
      }
      sessions_.erase(ev.pid);
      waiting_.erase(ev.pid);
      Session s;
      s.host = std::string(ev.host);
      s.ip = std::string(ev.ip);
      s.time = t;
      if (!ev.success) {
        s.failure = ev.result;
        s.reason = std::string(ev.reason);
      }
      // Held until the delivery line of this process says which queue id it was for.
      auto& held = held_[ev.pid];
      if (held.size() >= 64) {  // a process that never logs a delivery line: do not grow
        emit(held.front().session, held.front().domain, out);
        held.erase(held.begin());
      }
      held.push_back(Held{std::move(s), normalize_domain(ev.policy_domain)});
      bound_state();
      return;
    }
    case K::tls_failure: {
      if (tlsrpt_lines_seen_) return;
      auto it = sessions_.find(ev.pid);
      if (it != sessions_.end() && !it->second.reported && !it->second.tls && it->second.ip == ev.ip) {
        if (!it->second.failure) {
          it->second.failure = ev.result;
          it->second.reason = std::string(ev.reason);
        }
        return;
      }
      auto& s = fresh_session(ev.pid);
      s.host = std::string(ev.host);
      s.ip = std::string(ev.ip);
      s.time = t;
      s.failure = ev.result;
      s.reason = std::string(ev.reason);
      bound_state();
      return;
    }
    case K::tls_connection: {
      if (tlsrpt_lines_seen_) return;
      auto it = sessions_.find(ev.pid);
      if (!ev.reused && it != sessions_.end() && !it->second.reported && !it->second.tls &&
          it->second.ip == ev.ip) {
        it->second.tls = true;  // the handshake after its own verification failure line
        return;
      }
      auto& s = fresh_session(ev.pid);
      s.host = std::string(ev.host);
      s.ip = std::string(ev.ip);
      s.time = t;
      s.tls = true;
      if (ev.reused) {
        ++stats_.reused;
        s.reported = true;  // the session was counted when it was established
      }
      bound_state();
      return;
    }
    case K::note: {
      if (tlsrpt_lines_seen_) return;
      Session closed;
      auto it = sessions_.find(ev.pid);
      if (it != sessions_.end() && !it->second.reported && (ev.ip.empty() || it->second.ip == ev.ip)) {
        closed = it->second;
        it->second.reported = true;
      } else {
        closed.host = std::string(ev.host);
        closed.ip = std::string(ev.ip);
        closed.time = t;
      }
      if (!closed.failure) {
        closed.failure = ev.result;
        closed.reason = std::string(ev.reason);
      }
      waiting_[ev.pid].push_back(Waiting{std::string(ev.queue_id), std::move(closed)});
      bound_state();
      return;
    }
    case K::delivery: {
      std::string domain = recipient_domain(ev.recipient);
      const bool own = own_.contains(ev.queue_id);
      if (auto w = waiting_.find(ev.pid); w != waiting_.end()) {
        for (auto& item : w->second) {
          if (item.queue_id != ev.queue_id) {
            ++stats_.uncorrelated;  // a note whose queue id never got its delivery line
          } else if (own) {
            ++stats_.own_reports;
          } else if (domain.empty()) {
            ++stats_.uncorrelated;
          } else {
            emit(item.session, domain, out);
          }
        }
        waiting_.erase(w);
      }
      release_held(ev.pid, own, out);
      if (tlsrpt_lines_seen_) return;
      Session* current = nullptr;
      if (auto it = sessions_.find(ev.pid); it != sessions_.end()) {
        if (!ev.ip.empty() && it->second.ip == ev.ip) {
          if (it->second.reported) return;  // more deliveries over the same connection
          current = &it->second;
        } else {
          if (!it->second.reported) ++stats_.uncorrelated;  // ended without a delivery to its peer
          sessions_.erase(it);
        }
      }
      if (own) {  // our own report mail: the session is not counted
        if (current) {
          current->reported = true;
          ++stats_.own_reports;
        } else if (ev.result && (!ev.ip.empty() || !ev.host.empty())) {
          Session& s = fresh_session(ev.pid);
          s.ip = std::string(ev.ip);
          s.reported = true;
          ++stats_.own_reports;
        }
        return;
      }
      if (domain.empty()) {
        ++stats_.uncorrelated;
        return;
      }
      if (current) {
        if (!current->failure && ev.result) {
          current->failure = ev.result;
          current->reason = std::string(ev.status_text);
        }
        emit(*current, domain, out);
        current->reported = true;
        return;
      }
      if (ev.result && (!ev.ip.empty() || !ev.host.empty())) {
        // A TLS failure known only from the delivery status (no TLS line, e.g. STARTTLS not
        // offered, or no connection at all: "TLSA lookup error for MX:25" with relay=none): one
        // session, remembered so further recipients do not count it again.
        Session& s = fresh_session(ev.pid);
        s.host = std::string(ev.host);
        s.ip = std::string(ev.ip);
        s.time = t;
        s.failure = ev.result;
        s.reason = std::string(ev.status_text);
        emit(s, domain, out);
        s.reported = true;
        bound_state();
      }
      // Otherwise: a plaintext delivery or one without a peer: not a TLS session.
      return;
    }
  }
}

void SendmailCorrelator::feed(std::string_view line, std::int64_t now_unix, std::vector<Outcome>& out) {
  ++stats_.lines;
  if (line.size() > limits::log_line_max) {
    ++stats_.too_long;
    return;
  }
  if (auto ev = parse::parse_sendmail_line(line)) feed(*ev, now_unix, out);
}

void SendmailCorrelator::feed(const parse::SendmailEvent& ev, std::int64_t now_unix,
                              std::vector<Outcome>& out) {
  ++stats_.events;
  const std::int64_t t = parse::syslog_unix_time(ev.time, now_unix, options_.local_offset_seconds);
  if (ev.kind == parse::SendmailEventKind::queued) {
    if (ev.message_id.starts_with(options_.own_message_id_prefix)) own_.add(ev.queue_id);
    return;
  }
  if (ev.kind == parse::SendmailEventKind::starttls_client) {
    auto& s = sessions_[ev.pid];
    if (!s.reported && !s.host.empty()) ++stats_.uncorrelated;
    s = Session{};
    s.host = normalize_domain(ev.host);
    s.ip = std::string(ev.ip);
    s.time = t;
    s.failure = ev.result;
    s.needs_policy = ev.failure_needs_policy;
    s.verify = std::string(ev.verify);
    if (sessions_.size() > options_.max_processes) {
      stats_.uncorrelated += sessions_.size() - 1;
      Session keep = s;
      sessions_.clear();
      sessions_[ev.pid] = std::move(keep);
    }
    return;
  }
  auto it = sessions_.find(ev.pid);
  if (it == sessions_.end() || it->second.reported) return;  // plaintext, or same connection
  Session& s = it->second;
  if (ev.kind == parse::SendmailEventKind::starttls_cert) {
    // The certificate line after the summary: verifymsg says why verify=FAIL failed.
    if (ev.result && s.failure && s.verify == "FAIL") s.failure = ev.result;
    return;
  }
  std::string relay = normalize_domain(ev.host);
  if (!s.host.empty() && !relay.empty() && relay != s.host) {
    ++stats_.uncorrelated;
    sessions_.erase(it);
    return;
  }
  if (own_.contains(ev.queue_id)) {  // our own report mail: the session is not counted
    s.reported = true;
    ++stats_.own_reports;
    return;
  }
  std::string domain = normalize_domain(ev.first_recipient_domain);
  if (domain.empty()) {
    ++stats_.uncorrelated;
    sessions_.erase(it);
    return;
  }
  Outcome o;
  o.day = utc_day(s.time);
  o.policy_domain = domain;
  o.policy.domain = domain;
  o.mx_host = s.host;
  o.receiving_ip = s.ip.empty() ? std::string(ev.ip) : s.ip;
  o.failure = s.failure;
  o.failure_needs_policy = s.needs_policy;
  if (s.failure) o.failure_reason_code = "verify=" + s.verify;
  out.push_back(std::move(o));
  ++stats_.outcomes;
  s.reported = true;
}

}  // namespace tlsfence::tlsrpt
