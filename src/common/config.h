#pragma once
// Typed configuration of a run: data, model and training settings, read from JSON with strict checking.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace nmt::common {

/// Where the parallel corpus comes from and how it is cut into sequences (d2l.ai §10.5).
struct DataConfig {
  std::string path = "data/fra-eng/fra.txt";  ///< `English<TAB>French` lines (relative paths: to the cwd)
  std::optional<int64_t> num_examples = 600;  ///< first N usable pairs; null = all (d2l's default: 600)
  int64_t num_steps = 10;                     ///< sequence length in tokens, `<eos>` included
  int64_t min_freq = 2;                       ///< tokens rarer than this map to `<unk>`
  double valid_ratio = 0.0;                   ///< share of English sentences held out for validation
  double test_ratio = 0.0;                    ///< share of English sentences held out for testing
};

/// Model type and sizes. Fields that a model type does not use are ignored by it.
struct ModelConfig {
  std::string type = "seq2seq";    ///< "seq2seq" | "seq2seq_attention" | "transformer"
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
  int64_t batch_size = 64;               ///< sentence pairs per step
  int64_t num_epochs = 300;              ///< passes over the training split
  double lr = 0.005;                     ///< Adam learning rate (peak rate for "inverse_sqrt")
  std::string lr_schedule = "constant";  ///< "constant" | "inverse_sqrt" (warm-up, then step^-0.5)
  int64_t warmup_steps = 4000;           ///< steps of linear warm-up for "inverse_sqrt"
  double grad_clip = 1.0;                ///< global gradient-norm bound θ (d2l grad_clipping); 0 = off
  double label_smoothing = 0.0;          ///< label smoothing ε of the masked cross-entropy, in [0, 1)
  double max_minutes = 0.0;              ///< stop after this much training wall time (minutes); 0 = no limit
  bool bucket = false;                   ///< group sentences of similar length into batches and trim padding
  int64_t valid_bleu_sentences = 2000;   ///< valid sentences decoded for the per-epoch BLEU; 0 = all
  int64_t valid_every_steps = 0;           ///< validate every N updates as well as at epoch ends; 0 = epoch ends only
  uint64_t seed = 42;                    ///< seeds the split, the shuffles, initialisation and dropout
  std::string device = "auto";           ///< "auto" | "cpu" | "cuda" | "cuda:N"
  int64_t num_threads = 1;               ///< LibTorch intra-op threads (OpenBLAS runs its own); 0 = LibTorch's default
};

/// A whole run configuration.
struct Config {
  DataConfig data;
  ModelConfig model;
  TrainConfig train;

  /// All fields, defaults filled in (what a run directory's config.json holds).
  nlohmann::json to_json() const;
  /// Reads `json` on top of the defaults. `source` (a file name) is used in messages.
  /// Throws std::invalid_argument naming the key for an unknown key (with the closest valid one),
  /// a wrong type, or a value out of range (validate() is called).
  static Config from_json(const nlohmann::json& json, const std::string& source);
  /// Checks ranges and cross-field rules. Throws std::invalid_argument naming key and value.
  void validate() const;
};

/// Parses a JSON config file. Throws std::runtime_error when the file can't be read and
/// std::invalid_argument for malformed JSON (with line and column) or bad keys/values.
Config load_config(const std::string& path);

/// Levenshtein distance in bytes; used to suggest the closest valid key.
std::size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace nmt::common
