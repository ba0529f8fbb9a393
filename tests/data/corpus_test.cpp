#include "data/corpus.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/corpus_path.h"

using nmt::data::Corpus;
using nmt::data::parse_corpus;
using nmt::data::read_corpus;

namespace {

std::string fixture(const std::string& name) { return std::string(NMT_SOURCE_DIR) + "/tests/fixtures/" + name; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("read_corpus on tiny_fra.txt", "[data][corpus]") {
  const Corpus c = read_corpus(fixture("tiny_fra.txt"), std::nullopt);
  SECTION("all lines usable") {
    CHECK(c.stats.lines == 12);
    CHECK(c.stats.pairs == 12);
    CHECK(c.stats.skipped() == 0);
    CHECK(c.stats.first_skipped_line == 0);
    REQUIRE(c.pairs.size() == 12);
  }
  SECTION("tokens and line numbers") {
    REQUIRE(c.pairs.size() == 12);
    CHECK(c.pairs[0].source == V{"go", "."});
    CHECK(c.pairs[0].target == V{"va", "!"});
    CHECK(c.pairs[0].line == 1);
    CHECK(c.pairs[2].target == V{"cours", "!"});  // U+202F before '!'
    CHECK(c.pairs[4].source == V{"wait", ",", "what", "?"});
    CHECK(c.pairs[4].target == V{"attends", ",", "quoi", "?"});
    CHECK(c.pairs[6].target == V{"\xC3\xA7" "a", "va", "."});  // "Ça va."
    CHECK(c.pairs[7].target == V{"salut", "!"});                 // NBSP before '!'
    CHECK(c.pairs[11].source == V{"who", "won", "?"});
    CHECK(c.pairs[11].line == 12);
  }
  SECTION("num_examples keeps the first usable pairs") {
    const Corpus c3 = read_corpus(fixture("tiny_fra.txt"), 3);
    REQUIRE(c3.pairs.size() == 3);
    CHECK(c3.stats.pairs == 3);
    CHECK(c3.pairs[2].source == V{"run", "!"});
    CHECK(c3.pairs[2].line == 3);
    CHECK(read_corpus(fixture("tiny_fra.txt"), 1000).pairs.size() == 12);
    CHECK_THROWS_AS(read_corpus(fixture("tiny_fra.txt"), 0), std::invalid_argument);
  }
}

TEST_CASE("read_corpus accepts a UTF-8 BOM and CRLF endings", "[data][corpus]") {
  const std::string bom_crlf = fixture("tiny_fra_bom_crlf.txt");
  const std::string raw = slurp(bom_crlf);
  // Guard against the fixture having been normalized by git or an editor.
  REQUIRE(raw.rfind("\xEF\xBB\xBF", 0) == 0);
  REQUIRE(raw.find("\r\n") != std::string::npos);
  const Corpus lf = read_corpus(fixture("tiny_fra.txt"), std::nullopt);
  const Corpus crlf = read_corpus(bom_crlf, std::nullopt);
  REQUIRE(crlf.pairs.size() == lf.pairs.size());
  for (std::size_t i = 0; i < lf.pairs.size(); ++i) {
    CHECK(crlf.pairs[i].source == lf.pairs[i].source);
    CHECK(crlf.pairs[i].target == lf.pairs[i].target);
    CHECK(crlf.pairs[i].line == lf.pairs[i].line);
  }
  CHECK(crlf.stats.skipped() == 0);
  CHECK(crlf.stats.lines == lf.stats.lines);
}

TEST_CASE("read_corpus skips and counts bad lines", "[data][corpus]") {
  const Corpus c = read_corpus(fixture("bad_lines_fra.txt"), std::nullopt);
  CHECK(c.stats.lines == 8);  // two trailing blank lines are not counted
  CHECK(c.stats.pairs == 3);
  CHECK(c.stats.no_tab == 2);  // line 2 and the blank line 7
  CHECK(c.stats.empty_side == 2);  // lines 3 and 4
  CHECK(c.stats.invalid_utf8 == 1);  // line 5
  CHECK(c.stats.skipped() == 5);
  CHECK(c.stats.first_skipped_line == 2);
  REQUIRE(c.pairs.size() == 3);
  CHECK(c.pairs[0].line == 1);
  CHECK(c.pairs[1].line == 6);
  CHECK(c.pairs[1].target == V{"cours", "!"});  // third column ignored
  CHECK(c.pairs[2].line == 8);
  CHECK(c.pairs[2].source == V{"who", "?"});

  SECTION("num_examples stops at the wanted pair") {
    const Corpus c2 = read_corpus(fixture("bad_lines_fra.txt"), 2);
    REQUIRE(c2.pairs.size() == 2);
    CHECK(c2.pairs[1].line == 6);
    CHECK(c2.stats.lines == 6);
    CHECK(c2.stats.skipped() == 4);
  }
}

TEST_CASE("read_corpus errors name the path", "[data][corpus]") {
  SECTION("missing file") {
    const std::string path = fixture("does_not_exist_fra.txt");
    CHECK_THROWS_AS(read_corpus(path, std::nullopt), std::runtime_error);
    CHECK_THROWS_WITH(read_corpus(path, std::nullopt), Catch::Contains(path));
  }
  SECTION("directory") {
    const std::string path = std::string(NMT_SOURCE_DIR) + "/tests/fixtures";
    CHECK_THROWS_AS(read_corpus(path, std::nullopt), std::runtime_error);
    CHECK_THROWS_WITH(read_corpus(path, std::nullopt), Catch::Contains(path) && Catch::Contains("directory"));
  }
  SECTION("empty file") {
    const std::string path = fixture("empty_fra.txt");
    CHECK_THROWS_AS(read_corpus(path, std::nullopt), std::invalid_argument);
    CHECK_THROWS_WITH(read_corpus(path, std::nullopt), Catch::Contains(path) && Catch::Contains("empty"));
  }
  SECTION("no usable line") {
    const std::string path = fixture("no_usable_fra.txt");
    CHECK_THROWS_AS(read_corpus(path, std::nullopt), std::invalid_argument);
    CHECK_THROWS_WITH(read_corpus(path, std::nullopt), Catch::Contains(path) && Catch::Contains("no usable line"));
  }
}

TEST_CASE("parse_corpus from memory", "[data][corpus]") {
  SECTION("no final newline, blank trailing lines") {
    CHECK(parse_corpus("A.\tB.", "mem", std::nullopt).pairs.size() == 1);
    const Corpus c = parse_corpus("A.\tB.\n\r\n\n", "mem", std::nullopt);
    CHECK(c.stats.lines == 1);
    CHECK(c.stats.skipped() == 0);
  }
  SECTION("only BOM and blank lines is empty") {
    CHECK_THROWS_WITH(parse_corpus("\xEF\xBB\xBF\n\n", "mem.txt", std::nullopt),
                      Catch::Contains("mem.txt") && Catch::Contains("empty"));
  }
  SECTION("tab-only separator and punctuation-only side") {
    const Corpus c = parse_corpus("?\t!\n", "mem", std::nullopt);
    REQUIRE(c.pairs.size() == 1);
    CHECK(c.pairs[0].source == V{"?"});
    CHECK(c.pairs[0].target == V{"!"});
  }
}

TEST_CASE("read_corpus on the full fra.txt", "[data][corpus][slow]") {
  const std::string path = nmt::test::full_corpus_path();
  INFO(nmt::test::kCorpusMissing);
  REQUIRE_FALSE(path.empty());
  const Corpus c = read_corpus(path, std::nullopt);
  CHECK(c.stats.lines == 167130);
  CHECK(c.stats.pairs == 167130);
  REQUIRE(c.pairs.size() == 167130);
  CHECK(c.pairs[0].source == V{"go", "."});
  CHECK(c.pairs[0].target == V{"va", "!"});
  // The last line of d2l's fra.txt ("It may be impossible to get a completely error-free corpus ... errors."),
  // preprocessed: lower case, punctuation split off.
  const V& last = c.pairs.back().source;
  REQUIRE(last.size() > 4);
  CHECK(V(last.begin(), last.begin() + 4) == V{"it", "may", "be", "impossible"});
  CHECK(last.back() == ".");
  CHECK(last[last.size() - 2] == "errors");
}

TEST_CASE("a pair of line-aligned files gives the same corpus as the TSV file", "[data][corpus]") {
  const std::string tsv = "Go.\tVa !\n\nHi.\tSalut !\r\nRun!\t \nBad \xFF.\tMauvais.\nTom?\tTom ?\textra column\n";
  const std::string src = "\xEF\xBB\xBFGo.\n\nHi.\r\nRun!\nBad \xFF.\nTom?\n\n", tgt = "Va !\n\nSalut !\n \nMauvais.\nTom ?\n";
  for (const auto& options : {nmt::data::TextOptions{}, nmt::data::TextOptions{false, false}}) {
    const Corpus a = parse_corpus(tsv, "x.tsv", std::nullopt, options);
    const Corpus b = nmt::data::parse_parallel(src, tgt, "x.en", "x.fr", std::nullopt, options);
    REQUIRE(a.pairs.size() == 3);
    REQUIRE(b.pairs.size() == a.pairs.size());
    for (std::size_t i = 0; i < a.pairs.size(); ++i) {
      CHECK(a.pairs[i].source == b.pairs[i].source);
      CHECK(a.pairs[i].target == b.pairs[i].target);
      CHECK(a.pairs[i].line == b.pairs[i].line);
    }
    CHECK(a.source_texts == b.source_texts);
    CHECK(a.target_texts == b.target_texts);
    CHECK(a.source_texts == V{"Go.", "Hi.", "Tom?"});
    CHECK(a.target_texts == V{"Va !", "Salut !", "Tom ?"});
    CHECK(b.stats.lines == 6);
    CHECK(b.stats.empty_side == 2);  // the blank line 2 and the blank French side of line 4
    CHECK(b.stats.invalid_utf8 == 1);
    CHECK(a.stats.skipped() == 3);
  }
  // The options reach the words: cased and unspaced, or d2l's.
  CHECK(parse_corpus(tsv, "x", std::nullopt, nmt::data::TextOptions{false, false}).pairs[2].source == V{"Tom?"});
  CHECK(parse_corpus(tsv, "x", std::nullopt).pairs[2].source == V{"tom", "?"});
  // num_examples counts kept pairs in both forms.
  CHECK(nmt::data::parse_parallel(src, tgt, "s", "t", 2).pairs.size() == 2);
}

TEST_CASE("misaligned pair files are an error naming both files and their line counts", "[data][corpus]") {
  CHECK_THROWS_WITH(nmt::data::parse_parallel("a\nb\nc\n", "x\ny\n", "train.en", "train.fr", std::nullopt),
                    Catch::Contains("train.en has 3 lines but train.fr has 2"));
  CHECK_THROWS_AS(nmt::data::parse_parallel("", "", "e.en", "e.fr", std::nullopt), std::invalid_argument);
  // From disk, through CorpusFiles: a missing file is named.
  const nmt::common::CorpusFiles missing{"", "/nonexistent/a.en", "/nonexistent/a.fr"};
  CHECK_THROWS_WITH(read_corpus(missing, std::nullopt), Catch::Contains("/nonexistent/a.en"));
  const nmt::common::CorpusFiles as_tsv{fixture("tiny_fra.txt"), "", ""};
  CHECK(read_corpus(as_tsv, std::nullopt).pairs.size() == 12);
}
