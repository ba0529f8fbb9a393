// Tests for plot::training_curves / write_training_curves (the figures of a run directory).

#include "plot/training_curves.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

using nlohmann::json;

namespace {

std::vector<json> metrics_lines(bool smoothing) {
  std::vector<json> lines;
  const double train[] = {4.0, 3.0, 2.5, 2.0}, valid_ce[] = {4.2, 3.5, 3.1, 3.0}, bleu[] = {1.0, 5.0, 7.5, 9.0};
  for (int i = 0; i < 4; ++i) {
    json m{{"epoch", 1 + i / 2}, {"step", 50 * (i + 1)},     {"mid_epoch", i % 2 == 0},
           {"train_loss", 9.0},  {"train_loss_window", train[i]}, {"window_steps", 50},
           {"valid_loss", valid_ce[i]}, {"valid_bleu", bleu[i]}};
    if (smoothing) m["valid_objective"] = valid_ce[i] + 0.5;
    lines.push_back(m);
  }
  return lines;
}

std::vector<json> timing_lines() {
  // Minutes 1, 2, 3 for the first three validations; the fourth has no timing line.
  return {json{{"step", 50}, {"elapsed_seconds", 60.0}}, json{{"step", 100}, {"elapsed_seconds", 120.0}},
          json{{"step", 150}, {"elapsed_seconds", 180.0}}};
}

}  // namespace

TEST_CASE("training_curves plots like with like against steps and minutes", "[plot]") {
  SECTION("without label smoothing: train loss and valid loss, by step") {
    const auto c = nmt::plot::training_curves(metrics_lines(false), timing_lines(), false);
    REQUIRE(c.losses.size() == 2);
    CHECK(c.losses[0].name == "train loss (last 50 steps)");
    CHECK(c.losses[0].x == std::vector<double>{50, 100, 150, 200});
    CHECK(c.losses[0].y == std::vector<double>{4.0, 3.0, 2.5, 2.0});  // the window means, not train_loss
    CHECK(c.losses[1].name == "valid loss");
    CHECK(c.losses[1].y == std::vector<double>{4.2, 3.5, 3.1, 3.0});
    REQUIRE(c.scores.size() == 1);
    CHECK(c.scores[0].y == std::vector<double>{1.0, 5.0, 7.5, 9.0});
  }
  SECTION("with label smoothing: objectives together, cross-entropy apart, by minute") {
    const auto c = nmt::plot::training_curves(metrics_lines(true), timing_lines(), true);
    REQUIRE(c.losses.size() == 3);
    CHECK(c.losses[0].name == "train objective (last 50 steps)");
    CHECK(c.losses[0].x == std::vector<double>{1.0, 2.0, 3.0});  // the untimed fourth line is left out
    CHECK(c.losses[1].name == "valid objective");
    CHECK(c.losses[1].y == std::vector<double>{4.7, 4.0, 3.6});
    CHECK(c.losses[2].name == "valid cross-entropy");
    CHECK(c.losses[2].y == std::vector<double>{4.2, 3.5, 3.1});
  }
  SECTION("a line without a step is an error") {
    CHECK_THROWS_AS(nmt::plot::training_curves({json{{"train_loss", 1.0}}}, {}, false), std::invalid_argument);
  }
}

TEST_CASE("write_training_curves writes the step and minute figures", "[plot]") {
  const auto dir = std::filesystem::temp_directory_path() / ("nmt_training_curves_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  nmt::plot::write_training_curves(metrics_lines(true), timing_lines(), dir.string(), "run");
  for (const char* f : {"curves.png", "curves.svg", "curves_minutes.png", "curves_minutes.svg"})
    CHECK(std::filesystem::file_size(dir / f) > 0);
  std::ifstream svg(dir / "curves_minutes.svg");
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  CHECK(text.find(">training minutes</text>") != std::string::npos);
  CHECK(text.find(">valid cross-entropy</text>") != std::string::npos);
  std::ifstream steps_svg(dir / "curves.svg");
  const std::string steps_text((std::istreambuf_iterator<char>(steps_svg)), std::istreambuf_iterator<char>());
  CHECK(steps_text.find(">step</text>") != std::string::npos);
  std::filesystem::remove_all(dir);
}
