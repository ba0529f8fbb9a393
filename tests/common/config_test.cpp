#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/config.h"

using nmt::common::Config;
using nlohmann::json;

namespace {
std::string error_of(const json& j) {
  try {
    Config::from_json(j, "cfg.json");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("Config reads, validates and round-trips JSON", "[config]") {
  SECTION("defaults are d2l's seq2seq settings") {
    const Config c = Config::from_json(json::object(), "x");
    CHECK(c.model.type == "seq2seq");
    CHECK(c.model.num_hiddens == 32);
    CHECK(c.data.num_steps == 10);
    CHECK(*c.data.num_examples == 600);
    CHECK(c.train.lr == 0.005);
  }
  SECTION("values are read and survive to_json -> from_json") {
    json j = {{"data", {{"num_examples", nullptr}, {"num_steps", 7}}},
              {"model", {{"type", "transformer"}, {"num_hiddens", 64}, {"num_heads", 8}}},
              {"train", {{"lr", 0.01}, {"bucket", true}}}};
    const Config c = Config::from_json(j, "x");
    CHECK_FALSE(c.data.num_examples.has_value());
    CHECK(c.data.num_steps == 7);
    CHECK(c.model.num_heads == 8);
    CHECK(c.train.bucket);
    const Config back = Config::from_json(c.to_json(), "x");
    CHECK(back.to_json() == c.to_json());
  }
  SECTION("an unknown key is named, with the closest valid key") {
    const std::string e = error_of({{"model", {{"num_hidens", 3}}}});
    CHECK_THAT(e, Catch::Contains("model.num_hidens") && Catch::Contains("did you mean \"model.num_hiddens\""));
    CHECK_THAT(error_of({{"trian", json::object()}}), Catch::Contains("did you mean \"train\""));
  }
  SECTION("a wrong type names the key and the value") {
    CHECK_THAT(error_of({{"train", {{"batch_size", "64"}}}}),
               Catch::Contains("train.batch_size") && Catch::Contains("integer") && Catch::Contains("\"64\""));
    CHECK_THAT(error_of({{"model", {{"dropout", true}}}}), Catch::Contains("model.dropout"));
    CHECK_THAT(error_of({{"data", 3}}), Catch::Contains("\"data\" must be a JSON object"));
  }
  SECTION("an integer above INT64_MAX is reported as written, not wrapped to a negative value") {
    // Regression (found while writing tests/fuzz/fuzz_config.cpp): 18446744073709551615 used to be read
    // as -1 and reported as "train.num_epochs = -1 is out of range".
    const std::string e = error_of(json::parse(R"({"train": {"num_epochs": 18446744073709551615}})"));
    CHECK_THAT(e, Catch::Contains("train.num_epochs") && Catch::Contains("18446744073709551615") &&
                      Catch::Contains("<= 9223372036854775807"));
    CHECK_THAT(e, !Catch::Contains("-1"));
    CHECK_THAT(error_of(json::parse(R"({"data": {"num_examples": 9223372036854775808}})")),
               Catch::Contains("data.num_examples") && Catch::Contains("9223372036854775808"));
    const Config c = Config::from_json(json::parse(R"({"data": {"num_examples": 9223372036854775807}})"), "x");
    CHECK(*c.data.num_examples == 9223372036854775807);
    CHECK(Config::from_json(json::parse(R"({"train": {"seed": 18446744073709551615}})"), "x").train.seed ==
          18446744073709551615ULL);
  }
  SECTION("a real value out of range is quoted in full, not rounded to 6 digits") {
    // Regression (tests/fuzz/fuzz_config.cpp): these were reported as "1.71e+09" and "1.23457".
    CHECK_THAT(error_of({{"data", {{"test_ratio", 1710000105}}}}),
               Catch::Contains("data.test_ratio\" = 1710000105.0 is out of range"));
    CHECK_THAT(error_of({{"model", {{"dropout", 1.23456789}}}}),
               Catch::Contains("model.dropout\" = 1.23456789 is out of range"));
    CHECK_THAT(error_of({{"train", {{"lr", -0.005}}}}), Catch::Contains("train.lr\" = -0.005 is out of range"));
  }
  SECTION("values out of range are rejected") {
    CHECK_THAT(error_of({{"train", {{"lr", 0}}}}), Catch::Contains("train.lr"));
    CHECK_THAT(error_of({{"train", {{"batch_size", 0}}}}), Catch::Contains("train.batch_size"));
    CHECK_THAT(error_of({{"data", {{"num_steps", 0}}}}), Catch::Contains("data.num_steps"));
    CHECK_THAT(error_of({{"model", {{"dropout", 1.0}}}}), Catch::Contains("model.dropout"));
    CHECK_THAT(error_of({{"model", {{"type", "lstm"}}}}), Catch::Contains("lstm"));
    CHECK_THAT(error_of({{"train", {{"device", "tpu"}}}}), Catch::Contains("tpu"));
    CHECK_THAT(error_of({{"model", {{"type", "transformer"}, {"num_hiddens", 30}, {"num_heads", 4}}}}),
               Catch::Contains("does not divide"));
    CHECK(error_of({{"train", {{"device", "cuda:1"}}}}).empty());
  }
  SECTION("malformed JSON reports line and column") {
    const auto path = std::filesystem::temp_directory_path() / "nmt_bad_config.json";
    std::ofstream(path) << "{\n  \"model\": {\n    \"type\": \"seq2seq\",\n  }\n}\n";
    try {
      nmt::common::load_config(path.string());
      FAIL("no exception");
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains(path.string() + ":4:"));
    }
    CHECK_THROWS_AS(nmt::common::load_config("/nonexistent/c.json"), std::runtime_error);
  }
  SECTION("edit distance") {
    CHECK(nmt::common::edit_distance("kitten", "sitting") == 3);
    CHECK(nmt::common::edit_distance("", "abc") == 3);
  }
}
