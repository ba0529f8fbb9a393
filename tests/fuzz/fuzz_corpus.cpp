// libFuzzer target: bytes -> nmt::data::parse_corpus (num_examples = all, 1, 3), then Vocab::build,
// encode and encode_sequence on the pairs.
// Accepted: std::invalid_argument for an empty text or one with no usable line (only then). Checked:
// lines == pairs + skipped, pairs.size() == stats.pairs <= num_examples, first_skipped_line set iff
// something was skipped, every pair has non-empty, space-free tokens equal to
// tokenize(preprocess_nmt(side)) of its line, line numbers strictly increase, and a num_examples run
// gives a prefix of the full run. Vocab: ids in range, known tokens decode back to themselves.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "data/corpus.h"
#include "data/preprocess.h"
#include "data/vocab.h"
#include "fuzz_common.h"

using nmt::fuzz::check;
using nmt::fuzz::fail;

namespace {

/// Lines as parse_corpus sees them: BOM removed, trailing CR/LF run removed, split on '\n', one '\r' stripped.
std::vector<std::string_view> split_lines(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::vector<std::string_view> lines;
  if (text.empty()) return lines;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

std::optional<nmt::data::Corpus> parse(std::string_view text, std::optional<int64_t> num_examples) {
  try {
    return nmt::data::parse_corpus(text, "fuzz.txt", num_examples);
  } catch (const std::invalid_argument& e) {
    check(std::string(e.what()).find("fuzz.txt") != std::string::npos,
          std::string("message does not name the corpus: ") + e.what());
    return std::nullopt;
  } catch (const std::exception& e) {
    fail(std::string("parse_corpus threw a non-invalid_argument exception: ") + e.what());
  }
}

void check_corpus(const nmt::data::Corpus& c, std::optional<int64_t> num_examples,
                  const std::vector<std::string_view>& lines) {
  const auto& st = c.stats;
  check(st.lines == st.pairs + st.skipped(), "lines != pairs + skipped");
  check(st.skipped() == st.no_tab + st.empty_side + st.invalid_utf8, "skipped() is not the sum");
  check(st.no_tab >= 0 && st.empty_side >= 0 && st.invalid_utf8 >= 0, "negative counter");
  check(static_cast<int64_t>(c.pairs.size()) == st.pairs, "pairs.size() != stats.pairs");
  check(!c.pairs.empty(), "empty corpus returned without an exception");
  check(st.lines >= 1 && st.lines <= static_cast<int64_t>(lines.size()), "stats.lines out of range");
  if (!num_examples) check(st.lines == static_cast<int64_t>(lines.size()), "not all lines examined");
  if (num_examples) check(st.pairs <= *num_examples, "more pairs than num_examples");
  check((st.first_skipped_line > 0) == (st.skipped() > 0), "first_skipped_line inconsistent");
  check(st.first_skipped_line <= st.lines, "first_skipped_line beyond the lines examined");
  int64_t prev_line = 0;
  for (const auto& p : c.pairs) {
    check(p.line > prev_line && p.line <= st.lines, "pair line numbers not increasing / out of range");
    prev_line = p.line;
    check(!p.source.empty() && !p.target.empty(), "pair with an empty side");
    for (const auto* side : {&p.source, &p.target})
      for (const auto& t : *side) check(!t.empty() && t.find(' ') == std::string::npos, "bad token");
    // Re-derive the pair from its line.
    const std::string_view line = lines[static_cast<std::size_t>(p.line - 1)];
    const std::size_t tab = line.find('\t');
    check(tab != std::string_view::npos, "pair from a line without a tab");
    std::string_view tgt = line.substr(tab + 1);
    tgt = tgt.substr(0, tgt.find('\t'));
    check(p.source == nmt::data::tokenize(nmt::data::preprocess_nmt(line.substr(0, tab))), "source differs");
    check(p.target == nmt::data::tokenize(nmt::data::preprocess_nmt(tgt)), "target differs");
  }
}

void check_vocab(const nmt::data::Corpus& c) {
  std::vector<std::vector<std::string>> sentences;
  for (const auto& p : c.pairs) sentences.push_back(p.source);
  for (const int64_t min_freq : {1, 2}) {
    nmt::data::Vocab vocab;
    try {
      vocab = nmt::data::Vocab::build(sentences, min_freq);
    } catch (const std::exception& e) {
      fail(std::string("Vocab::build threw on corpus tokens: ") + e.what());
    }
    check(vocab.size() >= 4, "vocab lacks reserved tokens");
    for (const auto& s : sentences) {
      const std::vector<int64_t> ids = vocab.encode(s);
      check(ids.size() == s.size(), "encode changed the length");
      for (std::size_t i = 0; i < ids.size(); ++i) {
        check(ids[i] >= 0 && ids[i] < vocab.size(), "id out of range");
        if (ids[i] != vocab.unk()) check(vocab.to_token(ids[i]) == s[i], "decode(encode(t)) != t");
      }
      if (min_freq == 1)
        for (std::size_t i = 0; i < ids.size(); ++i)
          check(ids[i] != vocab.unk() || s[i] == "<unk>", "min_freq 1 mapped a corpus token to <unk>");
      for (const int64_t steps : {1, 3, 10}) {
        const auto seq = nmt::data::encode_sequence(vocab, s, steps);
        check(static_cast<int64_t>(seq.ids.size()) == steps, "encode_sequence length");
        check(seq.valid_len >= 1 && seq.valid_len <= steps, "valid_len out of range");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // parse_corpus warns about skipped lines
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> lines = split_lines(text);

  const std::optional<nmt::data::Corpus> all = parse(text, std::nullopt);
  if (all) {
    check_corpus(*all, std::nullopt, lines);
    check_vocab(*all);
  } else if (!lines.empty()) {
    // Rejected: must be because no line is usable. Count usable lines ourselves.
    for (const auto line : lines) {
      const std::size_t tab = line.find('\t');
      if (!nmt::data::is_valid_utf8(line) || tab == std::string_view::npos) continue;
      std::string_view tgt = line.substr(tab + 1);
      tgt = tgt.substr(0, tgt.find('\t'));
      const bool usable = !nmt::data::tokenize(nmt::data::preprocess_nmt(line.substr(0, tab))).empty() &&
                          !nmt::data::tokenize(nmt::data::preprocess_nmt(tgt)).empty();
      check(!usable, "corpus rejected although it has a usable line");
    }
  }

  for (const int64_t n : {1, 3}) {
    const std::optional<nmt::data::Corpus> some = parse(text, n);
    check(some.has_value() == all.has_value(), "num_examples changed whether the corpus is accepted");
    if (!some) continue;
    check_corpus(*some, n, lines);
    const std::size_t want = std::min<std::size_t>(static_cast<std::size_t>(n), all->pairs.size());
    check(some->pairs.size() == want, "num_examples run has the wrong number of pairs");
    for (std::size_t i = 0; i < want; ++i) {
      check(some->pairs[i].line == all->pairs[i].line && some->pairs[i].source == all->pairs[i].source &&
                some->pairs[i].target == all->pairs[i].target,
            "num_examples run is not a prefix of the full run");
    }
  }
  try {
    (void)nmt::data::parse_corpus(text, "fuzz.txt", int64_t{0});
    fail("num_examples = 0 accepted");
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
