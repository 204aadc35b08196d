// libpq with deadlines (see pg.h): non-blocking connect and statements, poll() on PQsocket.
#include "fleet/pg.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace tlsfence::fleet {
namespace {

std::string one_line(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s.empty() ? "unknown error" : s;
}

// Waits until the socket is readable (or writable) or the deadline passes.
// 1: ready, 0: deadline, -1: poll failed.
int wait_socket(int fd, bool for_write, SteadyTime deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 60'000)));
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return -1;
  }
}

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

}  // namespace

Conn connect(const std::string& conninfo, const std::string& program, SteadyTime deadline,
             std::string& error) {
  const char* keys[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {conninfo.c_str(), program.c_str(), nullptr};
  Conn conn(PQconnectStartParams(keys, values, 1));
  if (!conn) {
    error = "out of memory";
    return nullptr;
  }
  if (PQstatus(conn.get()) == CONNECTION_BAD) {
    error = one_line(PQerrorMessage(conn.get()));
    return nullptr;
  }
  // Server notices (NOTICE of CREATE … IF NOT EXISTS, the FATAL of a server shutting down) would
  // go to stderr past the log format: what matters reaches the caller as an error anyway.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);

  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  for (;;) {
    if (st == PGRES_POLLING_OK) break;
    if (st == PGRES_POLLING_FAILED) {
      error = one_line(PQerrorMessage(conn.get()));
      return nullptr;
    }
    const int r = wait_socket(PQsocket(conn.get()), st == PGRES_POLLING_WRITING, deadline);
    if (r == 0) {
      error = "no connection within the deadline";
      return nullptr;
    }
    if (r < 0) {
      error = "poll failed";
      return nullptr;
    }
    st = PQconnectPoll(conn.get());
  }
  if (PQsetnonblocking(conn.get(), 1) != 0) {
    error = one_line(PQerrorMessage(conn.get()));
    return nullptr;
  }
  return conn;
}

bool consume(PGconn* conn) {
  return PQconsumeInput(conn) == 1 && PQstatus(conn) == CONNECTION_OK;
}

Outcome run(PGconn* conn, const std::vector<Statement>& statements, SteadyTime deadline) {
  Outcome out;
  auto lost = [&](std::string why) {
    out.ok = false;
    out.connection_lost = true;
    out.error = std::move(why);
    return out;
  };
  for (const Statement& s : statements) {
    std::vector<const char*> params;
    params.reserve(s.params.size());
    for (const Value& v : s.params) params.push_back(v ? v->c_str() : nullptr);
    // Without parameters the simple protocol, which allows several statements (migrations).
    const int sent = params.empty() ? PQsendQuery(conn, s.sql.c_str())
                                    : PQsendQueryParams(conn, s.sql.c_str(), static_cast<int>(params.size()),
                                                        nullptr, params.data(), nullptr, nullptr, 0);
    if (sent != 1) return lost(one_line(PQerrorMessage(conn)));
    // Send everything (non-blocking connection), then read until the statement's results end.
    for (;;) {
      const int f = PQflush(conn);
      if (f == 0) break;
      if (f < 0) return lost(one_line(PQerrorMessage(conn)));
      if (wait_socket(PQsocket(conn), true, deadline) <= 0) return lost("no answer within the deadline");
    }
    bool failed = false;
    for (;;) {
      while (PQisBusy(conn)) {
        if (wait_socket(PQsocket(conn), false, deadline) <= 0) return lost("no answer within the deadline");
        if (PQconsumeInput(conn) != 1) return lost(one_line(PQerrorMessage(conn)));
      }
      Result r(PQgetResult(conn));
      if (!r) break;
      const ExecStatusType st = PQresultStatus(r.get());
      if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        if (failed) continue;
        out.rows.clear();
        const int n = PQntuples(r.get()), m = PQnfields(r.get());
        for (int i = 0; i < n; ++i) {
          Row row;
          for (int j = 0; j < m; ++j)
            row.push_back(PQgetisnull(r.get(), i, j) ? Value{}
                                                     : Value{std::string(PQgetvalue(r.get(), i, j))});
          out.rows.push_back(std::move(row));
        }
        const char* affected = PQcmdTuples(r.get());
        out.affected = affected != nullptr && *affected ? std::atol(affected) : 0;
      } else if (!failed) {
        failed = true;
        out.error = one_line(PQresultErrorMessage(r.get()));
        const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
        out.sqlstate = state != nullptr ? state : "";
      }
    }
    if (PQstatus(conn) != CONNECTION_OK) return lost(out.error.empty() ? "connection lost" : out.error);
    if (failed) return out;
  }
  out.ok = true;
  return out;
}

}  // namespace tlsfence::fleet
