#include "metrics/chrf.h"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/bleu.h"
#include "metrics/text.h"

using Catch::Matchers::WithinAbs;
using nmt::metrics::corpus_chrf;
using nmt::metrics::corpus_chrf_multi;

namespace {
using V = std::vector<std::string>;

// Two segments whose scores sacreBLEU 2.6.0 gives: corpus_chrf / corpus_chrf(word_order=2) / corpus_bleu with
// these hypotheses and references (runs of spaces and a trailing space in the second hypothesis on purpose).
const V kHyps{"The cat sat on the mat.",
              "Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "};
const V kRefs{"The cat is on the mat.",
              "Das Verh\xC3\xA4ltnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."};
// A second reference set; sacreBLEU 2.6.0 with both sets gives the multi-reference values below.
const V kRefs2{"There is a cat on the mat.", "Die Beziehung zwischen Obama und Netanjahu ist nicht freundlich."};
}  // namespace

TEST_CASE("chrF2, chrF2++ and BLEU agree with sacreBLEU 2.6.0", "[metrics][chrf]") {
  CHECK_THAT(corpus_chrf(kHyps, kRefs).score, WithinAbs(65.374836, 5e-7));
  CHECK_THAT(corpus_chrf(kHyps, kRefs, 2).score, WithinAbs(64.319463, 5e-7));
  CHECK_THAT(nmt::metrics::corpus_bleu(kHyps, kRefs).score, WithinAbs(30.450743, 5e-7));
  CHECK(corpus_chrf(kHyps, kRefs).name() == "chrF2");
  CHECK(corpus_chrf(kHyps, kRefs, 2).name() == "chrF2++");
  CHECK(corpus_chrf(kHyps, kRefs).to_json()["sentences"] == 2);
}

TEST_CASE("several references agree with sacreBLEU 2.6.0", "[metrics][chrf]") {
  const std::vector<V> both{{kRefs[0], kRefs2[0]}, {kRefs[1], kRefs2[1]}};
  SECTION("two reference sets") {
    CHECK_THAT(corpus_chrf_multi(kHyps, both).score, WithinAbs(87.847902, 5e-7));
    CHECK_THAT(corpus_chrf_multi(kHyps, both, 2).score, WithinAbs(87.386112, 5e-7));
    CHECK_THAT(nmt::metrics::corpus_bleu_multi(kHyps, both).score, WithinAbs(70.472725, 5e-7));
  }
  SECTION("one reference each equals the single-reference overload") {
    const std::vector<V> one{{kRefs[0]}, {kRefs[1]}};
    CHECK(corpus_chrf_multi(kHyps, one).score == corpus_chrf(kHyps, kRefs).score);
    CHECK(corpus_chrf_multi(kHyps, one, 2).score == corpus_chrf(kHyps, kRefs, 2).score);
    CHECK(nmt::metrics::corpus_bleu_multi(kHyps, one).score == nmt::metrics::corpus_bleu(kHyps, kRefs).score);
  }
  SECTION("each segment takes its best reference; ties take the first") {
    // "abc" against "xyz" (chrF 0) and "abc" (100): the second one's statistics are summed.
    CHECK_THAT(corpus_chrf_multi({"abc"}, std::vector<V>{{"xyz", "abc"}}).score, WithinAbs(100.0, 1e-12));
    // Character 1-grams only: "aabc" against "c" (P 1/4, R 1) and "xcb" (P 2/4, R 2/3) both score F2 = 5/8.
    nmt::metrics::ChrfStats c_first(1, 0), xcb_first(1, 0);
    c_first.add("aabc", V{"c", "xcb"});
    xcb_first.add("aabc", V{"xcb", "c"});
    CHECK(c_first.counts == std::vector<int64_t>{4, 1, 1});
    CHECK(xcb_first.counts == std::vector<int64_t>{4, 3, 2});
  }
  SECTION("a segment without references is an error") {
    CHECK_THROWS_AS(corpus_chrf_multi({"a"}, std::vector<V>{{}}), std::invalid_argument);
    CHECK_THROWS_AS(nmt::metrics::corpus_bleu_multi({"a"}, std::vector<V>{{}}), std::invalid_argument);
  }
}

TEST_CASE("chrF on values worked out by hand", "[metrics][chrf]") {
  SECTION("identical text scores 100, whitespace aside") {
    CHECK_THAT(corpus_chrf({"le chat"}, {"le   chat"}).score, WithinAbs(100.0, 1e-12));
    CHECK_THAT(corpus_chrf({"lechat"}, {"le chat"}).score, WithinAbs(100.0, 1e-12));  // chrF ignores spaces
  }
  SECTION("orders without n-grams on a side are left out of the averages") {
    // "ab" vs "ac": 1-grams P = R = 1/2, 2-grams P = R = 0, orders 3-6 have none: P = R = 1/4, F2 = 1/4.
    CHECK_THAT(corpus_chrf({"ab"}, {"ac"}).score, WithinAbs(25.0, 1e-12));
    CHECK(corpus_chrf({""}, {"abc"}).score == 0.0);
    CHECK(corpus_chrf({}, {}).score == 0.0);
  }
  SECTION("chrF++ splits one punctuation mark off a word's end, else its start") {
    CHECK_THAT(corpus_chrf({"a."}, {"a ."}, 2).score, WithinAbs(100.0, 1e-12));
    // "(hi)" -> "(hi" ")"; "(hi )" -> "(" "hi" ")": char orders 1-4 match fully; word 1-grams P = 1/2, R = 1/3;
    // word 2-grams P = R = 0; six orders in the averages.
    const double p = (4 + 0.5) / 6, r = (4 + 1.0 / 3) / 6;
    CHECK_THAT(corpus_chrf({"(hi)"}, {"(hi )"}, 2).score, WithinAbs(100 * 5 * p * r / (4 * p + r), 1e-9));
    CHECK_THAT(corpus_chrf({"(hi)"}, {"(hi )"}, 0).score, WithinAbs(100.0, 1e-12));
  }
  SECTION("statistics are summed over the corpus before the F-score") {
    // Per-segment 100 and 25 would average 62.5; summed counts give the corpus score.
    nmt::metrics::ChrfStats stats(6, 0);
    stats.add("ab", "ac");
    stats.add("xyz", "xyz");
    // 1-grams: hyp 5, ref 5, match 4; 2-grams: 3, 3, 2; 3-grams: 1, 1, 1.
    const double p = (4.0 / 5 + 2.0 / 3 + 1.0) / 3;
    CHECK_THAT(nmt::metrics::compute_chrf(stats, 2, 2).score, WithinAbs(100 * p, 1e-9));
    CHECK_THAT(corpus_chrf({"ab", "xyz"}, {"ac", "xyz"}).score, WithinAbs(100 * p, 1e-9));
  }
  SECTION("an order the reference lacks counts no hypothesis n-grams (sacreBLEU)") {
    // "abc" vs "a" then "a" vs "abc": the first segment's hypothesis 2- and 3-grams are not counted, so
    // 2-grams total hyp 0 and drop out: 1-grams P = 2/4, R = 2/4; 3-grams none; orders 2-3 left out.
    nmt::metrics::ChrfStats stats(6, 0);
    stats.add("abc", "a");
    CHECK(stats.counts[3] == 0);  // 2-gram hypothesis count
    CHECK(stats.counts[4] == 0);
    stats.add("a", "abc");
    CHECK(stats.counts[3] == 0);
    CHECK(stats.counts[4] == 2);
    CHECK_THAT(nmt::metrics::compute_chrf(stats, 2, 2).score, WithinAbs(50.0, 1e-12));
  }
  SECTION("bad input") {
    CHECK_THROWS_AS(corpus_chrf({"a"}, {}), std::invalid_argument);
    CHECK_THROWS_AS(nmt::metrics::ChrfStats(0, 0), std::invalid_argument);
  }
}

TEST_CASE("metrics::lowercase and the whitespace of Python's str.split", "[metrics][chrf]") {
  CHECK(nmt::metrics::lowercase("\xC3\x87" "A VA \xC3\x89T\xC3\x89") == "\xC3\xA7" "a va \xC3\xA9t\xC3\xA9");
  CHECK(nmt::metrics::lowercase("ab\xFF") == "ab\xFF");
  CHECK(nmt::metrics::split_whitespace("a\xE2\x80\xAF!\xC2\xA0" "b\t c") == V{"a", "!", "b", "c"});
  CHECK(nmt::metrics::strip("  a b \xE2\x80\xAF") == "a b");
}
