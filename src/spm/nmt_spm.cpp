// libnmt_spm.so: the C interface of nmt_spm.h over SentencePiece 0.1.9x. Links SentencePiece only (no LibTorch).
#include "nmt_spm.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

struct nmt_spm_processor {
  sentencepiece::SentencePieceProcessor sp;
};

namespace {

/// A malloc'd copy of `s` (freed by nmt_spm_free).
char* copy_out(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p) {
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
  }
  return p;
}

void set_error(char** error, const std::string& message) {
  if (error) *error = copy_out(message);
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// Appends a framed list of `items` to `out`.
void put_list(std::string& out, const std::vector<std::string>& items) {
  put_u32(out, static_cast<uint32_t>(items.size()));
  for (const auto& item : items) {
    put_u32(out, static_cast<uint32_t>(item.size()));
    out += item;
  }
}

/// Reads a framed list at `pos` of `buf`; false when the buffer ends early.
bool get_list(std::string_view buf, size_t& pos, std::vector<std::string>& items) {
  auto u32 = [&](uint32_t& v) {
    if (buf.size() - pos < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(buf[pos + i])) << (8 * i);
    pos += 4;
    return true;
  };
  uint32_t n = 0;
  if (!u32(n)) return false;
  items.clear();
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t len = 0;
    if (!u32(len) || buf.size() - pos < len) return false;
    items.emplace_back(buf.substr(pos, len));
    pos += len;
  }
  return true;
}

/// Hands `s` to the caller as a malloc'd buffer.
int give(const std::string& s, char** out, size_t* out_len, char** error) {
  *out = static_cast<char*>(std::malloc(s.empty() ? 1 : s.size()));
  if (!*out) {
    set_error(error, "out of memory");
    return 1;
  }
  std::memcpy(*out, s.data(), s.size());
  *out_len = s.size();
  return 0;
}

/// Feeds in-memory sentences to the trainer.
class MemoryIterator : public sentencepiece::SentenceIterator {
 public:
  MemoryIterator(const char* const* texts, const size_t* lengths, size_t count)
      : texts_(texts), lengths_(lengths), count_(count) {
    load();
  }
  bool done() const override { return index_ >= count_; }
  void Next() override {
    ++index_;
    load();
  }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  void load() {
    if (index_ < count_) value_.assign(texts_[index_], lengths_[index_]);
  }
  const char* const* texts_;
  const size_t* lengths_;
  size_t count_;
  size_t index_ = 0;
  std::string value_;
};

}  // namespace

extern "C" {

void nmt_spm_free(void* buffer) { std::free(buffer); }

int nmt_spm_train(const char* const* texts, const size_t* lengths, size_t count, const char* const* keys,
                  const char* const* values, size_t n_options, char** model, size_t* model_len, char** error) {
  try {
    std::unordered_map<std::string, std::string> kwargs;
    for (size_t i = 0; i < n_options; ++i) kwargs[keys[i]] = values[i];
    MemoryIterator iterator(texts, lengths, count);
    std::string proto;
    const auto status = sentencepiece::SentencePieceTrainer::Train(kwargs, &iterator, &proto);
    if (!status.ok()) {
      set_error(error, status.ToString());
      return 1;
    }
    return give(proto, model, model_len, error);
  } catch (const std::exception& e) {
    set_error(error, e.what());
    return 1;
  }
}

nmt_spm_processor* nmt_spm_load(const char* model, size_t model_len, char** error) {
  try {
    auto p = std::make_unique<nmt_spm_processor>();
    const auto status = p->sp.LoadFromSerializedProto(std::string_view(model, model_len));
    if (!status.ok()) {
      set_error(error, status.ToString());
      return nullptr;
    }
    return p.release();
  } catch (const std::exception& e) {
    set_error(error, e.what());
    return nullptr;
  }
}

void nmt_spm_unload(nmt_spm_processor* processor) { delete processor; }

int nmt_spm_encode(const nmt_spm_processor* processor, const char* const* texts, const size_t* lengths, size_t count,
                   float alpha, uint32_t seed, char** pieces, size_t* pieces_len, char** error) {
  try {
    std::string out, failure;
    auto run = [&] {
      std::vector<std::string> p;
      for (size_t i = 0; i < count && failure.empty(); ++i) {
        const std::string_view text(texts[i], lengths[i]);
        const auto status = alpha > 0 ? processor->sp.SampleEncode(text, -1, alpha, &p) : processor->sp.Encode(text, &p);
        if (!status.ok()) failure = status.ToString();
        put_list(out, p);
      }
    };
    if (alpha > 0) {
      // SentencePiece draws from a thread-local generator seeded once per thread from the global seed: a new
      // thread after setting the seed makes the sample a function of `seed`.
      sentencepiece::SetRandomGeneratorSeed(seed == 0xffffffffu ? 0 : seed);
      std::thread worker(run);
      worker.join();
    } else {
      run();
    }
    if (!failure.empty()) {
      set_error(error, failure);
      return 1;
    }
    return give(out, pieces, pieces_len, error);
  } catch (const std::exception& e) {
    set_error(error, e.what());
    return 1;
  }
}

int nmt_spm_decode(const nmt_spm_processor* processor, const char* pieces, size_t pieces_len, size_t count,
                   char** texts, size_t* texts_len, char** error) {
  try {
    const std::string_view buf(pieces, pieces_len);
    size_t pos = 0;
    std::vector<std::string> items, decoded;
    decoded.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (!get_list(buf, pos, items)) {
        set_error(error, "malformed piece buffer");
        return 1;
      }
      std::string text;
      const auto status = processor->sp.Decode(items, &text);
      if (!status.ok()) {
        set_error(error, status.ToString());
        return 1;
      }
      decoded.push_back(std::move(text));
    }
    std::string out;
    put_list(out, decoded);
    return give(out, texts, texts_len, error);
  } catch (const std::exception& e) {
    set_error(error, e.what());
    return 1;
  }
}

int nmt_spm_pieces(const nmt_spm_processor* processor, char** pieces, size_t* pieces_len, char** kinds, char** error) {
  try {
    const int n = processor->sp.GetPieceSize();
    std::vector<std::string> items;
    std::string k;
    for (int id = 0; id < n; ++id) {
      items.push_back(processor->sp.IdToPiece(id));
      k.push_back(static_cast<char>(processor->sp.IsUnknown(id)   ? 1
                                    : processor->sp.IsControl(id) ? 2
                                    : processor->sp.IsByte(id)    ? 3
                                    : processor->sp.IsUnused(id)  ? 4
                                                                  : 0));
    }
    std::string out;
    put_list(out, items);
    size_t kinds_len = 0;
    if (give(out, pieces, pieces_len, error)) return 1;
    return give(k, kinds, &kinds_len, error);
  } catch (const std::exception& e) {
    set_error(error, e.what());
    return 1;
  }
}

}  // extern "C"
