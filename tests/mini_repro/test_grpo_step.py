"""One GRPO step of the mini recipe (experiments/mini_repro/grpo.yaml) rewards a correct completion through the
weight-free Detail system: R_A (and RefAVS's box IoU) is non-zero for it and zero for a wrong description.

The step is the module's own (``make_experience`` then ``update``); only its sampler is given the completions to
"sample", since a random-weight policy would not write a correct one.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from omni_r1.config import instantiate_model, resolved_config
from omni_r1.data.refavs import RefAVSDataset
from omni_r1.data.revos import ReVOSDataset
from omni_r1.data.synthetic.sounding_layouts import write_sounding_task
from omni_r1.mini_repro.reference import rewrite_answer, target_description
from omni_r1.models.rollouts import make_rollouts

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "mini_repro"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sounding_task(tmp_path_factory.mktemp("mini") / "data", train_clips=2, val_clips=1, test_clips=1)


@pytest.fixture(scope="module")
def module(root: Path):
    config = resolved_config(
        [
            "--config",
            str(EXPERIMENT / "grpo.yaml"),
            "--model.init_args.policy.init_args.model_name_or_path",
            "tiny://qwen2.5-omni",
            "--data.init_args.datasets.revos.init_args.root",
            str(root / "revos"),
            "--data.init_args.datasets.refavs.init_args.root",
            str(root / "refavs"),
        ]
    )
    module = instantiate_model(config["model"])
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, max_steps=1)
    trainer.strategy.connect(module)
    trainer.strategy._lightning_module = module
    module.trainer = trainer
    trainer.strategy.setup_optimizers(trainer)
    return module


def _sample_these(module, texts: list[str]) -> None:
    """Make the policy's sampler return ``texts`` (one prompt's G completions) as its rollouts."""
    policy = module.policy
    tokenizer = policy.tokenizer

    def generate(prompt, num_generations, **_):
        assert num_generations == len(texts)
        ids = [tokenizer(t + "<|im_end|>", add_special_tokens=False)["input_ids"] for t in texts]
        width = max(len(i) for i in ids)
        completion = torch.tensor([i + [tokenizer.pad_token_id] * (width - len(i)) for i in ids])
        inputs = prompt.inputs
        return make_rollouts(
            inputs["input_ids"], inputs["attention_mask"], completion, num_generations, policy.eos_token_ids, tokenizer
        )

    policy.generate = generate


def _group(module, correct: str, wrong: str) -> list[str]:
    G = module.num_generations
    return [correct] * (G // 2) + [wrong] * (G // 4) + ["<think>no idea</think>"] * (G - G // 2 - G // 4)


def test_a_correct_vos_completion_earns_r_a_and_the_step_updates(module, root: Path) -> None:
    dataset = ReVOSDataset(root / "revos", "train", True, min_frames=10, max_frames=10)
    sample = next(dataset[i] for i in range(len(dataset)) if dataset[i].expression_type == 1)  # a temporal query
    correct = rewrite_answer(sample, module.handover.max_keyframes)
    name = target_description(sample)
    others = [c for c in ("red", "green", "blue", "yellow", "purple") if c not in name]
    wrong = correct.replace(name.split()[1], others[0])  # same keyframes, another colour
    _sample_these(module, _group(module, correct, wrong))
    before = {n: p.detach().clone() for n, p in module.policy.named_parameters() if p.requires_grad}
    exp = module.make_experience([sample])
    box, mask = exp.terms["box"], exp.terms["mask"]
    G = module.num_generations
    assert (box[: G // 2] > 0.5).all() and (mask[: G // 2] > 0.2).all()  # the grounder boxed the right shape
    assert (box[G // 2 :] == 0).all()  # a wrong colour or no answer: nothing to match
    advantage = exp.advantages
    assert advantage[0] > advantage[G // 2] > advantage[-1]  # right shape > right format only > no answer
    loss, _ = module.update(exp)
    assert torch.isfinite(loss)
    assert any(not torch.equal(p, before[n]) for n, p in module.policy.named_parameters() if p.requires_grad)


def test_a_correct_audio_completion_earns_the_refavs_box_reward(module, root: Path) -> None:
    sample = RefAVSDataset(root / "refavs", "train")[0]
    correct = rewrite_answer(sample, module.handover.max_keyframes)
    name = target_description(sample)
    wrong = correct.replace(name, "the object that sounds first")  # the query's words: no colour, no shape
    _sample_these(module, _group(module, correct, wrong))
    exp = module.make_experience([sample])
    G = module.num_generations
    refavs = exp.terms["refavs"]
    assert (refavs[: G // 2] > 0.5).all() and (refavs[G // 2 :] == 0).all()
