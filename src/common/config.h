#pragma once
// Typed configuration of a run: data, model, training and decoding settings, read from JSON with strict checking.
// Every key is described once, in a field table per section (config.cpp): key, member, rule, default and
// doc. The reader (Config::from_json), the writer (Config::to_json), the range checks of validate() and
// describe_keys() (`nmt config --describe`) all walk those tables.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace nmt::common {

// --- Names of the enumerated settings, defined once. The config rules, models::make_model,
// --- train::learning_rate and common::resolve_device all use these.

/// `model.type`: GRU encoder-decoder (d2l.ai §10.7).
inline constexpr std::string_view kModelSeq2Seq = "seq2seq";
/// `model.type`: GRU encoder-decoder with Bahdanau (additive) attention (d2l.ai §11.4).
inline constexpr std::string_view kModelSeq2SeqAttention = "seq2seq_attention";
/// `model.type`: Transformer encoder-decoder (d2l.ai §11.7, Vaswani et al. 2017).
inline constexpr std::string_view kModelTransformer = "transformer";
/// Every valid `model.type`, in the order messages and `nmt config --describe` list them.
inline constexpr std::array<std::string_view, 3> kModelTypes{kModelSeq2Seq, kModelSeq2SeqAttention,
                                                             kModelTransformer};

/// `train.lr_schedule`: the rate is `train.lr` at every step.
inline constexpr std::string_view kLrConstant = "constant";
/// `train.lr_schedule`: linear warm-up, then decay ∝ step^-0.5 (Vaswani et al. 2017 §5.3).
inline constexpr std::string_view kLrInverseSqrt = "inverse_sqrt";
/// `train.lr_schedule`: linear warm-up, then linear decay to 0 at the end of the run's budget (the epochs of
/// `train.num_epochs` or the minutes of `train.max_minutes`, whichever runs out first; Li et al. 2020,
/// "Budgeted Training"; HF's linear schedule with warm-up when the budget is epochs).
inline constexpr std::string_view kLrLinear = "linear";
/// Every valid `train.lr_schedule`.
inline constexpr std::array<std::string_view, 3> kLrSchedules{kLrConstant, kLrInverseSqrt, kLrLinear};

/// `train.precision`: float32 everywhere.
inline constexpr std::string_view kPrecisionFp32 = "fp32";
/// `train.precision`: autocast matrix products to bfloat16, float32 weights, softmax and loss (train/precision.h).
inline constexpr std::string_view kPrecisionBf16 = "bf16";
/// `train.precision`: autocast to float16 with dynamic loss scaling (CUDA only).
inline constexpr std::string_view kPrecisionFp16 = "fp16";
/// Every valid `train.precision`.
inline constexpr std::array<std::string_view, 3> kPrecisions{kPrecisionFp32, kPrecisionBf16, kPrecisionFp16};

/// Device name: CUDA device 0 when LibTorch sees one, else the CPU.
inline constexpr std::string_view kDeviceAuto = "auto";
/// Device name: the CPU.
inline constexpr std::string_view kDeviceCpu = "cpu";
/// Device name: CUDA device 0; `cuda:N` (kDeviceCudaPrefix + decimal N) names device N.
inline constexpr std::string_view kDeviceCuda = "cuda";
/// Prefix of the `cuda:N` device form.
inline constexpr std::string_view kDeviceCudaPrefix = "cuda:";
/// The device forms as messages and `nmt config --describe` list them.
inline constexpr std::array<std::string_view, 4> kDeviceForms{kDeviceAuto, kDeviceCpu, kDeviceCuda, "cuda:N"};

/// Joins names with ", " for messages: {"a", "b"} -> "a, b".
template <std::size_t N>
std::string join_names(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) (out += i ? ", " : "") += names[i];
  return out;
}

/// A device name taken apart (`train.device`, `--device`).
struct DeviceName {
  enum class Kind { kAuto, kCpu, kCuda };
  Kind kind = Kind::kAuto;
  int64_t index = 0;  ///< CUDA device index: N of `cuda:N`, 0 for `cuda`; 0 for the other kinds
};

/// Parses "auto", "cpu", "cuda" or "cuda:N" (N: decimal digits, at most INT64_MAX). Returns std::nullopt
/// for anything else. Does not ask whether the device exists (common::resolve_device does).
std::optional<DeviceName> parse_device_name(const std::string& name);

/// `data.tokenizer`: d2l's word level (split on spaces after preprocess_nmt; d2l.ai §10.5).
inline constexpr std::string_view kTokenizerWord = "word";
/// `data.tokenizer`: SentencePiece subwords trained on the training split (data::SubwordModel).
inline constexpr std::string_view kTokenizerSentencePiece = "sentencepiece";
/// Every valid `data.tokenizer`.
inline constexpr std::array<std::string_view, 2> kTokenizers{kTokenizerWord, kTokenizerSentencePiece};
/// Every valid `data.sp_model_type` (SentencePiece's unigram LM, Kudo 2018, and BPE, Sennrich et al. 2016).
inline constexpr std::array<std::string_view, 2> kSubwordModelTypes{"unigram", "bpe"};

/// A parallel corpus on disk (`data.train`, `data.valid`, `data.test`): one TSV file of `source<TAB>target`
/// lines (as fra.txt), or two line-aligned files, one sentence per line. Relative paths: to the cwd.
struct CorpusFiles {
  std::string tsv;             ///< the TSV file; empty for a pair of files
  std::string source, target;  ///< the line-aligned files; empty for a TSV file

  bool is_pair() const { return tsv.empty(); }
  /// "FILE" for a TSV file, "SOURCE + TARGET" for a pair (for logs and messages).
  std::string describe() const;
  bool operator==(const CorpusFiles& other) const {
    return tsv == other.tsv && source == other.source && target == other.target;
  }
};

/// Where the parallel corpus comes from and how it is cut into sequences (d2l.ai §10.5).
struct DataConfig {
  std::string path = "data/fra-eng/fra.txt";  ///< `source<TAB>target` lines (relative paths: to the cwd)
  std::optional<CorpusFiles> train;           ///< training corpus; null = `path`
  std::optional<CorpusFiles> valid;           ///< validation corpus; null = valid_ratio of the training corpus
  std::optional<CorpusFiles> test;            ///< test corpus; null = test_ratio of the training corpus
  std::string src_lang = "en";                ///< source language label (logs, reports)
  std::string tgt_lang = "fr";                ///< target language label
  bool lowercase = true;                      ///< lowercase both sides (d2l's preprocess_nmt)
  bool d2l_punctuation = true;                ///< d2l's space before `, . ! ?` (and no-break spaces as spaces)
  std::optional<int64_t> num_examples = 600;  ///< first N usable pairs; null = all (d2l's default: 600)
  int64_t num_steps = 10;                     ///< sequence length in tokens (words or pieces), `<eos>` included
  int64_t min_freq = 2;                       ///< word tokenizer: tokens rarer than this map to `<unk>`
  std::string tokenizer = std::string(kTokenizerWord);  ///< one of kTokenizers
  std::string sp_model_type = "unigram";      ///< one of kSubwordModelTypes
  int64_t sp_vocab_size = 8000;               ///< pieces per SentencePiece model (one joint model or one per side)
  bool sp_joint = false;                      ///< one SentencePiece model and vocabulary for both languages
  double sp_character_coverage = 1.0;         ///< characters covered by pieces; the rest are spelled as bytes
  double sp_alpha = 0.0;                      ///< subword regularisation while training (sampling α); 0 = off
  double valid_ratio = 0.0;                   ///< share of source sentences held out for validation
  double test_ratio = 0.0;                    ///< share of source sentences held out for testing
};

/// Model type and sizes. Fields that a model type does not use are ignored by it.
struct ModelConfig {
  std::string type = std::string(kModelSeq2Seq);  ///< one of kModelTypes
  int64_t embed_size = 32;         ///< GRU models: embedding width
  int64_t num_hiddens = 32;        ///< GRU state width / Transformer model width d_model
  int64_t num_layers = 2;          ///< GRU layers / Transformer encoder blocks
  int64_t num_decoder_layers = 0;  ///< Transformer decoder blocks; 0 = num_layers
  double dropout = 0.1;            ///< dropout probability in [0, 1)
  int64_t num_heads = 4;           ///< Transformer attention heads; must divide num_hiddens
  int64_t ffn_num_hiddens = 64;    ///< Transformer position-wise FFN width
  bool pre_norm = false;           ///< Transformer: LayerNorm before each sublayer (else after, as Vaswani)
  bool tie_embeddings = false;     ///< Transformer: output layer shares the target embedding matrix
};

/// Optimisation and runtime settings (d2l.ai §10.7 train_seq2seq, Vaswani et al. 2017 §5.3).
struct TrainConfig {
  int64_t batch_size = 64;               ///< sentence pairs per step (per rank in a data-parallel run)
  int64_t num_epochs = 300;              ///< passes over the training split
  double lr = 0.005;                     ///< Adam learning rate (peak rate for "inverse_sqrt" and "linear")
  std::string lr_schedule = std::string(kLrConstant);  ///< one of kLrSchedules
  int64_t warmup_steps = 4000;           ///< steps of linear warm-up for "inverse_sqrt" and "linear"
  double grad_clip = 1.0;                ///< global gradient-norm bound θ (d2l grad_clipping); 0 = off
  double label_smoothing = 0.0;          ///< label smoothing ε of the masked cross-entropy, in [0, 1)
  double max_minutes = 0.0;              ///< stop after this much training wall time (minutes); 0 = no limit
  bool bucket = false;                   ///< group sentences of similar length into batches and trim padding
  int64_t valid_bleu_sentences = 2000;   ///< valid sentences decoded for the per-epoch BLEU; 0 = all
  int64_t valid_every_steps = 0;           ///< validate every N updates as well as at epoch ends; 0 = epoch ends only
  uint64_t seed = 42;                    ///< seeds the split, the shuffles, initialisation and dropout
  std::string device = std::string(kDeviceAuto);  ///< "auto" | "cpu" | "cuda" | "cuda:N" (parse_device_name)
  int64_t num_threads = 1;               ///< LibTorch intra-op threads (OpenBLAS runs its own); 0 = LibTorch's default
  int64_t valid_beam_size = 1;           ///< beam size of the validation BLEU decoding; 1 = greedy
  double dist_timeout_s = 600;           ///< distributed runs: rendezvous and collective timeout (s)
  /// Exponential moving average of the weights, Marian's --exponential-smoothing: the weight of the current
  /// parameters in each update of the average, in [0, 1); 0 = off (see train::ema_factor).
  double ema_decay = 0.0;
  int64_t keep_checkpoints = 0;          ///< keep the last K epoch-end checkpoints as epoch_N/ (for nmt average); 0 = none
  std::string precision = std::string(kPrecisionFp32);  ///< one of kPrecisions (train/precision.h)
};

/// `decode.length_penalty`: hypotheses are ranked by their log-probability (decoding::parse_length_penalty).
inline constexpr std::string_view kPenaltyNone = "none";
/// `decode.length_penalty`: log-probability / ((5 + |y|) / 6)^alpha (Wu et al. 2016 §7; JoeyNMT's beam_alpha).
inline constexpr std::string_view kPenaltyGnmt = "gnmt";
/// `decode.length_penalty`: log-probability / |y|^alpha (fairseq's lenpen, CTranslate2's length_penalty).
inline constexpr std::string_view kPenaltyAverage = "average";
/// Every valid `decode.length_penalty`.
inline constexpr std::array<std::string_view, 3> kLengthPenalties{kPenaltyNone, kPenaltyGnmt, kPenaltyAverage};

/// How `translate` and `eval` decode by default (their flags override each key). See decoding::SearchOptions.
struct DecodeConfig {
  int64_t beam_size = 4;                      ///< hypotheses kept per sentence; 1 = greedy search
  std::string length_penalty = std::string(kPenaltyGnmt);  ///< one of kLengthPenalties
  double alpha = 1.0;                         ///< length-penalty exponent
  int64_t min_len = 0;                        ///< output tokens before `<eos>` may be chosen
  double max_len_a = 2.0;                     ///< maximum output tokens = max_len_a · source tokens + max_len_b
  int64_t max_len_b = 10;
  int64_t max_len = 0;                        ///< absolute cap on output tokens; 0 = none
  int64_t batch_size = 128;                   ///< sentences decoded together
};

/// A whole run configuration.
struct Config {
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  DecodeConfig decode;

  /// All fields, defaults filled in (what a run directory's config.json holds): {"data": {...},
  /// "model": {...}, "train": {...}, "decode": {...}} with one member per key of describe_keys().
  nlohmann::json to_json() const;
  /// Reads `json` on top of the defaults. `source` (a file name) starts every message.
  /// Throws std::invalid_argument naming the key for an unknown key (with the closest valid one),
  /// a wrong type, or a value out of range (validate() is called).
  static Config from_json(const nlohmann::json& json, const std::string& source);
  /// Checks every key's rule (range, choices; reals must be finite) and the cross-field rules
  /// (valid_ratio + test_ratio < 1; num_heads divides num_hiddens for the Transformer).
  /// Throws std::invalid_argument `config key "section.key" = VALUE is out of range: must be ...`
  /// (or `... is unknown; valid: ...` for a name).
  void validate() const;
};

/// Parses a JSON config file. Throws std::runtime_error when the file can't be read and
/// std::invalid_argument for malformed JSON (with line and column) or bad keys/values.
Config load_config(const std::string& path);

/// Levenshtein distance in bytes; used to suggest the closest valid key.
std::size_t edit_distance(const std::string& a, const std::string& b);

/// One config key as `nmt config --describe` shows it, taken from the field tables.
struct KeyDoc {
  std::string section;        ///< "data", "model" or "train"
  std::string key;            ///< "section.field", e.g. "train.lr"
  std::string rule;           ///< JSON type and range, e.g. "int >= 1", "int >= 1 or null", "real in [0, 1)", "string"
  std::string default_value;  ///< the default as JSON text (what to_json writes), e.g. "0.005", "\"seq2seq\""
  std::string doc;            ///< one line: meaning and units
  std::vector<std::string> choices;  ///< the valid names of an enumerated key (e.g. kModelTypes); else empty
};

/// Every key, section by section (data, model, train, decode), each in its table's order.
std::vector<KeyDoc> describe_keys();

/// `nmt config --describe`: every key with its type and rule, default and meaning, grouped by section.
/// Plain text, one line per key plus a heading per section; ends with a newline.
std::string describe_text();

/// `nmt config --describe --markdown`: README's key table, `| key | default | meaning |`, one row per key;
/// ends with a newline.
std::string describe_markdown();

}  // namespace nmt::common
