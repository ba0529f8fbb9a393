#pragma once
// Test helper: where the full English–French corpus lives on this machine.

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace nmt::test {

/// The full corpus: $NMT_DATA_DIR/fra.txt when NMT_DATA_DIR is set, else data/fra-eng/fra.txt in the checkout
/// (scripts/get_data.sh), else ../shared/data/fra-eng/fra.txt beside it (where CI keeps it); the same order
/// as scripts/get_data.sh. Empty when none exists.
inline std::string full_corpus_path() {
  const std::string root = NMT_SOURCE_DIR;
  std::vector<std::string> candidates;
  if (const char* dir = std::getenv("NMT_DATA_DIR"); dir && *dir) candidates.push_back(std::string(dir) + "/fra.txt");
  else candidates = {root + "/data/fra-eng/fra.txt", root + "/../shared/data/fra-eng/fra.txt"};
  for (const auto& p : candidates)
    if (std::filesystem::is_regular_file(p)) return p;
  return {};
}

/// The message for a missing corpus (CI always has it beside the checkout: tests fail rather than skip).
inline const char* kCorpusMissing = "fra.txt not found in $NMT_DATA_DIR, " NMT_SOURCE_DIR "/data/fra-eng/ or " NMT_SOURCE_DIR
                                    "/../shared/data/fra-eng/; run scripts/get_data.sh";

}  // namespace nmt::test
