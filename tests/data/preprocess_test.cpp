#include "data/preprocess.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/corpus_path.h"

using nmt::data::is_valid_utf8;
using nmt::data::preprocess_nmt;
using nmt::data::tokenize;

TEST_CASE("preprocess_nmt follows d2l preprocess_nmt", "[data][preprocess]") {
  SECTION("Unicode lowercase") {
    CHECK(preprocess_nmt("\xC3\x87" "a") == "\xC3\xA7" "a");  // Ça -> ça
    CHECK(preprocess_nmt("\xC3\x80") == "\xC3\xA0");          // À -> à
    CHECK(preprocess_nmt("HELLO World") == "hello world");
    CHECK(preprocess_nmt("\xC3\x89T\xC3\x89") == "\xC3\xA9t\xC3\xA9");  // ÉTÉ -> été
  }
  SECTION("no-break spaces become spaces") {
    CHECK(preprocess_nmt("Va\xC2\xA0!") == "va !");          // U+00A0
    CHECK(preprocess_nmt("Cours\xE2\x80\xAF!") == "cours !");  // U+202F
    CHECK(preprocess_nmt("a\xC2\xA0" "b") == "a b");
  }
  SECTION("space inserted before , . ! ? when missing") {
    CHECK(preprocess_nmt("Go.") == "go .");
    CHECK(preprocess_nmt("Hi !") == "hi !");
    CHECK(preprocess_nmt("Wait, what?") == "wait , what ?");
    CHECK(preprocess_nmt("Really?!") == "really ? !");
    CHECK(preprocess_nmt("...") == ". . .");
    CHECK(preprocess_nmt(".Go") == ".go");  // first character: nothing inserted (d2l uses i > 0)
    CHECK(preprocess_nmt("\xC3\xA9t\xC3\xA9.") == "\xC3\xA9t\xC3\xA9 .");
    CHECK(preprocess_nmt("") == "");
  }
  SECTION("invalid UTF-8 throws invalid_argument") {
    CHECK_THROWS_AS(preprocess_nmt("caf\xE9"), std::invalid_argument);
    CHECK_THROWS_WITH(preprocess_nmt("ab\xFF"), Catch::Contains("invalid UTF-8") && Catch::Contains("offset 2"));
    CHECK_THROWS_AS(preprocess_nmt("\xC3"), std::invalid_argument);  // truncated
  }
}

TEST_CASE("is_valid_utf8", "[data][preprocess]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("\xC3\xA7" "a \xE2\x80\xAF \xF0\x9F\x98\x80"));  // 2-, 3- and 4-byte sequences
  CHECK(is_valid_utf8(std::string("a\0b", 3)));
  CHECK_FALSE(is_valid_utf8("\xE9"));                  // latin-1 byte
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));              // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));          // overlong 3-byte
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));          // surrogate U+D800
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));      // > U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xE2\x80"));              // truncated
  CHECK_FALSE(is_valid_utf8("\x80"));                  // lone continuation byte
  CHECK(nmt::data::find_invalid_utf8("ok\xC3\xA7\xFF") == 4);
}

TEST_CASE("tokenize follows d2l tokenize_nmt for one side", "[data][preprocess]") {
  using V = std::vector<std::string>;
  SECTION("splits on spaces") {
    CHECK(tokenize("wait , what ?") == V{"wait", ",", "what", "?"});
    CHECK(tokenize("go .") == V{"go", "."});
  }
  SECTION("no empty tokens") {
    CHECK(tokenize("  a   b  ") == V{"a", "b"});
    CHECK(tokenize("").empty());
    CHECK(tokenize("    ").empty());
  }
  SECTION("only ' ' separates") {
    CHECK(tokenize("a\tb c") == V{"a\tb", "c"});
  }
  SECTION("preprocess then tokenize") {
    CHECK(tokenize(preprocess_nmt("Ça va\xE2\x80\xAF?")) == V{"\xC3\xA7" "a", "va", "?"});
  }
  SECTION("join_tokens is its inverse on tokenized text") {
    CHECK(nmt::data::join_tokens(V{"wait", ",", "what", "?"}) == "wait , what ?");
    CHECK(nmt::data::join_tokens(tokenize("  a   b  ")) == "a b");
    CHECK(nmt::data::join_tokens(V{}).empty());
    CHECK(nmt::data::join_tokens(V{"x"}) == "x");
  }
}

TEST_CASE("preprocess with text options and detokenize_d2l", "[data][preprocess]") {
  using nmt::data::detokenize_d2l;
  using nmt::data::preprocess;
  using nmt::data::TextOptions;
  SECTION("each option alone") {
    CHECK(preprocess("Tom est là.", TextOptions{true, true}) == preprocess_nmt("Tom est là."));
    CHECK(preprocess("Tom est LÀ.", TextOptions{true, false}) == "tom est là.");
    CHECK(preprocess("Tom est là. Vraiment\xE2\x80\xAF?", TextOptions{false, true}) == "Tom est là . Vraiment ?");
    // Both off: the text as written, no-break spaces and all.
    const std::string as_written = "Tom est LÀ\xC2\xA0! A.B, c";
    CHECK(preprocess(as_written, TextOptions{false, false}) == as_written);
    CHECK_THROWS_WITH(preprocess("ab\xFF", TextOptions{false, false}), Catch::Contains("offset 2"));
  }
  SECTION("detokenize_d2l removes the spaces d2l inserts, and only those") {
    CHECK(detokenize_d2l("je suis chez moi .") == "je suis chez moi.");
    CHECK(detokenize_d2l("attends , quoi ? ! . . .") == "attends, quoi?!...");
    CHECK(detokenize_d2l(". go") == ". go");          // nothing before the mark
    CHECK(detokenize_d2l("a  .") == "a  .");          // a space before the space is kept with it
    CHECK(detokenize_d2l("3 . 5 , x") == "3. 5, x");  // only the space before the mark goes
    CHECK(detokenize_d2l("") == "");
    CHECK(detokenize_d2l("salut") == "salut");
  }
}

TEST_CASE("detokenize_d2l inverts d2l's spacing on the corpus's French side", "[data][preprocess][slow]") {
  const std::string path = nmt::test::full_corpus_path();
  INFO(nmt::test::kCorpusMissing);
  REQUIRE_FALSE(path.empty());
  std::ifstream in(path, std::ios::binary);
  std::string line;
  int64_t checked = 0, lines = 0;
  const auto is_mark = [](char c) { return c == ',' || c == '.' || c == '!' || c == '?'; };
  while (std::getline(in, line)) {
    ++lines;
    const std::string fr = line.substr(line.find('\t') + 1, line.find('\t', line.find('\t') + 1) - line.find('\t') - 1);
    // Lines with a (no-break) space before a mark, or a no-break space anywhere, are changed by d2l beyond undoing.
    bool spaced = fr.find("\xC2\xA0") != std::string::npos || fr.find("\xE2\x80\xAF") != std::string::npos;
    for (std::size_t i = 1; i < fr.size() && !spaced; ++i) spaced = is_mark(fr[i]) && fr[i - 1] == ' ';
    if (spaced) continue;
    ++checked;
    const std::string spaced_out = nmt::data::preprocess(fr, nmt::data::TextOptions{false, true});
    INFO("line " << lines << ": " << fr << " -> " << spaced_out);
    REQUIRE(nmt::data::detokenize_d2l(spaced_out) == fr);
  }
  CHECK(lines == 167130);
  CHECK(checked > 100000);  // most lines: the check is not vacuous
}
