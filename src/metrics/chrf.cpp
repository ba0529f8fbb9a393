#include "metrics/chrf.h"

#include <algorithm>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "metrics/text.h"

namespace nmt::metrics {
namespace {

using Counts = std::unordered_map<std::string, int64_t>;

/// Python's string.punctuation (sacreBLEU's CHRF._PUNCTS).
bool is_punctuation(std::string_view code_point) {
  static constexpr std::string_view kPuncts = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  return code_point.size() == 1 && kPuncts.find(code_point[0]) != std::string_view::npos;
}

/// Byte offsets of the code points of `s`, with s.size() appended.
std::vector<std::size_t> code_point_starts(std::string_view s) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < s.size(); i = next_code_point(s, i)) starts.push_back(i);
  starts.push_back(s.size());
  return starts;
}

/// sacreBLEU's _remove_punctuation: the whitespace-split words, with one punctuation mark split off the end (or
/// else the start) of each word of two or more code points.
std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& w : split_whitespace(text)) {
    const std::vector<std::size_t> cp = code_point_starts(w);
    const std::size_t n = cp.size() - 1;
    if (n == 1) {
      out.push_back(w);
      continue;
    }
    const std::string_view last = std::string_view(w).substr(cp[n - 1]);
    const std::string_view first = std::string_view(w).substr(0, cp[1]);
    if (is_punctuation(last)) {
      out.emplace_back(w.substr(0, cp[n - 1]));
      out.emplace_back(last);
    } else if (is_punctuation(first)) {
      out.emplace_back(first);
      out.emplace_back(w.substr(cp[1]));
    } else {
      out.push_back(w);
    }
  }
  return out;
}

/// Character n-gram counts of orders 1..max_order of `text` with whitespace removed, one map per order.
std::vector<Counts> char_ngrams(const std::string& text, int max_order) {
  std::string joined;
  for (const auto& piece : split_whitespace(text)) joined += piece;
  const std::vector<std::size_t> cp = code_point_starts(joined);
  const std::size_t n = cp.size() - 1;
  std::vector<Counts> counts(static_cast<std::size_t>(max_order));
  for (std::size_t order = 1; order <= static_cast<std::size_t>(max_order); ++order)
    for (std::size_t i = 0; i + order <= n; ++i) ++counts[order - 1][joined.substr(cp[i], cp[i + order] - cp[i])];
  return counts;
}

/// Word n-gram counts of orders 1..max_order (n-grams keyed by their words joined with ' ').
std::vector<Counts> word_ngrams(const std::vector<std::string>& words, int max_order) {
  std::vector<Counts> counts(static_cast<std::size_t>(max_order));
  for (std::size_t order = 1; order <= static_cast<std::size_t>(max_order); ++order)
    for (std::size_t i = 0; i + order <= words.size(); ++i) {
      std::string key = words[i];
      for (std::size_t k = 1; k < order; ++k) key += ' ' + words[i + k];
      ++counts[order - 1][key];
    }
  return counts;
}

int64_t total(const Counts& c) {
  int64_t sum = 0;
  for (const auto& [gram, count] : c) sum += count;
  return sum;
}

}  // namespace

ChrfStats::ChrfStats(int char_order_, int word_order_) : char_order(char_order_), word_order(word_order_) {
  if (char_order < 1 || word_order < 0)
    throw std::invalid_argument("chrF needs char_order >= 1 and word_order >= 0 (got " + std::to_string(char_order) +
                                ", " + std::to_string(word_order) + ")");
  counts.assign(static_cast<std::size_t>(3 * (char_order + word_order)), 0);
}

void ChrfStats::add(const std::string& hypothesis, const std::string& reference) {
  add(hypothesis, std::vector<std::string>{reference});
}

void ChrfStats::add(const std::string& hypothesis, const std::vector<std::string>& references, double beta) {
  if (references.empty()) throw std::invalid_argument("ChrfStats::add: a segment needs at least one reference");
  std::vector<Counts> hyp = char_ngrams(hypothesis, char_order);
  if (word_order > 0)
    for (auto& c : word_ngrams(words_of(hypothesis), word_order)) hyp.push_back(std::move(c));
  std::vector<int64_t> hyp_totals;
  for (const auto& c : hyp) hyp_totals.push_back(total(c));

  ChrfStats best(char_order, word_order), candidate(char_order, word_order);
  double best_score = -1;
  for (const std::string& reference : references) {
    std::vector<Counts> ref = char_ngrams(reference, char_order);
    if (word_order > 0)
      for (auto& c : word_ngrams(words_of(reference), word_order)) ref.push_back(std::move(c));
    for (std::size_t order = 0; order < hyp.size(); ++order) {
      int64_t matches = 0;
      for (const auto& [gram, count] : hyp[order]) {
        const auto it = ref[order].find(gram);
        if (it != ref[order].end()) matches += std::min(count, it->second);
      }
      candidate.counts[3 * order] = ref[order].empty() ? 0 : hyp_totals[order];
      candidate.counts[3 * order + 1] = total(ref[order]);
      candidate.counts[3 * order + 2] = matches;
    }
    const double score = references.size() == 1 ? 0.0 : compute_chrf(candidate, beta, 1).score;
    if (score > best_score) {
      best_score = score;
      std::swap(best.counts, candidate.counts);
    }
  }
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += best.counts[i];
}

std::string Chrf::name() const {
  std::string n = "chrF";
  n += beta == static_cast<int>(beta) ? std::to_string(static_cast<int>(beta)) : std::to_string(beta);
  return n + std::string(static_cast<std::size_t>(word_order), '+');
}

nlohmann::json Chrf::to_json() const {
  return nlohmann::json{{"score", score},
                        {"char_order", char_order},
                        {"word_order", word_order},
                        {"beta", beta},
                        {"sentences", sentences}};
}

Chrf compute_chrf(const ChrfStats& stats, double beta, int64_t sentences) {
  Chrf c;
  c.char_order = stats.char_order;
  c.word_order = stats.word_order;
  c.beta = beta;
  c.sentences = sentences;
  const double factor = beta * beta;
  double precision = 0, recall = 0;
  int effective_order = 0;
  for (std::size_t i = 0; 3 * i < stats.counts.size(); ++i) {
    const int64_t hyp = stats.counts[3 * i], ref = stats.counts[3 * i + 1], match = stats.counts[3 * i + 2];
    if (hyp > 0 && ref > 0) {
      precision += static_cast<double>(match) / static_cast<double>(hyp);
      recall += static_cast<double>(match) / static_cast<double>(ref);
      ++effective_order;
    }
  }
  if (effective_order > 0) {
    precision /= effective_order;
    recall /= effective_order;
  }
  if (precision + recall > 0)
    c.score = 100 * (1 + factor) * precision * recall / (factor * precision + recall);
  return c;
}

Chrf corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
                 int word_order, int char_order, double beta) {
  if (hypotheses.size() != references.size())
    throw std::invalid_argument("corpus_chrf: " + std::to_string(hypotheses.size()) + " hypotheses but " +
                                std::to_string(references.size()) + " references");
  ChrfStats stats(char_order, word_order);
  for (std::size_t i = 0; i < hypotheses.size(); ++i) stats.add(hypotheses[i], references[i]);
  return compute_chrf(stats, beta, static_cast<int64_t>(hypotheses.size()));
}

Chrf corpus_chrf_multi(const std::vector<std::string>& hypotheses,
                       const std::vector<std::vector<std::string>>& references, int word_order, int char_order,
                       double beta) {
  if (hypotheses.size() != references.size())
    throw std::invalid_argument("corpus_chrf_multi: " + std::to_string(hypotheses.size()) + " hypotheses but " +
                                std::to_string(references.size()) + " references");
  ChrfStats stats(char_order, word_order);
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    if (references[i].empty())
      throw std::invalid_argument("corpus_chrf_multi: segment " + std::to_string(i + 1) + " has no reference");
    stats.add(hypotheses[i], references[i], beta);
  }
  return compute_chrf(stats, beta, static_cast<int64_t>(hypotheses.size()));
}

}  // namespace nmt::metrics
