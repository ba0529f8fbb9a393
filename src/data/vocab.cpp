#include "data/vocab.h"

#include "common/io.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace nmt::data {

void Vocab::add(const std::string& token) {
  if (index_.emplace(token, static_cast<int64_t>(tokens_.size())).second) tokens_.push_back(token);
}

Vocab Vocab::build(const std::vector<std::vector<std::string>>& sentences, int64_t min_freq) {
  if (min_freq < 1) {
    throw std::invalid_argument("Vocab::build: min_freq must be >= 1 (got " + std::to_string(min_freq) + ")");
  }
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& sentence : sentences) {
    for (const auto& token : sentence) {
      if (token.empty()) continue;
      ++counts[token];
    }
  }
  std::vector<std::pair<const std::string*, int64_t>> kept;
  kept.reserve(counts.size());
  for (const auto& [token, count] : counts) {
    if (count < min_freq) continue;
    if (token.find('\n') != std::string::npos) {
      throw std::invalid_argument("Vocab::build: token contains a newline: \"" + token + "\"");
    }
    kept.emplace_back(&token, count);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return *a.first < *b.first;  // std::string compares bytes as unsigned char (char_traits<char>)
  });
  Vocab vocab;
  vocab.tokens_.reserve(kept.size() + 4);
  for (const char* reserved : {kUnk, kPad, kBos, kEos}) vocab.add(reserved);
  for (const auto& [token, count] : kept) vocab.add(*token);
  return vocab;
}

Vocab Vocab::from_tokens(const std::vector<std::string>& tokens) {
  Vocab vocab;
  for (const char* reserved : {kUnk, kPad, kBos, kEos}) vocab.add(reserved);
  for (const auto& token : tokens) {
    if (token.empty() || token.find('\n') != std::string::npos)
      throw std::invalid_argument("Vocab::from_tokens: empty token or token with a newline: \"" + token + "\"");
    vocab.add(token);
  }
  return vocab;
}

int64_t Vocab::size() const { return static_cast<int64_t>(tokens_.size()); }

int64_t Vocab::to_index(const std::string& token) const {
  const auto it = index_.find(token);
  return it == index_.end() ? unk() : it->second;
}

const std::string& Vocab::to_token(int64_t index) const {
  if (index < 0 || index >= size()) {
    throw std::out_of_range("Vocab::to_token: index " + std::to_string(index) + " is out of range [0, " +
                            std::to_string(size()) + ")");
  }
  return tokens_[static_cast<std::size_t>(index)];
}

std::vector<int64_t> Vocab::encode(const std::vector<std::string>& tokens) const {
  std::vector<int64_t> ids;
  ids.reserve(tokens.size());
  for (const auto& token : tokens) ids.push_back(to_index(token));
  return ids;
}

std::vector<std::string> Vocab::decode(const std::vector<int64_t>& ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int64_t id : ids) tokens.push_back(to_token(id));
  return tokens;
}

void Vocab::save(const std::string& path) const {
  std::string text;
  for (const auto& token : tokens_) text += token + "\n";
  common::write_text_atomic(path, text);
}

Vocab Vocab::load(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error("Vocab::load: " + path + " does not exist");
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error("Vocab::load: " + path + " is a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("Vocab::load: cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw std::runtime_error("Vocab::load: cannot read " + path);
  const std::string text = buffer.str();
  if (text.empty()) throw std::runtime_error("Vocab::load: " + path + " is empty");

  Vocab vocab;
  std::size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string token = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    const std::string where = path + " line " + std::to_string(line_no);
    if (token.empty()) throw std::runtime_error("Vocab::load: empty token at " + where);
    if (vocab.index_.count(token) != 0) {
      throw std::runtime_error("Vocab::load: duplicate token \"" + token + "\" at " + where + " (first at line " +
                                  std::to_string(vocab.index_.at(token) + 1) + ")");
    }
    vocab.add(token);
  }
  const char* reserved[] = {kUnk, kPad, kBos, kEos};
  for (int64_t i = 0; i < 4; ++i) {
    if (i >= vocab.size() || vocab.tokens_[static_cast<std::size_t>(i)] != reserved[i]) {
      throw std::runtime_error("Vocab::load: " + path + " line " + std::to_string(i + 1) + " must be the reserved token " +
                                  reserved[i] + " (expected <unk> <pad> <bos> <eos> on the first 4 lines)");
    }
  }
  return vocab;
}

EncodedSequence encode_sequence(const Vocab& vocab, const std::vector<std::string>& tokens, int64_t num_steps) {
  if (num_steps < 1) {
    throw std::invalid_argument("encode_sequence: num_steps must be >= 1 (got " + std::to_string(num_steps) + ")");
  }
  const auto steps = static_cast<std::size_t>(num_steps);
  EncodedSequence seq;
  seq.ids.reserve(steps);
  for (std::size_t i = 0; i < tokens.size() && seq.ids.size() < steps; ++i) seq.ids.push_back(vocab.to_index(tokens[i]));
  if (seq.ids.size() < steps) seq.ids.push_back(vocab.eos());
  seq.valid_len = static_cast<int64_t>(seq.ids.size());
  seq.ids.resize(steps, vocab.pad());
  return seq;
}

}  // namespace nmt::data
