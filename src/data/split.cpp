#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace nmt::data {

namespace {

/// Uniform integer in [0, bound) without modulo bias (bound >= 1).
uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  for (;;) {
    const uint64_t r = rng();
    if (r >= threshold) return r % bound;
  }
}

bool valid_ratio_value(double r) { return std::isfinite(r) && r >= 0.0 && r < 1.0; }

}  // namespace

Split split_by_source(const std::vector<SentencePair>& pairs, double valid_ratio, double test_ratio, uint64_t seed) {
  if (!valid_ratio_value(valid_ratio) || !valid_ratio_value(test_ratio) || !(valid_ratio + test_ratio < 1.0)) {
    throw std::invalid_argument("split_by_source: valid_ratio (" + std::to_string(valid_ratio) + ") and test_ratio (" +
                                std::to_string(test_ratio) + ") must each be in [0, 1) with a sum < 1");
  }
  // Group pairs by source sentence, groups numbered in order of first appearance.
  std::unordered_map<std::string, int64_t> group_of;
  group_of.reserve(pairs.size());
  std::vector<int64_t> pair_group(pairs.size());
  std::string key;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    key.clear();
    for (std::size_t k = 0; k < pairs[i].source.size(); ++k) {
      if (k) key.push_back(' ');
      key += pairs[i].source[k];
    }
    const auto it = group_of.emplace(key, static_cast<int64_t>(group_of.size())).first;
    pair_group[i] = it->second;
  }
  const auto n_groups = static_cast<int64_t>(group_of.size());

  std::vector<int64_t> order(static_cast<std::size_t>(n_groups));
  for (int64_t g = 0; g < n_groups; ++g) order[static_cast<std::size_t>(g)] = g;
  std::mt19937_64 rng(seed);
  for (int64_t i = n_groups - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }

  const int64_t n_test = std::min<int64_t>(n_groups, std::llround(test_ratio * static_cast<double>(n_groups)));
  const int64_t n_valid =
      std::min<int64_t>(n_groups - n_test, std::llround(valid_ratio * static_cast<double>(n_groups)));
  // 0 = train, 1 = valid, 2 = test
  std::vector<unsigned char> group_split(static_cast<std::size_t>(n_groups), 0);
  for (int64_t k = 0; k < n_test + n_valid; ++k) {
    group_split[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])] = k < n_test ? 2 : 1;
  }

  Split split;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    switch (group_split[static_cast<std::size_t>(pair_group[i])]) {
      case 2: split.test.push_back(static_cast<int64_t>(i)); break;
      case 1: split.valid.push_back(static_cast<int64_t>(i)); break;
      default: split.train.push_back(static_cast<int64_t>(i)); break;
    }
  }
  return split;
}

}  // namespace nmt::data
