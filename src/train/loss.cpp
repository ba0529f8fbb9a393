#include "train/loss.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "common/cpu_kernels.h"
#include "models/attention.h"
#include "models/seq2seq.h"

namespace nmt::train {

namespace {

/// Autograd function whose forward computes both the loss and its gradient with respect to the logits
/// (common::kernels::softmax_cross_entropy_row); backward scales that gradient by the incoming one.
struct FusedSoftmaxCrossEntropy : public torch::autograd::Function<FusedSoftmaxCrossEntropy> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& labels, double label_smoothing) {
    const auto x = logits.contiguous();
    const auto y = labels.contiguous();
    const int64_t rows = x.size(0), vocab = x.size(1);
    auto grad = torch::empty_like(x);
    auto loss = torch::empty({rows}, x.options());
    const float* xp = x.data_ptr<float>();
    const int64_t* yp = y.data_ptr<int64_t>();
    float* gp = grad.data_ptr<float>();
    float* lp = loss.data_ptr<float>();
    for (int64_t r = 0; r < rows; ++r)
      TORCH_CHECK(yp[r] >= 0 && yp[r] < vocab, "softmax_cross_entropy: label ", yp[r], " at row ", r,
                  " is outside [0, ", vocab, ")");
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        lp[r] = common::kernels::softmax_cross_entropy_row(xp + r * vocab, gp + r * vocab, vocab, yp[r],
                                                           static_cast<float>(label_smoothing));
    });
    ctx->save_for_backward({grad});
    return loss;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto grad = ctx->get_saved_variables()[0];
    return {grad * grad_outputs[0].unsqueeze(1), torch::Tensor(), torch::Tensor()};
  }
};

/// MaskedLoss of `logits` `[rows.size(0), vocab]`, the logits at flat positions `rows` of `labels` `[batch, steps]`.
MaskedLoss loss_at_rows(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& rows,
                        double label_smoothing) {
  const auto per_token = softmax_cross_entropy(logits, labels.reshape({-1}).index_select(0, rows), label_smoothing);
  return {per_token.sum(), torch::full({}, static_cast<double>(rows.size(0)), per_token.options())};
}

}  // namespace

torch::Tensor softmax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double label_smoothing) {
  TORCH_CHECK(logits.dim() == 2, "softmax_cross_entropy: logits must be [rows, vocab], got ", logits.sizes());
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), "softmax_cross_entropy: labels ",
              labels.sizes(), " do not match logits ", logits.sizes());
  TORCH_CHECK(label_smoothing >= 0.0 && label_smoothing < 1.0, "label_smoothing must be in [0, 1), got ",
              label_smoothing);
  if (logits.device().is_cpu() && logits.scalar_type() == torch::kFloat && labels.scalar_type() == torch::kLong &&
      logits.size(1) > 0)
    return FusedSoftmaxCrossEntropy::apply(logits, labels, label_smoothing);
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits, labels,
                          F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(label_smoothing));
}

torch::Tensor valid_positions(const torch::Tensor& valid_lens, int64_t steps) {
  return torch::nonzero(models::sequence_mask(valid_lens, steps).reshape({-1})).squeeze(1);
}

MaskedLoss masked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                const torch::Tensor& valid_lens, double label_smoothing) {
  TORCH_CHECK(logits.dim() == 3, "logits must be [batch, steps, vocab], got ", logits.sizes());
  TORCH_CHECK(labels.sizes() == logits.sizes().slice(0, 2), "labels ", labels.sizes(), " do not match logits ",
              logits.sizes());
  const auto rows = valid_positions(valid_lens, labels.size(1));
  return loss_at_rows(logits.reshape({-1, logits.size(2)}).index_select(0, rows), labels, rows, label_smoothing);
}

MaskedLoss masked_cross_entropy(models::Seq2SeqModelImpl& model, const torch::Tensor& features,
                                const torch::Tensor& labels, const torch::Tensor& valid_lens, double label_smoothing) {
  TORCH_CHECK(features.dim() == 3, "features must be [batch, steps, num_hiddens], got ", features.sizes());
  TORCH_CHECK(labels.sizes() == features.sizes().slice(0, 2), "labels ", labels.sizes(), " do not match features ",
              features.sizes());
  const auto rows = valid_positions(valid_lens, labels.size(1));
  return loss_at_rows(model.project(features.reshape({-1, features.size(2)}).index_select(0, rows)), labels, rows,
                      label_smoothing);
}

}  // namespace nmt::train
