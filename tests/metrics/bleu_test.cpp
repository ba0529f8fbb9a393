#include "metrics/bleu.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using nmt::metrics::BleuStats;
using nmt::metrics::compute_bleu;
using nmt::metrics::corpus_bleu;
using nmt::metrics::d2l_bleu;
using nmt::metrics::mean_d2l_bleu;
using nmt::metrics::tokenize_13a;
using Tokens = std::vector<std::string>;

TEST_CASE("d2l_bleu reproduces the book's sentence BLEU", "[metrics][bleu]") {
  SECTION("book examples with k = 2") {
    // bp = 1, p1 = 3/4, p2 = 1/3 -> sqrt(0.75) * (1/3)^0.25 = 0.658
    CHECK_THAT(d2l_bleu("il est <unk> .", "il est calme .", 2), WithinAbs(0.658, 1e-3));
    // bp = exp(1 - 5/4), p1 = 3/4, p2 = 1/3 -> 0.512
    CHECK_THAT(d2l_bleu("je suis <unk> .", "je suis chez moi .", 2), WithinAbs(0.512, 1e-3));
    CHECK_THAT(d2l_bleu("va !", "va !", 2), WithinAbs(1.0, 1e-12));
    CHECK_THAT(d2l_bleu("j'ai perdu .", "j'ai perdu .", 2), WithinAbs(1.0, 1e-12));
  }
  SECTION("nothing in common scores 0") {
    CHECK(d2l_bleu("a b c", "x y z", 2) == 0.0);
  }
  SECTION("clipping: a repeated token only matches as often as in the label") {
    // p1 = 1/4 (only one "the" in the label), p2 = 0/3 -> 0
    CHECK(d2l_bleu("the the the the", "the cat", 2) == 0.0);
    // k = 1: bp = 1 (pred longer), p1 = 1/4 -> 0.25^0.5 = 0.5
    CHECK_THAT(d2l_bleu("the the the the", "the cat", 1), WithinAbs(0.5, 1e-12));
  }
  SECTION("orders longer than the prediction are skipped, as in the book's min(k, len_pred)") {
    // pred has 1 token: only p1 = 1 counts, bp = exp(1 - 2/1)
    CHECK_THAT(d2l_bleu("a", "a b", 2), WithinAbs(std::exp(-1.0), 1e-12));
    CHECK_THAT(d2l_bleu("a", "a", 4), WithinAbs(1.0, 1e-12));
  }
  SECTION("empty prediction scores 0") {
    CHECK(d2l_bleu("", "a b", 2) == 0.0);
    CHECK(d2l_bleu("", "", 2) == 0.0);
  }
  SECTION("split on single spaces like Python's split(' ')") {
    // "a  b" -> ["a", "", "b"]: 3 tokens vs 2, unigram matches 2/3, bigrams 0/2 -> 0 with k = 2
    CHECK(d2l_bleu("a  b", "a b", 2) == 0.0);
    CHECK_THAT(d2l_bleu("a  b", "a b", 1), WithinAbs(std::sqrt(2.0 / 3.0), 1e-12));
  }
}

TEST_CASE("mean_d2l_bleu averages sentence scores", "[metrics][bleu]") {
  SECTION("average of two book examples") {
    const double mean = mean_d2l_bleu({"il est <unk> .", "va !"}, {"il est calme .", "va !"}, 2);
    CHECK_THAT(mean, WithinAbs((0.6580370064762462 + 1.0) / 2.0, 1e-9));
  }
  SECTION("empty input gives 0") { CHECK(mean_d2l_bleu({}, {}) == 0.0); }
  SECTION("size mismatch throws") {
    CHECK_THROWS_AS(mean_d2l_bleu({"a"}, {"a", "b"}), std::invalid_argument);
  }
}

TEST_CASE("tokenize_13a matches sacreBLEU's 13a tokenizer", "[metrics][bleu]") {
  SECTION("punctuation is split off") {
    CHECK(tokenize_13a("Hello, world.") == Tokens{"Hello", ",", "world", "."});
    CHECK(tokenize_13a("(x)") == Tokens{"(", "x", ")"});
    CHECK(tokenize_13a("a/b?!") == Tokens{"a", "/", "b", "?", "!"});
    CHECK(tokenize_13a("don't") == Tokens{"don't"});  // apostrophe is not in the split set
  }
  SECTION("periods and commas between digits stay") {
    CHECK(tokenize_13a("3.14") == Tokens{"3.14"});
    CHECK(tokenize_13a("pi is 3.14.") == Tokens{"pi", "is", "3.14", "."});
    CHECK(tokenize_13a("1,000 people") == Tokens{"1,000", "people"});
    CHECK(tokenize_13a("a,b") == Tokens{"a", ",", "b"});
    // only one neighbour is a digit: split
    CHECK(tokenize_13a(".5") == Tokens{".", "5"});
    CHECK(tokenize_13a("5.a") == Tokens{"5", ".", "a"});
  }
  SECTION("dash is split only after a digit") {
    CHECK(tokenize_13a("a-b") == Tokens{"a-b"});
    CHECK(tokenize_13a("1-2") == Tokens{"1", "-", "2"});
    CHECK(tokenize_13a("a-2") == Tokens{"a-2"});
  }
  SECTION("HTML entities are unescaped once, in sacreBLEU's order") {
    CHECK(tokenize_13a("&quot;hi&quot;") == Tokens{"\"", "hi", "\""});
    CHECK(tokenize_13a("a &lt;b&gt;") == Tokens{"a", "<", "b", ">"});
    // &amp;quot; -> &quot; (not unescaped again) -> & quot ;
    CHECK(tokenize_13a("&amp;quot;") == Tokens{"&", "quot", ";"});
  }
  SECTION("<skipped>, hyphenated line breaks and newlines") {
    CHECK(tokenize_13a("a <skipped> b") == Tokens{"a", "b"});
    CHECK(tokenize_13a("multi-\nline") == Tokens{"multiline"});
    CHECK(tokenize_13a("a\nb") == Tokens{"a", "b"});
  }
  SECTION("whitespace as in Python's str.split()") {
    CHECK(tokenize_13a("  a \t b  ").size() == 2);
    CHECK(tokenize_13a("a\xc2\xa0" "b") == Tokens{"a", "b"});     // U+00A0 no-break space
    CHECK(tokenize_13a("a\xe3\x80\x80" "b") == Tokens{"a", "b"});  // U+3000 ideographic space
    CHECK(tokenize_13a("caf\xc3\xa9.") == Tokens{"caf\xc3\xa9", "."});
    CHECK(tokenize_13a("").empty());
  }
}

TEST_CASE("BleuStats accumulates clipped n-gram counts", "[metrics][bleu]") {
  BleuStats stats;
  stats.add("the the the", "the cat");
  // unigrams: 3 "the", 1 in the reference -> 1/3; bigrams "the the" x2 -> 0/2; trigram 0/1
  CHECK(stats.correct == std::array<int64_t, 4>{1, 0, 0, 0});
  CHECK(stats.total == std::array<int64_t, 4>{3, 2, 1, 0});
  CHECK(stats.sys_len == 3);
  CHECK(stats.ref_len == 2);
  SECTION("trailing whitespace is stripped before tokenizing, like sacreBLEU") {
    BleuStats s2;
    s2.add("abc-\n", "abc-");  // rstrip keeps the dash: "abc-" in both
    CHECK(s2.correct[0] == 1);
    CHECK(s2.total[0] == 1);
  }
}

TEST_CASE("corpus_bleu reproduces sacreBLEU corpus BLEU", "[metrics][bleu]") {
  SECTION("two sentences worked out by hand") {
    // 1) hyp "the cat sat on the mat" / ref "the cat is on the mat" (6 / 6 tokens)
    //    1-grams 5/6 (the x2, cat, on, mat), 2-grams 3/5 (the cat, on the, the mat),
    //    3-grams 1/4 (on the mat), 4-grams 0/3
    // 2) hyp "a dog barks." / ref "the dog barks loudly." -> 13a: "a dog barks ." (4) / "the dog barks loudly ." (5)
    //    1-grams 3/4 (dog, barks, .), 2-grams 1/3 (dog barks), 3-grams 0/2, 4-grams 0/1
    // totals: correct {8, 4, 1, 0}, total {10, 8, 6, 4}, sys_len 10, ref_len 11
    // precisions: 80, 50, 16.667, and 4-grams have no match: exp smoothing -> 100 / (2 * 4) = 12.5
    // BP = exp(1 - 11/10) = 0.904837; BLEU = BP * (80 * 50 * 16.667 * 12.5)^(1/4) = 27.3385
    const auto r = corpus_bleu({"the cat sat on the mat", "a dog barks."},
                               {"the cat is on the mat", "the dog barks loudly."});
    CHECK_THAT(r.precisions[0], WithinAbs(80.0, 1e-9));
    CHECK_THAT(r.precisions[1], WithinAbs(50.0, 1e-9));
    CHECK_THAT(r.precisions[2], WithinAbs(100.0 / 6.0, 1e-9));
    CHECK_THAT(r.precisions[3], WithinAbs(12.5, 1e-9));
    CHECK_THAT(r.brevity_penalty, WithinAbs(std::exp(-0.1), 1e-12));
    CHECK_THAT(r.score, WithinAbs(27.338535134616688, 1e-9));
    CHECK(r.sys_len == 10);
    CHECK(r.ref_len == 11);
    CHECK(r.sentences == 2);

    const auto j = r.to_json();
    CHECK_THAT(j.at("bleu").get<double>(), WithinAbs(27.338535134616688, 1e-9));
    CHECK(j.at("precisions").size() == 4);
    CHECK_THAT(j.at("precisions").at(1).get<double>(), WithinAbs(50.0, 1e-9));
    CHECK_THAT(j.at("brevity_penalty").get<double>(), WithinAbs(std::exp(-0.1), 1e-12));
    CHECK(j.at("sys_len").get<int64_t>() == 10);
    CHECK(j.at("ref_len").get<int64_t>() == 11);
    CHECK(j.at("sentences").get<int64_t>() == 2);
  }
  SECTION("exp smoothing doubles for each zero-match order") {
    // hyp "a b c d" / ref "a x c y": 1-grams 2/4 = 50; 2-grams 0/3 -> 100/(2*3);
    // 3-grams 0/2 -> 100/(4*2) = 12.5; 4-grams 0/1 -> 100/(8*1) = 12.5; BP = 1
    const auto r = corpus_bleu({"a b c d"}, {"a x c y"});
    CHECK_THAT(r.precisions[0], WithinAbs(50.0, 1e-9));
    CHECK_THAT(r.precisions[1], WithinAbs(100.0 / 6.0, 1e-9));
    CHECK_THAT(r.precisions[2], WithinAbs(12.5, 1e-9));
    CHECK_THAT(r.precisions[3], WithinAbs(12.5, 1e-9));
    CHECK_THAT(r.brevity_penalty, WithinAbs(1.0, 1e-12));
    CHECK_THAT(r.score, WithinAbs(18.99589214128981, 1e-9));
  }
  SECTION("identical corpus scores 100") {
    const auto r = corpus_bleu({"the quick brown fox jumps ."}, {"the quick brown fox jumps ."});
    CHECK_THAT(r.score, WithinRel(100.0, 1e-12));
  }
  SECTION("orders with no n-grams at all stop the loop and give 0") {
    // 2 tokens: 3-gram and 4-gram totals are 0 -> precisions 0 -> log(0) = -9999999999 -> score 0
    const auto r = corpus_bleu({"a b"}, {"a b"});
    CHECK_THAT(r.precisions[0], WithinAbs(100.0, 1e-9));
    CHECK_THAT(r.precisions[1], WithinAbs(100.0, 1e-9));
    CHECK(r.precisions[2] == 0.0);
    CHECK(r.precisions[3] == 0.0);
    CHECK(r.score == 0.0);
  }
  SECTION("no match at all: score and precisions 0") {
    const auto r = corpus_bleu({"x y z w"}, {"a b c d"});
    CHECK(r.score == 0.0);
    CHECK(r.precisions == std::array<double, 4>{0, 0, 0, 0});
    CHECK(r.brevity_penalty == 1.0);
  }
  SECTION("brevity penalty") {
    CHECK(corpus_bleu({""}, {"a b"}).brevity_penalty == 0.0);
    CHECK_THAT(corpus_bleu({"a b c d"}, {"a b c d e f g h"}).brevity_penalty, WithinAbs(std::exp(-1.0), 1e-12));
  }
  SECTION("compute_bleu works on summed statistics") {
    BleuStats stats;
    stats.add("the cat sat on the mat", "the cat is on the mat");
    stats.add("a dog barks.", "the dog barks loudly.");
    CHECK(stats.correct == std::array<int64_t, 4>{8, 4, 1, 0});
    CHECK(stats.total == std::array<int64_t, 4>{10, 8, 6, 4});
    CHECK_THAT(compute_bleu(stats, 2).score, WithinAbs(27.338535134616688, 1e-9));
  }
  SECTION("several references: clipping by the largest count in one reference, closest length, ties shorter") {
    // sacreBLEU: hypothesis "a b c d" against "a b c" and "a b c d e" scores 100 with ref_len 3.
    const auto tie =
        nmt::metrics::corpus_bleu_multi({"a b c d"}, std::vector<std::vector<std::string>>{{"a b c", "a b c d e"}});
    CHECK_THAT(tie.score, WithinAbs(100.0, 1e-9));
    CHECK(tie.ref_len == 3);
    CHECK(tie.sys_len == 4);
    // "the the the" against "the cat" and "the the mat": "the" is clipped at 2 (not 1 + 2 = 3).
    BleuStats stats;
    stats.add("the the the", std::vector<std::string>{"the cat", "the the mat"});
    CHECK(stats.correct[0] == 2);
    CHECK(stats.total[0] == 3);
    CHECK(stats.ref_len == 3);  // |3 - 2| = |3 - 3| + 1: the closest is 3
  }
  SECTION("size mismatch throws and names both counts") {
    CHECK_THROWS_AS(corpus_bleu({"a", "b"}, {"a"}), std::invalid_argument);
    CHECK_THROWS_WITH(corpus_bleu({"a", "b"}, {"a"}), Catch::Contains("2") && Catch::Contains("1"));
  }
}
