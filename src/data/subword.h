#pragma once
// Subword segmentation with SentencePiece (Kudo & Richardson 2018; unigram LM, Kudo 2018; BPE, Sennrich et al.
// 2016), used as JoeyNMT, Marian and fairseq use it: a model trained on the training split's preprocessed text
// turns each sentence into pieces ("▁je", "▁sui", "s") and pieces back into text.
//
// SentencePiece is not linked into nmt: it lives in libnmt_spm.so (src/spm), loaded with dlmopen into a link
// namespace of its own because Debian's libsentencepiece and LibTorch carry clashing protobuf copies. The library
// is looked up, in order, at $NMT_SPM_LIBRARY, beside the running executable, and at the path CMake installed it to.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nmt::data {

/// How a SentencePiece model is trained (spm_train's flags of the same names).
struct SubwordTrainOptions {
  std::string model_type = "unigram";  ///< "unigram" or "bpe"
  int64_t vocab_size = 8000;           ///< pieces, SentencePiece's `<unk>` included (a soft limit on tiny corpora)
  double character_coverage = 1.0;     ///< share of characters covered by single-character pieces; rarer ones
                                       ///< are spelled as UTF-8 byte pieces (`<0xE2>`), never `<unk>`
  int num_threads = 2;                 ///< trainer threads (the result does not depend on them)
};

/// A trained SentencePiece model: the serialised ModelProto (the bytes of a `.model` file) and a processor for it.
/// Copies share the processor; encode and decode are const and thread-safe.
class SubwordModel {
 public:
  /// Trains on `sentences` (preprocessed text, one sentence each) in memory; identity normalisation (the text is
  /// already d2l-preprocessed, so decode(encode(s)) == s for every s made of covered characters), byte fallback,
  /// `<unk>` as id 0 and no `<s>`/`</s>`/`<pad>` pieces (nmt's Vocab adds its own specials). The same sentences
  /// and options give the same model bytes. Throws std::invalid_argument for a bad model_type, vocab_size < 1 or
  /// character_coverage outside (0, 1]; std::runtime_error with SentencePiece's message when training fails (an
  /// empty corpus, a vocab_size too small for the characters); std::runtime_error when libnmt_spm.so is missing.
  static SubwordModel train(const std::vector<std::string>& sentences, const SubwordTrainOptions& options);

  /// Reads a `.model` file. Throws std::runtime_error naming `path` when it is missing, unreadable or not a
  /// SentencePiece model.
  static SubwordModel load(const std::string& path);

  /// Writes the model bytes to `path` atomically (temporary file, fsync, rename). Throws std::runtime_error
  /// naming the path on failure.
  void save(const std::string& path) const;

  /// The serialised model (what save writes).
  const std::string& bytes() const { return bytes_; }

  /// Pieces of each text (best segmentation). Throws std::runtime_error on a SentencePiece error.
  std::vector<std::vector<std::string>> encode(const std::vector<std::string>& texts) const;

  /// Sampled segmentations (subword regularisation, Kudo 2018: nbest_size -1, smoothing `alpha` > 0); a function of
  /// (texts, alpha, seed). Throws std::invalid_argument if alpha <= 0.
  std::vector<std::vector<std::string>> sample_encode(const std::vector<std::string>& texts, double alpha,
                                                      uint32_t seed) const;

  /// Text of each piece list (pieces joined, `▁` to spaces, byte pieces to their UTF-8 bytes; invalid byte
  /// sequences become U+FFFD). Unknown pieces decode as SentencePiece's unknown surface (" ⁇ ").
  std::vector<std::string> decode(const std::vector<std::vector<std::string>>& pieces) const;

  /// The pieces a model can emit, in SentencePiece id order: normal and byte pieces (not `<unk>`, control or unused).
  std::vector<std::string> pieces() const;

 private:
  struct Processor;
  SubwordModel(std::string bytes, const std::string& name);
  std::vector<std::vector<std::string>> encode_impl(const std::vector<std::string>& texts, double alpha,
                                                    uint32_t seed) const;

  std::string bytes_;
  std::shared_ptr<Processor> processor_;
};

/// Path of libnmt_spm.so as found now (see the file comment), or "" when it is nowhere.
std::string subword_library_path();

}  // namespace nmt::data
