#pragma once
// chrF and chrF++ (Popović 2015, 2017) as sacreBLEU 2.6 computes them (sacrebleu/metrics/chrf.py, its defaults:
// character n-grams up to 6, beta 2, whitespace not counted, no eps smoothing).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace nmt::metrics {

/// Corpus statistics of chrF: for each order (character orders 1..char_order, then word orders 1..word_order)
/// the hypothesis n-grams, the reference n-grams and their clipped matches, summed over segments.
struct ChrfStats {
  int char_order = 6;  ///< character n-gram orders (sacreBLEU's nc)
  int word_order = 0;  ///< word n-gram orders (nw): 0 = chrF, 2 = chrF++
  std::vector<int64_t> counts;  ///< [3 * (char_order + word_order)]: hyp, ref, match per order

  /// Throws std::invalid_argument unless char_order >= 1 and word_order >= 0.
  ChrfStats(int char_order, int word_order);
  /// Adds one segment: character n-grams of the text with all whitespace (Python str.isspace) removed, counted
  /// by code point; word n-grams of the whitespace-split words, each word of 2+ code points split once into
  /// (word without its last character, last character) when that character is ASCII punctuation, else into
  /// (first character, rest) when the first one is (sacreBLEU's _remove_punctuation). Case-sensitive. An order
  /// with no reference n-gram counts no hypothesis n-grams either (sacreBLEU's _get_match_statistics).
  /// Never throws except std::bad_alloc.
  void add(const std::string& hypothesis, const std::string& reference);
  /// Adds one segment with several references: the statistics against the reference whose sentence-level
  /// chrF (compute_chrf of that segment alone) is highest, the first one on a tie (sacreBLEU's
  /// CHRF._compute_segment_statistics). Throws std::invalid_argument when `references` is empty.
  void add(const std::string& hypothesis, const std::vector<std::string>& references, double beta = 2);
};

/// A corpus chrF score.
struct Chrf {
  double score = 0;     ///< 0..100
  int char_order = 6;
  int word_order = 0;
  double beta = 2;
  int64_t sentences = 0;
  /// "chrF2" or "chrF2++" (sacreBLEU's name for word_order 0 / 2 with beta 2).
  std::string name() const;
  /// {"score", "char_order", "word_order", "beta", "sentences"}.
  nlohmann::json to_json() const;
};

/// sacreBLEU 2.x CHRF._compute_f_score on summed statistics: for every order with hyp and ref counts > 0,
/// precision = match / hyp and recall = match / ref are averaged over those orders (effective order); then
/// F_beta = (1 + beta²) P R / (beta² P + R) × 100, or 0 when P + R = 0. Never throws.
Chrf compute_chrf(const ChrfStats& stats, double beta, int64_t sentences);

/// sacreBLEU `corpus_chrf(hypotheses, [references], word_order=word_order)`: statistics summed over segments, one
/// reference each. Throws std::invalid_argument when the vectors differ in size (the message gives both counts).
Chrf corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
                 int word_order = 0, int char_order = 6, double beta = 2);

/// corpus_chrf with several references per segment: `references[i]` holds every reference of hypothesis i (their
/// number may vary). Throws std::invalid_argument when the sizes differ or a segment has no reference.
Chrf corpus_chrf_multi(const std::vector<std::string>& hypotheses,
                       const std::vector<std::vector<std::string>>& references, int word_order = 0,
                       int char_order = 6, double beta = 2);

}  // namespace nmt::metrics
