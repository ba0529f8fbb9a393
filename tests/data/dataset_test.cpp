#include <catch2/catch.hpp>

#include <set>

#include <torch/torch.h>

#include "data/corpus.h"
#include "data/dataset.h"

using namespace nmt::data;

TEST_CASE("TensorDataset and batches", "[dataset]") {
  const Corpus corpus = read_corpus(NMT_SOURCE_DIR "/tests/fixtures/overfit_fra.txt", std::nullopt);
  std::vector<std::vector<std::string>> src, tgt;
  for (const auto& p : corpus.pairs) src.push_back(p.source), tgt.push_back(p.target);
  const Vocab sv = Vocab::build(src, 1), tv = Vocab::build(tgt, 1);
  std::vector<int64_t> all(corpus.pairs.size());
  std::iota(all.begin(), all.end(), 0);
  const TensorDataset d = make_tensor_dataset(corpus.pairs, all, sv, tv, 6);

  SECTION("ids are padded to num_steps with <eos> and valid lengths") {
    REQUIRE(d.src.sizes() == std::vector<int64_t>{8, 6});
    // "i lost ." -> 3 tokens + <eos>
    CHECK(d.src_valid_len[3].item<int64_t>() == 4);
    CHECK(d.src[3][3].item<int64_t>() == sv.eos());
    CHECK(d.src[3][4].item<int64_t>() == sv.pad());
    CHECK(d.src[3][0].item<int64_t>() == sv.to_index("i"));
    // "je suis chez moi ." -> 5 tokens + <eos> = 6
    CHECK(d.tgt_valid_len[5].item<int64_t>() == 6);
  }
  SECTION("epoch batches are a permutation that depends only on seed and epoch") {
    for (bool bucket : {false, true}) {
      auto a = epoch_batches(d, 3, 7, 2, bucket), b = epoch_batches(d, 3, 7, 2, bucket);
      REQUIRE(a.size() == 3);
      std::set<int64_t> seen;
      for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(torch::equal(a[i], b[i]));
        for (int64_t j = 0; j < a[i].size(0); ++j) seen.insert(a[i][j].item<int64_t>());
      }
      CHECK(seen.size() == 8);
    }
    auto e1 = torch::cat(epoch_batches(d, 8, 7, 1, false)), e2 = torch::cat(epoch_batches(d, 8, 7, 2, false));
    CHECK_FALSE(torch::equal(e1, e2));
    CHECK_THROWS_AS(epoch_batches(d, 0, 7, 1, false), std::invalid_argument);
  }
  SECTION("trimming drops all-padding columns only") {
    const Batch b = gather_batch(d, torch::tensor({0, 1}), /*trim=*/true);  // "go ." and "hi ." -> 3 steps
    CHECK(b.src.size(1) == 3);
    CHECK(torch::equal(b.src, d.src.index_select(0, torch::tensor({0, 1})).narrow(1, 0, 3)));
    CHECK(gather_batch(d, torch::tensor({0, 1}), false).src.size(1) == 6);
  }
}
