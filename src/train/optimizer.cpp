#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <c10/util/string_utils.h>
#include <torch/torch.h>

#include "ops/adam.h"

namespace nmt::train {

bool FusedAdam::fused_path() const {
  std::vector<torch::Tensor> params;
  bool amsgrad = false;
  for (const auto& group : param_groups()) {
    amsgrad = amsgrad || static_cast<const torch::optim::AdamOptions&>(group.options()).amsgrad();
    params.insert(params.end(), group.params().begin(), group.params().end());
  }
  return ops::use_fused_adam(params, amsgrad);
}

double FusedAdam::clip_grad_norm(double max_norm) {
  if (!(max_norm > 0))
    throw std::invalid_argument("clip_grad_norm: max_norm must be positive, got " + std::to_string(max_norm));
  if (!fused_path()) {  // CUDA, other dtypes, amsgrad: LibTorch's clipping scales the gradients in place
    std::vector<torch::Tensor> params;
    for (const auto& group : param_groups()) params.insert(params.end(), group.params().begin(), group.params().end());
    grad_scale_ = 1.0;
    return torch::nn::utils::clip_grad_norm_(params, max_norm);
  }
  std::vector<torch::Tensor> grads;
  for (const auto& group : param_groups())
    for (const auto& p : group.params())
      if (p.grad().defined()) grads.push_back(p.grad());
  const double norm = std::sqrt(ops::sum_of_squares(grads));
  const double coef = max_norm / (norm + 1e-6);
  grad_scale_ = coef < 1.0 ? coef : 1.0;
  return norm;
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  const double scale = grad_scale_;
  grad_scale_ = 1.0;
  if (!fused_path()) return torch::optim::Adam::step(std::move(closure));  // gradients already clipped in place
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  // The update of each parameter, collected first and then run over all elements split between threads.
  std::vector<ops::AdamParamUpdate> updates;
  for (auto& group : param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto it = state_.find(key);
      if (it == state_.end()) {  // as LibTorch initialises it
        auto fresh = std::make_unique<torch::optim::AdamParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
        it = state_.emplace(key, std::move(fresh)).first;
      }
      auto& state = static_cast<torch::optim::AdamParamState&>(*it->second);
      auto exp_avg = state.exp_avg(), exp_avg_sq = state.exp_avg_sq();
      TORCH_CHECK(exp_avg.is_contiguous() && exp_avg_sq.is_contiguous() && exp_avg.numel() == p.numel() &&
                      exp_avg_sq.numel() == p.numel() && exp_avg.scalar_type() == torch::kFloat &&
                      exp_avg_sq.scalar_type() == torch::kFloat,
                  "FusedAdam: optimizer state does not match the parameter of shape ", p.sizes());
      state.step(state.step() + 1);
      const double beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
      const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(state.step()));
      const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(state.step()));
      updates.push_back({p, p.grad(), exp_avg, exp_avg_sq, static_cast<float>(options.lr() / bias_correction1),
                         static_cast<float>(beta1), static_cast<float>(beta2),
                         static_cast<float>(std::sqrt(bias_correction2)), static_cast<float>(options.eps()),
                         static_cast<float>(options.weight_decay())});
    }
  }
  ops::adam_update(updates, static_cast<float>(scale));
  return loss;
}

}  // namespace nmt::train
