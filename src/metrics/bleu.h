#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nmt::metrics {

/// Per-sentence BLEU exactly as d2l.ai defines it (section 10.7, `d2l.bleu(pred_seq, label_seq, k)`).
///
/// Both strings are split on the single character ' ' (Python `str.split(' ')`, so consecutive spaces yield
/// empty tokens, just like the book). With len_pred/len_label the token counts:
///   score = exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..min(k, len_pred)} p_n^(0.5^n),
/// where p_n = (clipped n-gram matches) / (len_pred - n + 1) and a label n-gram can be matched at most as many
/// times as it occurs in the label.
///
/// Edge cases (documented choices):
///  - empty prediction ("") -> 0. (Python's `"".split(' ')` gives one empty token; we treat "no output" as 0.)
///  - n > len_pred: the order is skipped, as in the book's loop `range(1, min(k, len_pred) + 1)`; Python never
///    divides by zero there. E.g. pred "a" vs label "a b" scores exp(1 - 2) = 0.368 for any k >= 1.
///  - k <= 0: no precision factor, only the brevity penalty (as the book's loop would do).
/// @return a value in [0, 1]. Never throws.
double d2l_bleu(const std::string& pred, const std::string& label, int k = 2);

/// sacreBLEU's "13a" tokenizer (Tokenizer13a, equivalent to mteval-v13a.pl), applied to one line.
///
/// Steps, in order: remove "<skipped>"; remove "-\n"; "\n" -> " "; unescape &quot; &amp; &lt; &gt; (one pass
/// each, in that order); pad with one space on each side; then the four regex substitutions of sacreBLEU's
/// TokenizerRegexp (ASCII punctuation other than ' - . , is split off; '.' and ',' are split off unless both
/// neighbours are digits, following the two-pass regex semantics; '-' is split off after a digit); finally the
/// result is split on (Unicode) whitespace like Python's `str.split()`.
/// Implemented by hand-written scanning equivalent to the regexes (works on UTF-8 bytes; all patterns are ASCII).
/// Note: sacreBLEU's BLEU also right-strips the line before tokenizing; that is done in BleuStats::add, not here.
/// @return the tokens (no empty strings). Never throws.
std::vector<std::string> tokenize_13a(const std::string& line);

/// Corpus BLEU-4 sufficient statistics accumulated sentence by sentence, as sacreBLEU 2.x does
/// (BLEU._compute_segment_statistics with a single reference): for each order n = 1..4, total[n-1] counts the
/// hypothesis n-grams and correct[n-1] the hypothesis n-grams clipped by their reference counts; sys_len and
/// ref_len are token counts. All are summed over the corpus.
struct BleuStats {
  std::array<int64_t, 4> correct{};
  std::array<int64_t, 4> total{};
  int64_t sys_len = 0;
  int64_t ref_len = 0;

  /// Adds one segment. Both strings are right-stripped (Python `rstrip()`) then tokenized with tokenize_13a
  /// (case-sensitive, like sacreBLEU's default). Never throws (except std::bad_alloc).
  void add(const std::string& hypothesis, const std::string& reference);
  /// Adds one segment with several references, as sacreBLEU 2.x does (BLEU._extract_reference_info and
  /// _compute_segment_statistics): a hypothesis n-gram is clipped by its largest count in any one reference, and
  /// ref_len grows by the reference length closest to the hypothesis length (the shorter one on a tie).
  /// Throws std::invalid_argument when `references` is empty.
  void add(const std::string& hypothesis, const std::vector<std::string>& references);
};

/// Result of a corpus BLEU computation (sacreBLEU's BLEUScore). score and precisions are in 0..100.
struct CorpusBleu {
  double score = 0;
  std::array<double, 4> precisions{};
  double brevity_penalty = 0;
  int64_t sys_len = 0;
  int64_t ref_len = 0;
  int64_t sentences = 0;

  /// JSON object with keys: bleu, precisions (array of 4), brevity_penalty, sys_len, ref_len, sentences.
  nlohmann::json to_json() const;
};

/// sacreBLEU 2.x BLEU.compute_bleu with corpus_bleu's defaults (smooth_method="exp", effective_order=False,
/// max order 4). Brevity penalty: 1 if sys_len >= ref_len, 0 if sys_len == 0 < ref_len, else exp(1 - ref/sys).
/// If no n-gram of any order matched, score and precisions are 0 (sacreBLEU issue #141). Otherwise
/// p_n = 100 * correct/total, or with exp smoothing when correct == 0: smooth *= 2, p_n = 100 / (smooth * total);
/// the loop stops at the first order with total == 0 (its precision and the later ones stay 0);
/// score = bp * exp(mean over the 4 orders of log p_n), with log(0) taken as -9999999999.
/// @param sentences only copied into the result. Never throws.
CorpusBleu compute_bleu(const BleuStats& stats, int64_t sentences);

/// sacreBLEU `corpus_bleu(hypotheses, [references])` with default options (13a tokenizer, exp smoothing, mixed case).
/// @throws std::invalid_argument when the two vectors differ in size (the message gives both counts).
CorpusBleu corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);

/// sacreBLEU `corpus_bleu(hypotheses, ref_streams)` with several references per segment: `references[i]` holds
/// every reference of hypothesis i (their number may vary, as sacreBLEU allows with None entries).
/// @throws std::invalid_argument when the sizes differ or a segment has no reference (naming the segment).
CorpusBleu corpus_bleu_multi(const std::vector<std::string>& hypotheses,
                             const std::vector<std::vector<std::string>>& references);

/// Mean of d2l_bleu(hypotheses[i], references[i], k) over all pairs, in 0..1; 0 for empty input.
/// @throws std::invalid_argument when the two vectors differ in size (the message gives both counts).
double mean_d2l_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
                     int k = 2);

}  // namespace nmt::metrics
