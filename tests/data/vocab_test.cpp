#include "data/vocab.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/corpus.h"

using nmt::data::encode_sequence;
using nmt::data::Vocab;

namespace {

using V = std::vector<std::string>;
using I = std::vector<int64_t>;

/// A fresh path in the system temp dir, removed (with its .tmp) on destruction.
struct TempPath {
  std::string path;
  explicit TempPath(const std::string& stem) {
    std::random_device rd;
    path = (std::filesystem::temp_directory_path() / (stem + "_" + std::to_string(rd()) + ".txt")).string();
  }
  ~TempPath() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path + ".tmp", ec);
  }
  void write(const std::string& content) const { std::ofstream(path, std::ios::binary) << content; }
};

// Frequencies: a=3, b=2, c=2, d=1, "<eos>"=1 (reserved, keeps its index)
const std::vector<V> kSentences = {{"c", "a", "b"}, {"a", "d", "c"}, {"b", "a", "<eos>"}};

}  // namespace

TEST_CASE("Vocab::build follows d2l Vocab", "[data][vocab]") {
  SECTION("reserved tokens first") {
    const Vocab v = Vocab::build(kSentences, 1);
    CHECK(v.unk() == 0);
    CHECK(v.pad() == 1);
    CHECK(v.bos() == 2);
    CHECK(v.eos() == 3);
    CHECK(v.to_token(0) == "<unk>");
    CHECK(v.to_token(1) == "<pad>");
    CHECK(v.to_token(2) == "<bos>");
    CHECK(v.to_token(3) == "<eos>");
    CHECK(v.to_index("<eos>") == 3);
  }
  SECTION("descending frequency, ties by ascending bytes") {
    const Vocab v = Vocab::build(kSentences, 1);
    REQUIRE(v.size() == 8);
    CHECK(v.decode({4, 5, 6, 7}) == V{"a", "b", "c", "d"});
  }
  SECTION("tie-break is byte-wise and independent of input order") {
    const std::vector<V> s1 = {{"z", "\xC3\xA9", "b", "B"}};
    const std::vector<V> s2 = {{"B", "b", "\xC3\xA9", "z"}};
    const Vocab v1 = Vocab::build(s1, 1);
    const Vocab v2 = Vocab::build(s2, 1);
    CHECK(v1.decode({4, 5, 6, 7}) == V{"B", "b", "z", "\xC3\xA9"});  // 'B' < 'b' < 'z' < 0xC3
    CHECK(v2.decode({4, 5, 6, 7}) == v1.decode({4, 5, 6, 7}));
  }
  SECTION("min_freq") {
    const Vocab v2 = Vocab::build(kSentences, 2);
    CHECK(v2.size() == 7);  // a b c
    CHECK(v2.to_index("d") == v2.unk());
    CHECK(v2.to_index("a") == 4);
    const Vocab v4 = Vocab::build(kSentences, 4);
    CHECK(v4.size() == 4);
    CHECK_THROWS_AS(Vocab::build(kSentences, 0), std::invalid_argument);
    CHECK_THROWS_WITH(Vocab::build(kSentences, -1), Catch::Contains("min_freq") && Catch::Contains("-1"));
  }
  SECTION("unknown tokens, encode, decode") {
    const Vocab v = Vocab::build(kSentences, 1);
    CHECK(v.to_index("never seen") == 0);
    CHECK(v.encode({"a", "zzz", "d"}) == I{4, 0, 7});
    CHECK(v.decode({4, 0, 7}) == V{"a", "<unk>", "d"});
    CHECK_THROWS_AS(v.to_token(8), std::out_of_range);
    CHECK_THROWS_WITH(v.to_token(-1), Catch::Contains("-1"));
    CHECK_THROWS_AS(v.decode({1, 99}), std::out_of_range);
  }
  SECTION("empty vocabulary") {
    const Vocab v;
    CHECK(v.size() == 0);
    CHECK_THROWS_AS(v.to_token(0), std::out_of_range);
  }
}

TEST_CASE("Vocab save/load", "[data][vocab]") {
  SECTION("round trip is exact") {
    const Vocab v = Vocab::build({{"\xC3\xA7" "a", "va", "?", "va"}, {"x\ty", "a\rb"}}, 1);
    TempPath tmp("nmt_vocab_roundtrip");
    v.save(tmp.path);
    CHECK_FALSE(std::filesystem::exists(tmp.path + ".tmp"));
    const Vocab w = Vocab::load(tmp.path);
    REQUIRE(w.size() == v.size());
    for (int64_t i = 0; i < v.size(); ++i) CHECK(w.to_token(i) == v.to_token(i));
    CHECK(w.to_index("va") == v.to_index("va"));
    std::ifstream in(tmp.path, std::ios::binary);
    std::string first;
    std::getline(in, first);
    CHECK(first == "<unk>");
  }
  SECTION("missing file") {
    CHECK_THROWS_AS(Vocab::load("/nonexistent/dir/vocab.txt"), std::runtime_error);
    CHECK_THROWS_WITH(Vocab::load("/nonexistent/dir/vocab.txt"), Catch::Contains("/nonexistent/dir/vocab.txt"));
  }
  SECTION("save to an unwritable place") {
    const Vocab v = Vocab::build(kSentences, 1);
    CHECK_THROWS_AS(v.save("/nonexistent/dir/vocab.txt"), std::runtime_error);
  }
  SECTION("empty file") {
    TempPath tmp("nmt_vocab_empty");
    tmp.write("");
    CHECK_THROWS_AS(Vocab::load(tmp.path), std::runtime_error);
    CHECK_THROWS_WITH(Vocab::load(tmp.path), Catch::Contains(tmp.path) && Catch::Contains("empty"));
  }
  SECTION("duplicate token names file and line") {
    TempPath tmp("nmt_vocab_dup");
    tmp.write("<unk>\n<pad>\n<bos>\n<eos>\nhello\nworld\nhello\n");
    CHECK_THROWS_AS(Vocab::load(tmp.path), std::runtime_error);
    CHECK_THROWS_WITH(Vocab::load(tmp.path), Catch::Contains(tmp.path) && Catch::Contains("line 7") &&
                                                 Catch::Contains("duplicate"));
  }
  SECTION("missing reserved tokens") {
    TempPath tmp("nmt_vocab_noreserved");
    tmp.write("<unk>\n<pad>\nhello\n");
    CHECK_THROWS_AS(Vocab::load(tmp.path), std::runtime_error);
    CHECK_THROWS_WITH(Vocab::load(tmp.path), Catch::Contains(tmp.path) && Catch::Contains("line 3") &&
                                                 Catch::Contains("<bos>"));
  }
  SECTION("empty line") {
    TempPath tmp("nmt_vocab_blank");
    tmp.write("<unk>\n<pad>\n<bos>\n<eos>\n\nx\n");
    CHECK_THROWS_WITH(Vocab::load(tmp.path), Catch::Contains(tmp.path) && Catch::Contains("line 5"));
  }
}

TEST_CASE("encode_sequence follows d2l build_array_nmt + truncate_pad", "[data][vocab]") {
  const Vocab v = Vocab::build(kSentences, 1);  // a=4 b=5 c=6 d=7
  SECTION("pads after <eos>") {
    const auto s = encode_sequence(v, {"a", "b"}, 5);
    CHECK(s.ids == I{4, 5, 3, 1, 1});
    CHECK(s.valid_len == 3);
  }
  SECTION("exact fit keeps <eos>") {
    const auto s = encode_sequence(v, {"a", "b", "c"}, 4);
    CHECK(s.ids == I{4, 5, 6, 3});
    CHECK(s.valid_len == 4);
  }
  SECTION("truncation drops <eos>") {
    const auto s = encode_sequence(v, {"a", "b", "c", "d"}, 3);
    CHECK(s.ids == I{4, 5, 6});
    CHECK(s.valid_len == 3);
  }
  SECTION("unknown token and empty sentence") {
    CHECK(encode_sequence(v, {"zzz"}, 3).ids == I{0, 3, 1});
    const auto e = encode_sequence(v, {}, 2);
    CHECK(e.ids == I{3, 1});
    CHECK(e.valid_len == 1);
  }
  SECTION("num_steps < 1") {
    CHECK_THROWS_AS(encode_sequence(v, {"a"}, 0), std::invalid_argument);
    CHECK_THROWS_WITH(encode_sequence(v, {"a"}, -2), Catch::Contains("-2"));
  }
}

TEST_CASE("Vocab::from_tokens keeps the given order after the reserved tokens", "[data][vocab]") {
  const Vocab v = Vocab::from_tokens({"\xe2\x96\x81je", "s", "<unk>", "s", "<0x41>"});
  CHECK(v.size() == 7);
  CHECK(v.to_token(4) == "\xe2\x96\x81je");
  CHECK(v.to_token(5) == "s");
  CHECK(v.to_token(6) == "<0x41>");
  CHECK(v.to_index("<unk>") == v.unk());
  CHECK_THROWS_AS(Vocab::from_tokens({""}), std::invalid_argument);
  CHECK_THROWS_AS(Vocab::from_tokens({"a\nb"}), std::invalid_argument);
}
