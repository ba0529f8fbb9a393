#include "common/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace nmt::common {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------------------
// Rules: what values a key accepts. The JSON type comes from the member's C++ type (Member below); a Rule
// adds a numeric range or a list of names.
// ---------------------------------------------------------------------------------------------------------

/// A numeric range and/or a set of names a key's value must satisfy; the default Rule accepts any value of
/// the member's type.
struct Rule {
  enum class Bound { kNone, kClosed, kOpen };
  Bound lower = Bound::kNone;
  double lo = 0;
  Bound upper = Bound::kNone;
  double hi = 0;
  const std::string_view* names = nullptr;  ///< valid names (shown in messages and describe); null: any string
  std::size_t num_names = 0;
  /// Accepts a name; null: the name must be one of `names`. Used where a form stands for many names (cuda:N).
  bool (*accepts)(const std::string&) = nullptr;
};

Rule at_least(double lo) { return Rule{Rule::Bound::kClosed, lo}; }
Rule above(double lo) { return Rule{Rule::Bound::kOpen, lo}; }
/// [lo, hi)
Rule in_closed_open(double lo, double hi) { return Rule{Rule::Bound::kClosed, lo, Rule::Bound::kOpen, hi}; }
/// (lo, hi]
Rule in_open_closed(double lo, double hi) { return Rule{Rule::Bound::kOpen, lo, Rule::Bound::kClosed, hi}; }
template <std::size_t N>
Rule one_of(const std::array<std::string_view, N>& names, bool (*accepts)(const std::string&) = nullptr) {
  Rule r;
  r.names = names.data();
  r.num_names = N;
  r.accepts = accepts;
  return r;
}

bool is_device_name(const std::string& name) { return parse_device_name(name).has_value(); }

/// A bound as a person writes it: 0 and 1, not 0.0 and 1.0 (bounds in the tables are whole numbers).
std::string bound_text(double v) {
  if (v == std::floor(v) && std::abs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  return json(v).dump();
}

/// The numeric part of a rule: ">= 1", "> 0", "in [0, 1)"; empty when there is none.
std::string range_text(const Rule& r) {
  using B = Rule::Bound;
  if (r.lower != B::kNone && r.upper != B::kNone)
    return "in " + std::string(r.lower == B::kClosed ? "[" : "(") + bound_text(r.lo) + ", " + bound_text(r.hi) +
           (r.upper == B::kClosed ? "]" : ")");
  if (r.lower != B::kNone) return (r.lower == B::kClosed ? ">= " : "> ") + bound_text(r.lo);
  if (r.upper != B::kNone) return (r.upper == B::kClosed ? "<= " : "< ") + bound_text(r.hi);
  return "";
}

/// True when `v` satisfies the rule's range; NaN satisfies no bound.
bool in_range(const Rule& r, double v) {
  using B = Rule::Bound;
  if (r.lower == B::kClosed && !(v >= r.lo)) return false;
  if (r.lower == B::kOpen && !(v > r.lo)) return false;
  if (r.upper == B::kClosed && !(v <= r.hi)) return false;
  if (r.upper == B::kOpen && !(v < r.hi)) return false;
  return true;
}

std::vector<std::string> names_of(const Rule& r) { return {r.names, r.names + r.num_names}; }

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) (out += i ? ", " : "") += names[i];
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Fields: one row per key. The member's C++ type fixes the JSON type: string, integer (int64), integer or
// null (optional<int64>), non-negative integer (uint64), number (double), true/false (bool), a corpus: a file
// name, {"source": FILE, "target": FILE} or null (optional<CorpusFiles>).
// ---------------------------------------------------------------------------------------------------------

template <typename S>
using Member = std::variant<std::string S::*, int64_t S::*, std::optional<int64_t> S::*, uint64_t S::*,
                            double S::*, bool S::*, std::optional<CorpusFiles> S::*>;

/// One key of section struct S: its JSON name, the member it fills, its rule and a one-line doc.
/// The default is the member's value in a default-constructed S.
template <typename S>
struct Field {
  const char* key;
  Member<S> member;
  Rule rule;
  const char* doc;
};

const std::vector<Field<DataConfig>>& data_fields() {
  using D = DataConfig;
  static const std::vector<Field<D>> fields{
      {"path", &D::path, {}, "`source<TAB>target` lines (d2l's fra.txt); relative to the working directory"},
      {"train", &D::train, {}, "training corpus instead of `path`: a TSV file or `{\"source\": F, \"target\": F}`"},
      {"valid", &D::valid, {}, "validation corpus (as `train`); null = `valid_ratio` of the training corpus"},
      {"test", &D::test, {}, "test corpus (as `train`); null = `test_ratio` of the training corpus"},
      {"src_lang", &D::src_lang, {}, "source language label (logs, reports)"},
      {"tgt_lang", &D::tgt_lang, {}, "target language label"},
      {"lowercase", &D::lowercase, {}, "lowercase both sides (d2l)"},
      {"d2l_punctuation", &D::d2l_punctuation, {}, "d2l's space before `, . ! ?`; no-break spaces become spaces"},
      {"num_examples", &D::num_examples, at_least(1), "first N usable sentence pairs; null = all of them"},
      {"num_steps", &D::num_steps, at_least(1), "training sequence length in tokens (words or pieces), `<eos>` included; longer is cut"},
      {"min_freq", &D::min_freq, at_least(1), "`word` tokenizer: tokens rarer than this become `<unk>`"},
      {"valid_ratio", &D::valid_ratio, in_closed_open(0, 1), "share of source sentences held out for validation (grouped: none occurs in train)"},
      {"test_ratio", &D::test_ratio, in_closed_open(0, 1), "share of source sentences held out for testing (grouped likewise)"},
      {"tokenizer", &D::tokenizer, one_of(kTokenizers), "`word` (d2l) or `sentencepiece` subwords"},
      {"sp_model_type", &D::sp_model_type, one_of(kSubwordModelTypes), "SentencePiece algorithm"},
      {"sp_vocab_size", &D::sp_vocab_size, at_least(1), "pieces per SentencePiece model (256 byte pieces included)"},
      {"sp_joint", &D::sp_joint, {}, "one SentencePiece model and vocabulary for both languages"},
      {"sp_character_coverage", &D::sp_character_coverage, in_open_closed(0, 1), "characters given pieces; the rest are spelled in bytes"},
      {"sp_alpha", &D::sp_alpha, at_least(0), "subword sampling while training (Kudo 2018); 0 = off"},
  };
  return fields;
}

const std::vector<Field<ModelConfig>>& model_fields() {
  using M = ModelConfig;
  static const std::vector<Field<M>> fields{
      {"type", &M::type, one_of(kModelTypes), "architecture (d2l §10.7, §11.4, §11.7)"},
      {"embed_size", &M::embed_size, at_least(1), "GRU models: embedding width"},
      {"num_hiddens", &M::num_hiddens, at_least(1), "GRU state width / Transformer width d_model"},
      {"num_layers", &M::num_layers, at_least(1), "GRU layers / Transformer encoder blocks"},
      {"num_decoder_layers", &M::num_decoder_layers, at_least(0), "Transformer decoder blocks; 0 = num_layers"},
      {"dropout", &M::dropout, in_closed_open(0, 1), "dropout probability"},
      {"num_heads", &M::num_heads, at_least(1), "Transformer attention heads; must divide num_hiddens"},
      {"ffn_num_hiddens", &M::ffn_num_hiddens, at_least(1), "Transformer position-wise FFN width"},
      {"pre_norm", &M::pre_norm, {}, "Transformer: LayerNorm before each sublayer, not after"},
      {"tie_embeddings", &M::tie_embeddings, {}, "Transformer: output layer shares the target embedding"},
  };
  return fields;
}

const std::vector<Field<TrainConfig>>& train_fields() {
  using T = TrainConfig;
  static const std::vector<Field<T>> fields{
      {"batch_size", &T::batch_size, at_least(1), "sentence pairs per update (per rank when data-parallel)"},
      {"num_epochs", &T::num_epochs, at_least(1), "passes over the training split"},
      {"lr", &T::lr, above(0), "Adam learning rate (the peak)"},
      {"lr_schedule", &T::lr_schedule, one_of(kLrSchedules),
       "warm-up, then `inverse_sqrt`: ∝ step^-0.5 (Vaswani §5.3), `linear`: to 0 at the time limit or last epoch"},
      {"warmup_steps", &T::warmup_steps, at_least(1), "warm-up updates of a schedule"},
      {"grad_clip", &T::grad_clip, at_least(0), "global gradient-norm bound θ (d2l grad_clipping); 0 = off"},
      {"label_smoothing", &T::label_smoothing, in_closed_open(0, 1), "label smoothing ε of the masked cross-entropy"},
      {"max_minutes", &T::max_minutes, at_least(0), "stop after this many minutes of training; 0 = no limit"},
      {"bucket", &T::bucket, {}, "batch sentences of similar length (padding is trimmed anyway)"},
      {"valid_bleu_sentences", &T::valid_bleu_sentences, at_least(0), "valid sentences decoded for BLEU; 0 = all"},
      {"valid_every_steps", &T::valid_every_steps, at_least(0),
       "also validate every N updates (JoeyNMT's validation_freq); 0 = epoch ends only"},
      {"valid_beam_size", &T::valid_beam_size, at_least(1), "beam size of the validation BLEU; 1 = greedy"},
      {"seed", &T::seed, {}, "seeds the split, shuffles, initialisation and dropout"},
      {"device", &T::device, one_of(kDeviceForms, is_device_name), "where to train"},
      {"num_threads", &T::num_threads, at_least(0), "LibTorch intra-op threads (OpenBLAS runs its own); 0 = LibTorch's default"},
      {"dist_timeout_s", &T::dist_timeout_s, above(0),
       "data-parallel: seconds a rank waits for its peers (> a validation)"},
      {"ema_decay", &T::ema_decay, in_closed_open(0, 1),
       "weight EMA (Marian's exponential-smoothing; 1e-4 = others' 0.9999); 0 = off"},
      {"keep_checkpoints", &T::keep_checkpoints, at_least(0),
       "keep the last K epoch ends' weights as `epoch_N/` for `nmt average`"},
      {"precision", &T::precision, one_of(kPrecisions),
       "`bf16`/`fp16`: mixed precision (autocast); `fp16` needs CUDA"},
  };
  return fields;
}

/// The `decode` section: translate's and eval's defaults (their flags override). The names follow JoeyNMT
/// (beam_size; alpha is its beam_alpha) and fairseq (min_len, max_len_a, max_len_b); see decoding::SearchOptions.
const std::vector<Field<DecodeConfig>>& decode_fields() {
  using C = DecodeConfig;
  static const std::vector<Field<C>> fields{
      {"beam_size", &C::beam_size, at_least(1), "hypotheses kept per sentence (d2l §10.8); 1 = greedy"},
      {"length_penalty", &C::length_penalty, one_of(kLengthPenalties),
       "`gnmt`: log-prob / ((5+len)/6)^alpha (Wu et al. 2016); `average`: / len^alpha (fairseq)"},
      {"alpha", &C::alpha, at_least(0), "length-penalty exponent (JoeyNMT's beam_alpha)"},
      {"min_len", &C::min_len, at_least(0), "output tokens before `<eos>` is allowed"},
      {"max_len_a", &C::max_len_a, at_least(0), "output tokens <= max_len_a · source tokens + max_len_b (fairseq)"},
      {"max_len_b", &C::max_len_b, at_least(0), "see max_len_a"},
      {"max_len", &C::max_len, at_least(0), "cap on output tokens; 0 = none"},
      {"batch_size", &C::batch_size, at_least(1), "sentences decoded together"},
  };
  return fields;
}

/// Calls f(section name, field table, pointer to the Config member) for data, model, train and decode in order.
template <typename F>
void for_each_section(F&& f) {
  f("data", data_fields(), &Config::data);
  f("model", model_fields(), &Config::model);
  f("train", train_fields(), &Config::train);
  f("decode", decode_fields(), &Config::decode);
}

/// JSON type and range of a field, e.g. "int >= 1", "int >= 1 or null", "real in [0, 1)", "string"
/// (the names of an enumerated key are listed separately: KeyDoc::choices).
template <typename S>
std::string rule_text(const Field<S>& f) {
  const std::string range = range_text(f.rule);
  const std::string type = std::visit(
      [](auto member) -> std::string {
        using V = std::remove_reference_t<decltype(std::declval<S&>().*member)>;
        if constexpr (std::is_same_v<V, std::string>) return "string";
        else if constexpr (std::is_same_v<V, bool>) return "bool";
        else if constexpr (std::is_same_v<V, double>) return "real";
        else if constexpr (std::is_same_v<V, uint64_t>) return "int >= 0";
        else if constexpr (std::is_same_v<V, std::optional<CorpusFiles>>) return "file, {source, target} or null";
        else return "int";
      },
      f.member);
  std::string text = type + (range.empty() ? "" : " " + range);
  if (std::holds_alternative<std::optional<int64_t> S::*>(f.member)) text += " or null";
  return text;
}

/// A corpus as JSON: null, "FILE", or {"source": FILE, "target": FILE}.
json corpus_json(const std::optional<CorpusFiles>& files) {
  if (!files) return json(nullptr);
  if (!files->is_pair()) return json(files->tsv);
  return json{{"source", files->source}, {"target", files->target}};
}

/// The member's value as to_json writes it.
template <typename S>
json value_json(const S& section, const Field<S>& f) {
  return std::visit(
      [&](auto member) -> json {
        const auto& v = section.*member;
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::optional<int64_t>>) return v ? json(*v) : json(nullptr);
        else if constexpr (std::is_same_v<V, std::optional<CorpusFiles>>) return corpus_json(v);
        else return json(v);
      },
      f.member);
}

// ---------------------------------------------------------------------------------------------------------
// Reading: JSON type checks per field, then unknown keys with the closest valid key.
// ---------------------------------------------------------------------------------------------------------

/// Messages of one JSON object being read (`prefix` = its section; empty for the top level).
class ObjectErrors {
 public:
  ObjectErrors(std::string prefix, std::string source) : prefix_(std::move(prefix)), source_(std::move(source)) {}

  std::string qualified(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

  [[noreturn]] void not_an_object(const json& v) const {
    fail((prefix_.empty() ? "the config" : "\"" + prefix_ + "\"") + " must be a JSON object, got " + v.type_name());
  }
  [[noreturn]] void wrong_type(const std::string& key, const std::string& expected, const json& v) const {
    fail("key \"" + qualified(key) + "\" must be " + expected + ", got " + v.type_name() + " " + v.dump());
  }
  /// Throws for the first key of `object` that is not in `known`, naming the closest known key when it is
  /// near enough (edit distance <= max(3, length / 2)), else listing the valid keys.
  void reject_unknown(const json& object, const std::vector<std::string>& known) const {
    for (const auto& item : object.items()) {
      if (std::find(known.begin(), known.end(), item.key()) != known.end()) continue;
      std::string best;
      std::size_t best_distance = SIZE_MAX;
      for (const auto& k : known) {
        const std::size_t d = edit_distance(item.key(), k);
        if (d < best_distance) best_distance = d, best = k;
      }
      std::string msg = "unknown key \"" + qualified(item.key()) + "\"";
      if (!best.empty() && best_distance <= std::max<std::size_t>(3, item.key().size() / 2)) {
        msg += "; did you mean \"" + qualified(best) + "\"?";
      } else {
        msg += "; valid keys here:";
        for (const auto& k : known) msg += " " + k;
      }
      fail(msg);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const { throw std::invalid_argument(source_ + ": " + msg); }

  std::string prefix_;
  std::string source_;
};

/// nlohmann stores integers above INT64_MAX as unsigned; get<int64_t>() would wrap them to negative values,
/// and the range error would then quote a number the file does not contain.
bool fits_int64(const json& v) {
  return !v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

/// Reads one JSON value into the field's member, checking only the JSON type (validate() checks rules).
template <typename S>
void read_field(const Field<S>& f, const json& v, S& out, const ObjectErrors& errors) {
  std::visit(
      [&](auto member) {
        auto& dst = out.*member;
        using V = std::decay_t<decltype(dst)>;
        if constexpr (std::is_same_v<V, std::string>) {
          if (!v.is_string()) errors.wrong_type(f.key, "a string", v);
          dst = v.get<std::string>();
        } else if constexpr (std::is_same_v<V, int64_t>) {
          if (!v.is_number_integer()) errors.wrong_type(f.key, "an integer", v);
          if (!fits_int64(v)) errors.wrong_type(f.key, "an integer <= 9223372036854775807", v);
          dst = v.get<int64_t>();
        } else if constexpr (std::is_same_v<V, std::optional<int64_t>>) {
          if (v.is_null()) {
            dst.reset();
          } else {
            if (!v.is_number_integer()) errors.wrong_type(f.key, "an integer or null", v);
            if (!fits_int64(v)) errors.wrong_type(f.key, "an integer <= 9223372036854775807", v);
            dst = v.get<int64_t>();
          }
        } else if constexpr (std::is_same_v<V, uint64_t>) {
          if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
            errors.wrong_type(f.key, "a non-negative integer", v);
          dst = v.get<uint64_t>();
        } else if constexpr (std::is_same_v<V, double>) {
          if (!v.is_number()) errors.wrong_type(f.key, "a number", v);
          dst = v.get<double>();
        } else if constexpr (std::is_same_v<V, std::optional<CorpusFiles>>) {
          const char* expected = "a file name, {\"source\": FILE, \"target\": FILE} or null";
          if (v.is_null()) {
            dst.reset();
          } else if (v.is_string()) {
            if (v.get<std::string>().empty()) errors.wrong_type(f.key, expected, v);
            dst = CorpusFiles{v.get<std::string>(), "", ""};
          } else if (v.is_object()) {
            const auto src = v.find("source"), tgt = v.find("target");
            if (v.size() != 2 || src == v.end() || tgt == v.end() || !src->is_string() || !tgt->is_string())
              errors.wrong_type(f.key, expected, v);
            dst = CorpusFiles{"", src->get<std::string>(), tgt->get<std::string>()};
          } else {
            errors.wrong_type(f.key, expected, v);
          }
        } else {
          static_assert(std::is_same_v<V, bool>);
          if (!v.is_boolean()) errors.wrong_type(f.key, "true or false", v);
          dst = v.get<bool>();
        }
      },
      f.member);
}

/// Reads the keys of one section object on top of `out`; throws for wrong types and unknown keys.
template <typename S>
void read_section(const json& object, const std::string& section, const std::vector<Field<S>>& fields, S& out,
                  const std::string& source) {
  const ObjectErrors errors(section, source);
  if (!object.is_object()) errors.not_an_object(object);
  std::vector<std::string> known;
  for (const auto& f : fields) {
    known.emplace_back(f.key);
    const auto it = object.find(f.key);
    if (it != object.end()) read_field(f, *it, out, errors);
  }
  errors.reject_unknown(object, known);
}

// ---------------------------------------------------------------------------------------------------------
// Validation of values against their rules.
// ---------------------------------------------------------------------------------------------------------

[[noreturn]] void out_of_range(const std::string& key, const std::string& value, const std::string& rule) {
  throw std::invalid_argument("config key \"" + key + "\" = " + value + " is out of range: " + rule);
}

/// Shortest text that reads back as `v` (nlohmann's dump), so range errors quote the value as written:
/// ostream's 6 significant digits turned 1710000105 into "1.71e+09" and 1.23456789 into "1.23457".
/// Infinities and NaN (which JSON cannot hold) read "inf", "-inf", "nan".
std::string real_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return json(v).dump();
}

/// Throws std::invalid_argument naming `key` ("section.field") when the member breaks the field's rule.
template <typename S>
void check_field(const S& section, const Field<S>& f, const std::string& key) {
  const Rule& r = f.rule;
  std::visit(
      [&](auto member) {
        const auto& v = section.*member;
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string>) {
          if (!r.num_names) return;
          const bool ok = r.accepts ? r.accepts(v) : std::find(r.names, r.names + r.num_names, v) != r.names + r.num_names;
          if (!ok)
            throw std::invalid_argument("config key \"" + key + "\" = " + json(v).dump() + " is unknown; valid: " +
                                        joined(names_of(r)));
        } else if constexpr (std::is_same_v<V, double>) {
          if (!std::isfinite(v)) out_of_range(key, real_text(v), "must be a finite number");
          if (!in_range(r, v)) out_of_range(key, real_text(v), "must be " + range_text(r));
        } else if constexpr (std::is_same_v<V, std::optional<int64_t>>) {
          if (v && !in_range(r, static_cast<double>(*v)))
            out_of_range(key, std::to_string(*v), "must be " + range_text(r) + " or null");
        } else if constexpr (std::is_same_v<V, int64_t> || std::is_same_v<V, uint64_t>) {
          if (!in_range(r, static_cast<double>(v))) out_of_range(key, std::to_string(v), "must be " + range_text(r));
        } else if constexpr (std::is_same_v<V, std::optional<CorpusFiles>>) {
          if (v && (v->is_pair() ? v->source.empty() || v->target.empty() : v->tsv.empty()))
            out_of_range(key, corpus_json(v).dump(), "file names must not be empty");
        }
      },
      f.member);
}

template <typename S>
void check_section(const S& section, const std::string& name, const std::vector<Field<S>>& fields) {
  for (const auto& f : fields) check_field(section, f, name + "." + f.key);
}

}  // namespace

std::optional<DeviceName> parse_device_name(const std::string& name) {
  if (name == kDeviceAuto) return DeviceName{DeviceName::Kind::kAuto, 0};
  if (name == kDeviceCpu) return DeviceName{DeviceName::Kind::kCpu, 0};
  if (name == kDeviceCuda) return DeviceName{DeviceName::Kind::kCuda, 0};
  if (name.rfind(kDeviceCudaPrefix, 0) != 0 || name.size() == kDeviceCudaPrefix.size()) return std::nullopt;
  int64_t index = 0;
  for (std::size_t i = kDeviceCudaPrefix.size(); i < name.size(); ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    if (index > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return std::nullopt;
    index = index * 10 + (c - '0');
  }
  return DeviceName{DeviceName::Kind::kCuda, index};
}

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
  json j = json::object();
  for_each_section([&](const char* name, const auto& fields, auto section_member) {
    json& out = j[name] = json::object();
    for (const auto& f : fields) out[f.key] = value_json(this->*section_member, f);
  });
  return j;
}

Config Config::from_json(const nlohmann::json& j, const std::string& source) {
  Config c;
  const ObjectErrors top("", source);
  if (!j.is_object()) top.not_an_object(j);
  std::vector<std::string> sections;
  for_each_section([&](const char* name, const auto& fields, auto section_member) {
    sections.emplace_back(name);
    const auto it = j.find(name);
    if (it != j.end()) read_section(*it, name, fields, c.*section_member, source);
  });
  top.reject_unknown(j, sections);
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(source + ": " + e.what());
  }
  return c;
}

std::string CorpusFiles::describe() const { return is_pair() ? source + " + " + target : tsv; }

void Config::validate() const {
  check_section(data, "data", data_fields());
  for (const auto* lang : {&data.src_lang, &data.tgt_lang}) {
    const bool ok = !lang->empty() && std::all_of(lang->begin(), lang->end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
    if (!ok)
      out_of_range(lang == &data.src_lang ? "data.src_lang" : "data.tgt_lang", json(*lang).dump(),
                   "must be a non-empty label of letters, digits, '-' and '_'");
  }
  if (data.valid_ratio + data.test_ratio >= 1)
    out_of_range("data.valid_ratio + data.test_ratio", real_text(data.valid_ratio + data.test_ratio), "must be < 1");

  check_section(model, "model", model_fields());
  if (model.type == kModelTransformer && model.num_hiddens % model.num_heads != 0)
    throw std::invalid_argument("config key \"model.num_heads\" = " + std::to_string(model.num_heads) +
                                " does not divide \"model.num_hiddens\" = " + std::to_string(model.num_hiddens));

  check_section(train, "train", train_fields());

  check_section(decode, "decode", decode_fields());
  if (decode.max_len_a == 0 && decode.max_len_b == 0)
    throw std::invalid_argument("config keys \"decode.max_len_a\" = 0 and \"decode.max_len_b\" = 0 allow no "
                                "output token: make one of them > 0");
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

std::vector<KeyDoc> describe_keys() {
  std::vector<KeyDoc> keys;
  const Config defaults;
  for_each_section([&](const char* name, const auto& fields, auto section_member) {
    for (const auto& f : fields)
      keys.push_back(KeyDoc{name, std::string(name) + "." + f.key, rule_text(f),
                            value_json(defaults.*section_member, f).dump(), f.doc, names_of(f.rule)});
  });
  return keys;
}

std::string describe_text() {
  static const char* const kSectionDocs[][2] = {
      {"data", "the parallel corpus and how it is cut into sequences (d2l §10.5)"},
      {"model", "model type and sizes; a model type ignores the keys it does not use"},
      {"train", "optimisation and runtime (d2l §10.7, Vaswani et al. 2017 §5.3)"},
      {"decode", "how translate and eval decode by default; their flags override (d2l §10.8)"}};
  const std::vector<KeyDoc> keys = describe_keys();
  std::size_t key_width = 0, rule_width = 0, default_width = 0;
  for (const auto& k : keys) {
    key_width = std::max(key_width, k.key.size());
    rule_width = std::max(rule_width, k.rule.size());
    default_width = std::max(default_width, k.default_value.size());
  }
  const auto pad = [](const std::string& s, std::size_t width) { return s + std::string(width - s.size() + 2, ' '); };
  std::string out =
      "Config keys (JSON: {\"data\": {...}, \"model\": {...}, \"train\": {...}, \"decode\": {...}}); every key is "
      "optional.\n";
  out += "key, type and rule, default, meaning\n";
  std::string section;
  for (const auto& k : keys) {
    if (k.section != section) {
      section = k.section;
      for (const auto& s : kSectionDocs)
        if (section == s[0]) out += "\n" + section + ": " + s[1] + "\n";
    }
    // Only docs hold non-ASCII text, so byte widths align the first three columns.
    out += "  " + pad(k.key, key_width) + pad(k.rule, rule_width) + pad(k.default_value, default_width) + k.doc;
    if (!k.choices.empty()) out += "; one of: " + joined(k.choices);
    out += "\n";
  }
  return out;
}

std::string describe_markdown() {
  std::string out = "| key | default | meaning |\n|---|---|---|\n";
  for (const auto& k : describe_keys()) {
    std::string meaning = k.doc;
    if (!k.choices.empty()) {
      meaning += "; one of";
      for (std::size_t i = 0; i < k.choices.size(); ++i) meaning += (i ? ", `" : " `") + k.choices[i] + "`";
    }
    // Strings as `value`, numbers/booleans/null as written.
    std::string value = k.default_value;
    if (!value.empty() && value.front() == '"') value = "`" + value.substr(1, value.size() - 2) + "`";
    out += "| `" + k.key + "` | " + value + " | " + meaning + " |\n";
  }
  return out;
}

}  // namespace nmt::common
