#include "metrics/bleu.h"

#include "metrics/text.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace nmt::metrics {
namespace {

constexpr int kMaxOrder = 4;
// sacreBLEU's my_log(0).
constexpr double kLogZero = -9999999999.0;

/// Replaces every non-overlapping occurrence of `from` (left to right) by `to`, like Python's str.replace.
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  size_t pos = s.find(from);
  if (pos == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t start = 0;
  while (pos != std::string::npos) {
    out.append(s, start, pos - start);
    out.append(to);
    start = pos + from.size();
    pos = s.find(from, start);
  }
  out.append(s, start, std::string::npos);
  s.swap(out);
}


bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_period_comma(char c) { return c == '.' || c == ','; }

/// Character class of sacreBLEU's first regex: [\{-\~\[-\` -\&\(-\+\:-\@\/], i.e. all printable ASCII
/// punctuation plus space, except ' - . , (and of course letters and digits).
bool is_split_punct(char c) {
  return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') || (c >= '(' && c <= '+') ||
         (c >= ':' && c <= '@') || c == '/';
}

/// One non-overlapping left-to-right pass of a two-character regex (c1)(c2) -> replacement, like re.sub.
template <typename First, typename Second, typename Emit>
std::string regex_pair_pass(const std::string& s, First first, Second second, Emit emit) {
  std::string out;
  out.reserve(s.size() + s.size() / 2 + 4);
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    if (i + 1 < n && first(s[i]) && second(s[i + 1])) {
      emit(out, s[i], s[i + 1]);
      i += 2;
    } else {
      out.push_back(s[i]);
      ++i;
    }
  }
  return out;
}

/// Token boundaries of a whitespace-joined token list, to build n-gram keys as string_views without copies.
struct JoinedTokens {
  std::string text;               // tokens joined by ' '
  std::vector<size_t> begin, end;  // byte offsets of each token in `text`

  explicit JoinedTokens(const std::vector<std::string>& tokens) {
    size_t total = 0;
    for (const auto& t : tokens) total += t.size() + 1;
    text.reserve(total);
    begin.reserve(tokens.size());
    end.reserve(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) text.push_back(' ');
      begin.push_back(text.size());
      text += tokens[i];
      end.push_back(text.size());
    }
  }
  size_t size() const { return begin.size(); }
  /// The n tokens starting at i, joined by ' ' (unique key because tokens never contain ' ').
  std::string_view ngram(size_t i, size_t n) const {
    return std::string_view(text).substr(begin[i], end[i + n - 1] - begin[i]);
  }
};

/// Python str.split(' '): every single space separates, empty pieces are kept.
std::vector<std::string> split_on_space(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(' ', start);
    if (pos == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

void check_sizes(size_t hyps, size_t refs, const char* what) {
  if (hyps != refs) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(hyps) + " hypotheses but " +
                                std::to_string(refs) + " references");
  }
}

}  // namespace

double d2l_bleu(const std::string& pred, const std::string& label, int k) {
  if (pred.empty()) return 0.0;
  // Keys are joined with ' '; tokens from split(' ') never contain ' ', and for a fixed n the n-gram text
  // (with exactly n - 1 separators) identifies the token sequence, just like the book's ' '.join keys.
  const JoinedTokens p(split_on_space(pred));
  const JoinedTokens l(split_on_space(label));
  const auto len_pred = static_cast<int64_t>(p.size());
  const auto len_label = static_cast<int64_t>(l.size());
  double score = std::exp(std::min(0.0, 1.0 - static_cast<double>(len_label) / static_cast<double>(len_pred)));
  const int64_t max_n = std::min<int64_t>(k, len_pred);
  std::unordered_map<std::string_view, int64_t> label_subs;
  for (int64_t n = 1; n <= max_n; ++n) {
    label_subs.clear();
    for (int64_t i = 0; i + n <= len_label; ++i) ++label_subs[l.ngram(i, n)];
    int64_t num_matches = 0;
    for (int64_t i = 0; i + n <= len_pred; ++i) {
      auto it = label_subs.find(p.ngram(i, n));
      if (it != label_subs.end() && it->second > 0) {
        ++num_matches;
        --it->second;
      }
    }
    score *= std::pow(static_cast<double>(num_matches) / static_cast<double>(len_pred - n + 1),
                      std::pow(0.5, static_cast<double>(n)));
  }
  return score;
}

std::vector<std::string> tokenize_13a(const std::string& line) {
  std::string s = line;
  replace_all(s, "<skipped>", "");
  replace_all(s, "-\n", "");
  std::replace(s.begin(), s.end(), '\n', ' ');
  if (s.find('&') != std::string::npos) {
    replace_all(s, "&quot;", "\"");
    replace_all(s, "&amp;", "&");
    replace_all(s, "&lt;", "<");
    replace_all(s, "&gt;", ">");
  }

  // Regex 1: ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 ", applied to " " + line + " ".
  std::string t;
  t.reserve(s.size() * 2 + 2);
  t.push_back(' ');
  for (char c : s) {
    if (is_split_punct(c)) {
      t.push_back(' ');
      t.push_back(c);
      t.push_back(' ');
    } else {
      t.push_back(c);
    }
  }
  t.push_back(' ');

  // The remaining patterns only involve ASCII, so byte-wise scanning gives the same matches as Python's
  // code-point regexes ([^0-9] next to '.'/',' always falls on a whole code point's boundary byte).
  auto not_digit = [](char c) { return !is_digit(c); };
  // Regex 2: ([^0-9])([\.,]) -> "\1 \2 ".
  t = regex_pair_pass(t, not_digit, is_period_comma, [](std::string& out, char a, char b) {
    out.push_back(a);
    out.push_back(' ');
    out.push_back(b);
    out.push_back(' ');
  });
  // Regex 3: ([\.,])([^0-9]) -> " \1 \2".
  t = regex_pair_pass(t, is_period_comma, not_digit, [](std::string& out, char a, char b) {
    out.push_back(' ');
    out.push_back(a);
    out.push_back(' ');
    out.push_back(b);
  });
  // Regex 4: ([0-9])(-) -> "\1 \2 ".
  t = regex_pair_pass(t, is_digit, [](char c) { return c == '-'; }, [](std::string& out, char a, char b) {
    out.push_back(a);
    out.push_back(' ');
    out.push_back(b);
    out.push_back(' ');
  });
  return split_whitespace(t);
}

void BleuStats::add(const std::string& hypothesis, const std::string& reference) {
  add(hypothesis, std::vector<std::string>{reference});
}

void BleuStats::add(const std::string& hypothesis, const std::vector<std::string>& references) {
  if (references.empty()) throw std::invalid_argument("BleuStats::add: a segment needs at least one reference");
  const JoinedTokens hyp(tokenize_13a(std::string(rstrip(hypothesis))));
  const auto hyp_len = static_cast<int64_t>(hyp.size());
  sys_len += hyp_len;

  // Keys are unique across orders too: an n-gram key contains exactly n - 1 spaces. The references' tokens
  // live in `refs` while `ref_counts` holds views into them.
  std::vector<JoinedTokens> refs;
  refs.reserve(references.size());
  std::unordered_map<std::string_view, int64_t> ref_counts, one_ref;
  int64_t closest_len = -1, closest_diff = -1;
  for (const std::string& reference : references) {
    const JoinedTokens& ref = refs.emplace_back(tokenize_13a(std::string(rstrip(reference))));
    const auto ref_len = static_cast<int64_t>(ref.size());
    const int64_t diff = std::abs(hyp_len - ref_len);
    if (closest_diff < 0 || diff < closest_diff || (diff == closest_diff && ref_len < closest_len)) {
      closest_diff = diff;
      closest_len = ref_len;
    }
    one_ref.clear();
    for (size_t n = 1; n <= static_cast<size_t>(kMaxOrder); ++n)
      for (size_t i = 0; i + n <= ref.size(); ++i) ++one_ref[ref.ngram(i, n)];
    for (const auto& [gram, count] : one_ref) {
      int64_t& best = ref_counts[gram];
      best = std::max(best, count);
    }
  }
  ref_len += closest_len;

  std::unordered_map<std::string_view, int64_t> hyp_counts;
  hyp_counts.reserve(hyp.size() * kMaxOrder);
  for (size_t n = 1; n <= static_cast<size_t>(kMaxOrder); ++n)
    for (size_t i = 0; i + n <= hyp.size(); ++i) ++hyp_counts[hyp.ngram(i, n)];
  for (const auto& [gram, count] : hyp_counts) {
    const size_t n = static_cast<size_t>(std::count(gram.begin(), gram.end(), ' '));
    total[n] += count;
    auto it = ref_counts.find(gram);
    if (it != ref_counts.end()) correct[n] += std::min(count, it->second);
  }
}

nlohmann::json CorpusBleu::to_json() const {
  return nlohmann::json{{"bleu", score},
                        {"precisions", precisions},
                        {"brevity_penalty", brevity_penalty},
                        {"sys_len", sys_len},
                        {"ref_len", ref_len},
                        {"sentences", sentences}};
}

CorpusBleu compute_bleu(const BleuStats& stats, int64_t sentences) {
  CorpusBleu out;
  out.sys_len = stats.sys_len;
  out.ref_len = stats.ref_len;
  out.sentences = sentences;
  if (stats.sys_len < stats.ref_len) {
    out.brevity_penalty = stats.sys_len > 0 ? std::exp(1.0 - static_cast<double>(stats.ref_len) /
                                                                 static_cast<double>(stats.sys_len))
                                            : 0.0;
  } else {
    out.brevity_penalty = 1.0;
  }
  const bool any_correct =
      std::any_of(stats.correct.begin(), stats.correct.end(), [](int64_t c) { return c != 0; });
  if (!any_correct) return out;  // score 0, precisions 0 (sacreBLEU #141)

  double smooth = 1.0;
  for (int n = 0; n < kMaxOrder; ++n) {
    if (stats.total[n] == 0) break;
    if (stats.correct[n] == 0) {
      smooth *= 2.0;
      out.precisions[n] = 100.0 / (smooth * static_cast<double>(stats.total[n]));
    } else {
      out.precisions[n] = 100.0 * static_cast<double>(stats.correct[n]) / static_cast<double>(stats.total[n]);
    }
  }
  double log_sum = 0.0;
  for (double p : out.precisions) log_sum += (p == 0.0) ? kLogZero : std::log(p);
  out.score = out.brevity_penalty * std::exp(log_sum / kMaxOrder);
  return out;
}

CorpusBleu corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  check_sizes(hypotheses.size(), references.size(), "corpus_bleu");
  BleuStats stats;
  for (size_t i = 0; i < hypotheses.size(); ++i) stats.add(hypotheses[i], references[i]);
  return compute_bleu(stats, static_cast<int64_t>(hypotheses.size()));
}

CorpusBleu corpus_bleu_multi(const std::vector<std::string>& hypotheses,
                             const std::vector<std::vector<std::string>>& references) {
  check_sizes(hypotheses.size(), references.size(), "corpus_bleu_multi");
  BleuStats stats;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    if (references[i].empty())
      throw std::invalid_argument("corpus_bleu_multi: segment " + std::to_string(i + 1) + " has no reference");
    stats.add(hypotheses[i], references[i]);
  }
  return compute_bleu(stats, static_cast<int64_t>(hypotheses.size()));
}

double mean_d2l_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
                     int k) {
  check_sizes(hypotheses.size(), references.size(), "mean_d2l_bleu");
  if (hypotheses.empty()) return 0.0;
  double sum = 0.0;
  for (size_t i = 0; i < hypotheses.size(); ++i) sum += d2l_bleu(hypotheses[i], references[i], k);
  return sum / static_cast<double>(hypotheses.size());
}

}  // namespace nmt::metrics
