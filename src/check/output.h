#pragma once
// `tlsfence check` output: the report as text for a person, or as one JSON object.
// Everything a server sent is shown through printable() (no control characters).
#include <string>

#include <nlohmann/json.hpp>

#include "check/report.h"

namespace tlsfence::check {

std::string report_text(const CheckReport& report);
nlohmann::json report_json(const CheckReport& report);

}  // namespace tlsfence::check
