// libFuzzer target: bytes -> nlohmann::json::parse -> nmt::common::Config::from_json.
// Accepted outcomes: malformed JSON (parse_error), or std::invalid_argument from from_json. Any other
// exception, a crash or UB is a finding. A range error must quote the value as the file has it
// (integers exactly, reals reading back to the same double; integers above INT64_MAX were once
// wrapped to negative numbers, reals rounded to 6 digits). For accepted configs the round trip
// from_json(to_json()) must succeed and give the same JSON (a run's config.json must be reloadable).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "fuzz_common.h"

using nmt::fuzz::check;
using nmt::fuzz::fail;

namespace {

/// A range error `config key "section.field" = V is out of range` must quote the integer as written.
void check_quoted_value(const nlohmann::json& j, const std::string& msg) {
  const std::string head = "config key \"";
  const std::size_t k = msg.find(head);
  if (k == std::string::npos) return;
  const std::size_t key_end = msg.find('"', k + head.size());
  const std::size_t value_end = msg.find(" is out of range", key_end);
  if (key_end == std::string::npos || value_end == std::string::npos) return;
  const std::string key = msg.substr(k + head.size(), key_end - k - head.size());
  const std::string value = msg.substr(key_end + 4, value_end - key_end - 4);  // after `" = `
  const std::size_t dot = key.find('.');
  if (dot == std::string::npos || !j.is_object()) return;
  const auto section = j.find(key.substr(0, dot));
  if (section == j.end() || !section->is_object()) return;
  const auto field = section->find(key.substr(dot + 1));
  if (field == section->end() || !field->is_number()) return;
  const bool exact = field->is_number_integer() && value.find_first_of(".eE") == std::string::npos;
  check(exact ? value == field->dump() : std::strtod(value.c_str(), nullptr) == field->get<double>(),
        "range error quotes " + value + " but the file has " + field->dump() + ": " + msg);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;

  nmt::common::Config config;
  try {
    config = nmt::common::Config::from_json(j, "fuzz.json");
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    check(msg.rfind("fuzz.json: ", 0) == 0, "message does not name the source: " + msg);
    check_quoted_value(j, msg);
    return 0;
  } catch (const std::exception& e) {
    fail(std::string("from_json threw a non-invalid_argument exception: ") + e.what());
  }

  // Accepted: validate() must agree, and the config must survive a dump/parse/from_json round trip.
  try {
    config.validate();
    const nlohmann::json dumped = config.to_json();
    const std::string text2 = dumped.dump();
    const nlohmann::json reparsed = nlohmann::json::parse(text2);
    const nmt::common::Config again = nmt::common::Config::from_json(reparsed, "roundtrip.json");
    check(again.to_json() == dumped, "round trip changed the config: " + text2 + " vs " + again.to_json().dump());
  } catch (const std::exception& e) {
    fail(std::string("accepted config does not round-trip: ") + e.what());
  }
  return 0;
}
