#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "data/preprocess.h"

namespace nmt::data {

/// One tokenized sentence pair (d2l.ai section 10.5 `tokenize_nmt` output for one line).
struct SentencePair {
  std::vector<std::string> source;  ///< source words (preprocessed, non-empty)
  std::vector<std::string> target;  ///< target words (preprocessed, non-empty)
  int64_t line = 0;                 ///< 1-based line number in the file
};

/// Line counts gathered while reading a corpus. With `num_examples` set, reading stops at the line
/// giving the last wanted pair, so the counts cover only the lines examined.
struct CorpusStats {
  int64_t lines = 0;               ///< lines examined (blank trailing lines excluded)
  int64_t pairs = 0;               ///< usable pairs kept
  int64_t no_tab = 0;              ///< skipped: no tab (a blank line in the middle counts here)
  int64_t empty_side = 0;          ///< skipped: a side has no token after preprocessing/tokenizing
  int64_t invalid_utf8 = 0;        ///< skipped: the line is not valid UTF-8
  int64_t first_skipped_line = 0;  ///< 1-based line number of the first skipped line, 0 if none
  /// no_tab + empty_side + invalid_utf8.
  int64_t skipped() const;
};

/// A tokenized parallel corpus, pairs in file order, with each kept pair's text as the file has it.
struct Corpus {
  std::vector<SentencePair> pairs;
  std::vector<std::string> source_texts;  ///< pairs[i]'s source side as written (no CR, no further columns)
  std::vector<std::string> target_texts;  ///< pairs[i]'s target side as written
  CorpusStats stats;
};

/// d2l.ai section 10.5 `read_data_nmt` + `preprocess_nmt` + `tokenize_nmt` for a text held in memory.
/// Format: one `source<TAB>target[<TAB>anything...]` pair per line (fra.txt: English, French). d2l's fra.txt (fra-eng.zip) has
/// exactly two columns; further columns (e.g. the attribution column of newer manythings.org files)
/// are ignored. A leading UTF-8 BOM and CRLF line endings are accepted. Each side is preprocessed with
/// preprocess_nmt and tokenized with tokenize. Lines without a tab, with an empty side, or with
/// invalid UTF-8 are skipped and counted in `stats`; if any were skipped, one spdlog warning
/// "[data] skipped N lines of NAME (first: line L, reason)" is logged. Blank trailing lines are ignored
/// silently. `num_examples`: keep only the first `num_examples` usable pairs (std::nullopt = all).
/// `name` is only used in messages. `options` replace preprocess_nmt by data::preprocess with them.
/// Throws std::invalid_argument naming `name` if the text is empty (or only a BOM / blank lines), has
/// no usable line, or if num_examples < 1.
Corpus parse_corpus(std::string_view text, const std::string& name, std::optional<int64_t> num_examples,
                    const TextOptions& options = {});

/// A corpus from two line-aligned texts (line i of `source` translates line i of `target`), read as parse_corpus
/// reads a TSV text: BOM, CRLF, blank trailing lines, skipping (empty side, invalid UTF-8) and num_examples alike;
/// a tab inside a line is kept as text. Throws std::runtime_error naming both files and their line counts when
/// the counts differ (a data error), and as parse_corpus for an empty text or no usable line.
Corpus parse_parallel(std::string_view source, std::string_view target, const std::string& source_name,
                      const std::string& target_name, std::optional<int64_t> num_examples,
                      const TextOptions& options = {});

/// Reads the file at `path` and parses it with parse_corpus (see there for the format and skipping).
/// Throws std::runtime_error naming the path if it is missing, is a directory, or cannot be read;
/// std::invalid_argument naming the path if it is empty or has no usable line.
Corpus read_corpus(const std::string& path, std::optional<int64_t> num_examples, const TextOptions& options = {});

/// Reads a TSV file (read_corpus) or a pair of line-aligned files (parse_parallel). Throws as those do.
Corpus read_corpus(const common::CorpusFiles& files, std::optional<int64_t> num_examples,
                   const TextOptions& options = {});

/// The text options a data config asks for (data.lowercase, data.d2l_punctuation).
TextOptions text_options(const common::DataConfig& data);

}  // namespace nmt::data
