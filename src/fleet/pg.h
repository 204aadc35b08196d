#pragma once
// libpq with deadlines: a connection opened with PQconnectStartParams/PQconnectPoll and
// statements sent with PQsendQueryParams, each waited for with poll() on PQsocket until a
// deadline — never longer. Used only by the fleet worker thread (client.h); nothing here
// logs. A statement that misses its deadline leaves the connection unusable (the caller drops
// it and reconnects later): a cancel request could itself hang on a partitioned network.
#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fleet/link.h"

namespace tlsfence::fleet {

struct ConnFree {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnFree>;

using Value = std::optional<std::string>;  // nullopt: SQL NULL
using Row = std::vector<Value>;

struct Statement {
  std::string sql;
  std::vector<Value> params;  // $1, $2, … as text
};

struct Outcome {
  bool ok = false;
  bool connection_lost = false;  // the connection is no longer usable (drop it)
  std::string error;             // when !ok: libpq's or the server's message, one line
  std::string sqlstate;          // the server's SQLSTATE when it refused the statement
  std::vector<Row> rows;         // of the last statement
  long affected = 0;             // rows changed by the last statement
};

// Opens a connection to `conninfo` (either form), application_name `program` unless the
// string names one. Null with `error` set on failure or when the deadline passes.
Conn connect(const std::string& conninfo, const std::string& program, SteadyTime deadline,
             std::string& error);

// Runs `statements` in order (stops at the first failure); the rows are the last one's.
Outcome run(PGconn* conn, const std::vector<Statement>& statements, SteadyTime deadline);

// Reads what the server sent without waiting (notifications); false: the connection is lost.
bool consume(PGconn* conn);

}  // namespace tlsfence::fleet
