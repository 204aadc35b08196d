// RAII helpers over the SQLite C API (see sqlite.h).
#include "store/sqlite.h"

namespace tlsfence::store {

DbHandle open_db(const std::string& path, int flags, int& code, std::string& error) {
  sqlite3* raw = nullptr;
  code = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);  // closed even when open failed (SQLite may allocate a handle)
  if (code != SQLITE_OK) {
    error = describe(raw, code);
    db.reset();
  }
  return db;
}

DbHandle open_immutable(const std::string& path, int& code, std::string& error) {
  std::string uri = "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      static constexpr char hex[] = "0123456789ABCDEF";
      uri += '%';
      uri += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      uri += hex[static_cast<unsigned char>(c) & 0xf];
    } else {
      uri += c;
    }
  }
  uri += "?mode=ro&immutable=1";
  return open_db(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, code, error);
}

int exec(sqlite3* db, const char* sql, std::string* error) {
  char* msg = nullptr;
  int code = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  if (code != SQLITE_OK && error) *error = describe(db, code);
  sqlite3_free(msg);
  return code;
}

std::string describe(sqlite3* db, int code) {
  std::string text = sqlite3_errstr(code);
  if (db) {
    const char* detail = sqlite3_errmsg(db);
    if (detail && text != detail) text += std::string(": ") + detail;
  }
  return text + " (code " + std::to_string(code) + ")";
}

Statement::Statement(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  code_ = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  stmt_.reset(raw);
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_.get(), index, value);
  return *this;
}

int Statement::step() {
  return sqlite3_step(stmt_.get());
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string_view Statement::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
  if (!p) return {};
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col))};
}

}  // namespace tlsfence::store
