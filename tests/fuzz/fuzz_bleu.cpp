// libFuzzer target: bytes -> nmt::metrics::{tokenize_13a, corpus_bleu, compute_bleu, d2l_bleu,
// mean_d2l_bleu}. The input is split at its first tab into hypothesis and reference text; each is
// also split on '\n' into segments for corpus_bleu (padded with "" to the same count).
// Checked: 13a tokens are non-empty without ASCII whitespace; scores, precisions and the brevity
// penalty are finite and in range (BLEU and precisions in [0, 100], d2l BLEU and BP in [0, 1]);
// identical texts give d2l BLEU 1 and, with >= 4 tokens, corpus BLEU 100; mismatched sizes throw
// std::invalid_argument. For ASCII input, tokenize_13a is compared with a reference built from
// sacreBLEU's four regexes (std::regex) and Python's replace/split semantics.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "metrics/bleu.h"

using nmt::fuzz::check;
using nmt::fuzz::fail;

namespace {

/// Finite and in [lo, hi], allowing a relative 1e-12 above hi: exp(mean(log p)) of equal precisions can
/// exceed them by an ulp or two (sacreBLEU: 100.00000000000004 for identical texts, same formula).
bool in_range(double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi * (1 + 1e-12); }

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = s.find('\n', start);
    if (pos == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

void check_bleu(const nmt::metrics::CorpusBleu& b, const std::string& what) {
  check(in_range(b.score, 0.0, 100.0), what + ": score out of [0, 100]: " + std::to_string(b.score));
  for (const double p : b.precisions) check(in_range(p, 0.0, 100.0), what + ": precision out of range");
  check(in_range(b.brevity_penalty, 0.0, 1.0), what + ": brevity penalty out of [0, 1]");
  check(b.sys_len >= 0 && b.ref_len >= 0, what + ": negative length");
}

void check_tokens(const std::string& text) {
  for (const auto& t : nmt::metrics::tokenize_13a(text)) {
    check(!t.empty(), "tokenize_13a produced an empty token");
    for (const char c : t)
      check(!(c == ' ' || (c >= 0x09 && c <= 0x0d)), "tokenize_13a token contains ASCII whitespace");
  }
}

/// Python str.replace (all non-overlapping occurrences, left to right).
std::string py_replace(std::string s, const std::string& from, const std::string& to) {
  std::string out;
  std::size_t start = 0, pos;
  while ((pos = s.find(from, start)) != std::string::npos) {
    out.append(s, start, pos - start).append(to);
    start = pos + from.size();
  }
  return out.append(s, start, std::string::npos);
}

/// sacreBLEU Tokenizer13a for ASCII text, straight from its source (regexes via std::regex).
std::vector<std::string> reference_13a(std::string line) {
  static const std::regex re1(R"(([{-~\[-\x60\x20-&(-+:-@/]))");
  static const std::regex re2(R"(([^0-9])([.,]))");
  static const std::regex re3(R"(([.,])([^0-9]))");
  static const std::regex re4(R"(([0-9])(-))");
  line = py_replace(line, "<skipped>", "");
  line = py_replace(line, "-\n", "");
  line = py_replace(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    line = py_replace(line, "&quot;", "\"");
    line = py_replace(line, "&amp;", "&");
    line = py_replace(line, "&lt;", "<");
    line = py_replace(line, "&gt;", ">");
  }
  line = " " + line + " ";
  line = std::regex_replace(line, re1, " $1 ");
  line = std::regex_replace(line, re2, "$1 $2 ");
  line = std::regex_replace(line, re3, " $1 $2");
  line = std::regex_replace(line, re4, "$1 $2 ");
  std::vector<std::string> tokens;  // Python str.split() on ASCII whitespace (incl. \x1c-\x1f)
  std::string cur;
  for (const char c : line) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) {
      if (!cur.empty()) tokens.push_back(cur), cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) tokens.push_back(cur);
  return tokens;
}

bool is_ascii(const std::string& s) {
  for (const char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::size_t tab = text.find('\t');
  const std::string hyp = text.substr(0, tab);
  const std::string ref = tab == std::string::npos ? hyp : text.substr(tab + 1);

  try {
    check_tokens(text);
    check_tokens(hyp);
    if (is_ascii(text)) {
      const auto got = nmt::metrics::tokenize_13a(text);
      const auto want = reference_13a(text);
      std::string g, w;
      for (const auto& t : got) g += "[" + t + "]";
      for (const auto& t : want) w += "[" + t + "]";
      check(got == want, "tokenize_13a differs from the regex reference: " + g + " vs " + w);
    }

    // One segment each.
    const auto one = nmt::metrics::corpus_bleu({hyp}, {ref});
    check_bleu(one, "corpus_bleu(1 segment)");
    if (hyp == ref && one.sys_len >= 4)
      check(std::fabs(one.score - 100.0) < 1e-9, "identical texts with >= 4 tokens do not score 100");

    // Line by line.
    std::vector<std::string> hyps = split_lines(hyp), refs = split_lines(ref);
    const std::size_t n = std::max(hyps.size(), refs.size());
    hyps.resize(n);
    refs.resize(n);
    const auto many = nmt::metrics::corpus_bleu(hyps, refs);
    check_bleu(many, "corpus_bleu(lines)");
    check(many.sentences == static_cast<int64_t>(n), "sentences count");

    for (const int k : {-1, 0, 1, 2, 4, 100}) {
      const double d = nmt::metrics::d2l_bleu(hyp, ref, k);
      check(in_range(d, 0.0, 1.0), "d2l_bleu out of [0, 1]: " + std::to_string(d));
      if (!hyp.empty()) {
        const double same = nmt::metrics::d2l_bleu(hyp, hyp, k);
        check(std::fabs(same - 1.0) < 1e-12, "d2l_bleu(x, x) != 1: " + std::to_string(same));
      }
    }
    const double mean = nmt::metrics::mean_d2l_bleu(hyps, refs, 2);
    check(in_range(mean, 0.0, 1.0), "mean_d2l_bleu out of [0, 1]");
  } catch (const std::exception& e) {
    fail(std::string("BLEU threw on equal-size input: ") + e.what());
  }

  try {
    (void)nmt::metrics::corpus_bleu({hyp, ref}, {ref});
    fail("corpus_bleu accepted mismatched sizes");
  } catch (const std::invalid_argument&) {
  }
  try {
    (void)nmt::metrics::mean_d2l_bleu({hyp}, {});
    fail("mean_d2l_bleu accepted mismatched sizes");
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
