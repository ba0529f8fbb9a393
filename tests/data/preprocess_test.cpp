#include "data/preprocess.h"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

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
