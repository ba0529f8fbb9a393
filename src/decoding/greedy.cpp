#include "decoding/greedy.h"

#include <stdexcept>

#include <torch/torch.h>

namespace nmt::decoding {

SearchResult greedy_search(models::Seq2SeqModelImpl& model, const torch::Tensor& src,
                           const torch::Tensor& src_valid_lens, int64_t bos, int64_t eos, int64_t max_len,
                           models::AttentionRecord* record) {
  if (max_len < 1) throw std::invalid_argument("max_len must be >= 1, got " + std::to_string(max_len));
  torch::NoGradGuard no_grad;
  const int64_t batch = src.size(0);
  models::DecoderState state = model.init_state(model.encode(src, src_valid_lens, record));
  state.record = record;
  auto input = torch::full({batch, 1}, bos, src.options().dtype(torch::kLong));
  auto finished = torch::zeros({batch}, src.options().dtype(torch::kBool));
  auto lengths = torch::full({batch}, max_len, src.options().dtype(torch::kLong));
  std::vector<torch::Tensor> outputs;
  for (int64_t t = 0; t < max_len; ++t) {
    auto logits = model.step(input, state);  // [batch, 1, vocab]
    auto next = logits.argmax(-1);           // [batch, 1]
    outputs.push_back(next);
    auto is_eos = next.squeeze(1) == eos;
    // A sentence's length is the step at which it first emits <eos>.
    lengths.masked_fill_(is_eos & finished.logical_not(), t + 1);
    finished |= is_eos;
    input = next;
    if (finished.all().item<bool>()) break;
  }
  auto ids = torch::cat(outputs, 1).to(torch::kCPU);  // [batch, steps]
  auto lens = lengths.to(torch::kCPU);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto lens_a = lens.accessor<int64_t, 1>();
  SearchResult result;
  result.tokens.resize(static_cast<std::size_t>(batch));
  result.steps.resize(static_cast<std::size_t>(batch));
  const int64_t taken = ids.size(1);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t steps = std::min(lens_a[b], taken);
    result.steps[b] = steps;
    for (int64_t t = 0; t < steps; ++t)
      if (ids_a[b][t] != eos) result.tokens[b].push_back(ids_a[b][t]);
  }
  return result;
}

}  // namespace nmt::decoding
