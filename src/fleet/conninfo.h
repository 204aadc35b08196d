#pragma once
// libpq connection strings ([fleet] postgresql): checking one at config time and showing one
// without its secret. Both accept either form libpq accepts (key=value pairs, or a
// postgresql:// URI) and use libpq's own parser (PQconninfoParse), so "valid" means exactly
// what libpq will accept at connect time.
#include <string>
#include <string_view>

namespace tlsfence::fleet {

// "" when libpq parses `conninfo`, else libpq's reason (one line, without the input text:
// the input may hold a password).
std::string conninfo_error(std::string_view conninfo);

// The connection string as key=value pairs with every secret replaced by "***" (password,
// and sslpassword); safe to log. A string that does not parse gives "(unparsable connection
// string)" — never the text itself. An empty string gives "".
std::string redact_conninfo(std::string_view conninfo);

}  // namespace tlsfence::fleet
