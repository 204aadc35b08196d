#pragma once
// MTA-STS discovery record (RFC 8461 §3.1): the TXT record at _mta-sts.<domain>.
//
// Pure: input is the list of TXT record strings (each record's character-strings already
// concatenated, see parse/dns_wire.h), output the policy id or a typed reason why the
// domain has no usable MTA-STS record. No logging, no exceptions on bad input.
//
// Grammar (RFC 8461 §3.1, case-sensitive):
//   sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//   sts-field-delim = *WSP ";" *WSP
//   sts-version     = "v=STSv1"
//   sts-id          = "id=" 1*32(ALPHA / DIGIT)              (required)
//   sts-extension   = sts-ext-name "=" sts-ext-value          (tolerated, ignored)
//   sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//   sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
// Decisions: a record is a candidate when it starts with "v=STSv1" followed by ";", a
// space/tab or its end ("v=STSv10…" is another version and ignored). Exactly one candidate
// must remain. When "id" appears more than once the first one counts (it must be valid;
// later ones need only be well-formed extension values).
#include <string>
#include <string_view>
#include <vector>

namespace tlsfence::parse {

enum class StsTxtError {
  none,             // ok: id is set
  no_record,        // no TXT record starts with v=STSv1
  several_records,  // more than one does (RFC 8461 §3.1: no policy)
  syntax,           // the one record violates the ABNF
  missing_id,       // no id field
  bad_id,           // id empty, too long or not alphanumeric
};
std::string_view to_string(StsTxtError e);

struct StsTxtResult {
  StsTxtError error = StsTxtError::none;
  std::string id;      // set when error == none
  std::string detail;  // human text for failures
  bool ok() const { return error == StsTxtError::none; }
};

// True when a TXT record takes part in MTA-STS discovery (starts with "v=STSv1").
bool is_sts_txt_candidate(std::string_view record);

// Parses one record that is a candidate.
StsTxtResult parse_sts_txt_record(std::string_view record);

// Discovery over every TXT record of _mta-sts.<domain>.
StsTxtResult parse_sts_txt(const std::vector<std::string>& records);

}  // namespace tlsfence::parse
