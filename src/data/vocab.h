#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace nmt::data {

/// Token <-> index vocabulary (d2l.ai section 10.5 / 9.2 `Vocab` with
/// reserved_tokens=['<pad>', '<bos>', '<eos>']). Index 0 is <unk>, 1 <pad>, 2 <bos>, 3 <eos>, then the
/// corpus tokens with frequency >= min_freq by descending frequency, ties broken by byte-wise
/// ascending token so the order is deterministic.
class Vocab {
 public:
  static constexpr const char* kUnk = "<unk>";
  static constexpr const char* kPad = "<pad>";
  static constexpr const char* kBos = "<bos>";
  static constexpr const char* kEos = "<eos>";

  /// An empty vocabulary (size 0); use build() or load() to get a usable one.
  Vocab() = default;

  /// Counts the tokens of `sentences` and keeps those occurring at least `min_freq` times. Empty tokens
  /// are ignored; corpus tokens equal to a reserved token keep the reserved index.
  /// Throws std::invalid_argument if min_freq < 1 or a token contains '\n' (it could not be saved).
  static Vocab build(const std::vector<std::vector<std::string>>& sentences, int64_t min_freq);

  /// The reserved tokens, then `tokens` in their order (duplicates and reserved tokens skipped): the vocabulary
  /// of a subword model's pieces. Throws std::invalid_argument if a token is empty or contains '\n'.
  static Vocab from_tokens(const std::vector<std::string>& tokens);

  /// Number of tokens, reserved ones included.
  int64_t size() const;
  /// Index of `token`, or unk() if it is not in the vocabulary.
  int64_t to_index(const std::string& token) const;
  /// Token at `index`. Throws std::out_of_range naming the index and size if index is not in [0, size()).
  const std::string& to_token(int64_t index) const;
  /// to_index for each token (same length as `tokens`).
  std::vector<int64_t> encode(const std::vector<std::string>& tokens) const;
  /// to_token for each id (same length as `ids`); throws std::out_of_range like to_token.
  std::vector<std::string> decode(const std::vector<int64_t>& ids) const;

  int64_t unk() const { return 0; }  ///< index of <unk>
  int64_t pad() const { return 1; }  ///< index of <pad>
  int64_t bos() const { return 2; }  ///< index of <bos>
  int64_t eos() const { return 3; }  ///< index of <eos>

  /// Writes one token per line (UTF-8, '\n' endings, in index order) to `path` with common::write_text_atomic
  /// (temporary file, fsync, rename, directory fsync). Throws std::runtime_error naming the path on failure.
  void save(const std::string& path) const;
  /// Reads a file written by save(). Throws std::runtime_error (a data error) naming the path if it is missing
  /// or unreadable, and naming the path and line if it is empty, has an empty line, a duplicate token, or does
  /// not start with <unk> <pad> <bos> <eos>.
  static Vocab load(const std::string& path);

 private:
  void add(const std::string& token);

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> index_;
};

/// One model input sequence (d2l.ai section 10.5 `build_array_nmt` + `truncate_pad`).
struct EncodedSequence {
  std::vector<int64_t> ids;  ///< length num_steps
  int64_t valid_len = 0;     ///< number of positions before the padding, in [1, num_steps]
};

/// Encodes `tokens` as their ids followed by <eos>, truncated to `num_steps` (so <eos> is dropped for
/// long sentences, as in d2l), then padded with <pad> up to `num_steps`. valid_len counts the
/// non-padding positions (d2l counts ids != <pad>, which is the same unless the text itself contains
/// the literal token "<pad>"). Throws std::invalid_argument if num_steps < 1.
EncodedSequence encode_sequence(const Vocab& vocab, const std::vector<std::string>& tokens, int64_t num_steps);

}  // namespace nmt::data
