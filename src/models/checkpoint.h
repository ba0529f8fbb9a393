#pragma once
// Loading a trained model for inference (`nmt translate`, `nmt eval`) from a checkpoint directory, without
// the trainer. A checkpoint is nmt's own layout: one directory that holds everything decoding needs, plus the
// optimiser and RNG state that only `nmt train --resume` reads (see train/checkpoint.h, which writes it):
//
//   DIR/model.pt       weights, a torch::serialize::OutputArchive keyed by the registered parameter names
//   DIR/ema.pt         the exponential moving average of the weights (train.ema_decay > 0), keyed alike
//   DIR/config.json    the resolved config (common::Config) the model was built from
//   DIR/src_vocab.txt  DIR/tgt_vocab.txt   the vocabularies (data::Vocab::save)
//   DIR/src_spm.model  DIR/tgt_spm.model   the SentencePiece models of a subword run (data.tokenizer)
//   DIR/state.json     training progress (epoch, step, ...), informational for inference
//   DIR/optimizer.pt   DIR/rng.pt          optimiser and CPU generator state (training only)
//   DIR/rng_rank{R}.pt                     CPU generator state of rank R >= 1 of a distributed run
//
// A run directory holds the checkpoints `latest/` and `best/`.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "data/tokenizer.h"
#include "data/vocab.h"
#include "models/seq2seq.h"

namespace nmt::models {

/// Maps a run directory to its `best` checkpoint (to `latest`, with a warning, before the first validation has
/// written `best/`) and a checkpoint directory to itself.
/// When a kill interrupted a checkpoint swap, the surviving `DIR.old` is renamed back first
/// (common::recover_directory). Throws std::runtime_error naming the path when neither holds a model.pt.
std::string resolve_checkpoint_dir(const std::string& path);

/// Loads model weights from `file` (a checkpoint's model.pt) into `model`, on `device`, and checks every
/// parameter's and buffer's shape against the model as built.
/// Throws std::runtime_error naming the file for a missing, truncated or corrupted file, and naming the file,
/// the tensor and both shapes when the checkpoint was saved with other sizes (a data error: exit code 1).
void load_weights(Seq2SeqModelImpl& model, const std::string& file, const c10::Device& device);

/// Everything needed to use a trained model.
struct LoadedCheckpoint {
  std::string dir;          ///< the checkpoint directory actually read (after resolve_checkpoint_dir)
  common::Config config;    ///< DIR/config.json
  data::Vocab src_vocab;    ///< DIR/src_vocab.txt
  data::Vocab tgt_vocab;    ///< DIR/tgt_vocab.txt
  data::Tokenizer src_tokenizer;  ///< word level, or DIR/src_spm.model (config.data.tokenizer)
  data::Tokenizer tgt_tokenizer;  ///< word level, or DIR/tgt_spm.model
  Seq2SeqModel model;       ///< built by make_model from `config` and the vocabulary sizes, on the device, eval mode
  nlohmann::json state;     ///< DIR/state.json as saved (an object; empty when the file is absent)
  int64_t epoch = 0;        ///< state["epoch"]: completed training epochs (0 without state.json)
  int64_t step = 0;         ///< state["step"]: optimiser steps taken (0 without state.json)
  std::string weights = "raw";  ///< "ema" when `model` holds DIR/ema.pt, "raw" for DIR/model.pt
};

/// Loads config, vocabularies, tokenizers, model (moved to `device`, in eval mode) and training progress from a run or
/// checkpoint directory (see resolve_checkpoint_dir). The model gets the EMA weights (DIR/ema.pt) when the
/// checkpoint has them and `use_ema`, else the raw weights (DIR/model.pt). A checkpoint is data, not user input: every failure is a
/// std::runtime_error (exit code 1) naming the file, and the key or tensor at fault: a missing or corrupted
/// file (a SentencePiece model included), a config.json that common::load_config rejects, a malformed state.json (not JSON, not an object, or
/// `epoch`/`step` missing or not integers), weights of other shapes (load_weights).
LoadedCheckpoint load_checkpoint(const std::string& path, const c10::Device& device, bool use_ema = true);

}  // namespace nmt::models
