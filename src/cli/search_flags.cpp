#include "cli/search_flags.h"

#include <stdexcept>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace nmt::cli {

void add_search_flags(CLI::App& app, SearchFlags& flags) {
  const std::vector<std::string> penalties(common::kLengthPenalties.begin(), common::kLengthPenalties.end());
  app.add_option("--beam-size", flags.beam_size,
                 "Hypotheses kept per sentence; 1 = greedy search (default: the checkpoint's decode.beam_size)")
      ->check(CLI::PositiveNumber);
  app.add_option("--length-penalty", flags.length_penalty,
                 "Rank finished hypotheses by log-prob / ((5+len)/6)^alpha (gnmt, Wu et al. 2016), / len^alpha "
                 "(average, fairseq) or log-prob (none) (default: decode.length_penalty)")
      ->check(CLI::IsMember(penalties));
  app.add_option("--alpha", flags.alpha, "Length-penalty exponent (default: decode.alpha)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--min-len", flags.min_len, "Output tokens before <eos> is allowed (default: decode.min_len)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-len-a", flags.max_len_a,
                 "At most max_len_a * source tokens + max_len_b output tokens (default: decode.max_len_a)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-len-b", flags.max_len_b, "See --max-len-a (default: decode.max_len_b)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-len", flags.max_len, "Absolute cap on output tokens; 0 = none (default: decode.max_len)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--batch-size", flags.batch_size, "Sentences decoded together (default: decode.batch_size)")
      ->check(CLI::PositiveNumber);
}

std::string length_penalty_name(decoding::LengthPenalty penalty) {
  switch (penalty) {
    case decoding::LengthPenalty::kNone: return std::string(common::kPenaltyNone);
    case decoding::LengthPenalty::kGnmt: return std::string(common::kPenaltyGnmt);
    case decoding::LengthPenalty::kAverage: return std::string(common::kPenaltyAverage);
  }
  throw std::invalid_argument("unknown length penalty");
}

decoding::TranslateOptions translate_options(const common::DecodeConfig& decode, const SearchFlags& flags) {
  decoding::TranslateOptions options;
  options.search = decoding::search_options(decode);
  options.batch_size = decode.batch_size;
  decoding::SearchOptions& s = options.search;
  if (flags.beam_size) s.beam_size = *flags.beam_size;
  if (flags.length_penalty) {
    try {
      s.length_penalty = decoding::parse_length_penalty(*flags.length_penalty);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("--length-penalty: ") + e.what());
    }
  }
  if (flags.alpha) s.alpha = *flags.alpha;
  if (flags.min_len) s.min_len = *flags.min_len;
  if (flags.max_len_a) s.max_len_a = *flags.max_len_a;
  if (flags.max_len_b) s.max_len_b = *flags.max_len_b;
  if (flags.max_len) s.max_len = *flags.max_len;
  if (flags.batch_size) options.batch_size = *flags.batch_size;
  // The flag's range checks ran at parsing; what is left are values of the config and the one cross rule.
  if (s.max_len_a == 0 && s.max_len_b == 0)
    throw std::invalid_argument("--max-len-a 0 and --max-len-b 0 (or decode.max_len_a and decode.max_len_b) allow "
                                "no output token: make one of them > 0");
  if (options.batch_size < 1)
    throw std::invalid_argument("--batch-size " + std::to_string(options.batch_size) + " must be >= 1");
  s.validate();
  return options;
}

nlohmann::json decode_json(const decoding::TranslateOptions& options) {
  const decoding::SearchOptions& s = options.search;
  return {{"beam_size", s.beam_size}, {"length_penalty", length_penalty_name(s.length_penalty)},
          {"alpha", s.alpha},         {"min_len", s.min_len},
          {"max_len_a", s.max_len_a}, {"max_len_b", s.max_len_b},
          {"max_len", s.max_len},     {"batch_size", options.batch_size}};
}

}  // namespace nmt::cli
