#pragma once
// The search flags shared by `nmt translate` and `nmt eval`: registration, merging with a checkpoint's `decode`
// config section, and the record of the options used (eval's JSON report).

#include <nlohmann/json_fwd.hpp>

#include "cli/commands.h"
#include "common/config.h"
#include "decoding/translator.h"

namespace nmt::cli {

/// Registers `--beam-size --length-penalty --alpha --min-len --max-len-a --max-len-b --max-len --batch-size` on
/// `app`, filling `flags` when it parses; each says that its default comes from the checkpoint's `decode` section.
/// CLI11 rejects values out of range (exit 2, naming the flag). Never throws.
void add_search_flags(CLI::App& app, SearchFlags& flags);

/// The options of a search: the checkpoint config's `decode` section (decoding::search_options), each flag that
/// was given replacing its key. n_best 1, no scores, no attention (the caller sets those).
/// Throws std::invalid_argument naming the flag or config key for an unknown length penalty or a value out of
/// range (e.g. `--max-len-a 0 --max-len-b 0`, which allow no output).
decoding::TranslateOptions translate_options(const common::DecodeConfig& decode, const SearchFlags& flags);

/// "none", "gnmt" or "average" (the config and flag name of a LengthPenalty).
std::string length_penalty_name(decoding::LengthPenalty penalty);

/// `{"beam_size", "length_penalty", "alpha", "min_len", "max_len_a", "max_len_b", "max_len", "batch_size"}` of
/// `options`, as the `decode` config section names them (eval's report records what it decoded with).
nlohmann::json decode_json(const decoding::TranslateOptions& options);

}  // namespace nmt::cli
