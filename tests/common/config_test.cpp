#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include "common/config.h"
#include "common/device.h"
#include "models/model_factory.h"
#include "train/lr_schedule.h"

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

// ---------------------------------------------------------------------------------------------------------
// The field tables: every key read, written, validated and described from one place.
// ---------------------------------------------------------------------------------------------------------

namespace {

/// Every key of a config JSON as "section.key".
std::set<std::string> flat_keys(const json& j) {
  std::set<std::string> keys;
  for (const auto& section : j.items())
    for (const auto& field : section.value().items()) keys.insert(section.key() + "." + field.key());
  return keys;
}

/// A JSON object {section: {key: value}} for one "section.key".
json one_key(const std::string& key, const json& value) {
  const auto dot = key.find('.');
  return {{key.substr(0, dot), {{key.substr(dot + 1), value}}}};
}

/// A config with every key set to a valid non-default value (written by hand, independent of the tables).
const char* const kAllKeys = R"({
  "data": {"path": "corpus/x.txt", "num_examples": 1234, "num_steps": 17, "min_freq": 3, "valid_ratio": 0.25,
           "test_ratio": 0.125, "tokenizer": "sentencepiece", "sp_model_type": "bpe", "sp_vocab_size": 4000,
           "sp_joint": true, "sp_character_coverage": 0.9995, "sp_alpha": 0.1, "train": "corpus/train.tsv",
           "valid": {"source": "dev.fr", "target": "dev.en"}, "test": "corpus/test.tsv", "src_lang": "fr",
           "tgt_lang": "en", "lowercase": false, "d2l_punctuation": false},
  "model": {"type": "transformer", "embed_size": 48, "num_hiddens": 96, "num_layers": 3, "num_decoder_layers": 5,
            "dropout": 0.375, "num_heads": 6, "ffn_num_hiddens": 200, "pre_norm": true, "tie_embeddings": true},
  "train": {"batch_size": 33, "num_epochs": 7, "lr": 0.0625, "lr_schedule": "inverse_sqrt", "warmup_steps": 111,
            "grad_clip": 2.5, "label_smoothing": 0.1, "max_minutes": 1.5, "bucket": true,
            "valid_bleu_sentences": 55, "valid_every_steps": 250, "seed": 18446744073709551615, "device": "cuda:3",
            "num_threads": 4, "valid_beam_size": 3,
            "dist_timeout_s": 42.5, "ema_decay": 0.0005, "keep_checkpoints": 5, "precision": "bf16"},
  "decode": {"beam_size": 7, "length_penalty": "average", "alpha": 1.25, "min_len": 2, "max_len_a": 1.5,
             "max_len_b": 3, "max_len": 40, "batch_size": 9}
})";

}  // namespace

TEST_CASE("Config: every key round-trips through from_json and to_json", "[config]") {
  const json input = json::parse(kAllKeys);
  const Config c = Config::from_json(input, "all.json");
  // Each member holds the value of its key (checked member by member, not through the table).
  CHECK(c.data.path == "corpus/x.txt");
  CHECK(*c.data.num_examples == 1234);
  CHECK(c.data.num_steps == 17);
  CHECK(c.data.min_freq == 3);
  CHECK(c.data.valid_ratio == 0.25);
  CHECK(c.data.test_ratio == 0.125);
  CHECK(c.data.tokenizer == "sentencepiece");
  CHECK(c.data.sp_model_type == "bpe");
  CHECK(c.data.sp_vocab_size == 4000);
  CHECK(c.data.sp_joint);
  CHECK(c.data.sp_character_coverage == 0.9995);
  CHECK(c.data.sp_alpha == 0.1);
  CHECK(c.data.train == nmt::common::CorpusFiles{"corpus/train.tsv", "", ""});
  CHECK(c.data.valid == nmt::common::CorpusFiles{"", "dev.fr", "dev.en"});
  CHECK(c.data.valid->is_pair());
  CHECK(c.data.test == nmt::common::CorpusFiles{"corpus/test.tsv", "", ""});
  CHECK(c.data.src_lang == "fr");
  CHECK(c.data.tgt_lang == "en");
  CHECK_FALSE(c.data.lowercase);
  CHECK_FALSE(c.data.d2l_punctuation);
  CHECK(c.model.type == "transformer");
  CHECK(c.model.embed_size == 48);
  CHECK(c.model.num_hiddens == 96);
  CHECK(c.model.num_layers == 3);
  CHECK(c.model.num_decoder_layers == 5);
  CHECK(c.model.dropout == 0.375);
  CHECK(c.model.num_heads == 6);
  CHECK(c.model.ffn_num_hiddens == 200);
  CHECK(c.model.pre_norm);
  CHECK(c.model.tie_embeddings);
  CHECK(c.train.batch_size == 33);
  CHECK(c.train.num_epochs == 7);
  CHECK(c.train.lr == 0.0625);
  CHECK(c.train.lr_schedule == "inverse_sqrt");
  CHECK(c.train.warmup_steps == 111);
  CHECK(c.train.grad_clip == 2.5);
  CHECK(c.train.label_smoothing == 0.1);
  CHECK(c.train.max_minutes == 1.5);
  CHECK(c.train.bucket);
  CHECK(c.train.valid_bleu_sentences == 55);
  CHECK(c.train.valid_every_steps == 250);
  CHECK(c.train.seed == 18446744073709551615ULL);
  CHECK(c.train.device == "cuda:3");
  CHECK(c.train.num_threads == 4);
  CHECK(c.train.valid_beam_size == 3);
  CHECK(c.train.dist_timeout_s == 42.5);
  CHECK(c.train.ema_decay == 0.0005);
  CHECK(c.train.keep_checkpoints == 5);
  CHECK(c.train.precision == "bf16");
  CHECK(c.decode.beam_size == 7);
  CHECK(c.decode.length_penalty == "average");
  CHECK(c.decode.alpha == 1.25);
  CHECK(c.decode.min_len == 2);
  CHECK(c.decode.max_len_a == 1.5);
  CHECK(c.decode.max_len_b == 3);
  CHECK(c.decode.max_len == 40);
  CHECK(c.decode.batch_size == 9);
  // to_json writes back exactly what was read (same keys, same values, same JSON number kinds) ...
  CHECK(c.to_json() == input);
  CHECK(c.to_json()["train"]["seed"].is_number_unsigned());
  // ... and reading that gives the same struct again.
  const Config back = Config::from_json(c.to_json(), "back.json");
  CHECK(back.to_json() == input);
  // null num_examples survives as null.
  const Config all = Config::from_json(one_key("data.num_examples", nullptr), "x");
  CHECK_FALSE(all.data.num_examples.has_value());
  CHECK(all.to_json()["data"]["num_examples"].is_null());
}

TEST_CASE("Config: a run directory's config.json from before valid_every_steps still loads", "[config]") {
  // The config.json a run wrote before train.valid_every_steps existed (the d2l seq2seq defaults).
  const json old = json::parse(R"({
    "data": {"min_freq": 2, "num_examples": 600, "num_steps": 10, "path": "data/fra-eng/fra.txt",
             "test_ratio": 0.0, "valid_ratio": 0.0},
    "model": {"dropout": 0.1, "embed_size": 32, "ffn_num_hiddens": 64, "num_decoder_layers": 0, "num_heads": 4,
              "num_hiddens": 32, "num_layers": 2, "pre_norm": false, "tie_embeddings": false, "type": "seq2seq"},
    "train": {"batch_size": 64, "bucket": false, "device": "auto", "grad_clip": 1.0, "label_smoothing": 0.0,
              "lr": 0.005, "lr_schedule": "constant", "max_minutes": 0.0, "num_epochs": 300, "num_threads": 1,
              "seed": 42, "valid_bleu_sentences": 2000, "warmup_steps": 4000}})");
  const Config c = Config::from_json(old, "runs/old/config.json");
  CHECK(c.train.valid_every_steps == 0);
  // The defaults write the same JSON plus the keys added since: valid_every_steps, valid_beam_size,
  // dist_timeout_s, ema_decay, keep_checkpoints, precision and the whole decode section, the tokenizer keys and the corpus keys (written out here by hand).
  json expected = old;
  expected["train"]["valid_every_steps"] = 0;
  expected["train"]["valid_beam_size"] = 1;
  expected["train"]["dist_timeout_s"] = 600.0;
  expected["train"]["ema_decay"] = 0.0;
  expected["train"]["keep_checkpoints"] = 0;
  expected["train"]["precision"] = "fp32";
  const json tokenizer_keys = json::parse(R"({"tokenizer": "word", "sp_model_type": "unigram",
      "sp_vocab_size": 8000, "sp_joint": false, "sp_character_coverage": 1.0, "sp_alpha": 0.0,
      "train": null, "valid": null, "test": null, "src_lang": "en", "tgt_lang": "fr", "lowercase": true,
      "d2l_punctuation": true})");
  expected["data"].update(tokenizer_keys);
  expected["decode"] = json::parse(R"({"beam_size": 4, "length_penalty": "gnmt", "alpha": 1.0, "min_len": 0,
      "max_len_a": 2.0, "max_len_b": 10, "max_len": 0, "batch_size": 128})");
  CHECK(c.to_json() == expected);
  CHECK(Config().to_json() == expected);
}

TEST_CASE("Config: a config without a decode section (an old checkpoint's config.json) decodes with the defaults",
          "[config]") {
  const Config c = Config::from_json(json::parse(R"({"model": {"type": "transformer"}, "train": {"lr": 0.001}})"),
                                     "runs/old/best/config.json");
  CHECK(c.decode.beam_size == 4);
  CHECK(c.decode.length_penalty == "gnmt");
  CHECK(c.decode.alpha == 1.0);
  CHECK(c.decode.min_len == 0);
  CHECK(c.decode.max_len_a == 2.0);
  CHECK(c.decode.max_len_b == 10);
  CHECK(c.decode.max_len == 0);
  CHECK(c.decode.batch_size == 128);
  CHECK(c.train.valid_beam_size == 1);
  // A partial decode section keeps the defaults of the keys it leaves out.
  const Config partial = Config::from_json(json::parse(R"({"decode": {"beam_size": 1}})"), "x");
  CHECK(partial.decode.beam_size == 1);
  CHECK(partial.decode.length_penalty == "gnmt");
  CHECK(partial.decode.batch_size == 128);
  // Errors in the section name the file and the key.
  CHECK_THAT(error_of(json::parse(R"({"decode": {"beam_sise": 5}})")),
             Catch::Contains("cfg.json: unknown key \"decode.beam_sise\"; did you mean \"decode.beam_size\"?"));
  CHECK_THAT(error_of(json::parse(R"({"decode": []})")), Catch::Contains("\"decode\" must be a JSON object"));
  CHECK_THAT(error_of(json::parse(R"({"decode": {"alpha": "0.6"}})")),
             Catch::Contains("key \"decode.alpha\" must be a number"));
}

TEST_CASE("Config: decode.max_len_a and decode.max_len_b may not both be 0", "[config]") {
  CHECK_THAT(error_of(json::parse(R"({"decode": {"max_len_a": 0, "max_len_b": 0}})")),
             Catch::StartsWith("cfg.json: config keys \"decode.max_len_a\" = 0 and \"decode.max_len_b\" = 0"));
  CHECK(error_of(json::parse(R"({"decode": {"max_len_a": 0, "max_len_b": 1}})")).empty());
  CHECK(error_of(json::parse(R"({"decode": {"max_len_a": 0.5, "max_len_b": 0}})")).empty());
}

TEST_CASE("Config: train.valid_every_steps is an integer >= 0, default 0", "[config]") {
  CHECK(Config().train.valid_every_steps == 0);
  CHECK(Config::from_json(one_key("train.valid_every_steps", 500), "x").train.valid_every_steps == 500);
  CHECK_THAT(error_of(one_key("train.valid_every_steps", -1)),
             Catch::Contains("cfg.json: config key \"train.valid_every_steps\" = -1 is out of range: must be >= 0"));
  CHECK_THAT(error_of(one_key("train.valid_every_steps", 2.5)),
             Catch::Contains("key \"train.valid_every_steps\" must be an integer"));
}

TEST_CASE("Config: each rule rejects a bad value with a message naming the file and the key", "[config]") {
  // key -> a value of the right JSON type that breaks the key's rule, and what the message says.
  struct Bad {
    std::string key;
    json value;
    std::string says;
  };
  const std::vector<Bad> cases{
      {"data.num_examples", 0, "= 0 is out of range: must be >= 1 or null"},
      {"data.num_steps", 0, "= 0 is out of range: must be >= 1"},
      {"data.min_freq", -3, "= -3 is out of range: must be >= 1"},
      {"data.valid_ratio", 1.0, "= 1.0 is out of range: must be in [0, 1)"},
      {"data.test_ratio", -0.5, "= -0.5 is out of range: must be in [0, 1)"},
      {"data.tokenizer", "bpe", "= \"bpe\" is unknown; valid: word, sentencepiece"},
      {"data.sp_model_type", "char", "= \"char\" is unknown; valid: unigram, bpe"},
      {"data.sp_vocab_size", 0, "= 0 is out of range: must be >= 1"},
      {"data.sp_character_coverage", 0, "= 0.0 is out of range: must be in (0, 1]"},
      {"data.sp_alpha", -0.1, "= -0.1 is out of range: must be >= 0"},
      {"model.type", "lstm", "= \"lstm\" is unknown; valid: seq2seq, seq2seq_attention, transformer"},
      {"model.embed_size", 0, "= 0 is out of range: must be >= 1"},
      {"model.num_hiddens", 0, "= 0 is out of range: must be >= 1"},
      {"model.num_layers", 0, "= 0 is out of range: must be >= 1"},
      {"model.num_decoder_layers", -1, "= -1 is out of range: must be >= 0"},
      {"model.dropout", 1, "= 1.0 is out of range: must be in [0, 1)"},
      {"model.num_heads", 0, "= 0 is out of range: must be >= 1"},
      {"model.ffn_num_hiddens", -64, "= -64 is out of range: must be >= 1"},
      {"train.batch_size", 0, "= 0 is out of range: must be >= 1"},
      {"train.num_epochs", 0, "= 0 is out of range: must be >= 1"},
      {"train.lr", 0, "= 0.0 is out of range: must be > 0"},
      {"train.lr_schedule", "cosine", "= \"cosine\" is unknown; valid: constant, inverse_sqrt, linear"},
      {"train.warmup_steps", 0, "= 0 is out of range: must be >= 1"},
      {"train.grad_clip", -1e-9, "= -1e-09 is out of range: must be >= 0"},
      {"train.label_smoothing", 1.5, "= 1.5 is out of range: must be in [0, 1)"},
      {"train.max_minutes", -2, "= -2.0 is out of range: must be >= 0"},
      {"train.valid_bleu_sentences", -1, "= -1 is out of range: must be >= 0"},
      {"train.valid_every_steps", -7, "= -7 is out of range: must be >= 0"},
      {"train.device", "cuda:x", "= \"cuda:x\" is unknown; valid: auto, cpu, cuda, cuda:N"},
      {"train.num_threads", -1, "= -1 is out of range: must be >= 0"},
      {"train.valid_beam_size", 0, "= 0 is out of range: must be >= 1"},
      {"train.dist_timeout_s", 0, "= 0.0 is out of range: must be > 0"},
      {"train.ema_decay", 1.0, "= 1.0 is out of range: must be in [0, 1)"},
      {"train.keep_checkpoints", -1, "= -1 is out of range: must be >= 0"},
      {"train.precision", "fp8", "= \"fp8\" is unknown; valid: fp32, bf16, fp16"},
      {"decode.beam_size", 0, "= 0 is out of range: must be >= 1"},
      {"decode.length_penalty", "wu", "= \"wu\" is unknown; valid: none, gnmt, average"},
      {"decode.alpha", -0.5, "= -0.5 is out of range: must be >= 0"},
      {"decode.min_len", -1, "= -1 is out of range: must be >= 0"},
      {"decode.max_len_a", -1.5, "= -1.5 is out of range: must be >= 0"},
      {"decode.max_len_b", -2, "= -2 is out of range: must be >= 0"},
      {"decode.max_len", -3, "= -3 is out of range: must be >= 0"},
      {"decode.batch_size", 0, "= 0 is out of range: must be >= 1"},
  };
  std::set<std::string> covered;
  for (const auto& bad : cases) {
    INFO(bad.key << " = " << bad.value.dump());
    CHECK_THAT(error_of(one_key(bad.key, bad.value)),
               Catch::StartsWith("cfg.json: config key \"" + bad.key + "\"") && Catch::Contains(bad.says));
    covered.insert(bad.key);
  }
  // Every key whose rule is more than its JSON type has a case above.
  for (const auto& k : nmt::common::describe_keys()) {
    // train.seed's ">= 0" is its JSON type (unsigned), checked by the reader: see the wrong-type checks below.
    const bool has_rule =
        (k.rule.find_first_of("<>[(") != std::string::npos && k.key != "train.seed") || !k.choices.empty();
    INFO(k.key << ": " << k.rule);
    CHECK(has_rule == (covered.count(k.key) == 1));
  }
  // Wrong JSON types name the key for every kind of member.
  CHECK_THAT(error_of(one_key("data.path", 3)), Catch::Contains("key \"data.path\" must be a string, got number 3"));
  CHECK_THAT(error_of(one_key("data.num_examples", "all")),
             Catch::Contains("key \"data.num_examples\" must be an integer or null, got string \"all\""));
  CHECK_THAT(error_of(one_key("train.seed", -1)), Catch::Contains("key \"train.seed\" must be a non-negative integer"));
  CHECK_THAT(error_of(one_key("train.lr", "0.1")), Catch::Contains("key \"train.lr\" must be a number"));
  CHECK_THAT(error_of(one_key("model.pre_norm", 1)), Catch::Contains("key \"model.pre_norm\" must be true or false"));
  CHECK_THAT(error_of(json::array()), Catch::Contains("cfg.json: the config must be a JSON object, got array"));
  // Corpus keys: a file name, {"source", "target"} or null; anything else names the key and the forms.
  for (const json& bad : {json(3), json::array({"a", "b"}), json{{"source", "a.fr"}}, json{{"source", "a"}, {"target", 2}},
                          json{{"source", "a"}, {"target", "b"}, {"extra", "c"}}}) {
    INFO(bad.dump());
    CHECK_THAT(error_of(one_key("data.valid", bad)),
               Catch::Contains("key \"data.valid\" must be a file name, {\"source\": FILE, \"target\": FILE} or null"));
  }
  CHECK_THAT(error_of(one_key("data.train", "")), Catch::Contains("key \"data.train\" must be a file name"));
  CHECK_THAT(error_of(one_key("data.test", json{{"source", ""}, {"target", "t"}})),
             Catch::Contains("\"data.test\"") && Catch::Contains("file names must not be empty"));
  CHECK_THAT(error_of(one_key("data.src_lang", "en fr")),
             Catch::Contains("\"data.src_lang\" = \"en fr\" is out of range: must be a non-empty label"));
  CHECK_THAT(error_of(one_key("data.tgt_lang", "")), Catch::Contains("\"data.tgt_lang\" = \"\" is out of range"));
  CHECK(Config::from_json(one_key("data.test", nullptr), "x").to_json()["data"]["test"].is_null());
}

TEST_CASE("Config: validate() rejects values JSON cannot hold (NaN, infinity) and cross-field rules", "[config]") {
  Config c;
  c.train.lr = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("\"train.lr\" = inf is out of range: must be a finite number"));
  c = Config();
  c.model.dropout = std::nan("");
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("\"model.dropout\" = nan"));
  c = Config();
  c.data.valid_ratio = 0.5;
  c.data.test_ratio = 0.5;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("data.valid_ratio + data.test_ratio\" = 1.0 is out of range"));
  c = Config();
  c.model.num_hiddens = 30;  // 4 heads do not divide 30: an error for the Transformer only
  CHECK_NOTHROW(c.validate());
  c.model.type = "transformer";
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("\"model.num_heads\" = 4 does not divide \"model.num_hiddens\" = 30"));
}

TEST_CASE("Config: an unknown key names the closest valid key, for every key", "[config]") {
  for (const auto& k : nmt::common::describe_keys()) {
    INFO(k.key);
    // One extra letter: edit distance 1 from this key and from no other.
    CHECK_THAT(error_of(one_key(k.key + "x", 1)),
               Catch::Contains("cfg.json: unknown key \"" + k.key + "x\"; did you mean \"" + k.key + "\"?"));
  }
  // Nothing close: the valid keys of that section are listed.
  CHECK_THAT(error_of(one_key("model.zzzzzzzzzzzzzzzzz", 1)),
             Catch::Contains("valid keys here: type embed_size num_hiddens"));
}

TEST_CASE("Config: describe lists every key of to_json() with its default, and nothing else", "[config]") {
  const json defaults = Config().to_json();
  const auto keys = nmt::common::describe_keys();
  std::set<std::string> described;
  for (const auto& k : keys) {
    INFO(k.key);
    described.insert(k.key);
    const auto dot = k.key.find('.');
    CHECK(k.section == k.key.substr(0, dot));
    CHECK(k.default_value == defaults[k.section][k.key.substr(dot + 1)].dump());
    CHECK_FALSE(k.doc.empty());
    CHECK(k.doc.find('\n') == std::string::npos);
  }
  CHECK(described.size() == keys.size());  // no key twice
  CHECK(described == flat_keys(defaults));
  CHECK(keys.size() == 56);
  // A few defaults and rules written out by hand.
  const auto find = [&](const std::string& key) {
    for (const auto& k : keys)
      if (k.key == key) return k;
    FAIL("no key " << key);
    return keys.front();
  };
  CHECK(find("data.num_examples").default_value == "600");
  CHECK(find("data.num_examples").rule == "int >= 1 or null");
  CHECK(find("model.type").default_value == "\"seq2seq\"");
  CHECK(find("model.type").choices == std::vector<std::string>{"seq2seq", "seq2seq_attention", "transformer"});
  CHECK(find("model.dropout").rule == "real in [0, 1)");
  CHECK(find("train.lr").rule == "real > 0");
  CHECK(find("train.valid_every_steps").default_value == "0");
  CHECK(find("train.valid_every_steps").rule == "int >= 0");
  CHECK(find("train.device").choices == std::vector<std::string>{"auto", "cpu", "cuda", "cuda:N"});
  CHECK(find("train.precision").default_value == "\"fp32\"");
  CHECK(find("train.precision").choices == std::vector<std::string>{"fp32", "bf16", "fp16"});
  CHECK(find("decode.length_penalty").choices == std::vector<std::string>{"none", "gnmt", "average"});
  CHECK(find("decode.length_penalty").default_value == "\"gnmt\"");
  CHECK(find("decode.max_len_a").rule == "real >= 0");
  CHECK(find("decode.beam_size").rule == "int >= 1");
  CHECK(find("train.valid_beam_size").default_value == "1");
  CHECK(find("data.train").default_value == "null");
  CHECK(find("data.train").rule == "file, {source, target} or null");
  CHECK(find("data.lowercase").default_value == "true");
  CHECK(find("data.src_lang").default_value == "\"en\"");

  // The plain text has a heading per section and a line per key with its rule and default.
  const std::string text = nmt::common::describe_text();
  CHECK_THAT(text, Catch::Contains("\ndata: ") && Catch::Contains("\nmodel: ") && Catch::Contains("\ntrain: ") &&
                       Catch::Contains("\ndecode: "));
  for (const auto& k : keys) {
    INFO(k.key);
    CHECK_THAT(text, Catch::Contains("  " + k.key + " "));
  }
  {
    // The line of the new key: key, rule, default and doc in this order.
    const auto at = text.find("\n  train.valid_every_steps ");
    REQUIRE(at != std::string::npos);
    const std::string row = text.substr(at + 1, text.find('\n', at + 1) - at - 1);
    std::istringstream words(row);
    std::string key, type, op, bound, value, first;
    words >> key >> type >> op >> bound >> value >> first;
    CHECK(key == "train.valid_every_steps");
    CHECK(type + " " + op + " " + bound == "int >= 0");
    CHECK(value == "0");
    CHECK(first == "also");
  }
  // The markdown table: header, separator, then exactly one row per key in the same order.
  const std::string md = nmt::common::describe_markdown();
  std::istringstream lines(md);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  REQUIRE(rows.size() == keys.size() + 2);
  CHECK(rows[0] == "| key | default | meaning |");
  for (std::size_t i = 0; i < keys.size(); ++i) CHECK(rows[i + 2].rfind("| `" + keys[i].key + "` | ", 0) == 0);
  CHECK(rows[2 + 19] == "| `model.type` | `seq2seq` | architecture (d2l §10.7, §11.4, §11.7); one of `seq2seq`, "
                       "`seq2seq_attention`, `transformer` |");
  CHECK(md.size() < 5000);
}

TEST_CASE("Config: the enum names are the ones the factory, the schedule and the device code accept", "[config]") {
  using namespace nmt::common;
  // Every model type builds a model; attention adds parameters to the plain GRU model.
  std::vector<int64_t> sizes;
  for (const auto name : kModelTypes) {
    INFO(name);
    ModelConfig m;
    m.type = std::string(name);
    CHECK_NOTHROW(Config::from_json(one_key("model.type", m.type), "x"));
    const auto model = nmt::models::make_model(m, 11, 13);
    REQUIRE(model);
    sizes.push_back(nmt::models::count_parameters(*model));
  }
  CHECK(sizes[1] > sizes[0]);
  ModelConfig lstm;
  lstm.type = "lstm";
  CHECK_THROWS_WITH(nmt::models::make_model(lstm, 11, 13),
                    Catch::Contains("\"lstm\" is unknown; valid: seq2seq, seq2seq_attention, transformer"));
  // Every schedule has a rate: constant = lr; inverse_sqrt and linear peak at lr at the end of the warm-up.
  CHECK(nmt::train::learning_rate(std::string(kLrConstant), 0.5, 10, 3) == 0.5);
  CHECK(nmt::train::learning_rate(std::string(kLrInverseSqrt), 0.5, 16, 16) == Approx(0.5));
  CHECK(nmt::train::learning_rate(std::string(kLrInverseSqrt), 0.5, 16, 64) == Approx(0.25));
  CHECK(nmt::train::learning_rate(std::string(kLrLinear), 0.5, 16, 16) == Approx(0.5));
  CHECK_THROWS_WITH(nmt::train::learning_rate("cosine", 0.5, 10, 3),
                    Catch::Contains("valid: constant, inverse_sqrt, linear"));
  // Device names: parsed alike by the config rule and by resolve_device.
  CHECK(parse_device_name("auto")->kind == DeviceName::Kind::kAuto);
  CHECK(parse_device_name("cpu")->kind == DeviceName::Kind::kCpu);
  CHECK(parse_device_name("cuda")->kind == DeviceName::Kind::kCuda);
  CHECK(parse_device_name("cuda")->index == 0);
  CHECK(parse_device_name("cuda:12")->index == 12);
  CHECK(parse_device_name("cuda:9223372036854775807")->index == 9223372036854775807);
  for (const char* bad : {"", "CPU", "gpu", "cuda:", "cuda:-1", "cuda:1x", "cuda: 1", "cuda:9223372036854775808"}) {
    INFO(bad);
    CHECK_FALSE(parse_device_name(bad).has_value());
    CHECK_THAT(error_of(one_key("train.device", bad)), Catch::Contains("is unknown; valid: auto, cpu, cuda, cuda:N"));
    CHECK_THROWS_WITH(resolve_device(bad), Catch::Contains("is unknown; valid: auto, cpu, cuda, cuda:N"));
  }
  CHECK(resolve_device("cpu").is_cpu());
  CHECK(resolve_device("auto").is_cpu() == !torch::cuda::is_available());
}
