#pragma once
// Thin RAII over the SQLite C API: a connection and a prepared statement each own their
// handle. No exceptions: calls return SQLite result codes, callers decide.
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tlsfence::store {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

// Opens `path` with `flags`; on failure `db` is null and `error` says why.
DbHandle open_db(const std::string& path, int flags, int& code, std::string& error);

// Last resort for reading a file whose directory we cannot write (so WAL's -shm cannot be
// created): opens it read-only as immutable. Only for one-off reads: changes made by
// others while it is open, and anything still only in a -wal file, are not seen.
DbHandle open_immutable(const std::string& path, int& code, std::string& error);

// Runs one or more statements without results. Returns the SQLite result code.
int exec(sqlite3* db, const char* sql, std::string* error = nullptr);

// Primary result code is SQLITE_CORRUPT or SQLITE_NOTADB: the file is not a usable database.
inline bool is_corruption(int code) {
  return (code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB;
}

// "SQLITE_FULL: database or disk is full" style text.
std::string describe(sqlite3* db, int code);

class Statement {
 public:
  Statement(sqlite3* db, const char* sql);
  bool ok() const { return code_ == SQLITE_OK; }
  int code() const { return code_; }

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);
  int step();    // SQLITE_ROW, SQLITE_DONE or an error code
  void reset();  // for the next bind/step

  std::string_view text(int col) const;
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

 private:
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
  int code_ = SQLITE_OK;
};

}  // namespace tlsfence::store
