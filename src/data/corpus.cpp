#include "data/corpus.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "data/preprocess.h"

namespace nmt::data {

int64_t CorpusStats::skipped() const { return no_tab + empty_side + invalid_utf8; }

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

Corpus parse_corpus(std::string_view text, const std::string& name, std::optional<int64_t> num_examples) {
  if (num_examples && *num_examples < 1) {
    throw std::invalid_argument("num_examples must be >= 1 (got " + std::to_string(*num_examples) +
                                ") when reading " + name);
  }
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  // Drop blank trailing lines (and the final newline) so they are neither examined nor counted.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) throw std::invalid_argument("corpus " + name + " is empty");

  Corpus corpus;
  CorpusStats& st = corpus.stats;
  {
    const auto n_lines = static_cast<int64_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    corpus.pairs.reserve(static_cast<std::size_t>(num_examples ? std::min(*num_examples, n_lines) : n_lines));
  }
  const char* first_reason = "";
  auto skip = [&](int64_t& counter, int64_t line_no, const char* reason) {
    ++counter;
    if (st.first_skipped_line == 0) {
      st.first_skipped_line = line_no;
      first_reason = reason;
    }
  };

  std::string scratch;
  std::size_t pos = 0;
  int64_t line_no = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    ++st.lines;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    if (!is_valid_utf8(line)) {
      skip(st.invalid_utf8, line_no, "invalid UTF-8");
      continue;
    }
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) {
      skip(st.no_tab, line_no, "no tab");
      continue;
    }
    std::string_view src = line.substr(0, tab);
    std::string_view tgt = line.substr(tab + 1);
    const std::size_t tab2 = tgt.find('\t');
    if (tab2 != std::string_view::npos) tgt = tgt.substr(0, tab2);  // ignore extra columns

    SentencePair pair;
    scratch.clear();
    detail::preprocess_valid_utf8(src, scratch);
    pair.source = tokenize(scratch);
    scratch.clear();
    detail::preprocess_valid_utf8(tgt, scratch);
    pair.target = tokenize(scratch);
    if (pair.source.empty() || pair.target.empty()) {
      skip(st.empty_side, line_no, "empty side");
      continue;
    }
    pair.line = line_no;
    corpus.pairs.push_back(std::move(pair));
    ++st.pairs;
    if (num_examples && st.pairs >= *num_examples) break;
  }

  if (st.skipped() > 0) {
    spdlog::warn("[data] skipped {} lines of {} (first: line {}, {})", st.skipped(), name,
                 st.first_skipped_line, first_reason);
  }
  if (corpus.pairs.empty()) {
    throw std::invalid_argument("corpus " + name + " has no usable line (" + std::to_string(st.lines) +
                                " lines, all skipped; first: line " +
                                std::to_string(st.first_skipped_line) + ", " + first_reason + ")");
  }
  return corpus;
}

Corpus read_corpus(const std::string& path, std::optional<int64_t> num_examples) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    throw std::runtime_error("corpus file " + path + " does not exist");
  }
  if (std::filesystem::is_directory(status)) {
    throw std::runtime_error("corpus path " + path + " is a directory, not a file");
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    throw std::runtime_error("cannot open corpus file " + path + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const std::size_t got = std::fread(buf, 1, sizeof buf, file.get());
    text.append(buf, got);
    if (got < sizeof buf) break;
  }
  if (std::ferror(file.get())) {
    throw std::runtime_error("cannot read corpus file " + path + ": " + std::strerror(errno));
  }
  return parse_corpus(text, path, num_examples);
}

}  // namespace nmt::data
