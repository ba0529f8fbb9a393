#include "data/subword.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "common/io.h"
#include "spm/nmt_spm.h"

namespace nmt::data {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLibraryName = "libnmt_spm.so";

/// The functions of libnmt_spm.so, resolved once per process.
struct Api {
  decltype(&nmt_spm_free) free = nullptr;
  decltype(&nmt_spm_train) train = nullptr;
  decltype(&nmt_spm_load) load = nullptr;
  decltype(&nmt_spm_unload) unload = nullptr;
  decltype(&nmt_spm_encode) encode = nullptr;
  decltype(&nmt_spm_decode) decode = nullptr;
  decltype(&nmt_spm_pieces) pieces = nullptr;
};

std::vector<std::string> candidate_paths() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("NMT_SPM_LIBRARY"); env && *env) paths.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back((exe.parent_path() / kLibraryName).string());
#ifdef NMT_SPM_BUILD_PATH
  paths.emplace_back(NMT_SPM_BUILD_PATH);
#endif
  return paths;
}

template <typename F>
void resolve(void* handle, const char* name, F& f, const std::string& path) {
  f = reinterpret_cast<F>(dlsym(handle, name));
  if (!f) throw std::runtime_error(path + " lacks " + name + " (a different libnmt_spm.so?)");
}

Api load_api() {
  const std::string path = subword_library_path();
  if (path.empty()) {
    std::string looked;
    for (const auto& p : candidate_paths()) looked += (looked.empty() ? "" : ", ") + p;
    throw std::runtime_error(std::string("SentencePiece support library ") + kLibraryName + " not found (looked at " +
                             looked + "); build the nmt_spm target or set NMT_SPM_LIBRARY");
  }
  // A link namespace of its own: libsentencepiece's protobuf symbols never meet LibTorch's.
  void* handle = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw std::runtime_error("cannot load " + path + ": " + dlerror());
  Api api;
  resolve(handle, "nmt_spm_free", api.free, path);
  resolve(handle, "nmt_spm_train", api.train, path);
  resolve(handle, "nmt_spm_load", api.load, path);
  resolve(handle, "nmt_spm_unload", api.unload, path);
  resolve(handle, "nmt_spm_encode", api.encode, path);
  resolve(handle, "nmt_spm_decode", api.decode, path);
  resolve(handle, "nmt_spm_pieces", api.pieces, path);
  return api;  // the handle stays open for the life of the process
}

const Api& api() {
  static std::mutex mutex;
  static std::unique_ptr<Api> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  if (!loaded) loaded = std::make_unique<Api>(load_api());  // a failure throws and is retried by the next call
  return *loaded;
}

/// Owns a buffer malloc'd inside libnmt_spm.so's namespace.
struct Buffer {
  char* data = nullptr;
  size_t size = 0;
  ~Buffer() { api().free(data); }
};

/// Turns a failed call's message into std::runtime_error(`what` + ": " + message). (The return code is passed
/// separately from the call: `error` must be read after the call has set it.)
void check(int rc, char* error, const std::string& what) {
  if (rc == 0) return;
  std::string message = error ? error : "unknown error";
  api().free(error);
  throw std::runtime_error(what + ": " + message);
}

uint32_t get_u32(std::string_view buf, size_t& pos) {
  if (buf.size() - pos < 4) throw std::runtime_error("libnmt_spm.so returned a truncated buffer");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(buf[pos + i])) << (8 * i);
  pos += 4;
  return v;
}

/// Reads one framed list (nmt_spm.h) at `pos`.
std::vector<std::string> get_list(std::string_view buf, size_t& pos) {
  std::vector<std::string> items(get_u32(buf, pos));
  for (auto& item : items) {
    const uint32_t len = get_u32(buf, pos);
    if (buf.size() - pos < len) throw std::runtime_error("libnmt_spm.so returned a truncated buffer");
    item.assign(buf.substr(pos, len));
    pos += len;
  }
  return items;
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// Pointer and length arrays over `texts` for the C interface.
struct TextArrays {
  std::vector<const char*> data;
  std::vector<size_t> lengths;
  explicit TextArrays(const std::vector<std::string>& texts) {
    for (const auto& t : texts) data.push_back(t.data()), lengths.push_back(t.size());
  }
};

}  // namespace

std::string subword_library_path() {
  std::error_code ec;
  for (const auto& p : candidate_paths())
    if (fs::is_regular_file(p, ec)) return p;
  return "";
}

struct SubwordModel::Processor {
  nmt_spm_processor* handle = nullptr;
  ~Processor() {
    if (handle) api().unload(handle);
  }
};

SubwordModel::SubwordModel(std::string bytes, const std::string& name) : bytes_(std::move(bytes)) {
  char* error = nullptr;
  auto processor = std::make_shared<Processor>();
  processor->handle = api().load(bytes_.data(), bytes_.size(), &error);
  if (!processor->handle) {
    std::string message = error ? error : "unknown error";
    api().free(error);
    throw std::runtime_error(name + " is not a SentencePiece model (corrupted or truncated?): " + message);
  }
  processor_ = std::move(processor);
}

SubwordModel SubwordModel::train(const std::vector<std::string>& sentences, const SubwordTrainOptions& options) {
  if (options.model_type != "unigram" && options.model_type != "bpe")
    throw std::invalid_argument("SentencePiece model_type must be \"unigram\" or \"bpe\" (got \"" +
                                options.model_type + "\")");
  if (options.vocab_size < 1)
    throw std::invalid_argument("SentencePiece vocab_size must be >= 1 (got " + std::to_string(options.vocab_size) + ")");
  if (!(options.character_coverage > 0 && options.character_coverage <= 1))
    throw std::invalid_argument("SentencePiece character_coverage must be in (0, 1] (got " +
                                std::to_string(options.character_coverage) + ")");
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"model_type", options.model_type},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"character_coverage", std::to_string(options.character_coverage)},
      {"num_threads", std::to_string(std::max(1, options.num_threads))},
      {"normalization_rule_name", "identity"},
      {"byte_fallback", "true"},
      {"hard_vocab_limit", "false"},
      {"unk_id", "0"},
      {"bos_id", "-1"},
      {"eos_id", "-1"},
      {"pad_id", "-1"},
      {"input_sentence_size", "0"},
      {"max_sentence_length", "100000"},
      {"minloglevel", "2"},  // warnings and errors only
  };
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : flags) keys.push_back(k.c_str()), values.push_back(v.c_str());
  const TextArrays texts(sentences);
  Buffer model;
  char* error = nullptr;
  const int rc = api().train(texts.data.data(), texts.lengths.data(), sentences.size(), keys.data(), values.data(),
                             keys.size(), &model.data, &model.size, &error);
  check(rc, error, "SentencePiece training failed");
  return SubwordModel(std::string(model.data, model.size), "the trained model");
}

SubwordModel SubwordModel::load(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw std::runtime_error("SentencePiece model not found: " + path);
  return SubwordModel(common::read_text(path), path);
}

void SubwordModel::save(const std::string& path) const { common::write_text_atomic(path, bytes_); }

std::vector<std::vector<std::string>> SubwordModel::encode_impl(const std::vector<std::string>& texts, double alpha,
                                                                uint32_t seed) const {
  const TextArrays arrays(texts);
  Buffer out;
  char* error = nullptr;
  const int rc = api().encode(processor_->handle, arrays.data.data(), arrays.lengths.data(), texts.size(),
                              static_cast<float>(alpha), seed, &out.data, &out.size, &error);
  check(rc, error, "SentencePiece encoding failed");
  std::vector<std::vector<std::string>> pieces;
  pieces.reserve(texts.size());
  size_t pos = 0;
  const std::string_view buf(out.data, out.size);
  for (size_t i = 0; i < texts.size(); ++i) pieces.push_back(get_list(buf, pos));
  return pieces;
}

std::vector<std::vector<std::string>> SubwordModel::encode(const std::vector<std::string>& texts) const {
  return encode_impl(texts, 0.0, 0);
}

std::vector<std::vector<std::string>> SubwordModel::sample_encode(const std::vector<std::string>& texts, double alpha,
                                                                  uint32_t seed) const {
  if (!(alpha > 0)) throw std::invalid_argument("subword sampling needs alpha > 0 (got " + std::to_string(alpha) + ")");
  return encode_impl(texts, alpha, seed);
}

std::vector<std::string> SubwordModel::decode(const std::vector<std::vector<std::string>>& pieces) const {
  std::string in;
  for (const auto& list : pieces) {
    put_u32(in, static_cast<uint32_t>(list.size()));
    for (const auto& p : list) {
      put_u32(in, static_cast<uint32_t>(p.size()));
      in += p;
    }
  }
  Buffer out;
  char* error = nullptr;
  const int rc = api().decode(processor_->handle, in.data(), in.size(), pieces.size(), &out.data, &out.size, &error);
  check(rc, error, "SentencePiece decoding failed");
  size_t pos = 0;
  return get_list(std::string_view(out.data, out.size), pos);
}

std::vector<std::string> SubwordModel::pieces() const {
  Buffer list, kinds;
  char* error = nullptr;
  const int rc = api().pieces(processor_->handle, &list.data, &list.size, &kinds.data, &error);
  check(rc, error, "SentencePiece piece list");
  size_t pos = 0;
  std::vector<std::string> all = get_list(std::string_view(list.data, list.size), pos), kept;
  for (size_t i = 0; i < all.size(); ++i)
    if (kinds.data[i] == 0 || kinds.data[i] == 3) kept.push_back(std::move(all[i]));
  return kept;
}

}  // namespace nmt::data
