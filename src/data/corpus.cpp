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

/// The text without a leading BOM and without blank trailing lines (and the final newline).
std::string_view trim_text(std::string_view text) {
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

/// Lines of a trimmed text (0 for an empty one).
int64_t count_lines(std::string_view text) {
  return text.empty() ? 0 : static_cast<int64_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

/// Cuts a trimmed text into lines, one at a time, without the CR of CRLF endings.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  bool next(std::string_view& line) {
    if (pos_ > text_.size()) return false;
    std::size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return true;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

/// Collects the usable pairs of a corpus and counts the skipped lines.
class CorpusBuilder {
 public:
  CorpusBuilder(std::optional<int64_t> num_examples, const TextOptions& options, int64_t expected_lines,
                const std::string& name)
      : num_examples_(num_examples), options_(options) {
    if (num_examples && *num_examples < 1) {
      throw std::invalid_argument("num_examples must be >= 1 (got " + std::to_string(*num_examples) +
                                  ") when reading " + name);
    }
    const auto n = static_cast<std::size_t>(num_examples ? std::min(*num_examples, expected_lines) : expected_lines);
    corpus_.pairs.reserve(n);
    corpus_.source_texts.reserve(n);
    corpus_.target_texts.reserve(n);
  }

  /// Counts one more line and skips it for `reason`.
  void skip(int64_t CorpusStats::*counter, const char* reason) {
    CorpusStats& st = corpus_.stats;
    ++st.lines;
    ++(st.*counter);
    if (st.first_skipped_line == 0) {
      st.first_skipped_line = st.lines;
      first_reason_ = reason;
    }
  }

  /// Counts one more line holding `src` and `tgt` (not yet checked for UTF-8); returns false once num_examples
  /// pairs are kept.
  bool add(std::string_view src, std::string_view tgt) {
    if (!is_valid_utf8(src) || !is_valid_utf8(tgt)) {
      skip(&CorpusStats::invalid_utf8, "invalid UTF-8");
      return true;
    }
    SentencePair pair;
    scratch_.clear();
    detail::preprocess_valid_utf8(src, scratch_, options_);
    pair.source = tokenize(scratch_);
    scratch_.clear();
    detail::preprocess_valid_utf8(tgt, scratch_, options_);
    pair.target = tokenize(scratch_);
    if (pair.source.empty() || pair.target.empty()) {
      skip(&CorpusStats::empty_side, "empty side");
      return true;
    }
    CorpusStats& st = corpus_.stats;
    pair.line = ++st.lines;
    corpus_.pairs.push_back(std::move(pair));
    corpus_.source_texts.emplace_back(src);
    corpus_.target_texts.emplace_back(tgt);
    ++st.pairs;
    return !(num_examples_ && st.pairs >= *num_examples_);
  }

  /// The corpus; logs one warning for skipped lines. Throws std::invalid_argument when no pair was kept.
  Corpus finish(const std::string& name) {
    const CorpusStats& st = corpus_.stats;
    if (st.skipped() > 0) {
      spdlog::warn("[data] skipped {} lines of {} (first: line {}, {})", st.skipped(), name, st.first_skipped_line,
                   first_reason_);
    }
    if (corpus_.pairs.empty()) {
      throw std::invalid_argument("corpus " + name + " has no usable line (" + std::to_string(st.lines) +
                                  " lines, all skipped; first: line " + std::to_string(st.first_skipped_line) +
                                  ", " + first_reason_ + ")");
    }
    return std::move(corpus_);
  }

 private:
  std::optional<int64_t> num_examples_;
  TextOptions options_;
  Corpus corpus_;
  std::string scratch_;
  const char* first_reason_ = "";
};

/// The bytes of the file at `path`. Throws std::runtime_error naming the path if it is missing, is a directory,
/// or cannot be read.
std::string read_file_text(const std::string& path) {
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
  return text;
}

}  // namespace

TextOptions text_options(const common::DataConfig& data) { return TextOptions{data.lowercase, data.d2l_punctuation}; }

Corpus parse_corpus(std::string_view text, const std::string& name, std::optional<int64_t> num_examples,
                    const TextOptions& options) {
  text = trim_text(text);
  CorpusBuilder builder(num_examples, options, count_lines(text), name);
  if (text.empty()) throw std::invalid_argument("corpus " + name + " is empty");
  LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (!is_valid_utf8(line)) {  // the whole line, extra columns included, before the tab
      builder.skip(&CorpusStats::invalid_utf8, "invalid UTF-8");
      continue;
    }
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) {
      builder.skip(&CorpusStats::no_tab, "no tab");
      continue;
    }
    std::string_view tgt = line.substr(tab + 1);
    const std::size_t tab2 = tgt.find('\t');
    if (tab2 != std::string_view::npos) tgt = tgt.substr(0, tab2);  // ignore extra columns
    if (!builder.add(line.substr(0, tab), tgt)) break;
  }
  return builder.finish(name);
}

Corpus parse_parallel(std::string_view source, std::string_view target, const std::string& source_name,
                      const std::string& target_name, std::optional<int64_t> num_examples,
                      const TextOptions& options) {
  source = trim_text(source);
  target = trim_text(target);
  const int64_t n_source = count_lines(source), n_target = count_lines(target);
  const std::string name = source_name + " + " + target_name;
  CorpusBuilder builder(num_examples, options, n_source, name);
  if (n_source != n_target) {
    throw std::runtime_error("parallel files are misaligned: " + source_name + " has " + std::to_string(n_source) +
                             " lines but " + target_name + " has " + std::to_string(n_target));
  }
  if (source.empty()) throw std::invalid_argument("corpus " + name + " is empty");
  LineReader src_lines(source), tgt_lines(target);
  std::string_view src, tgt;
  while (src_lines.next(src) && tgt_lines.next(tgt))
    if (!builder.add(src, tgt)) break;
  return builder.finish(name);
}

Corpus read_corpus(const std::string& path, std::optional<int64_t> num_examples, const TextOptions& options) {
  return parse_corpus(read_file_text(path), path, num_examples, options);
}

Corpus read_corpus(const common::CorpusFiles& files, std::optional<int64_t> num_examples,
                   const TextOptions& options) {
  if (!files.is_pair()) return read_corpus(files.tsv, num_examples, options);
  const std::string source = read_file_text(files.source);  // the source first: errors name it first
  const std::string target = read_file_text(files.target);
  return parse_parallel(source, target, files.source, files.target, num_examples, options);
}

}  // namespace nmt::data
