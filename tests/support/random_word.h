#pragma once
// Test helper: random words and numbers for copy tasks (a model can only translate them by copying their pieces).

#include <cstddef>
#include <random>
#include <string>

namespace nmt::test {

/// A random lower-case word (letters a-z) or, with `digits`, number (0-9) of 3 to 9 characters drawn from `rng`.
inline std::string random_word(std::mt19937& rng, bool digits) {
  const std::string letters = digits ? "0123456789" : "abcdefghijklmnopqrstuvwxyz";
  std::uniform_int_distribution<int> len(3, 9), pick(0, static_cast<int>(letters.size()) - 1);
  std::string w;
  for (int i = len(rng); i > 0; --i) w += letters[static_cast<std::size_t>(pick(rng))];
  return w;
}

}  // namespace nmt::test
