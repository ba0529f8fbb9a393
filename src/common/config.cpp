#include "common/config.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

namespace nmt::common {
namespace {

using nlohmann::json;

std::string type_name(const json& value) { return value.type_name(); }

/// Reads the members of one JSON object into typed fields and remembers which keys it knew,
/// so that `finish()` can reject unknown keys with a suggestion.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string prefix, std::string source)
      : object_(object), prefix_(std::move(prefix)), source_(std::move(source)) {
    if (!object_.is_object()) fail(prefix_.empty() ? "the config" : "\"" + prefix_ + "\"",
                                   "must be a JSON object, got " + type_name(object_));
  }

  void read(const char* key, std::string& out) {
    if (const json* v = find(key)) {
      if (!v->is_string()) wrong_type(key, "a string", *v);
      out = v->get<std::string>();
    }
  }
  void read(const char* key, int64_t& out) {
    if (const json* v = find(key)) {
      if (!v->is_number_integer()) wrong_type(key, "an integer", *v);
      check_int64(key, *v);
      out = v->get<int64_t>();
    }
  }
  void read(const char* key, uint64_t& out) {
    if (const json* v = find(key)) {
      if (!v->is_number_integer() || (v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() < 0))
        wrong_type(key, "a non-negative integer", *v);
      out = v->get<uint64_t>();
    }
  }
  void read(const char* key, double& out) {
    if (const json* v = find(key)) {
      if (!v->is_number()) wrong_type(key, "a number", *v);
      out = v->get<double>();
    }
  }
  void read(const char* key, bool& out) {
    if (const json* v = find(key)) {
      if (!v->is_boolean()) wrong_type(key, "true or false", *v);
      out = v->get<bool>();
    }
  }
  void read(const char* key, std::optional<int64_t>& out) {
    if (const json* v = find(key)) {
      if (v->is_null()) {
        out.reset();
      } else {
        if (!v->is_number_integer()) wrong_type(key, "an integer or null", *v);
        check_int64(key, *v);
        out = v->get<int64_t>();
      }
    }
  }
  /// Marks a key that holds a nested object read by another reader.
  const json* child(const char* key) { return find(key); }

  /// Throws for the first key that no read() asked for.
  void finish() const {
    for (const auto& item : object_.items()) {
      if (std::find(known_.begin(), known_.end(), item.key()) != known_.end()) continue;
      std::string best;
      std::size_t best_distance = SIZE_MAX;
      for (const auto& k : known_) {
        const std::size_t d = edit_distance(item.key(), k);
        if (d < best_distance) best_distance = d, best = k;
      }
      std::string msg = "unknown key \"" + qualified(item.key()) + "\"";
      if (!best.empty() && best_distance <= std::max<std::size_t>(3, item.key().size() / 2))
        msg += "; did you mean \"" + qualified(best) + "\"?";
      else {
        msg += "; valid keys here:";
        for (const auto& k : known_) msg += " " + k;
      }
      throw std::invalid_argument(source_ + ": " + msg);
    }
  }

 private:
  const json* find(const char* key) {
    known_.emplace_back(key);
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  std::string qualified(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
  /// nlohmann stores integers above INT64_MAX as unsigned; get<int64_t>() would wrap them to negative
  /// values, and the range error would then quote a number the file does not contain.
  void check_int64(const char* key, const json& v) const {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      wrong_type(key, "an integer <= 9223372036854775807", v);
  }
  [[noreturn]] void wrong_type(const char* key, const char* expected, const json& v) const {
    fail("key \"" + qualified(key) + "\"", "must be " + std::string(expected) + ", got " + type_name(v) + " " + v.dump());
  }
  [[noreturn]] void fail(const std::string& what, const std::string& why) const {
    throw std::invalid_argument(source_ + ": " + what + " " + why);
  }

  const json& object_;
  std::string prefix_;
  std::string source_;
  std::vector<std::string> known_;
};

[[noreturn]] void out_of_range(const std::string& key, const std::string& value, const std::string& rule) {
  throw std::invalid_argument("config key \"" + key + "\" = " + value + " is out of range: " + rule);
}

template <typename T>
std::string str(T v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
/// Shortest text that reads back as `v` (nlohmann's dump), so range errors quote the value as written:
/// ostream's 6 significant digits turned 1710000105 into "1.71e+09" and 1.23456789 into "1.23457".
std::string str(double v) { return json(v).dump(); }

}  // namespace

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

nlohmann::json Config::to_json() const {
  json j;
  j["data"] = {{"path", data.path},
               {"num_examples", data.num_examples ? json(*data.num_examples) : json(nullptr)},
               {"num_steps", data.num_steps},
               {"min_freq", data.min_freq},
               {"valid_ratio", data.valid_ratio},
               {"test_ratio", data.test_ratio}};
  j["model"] = {{"type", model.type},
                {"embed_size", model.embed_size},
                {"num_hiddens", model.num_hiddens},
                {"num_layers", model.num_layers},
                {"num_decoder_layers", model.num_decoder_layers},
                {"dropout", model.dropout},
                {"num_heads", model.num_heads},
                {"ffn_num_hiddens", model.ffn_num_hiddens},
                {"pre_norm", model.pre_norm},
                {"tie_embeddings", model.tie_embeddings}};
  j["train"] = {{"batch_size", train.batch_size},
                {"num_epochs", train.num_epochs},
                {"lr", train.lr},
                {"lr_schedule", train.lr_schedule},
                {"warmup_steps", train.warmup_steps},
                {"grad_clip", train.grad_clip},
                {"label_smoothing", train.label_smoothing},
                {"max_minutes", train.max_minutes},
                {"bucket", train.bucket},
                {"valid_bleu_sentences", train.valid_bleu_sentences},
                {"valid_every_steps", train.valid_every_steps},
                {"seed", train.seed},
                {"device", train.device},
                {"num_threads", train.num_threads}};
  return j;
}

Config Config::from_json(const nlohmann::json& j, const std::string& source) {
  Config c;
  ObjectReader top(j, "", source);
  if (const json* d = top.child("data")) {
    ObjectReader r(*d, "data", source);
    r.read("path", c.data.path);
    r.read("num_examples", c.data.num_examples);
    r.read("num_steps", c.data.num_steps);
    r.read("min_freq", c.data.min_freq);
    r.read("valid_ratio", c.data.valid_ratio);
    r.read("test_ratio", c.data.test_ratio);
    r.finish();
  }
  if (const json* m = top.child("model")) {
    ObjectReader r(*m, "model", source);
    r.read("type", c.model.type);
    r.read("embed_size", c.model.embed_size);
    r.read("num_hiddens", c.model.num_hiddens);
    r.read("num_layers", c.model.num_layers);
    r.read("num_decoder_layers", c.model.num_decoder_layers);
    r.read("dropout", c.model.dropout);
    r.read("num_heads", c.model.num_heads);
    r.read("ffn_num_hiddens", c.model.ffn_num_hiddens);
    r.read("pre_norm", c.model.pre_norm);
    r.read("tie_embeddings", c.model.tie_embeddings);
    r.finish();
  }
  if (const json* t = top.child("train")) {
    ObjectReader r(*t, "train", source);
    r.read("batch_size", c.train.batch_size);
    r.read("num_epochs", c.train.num_epochs);
    r.read("lr", c.train.lr);
    r.read("lr_schedule", c.train.lr_schedule);
    r.read("warmup_steps", c.train.warmup_steps);
    r.read("grad_clip", c.train.grad_clip);
    r.read("label_smoothing", c.train.label_smoothing);
    r.read("max_minutes", c.train.max_minutes);
    r.read("bucket", c.train.bucket);
    r.read("valid_bleu_sentences", c.train.valid_bleu_sentences);
    r.read("valid_every_steps", c.train.valid_every_steps);
    r.read("seed", c.train.seed);
    r.read("device", c.train.device);
    r.read("num_threads", c.train.num_threads);
    r.finish();
  }
  top.finish();
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(source + ": " + e.what());
  }
  return c;
}

void Config::validate() const {
  if (data.num_examples && *data.num_examples < 1)
    out_of_range("data.num_examples", str(*data.num_examples), "must be >= 1 or null (all lines)");
  if (data.num_steps < 1) out_of_range("data.num_steps", str(data.num_steps), "must be >= 1");
  if (data.min_freq < 1) out_of_range("data.min_freq", str(data.min_freq), "must be >= 1");
  if (data.valid_ratio < 0 || data.valid_ratio >= 1)
    out_of_range("data.valid_ratio", str(data.valid_ratio), "must be in [0, 1)");
  if (data.test_ratio < 0 || data.test_ratio >= 1)
    out_of_range("data.test_ratio", str(data.test_ratio), "must be in [0, 1)");
  if (data.valid_ratio + data.test_ratio >= 1)
    out_of_range("data.valid_ratio + data.test_ratio", str(data.valid_ratio + data.test_ratio), "must be < 1");

  if (model.type != "seq2seq" && model.type != "seq2seq_attention" && model.type != "transformer")
    throw std::invalid_argument("config key \"model.type\" = \"" + model.type +
                                "\" is unknown; valid types: seq2seq, seq2seq_attention, transformer");
  if (model.embed_size < 1) out_of_range("model.embed_size", str(model.embed_size), "must be >= 1");
  if (model.num_hiddens < 1) out_of_range("model.num_hiddens", str(model.num_hiddens), "must be >= 1");
  if (model.num_layers < 1) out_of_range("model.num_layers", str(model.num_layers), "must be >= 1");
  if (model.num_decoder_layers < 0)
    out_of_range("model.num_decoder_layers", str(model.num_decoder_layers), "must be >= 0 (0 = num_layers)");
  if (model.dropout < 0 || model.dropout >= 1) out_of_range("model.dropout", str(model.dropout), "must be in [0, 1)");
  if (model.num_heads < 1) out_of_range("model.num_heads", str(model.num_heads), "must be >= 1");
  if (model.ffn_num_hiddens < 1) out_of_range("model.ffn_num_hiddens", str(model.ffn_num_hiddens), "must be >= 1");
  if (model.type == "transformer" && model.num_hiddens % model.num_heads != 0)
    throw std::invalid_argument("config key \"model.num_heads\" = " + str(model.num_heads) +
                                " does not divide \"model.num_hiddens\" = " + str(model.num_hiddens));

  if (train.batch_size < 1) out_of_range("train.batch_size", str(train.batch_size), "must be >= 1");
  if (train.num_epochs < 1) out_of_range("train.num_epochs", str(train.num_epochs), "must be >= 1");
  if (!(train.lr > 0)) out_of_range("train.lr", str(train.lr), "must be > 0");
  if (train.lr_schedule != "constant" && train.lr_schedule != "inverse_sqrt")
    throw std::invalid_argument("config key \"train.lr_schedule\" = \"" + train.lr_schedule +
                                "\" is unknown; valid: constant, inverse_sqrt");
  if (train.warmup_steps < 1) out_of_range("train.warmup_steps", str(train.warmup_steps), "must be >= 1");
  if (train.grad_clip < 0) out_of_range("train.grad_clip", str(train.grad_clip), "must be >= 0 (0 = off)");
  if (train.label_smoothing < 0 || train.label_smoothing >= 1)
    out_of_range("train.label_smoothing", str(train.label_smoothing), "must be in [0, 1)");
  if (train.max_minutes < 0) out_of_range("train.max_minutes", str(train.max_minutes), "must be >= 0 (0 = no limit)");
  if (train.valid_bleu_sentences < 0)
    out_of_range("train.valid_bleu_sentences", str(train.valid_bleu_sentences), "must be >= 0 (0 = all)");
  if (train.valid_every_steps < 0)
    out_of_range("train.valid_every_steps", str(train.valid_every_steps), "must be >= 0 (0 = epoch ends only)");
  if (train.num_threads < 0) out_of_range("train.num_threads", str(train.num_threads), "must be >= 0");
  const std::string& d = train.device;
  const bool cuda_n = d.rfind("cuda:", 0) == 0 && d.size() > 5 &&
                      std::all_of(d.begin() + 5, d.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (d != "auto" && d != "cpu" && d != "cuda" && !cuda_n)
    throw std::invalid_argument("config key \"train.device\" = \"" + d +
                                "\" is unknown; valid: auto, cpu, cuda, cuda:N");
}

Config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open config file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // Turn nlohmann's byte offset into a line and column.
    const std::size_t offset = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset; ++i) {
      if (text[i] == '\n') ++line, column = 1;
      else ++column;
    }
    std::string what = e.what();
    const auto pos = what.find("parse error");
    throw std::invalid_argument(path + ":" + std::to_string(line) + ":" + std::to_string(column) +
                                ": malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
  }
  return Config::from_json(j, path);
}

}  // namespace nmt::common
