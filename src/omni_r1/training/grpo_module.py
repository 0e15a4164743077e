"""GRPO as a LightningModule: sample G answers per prompt, reward them, update on grouped advantages.

Optimisation is manual. One ``training_step`` is one *generation batch*: its rollouts are scored once and then
used for ``num_iterations`` (μ) optimizer steps, each accumulating gradients over micro-batches of
``micro_batch_size`` completions. Because every micro-batch of the step is known before the first backward, the
loss normalisation (tokens or sequences) is the exact total over micro-batches and ranks, not an average of
per-micro-batch means, which is what Lightning's ``accumulate_grad_batches`` would give.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from omni_r1.answer.handover import Handover, HandoverConfig, make_handovers
from omni_r1.answer.outputs import DetailOutput
from omni_r1.data.types import ProcessedBatch, VideoSample
from omni_r1.detail.system import DetailSystem
from omni_r1.grpo.advantages import SCALES, group_advantages
from omni_r1.grpo.loss import LOSS_TYPES
from omni_r1.models.global_system import GlobalSystem
from omni_r1.models.rollouts import PromptBatch, Rollouts
from omni_r1.models.text_policy import TextPolicy
from omni_r1.rewards.hierarchical import HierarchicalReward
from omni_r1.training.clipping import clip_grad_norm
from omni_r1.training.dynamic_sampling import DynamicSampler, rank_min, skip_update
from omni_r1.training.experience import Experience, score_groups
from omni_r1.training.grpo_checks import check_grpo_args
from omni_r1.training.grpo_metrics import step_metrics
from omni_r1.training.micro_batch import micro_batch_loss, update_entropy_threshold
from omni_r1.training.optim import NO_DECAY, policy_optimizers
from omni_r1.training.preprocessing import share_preprocessor
from omni_r1.training.reference import ReferencePolicy
from omni_r1.validation import init_arguments

LossType = Literal[LOSS_TYPES]  # the choices of --help, from the one tuple the loss checks against
ScaleRewards = Literal[SCALES]


class GRPOModule(L.LightningModule):
    """Group Relative Policy Optimisation of the Global system.

    Args:
        policy: the Global system being trained (LoRA / 4-bit / full, set in its own config), or a text-only
            ``TextPolicy`` (benchmarks against text GRPO trainers).
        reward: the hierarchical reward; its weights select the terms (a term whose inputs are not produced, e.g.
            masks without a Detail system, must have weight 0).
        detail: the Detail system (grounder + segmenter) that executes each answer online; its boxes and masks feed
            the reward's ``box`` / ``mask`` / ``refavs`` terms. ``None`` scores the answers' text only.
        handover: how answers become keyframes (K0, keyframe mode): the one setting both the Detail system and the
            reward's keyframe terms read (``None``: K0 = 4, ``start``).
        optimizer: optimizer factory over the trainable parameters.
        scheduler: learning-rate scheduler factory, stepped once per optimizer step.
        num_generations: G, completions sampled per prompt (8 in the paper).
        max_new_tokens: longest completion; longer ones are truncated (and count as clipped).
        temperature: sampling temperature; log-probs are computed at the same temperature.
        task_temperatures: per-task sampling temperatures (``{"avs": 0.45}``) overriding ``temperature`` for that
            task's prompts; each completion's log-probs (old, reference, update) use the temperature it was sampled
            at, so a batch mixing tasks is exact. ``None`` (default) samples every task at ``temperature``: the
            authors' final script (``FUSE_TEMPERATURE="false"`` in ``scripts/run_training.sh``, so their RefAVS
            prompts use the same temperature 1 as the rest); ``{"avs": 0.45}`` is their ``FUSE_TEMPERATURE="true"``
            variant (``AVS_TEMPERATURE``), for which their log-probs, unlike these, stay at temperature 1.
        top_p: nucleus sampling threshold (0.95 in the paper).
        top_k: keep only the ``top_k`` most likely tokens before ``top_p`` (``transformers``' order: temperature,
            top-k, top-p). Log-probs and entropies stay those of the full temperature-scaled distribution, as for
            ``top_p`` (TRL's and verl's convention). ``None`` (default, the paper): no top-k.
        entropy_coef: entropy bonus (verl's ``entropy_coeff``): ``loss −= entropy_coef · agg(H)``, ``H`` the
            entropy of the policy's full next-token distribution at each completion token, ``agg`` the
            ``loss_type`` aggregation of the token losses. 0 (default, the paper) adds no term and no gradient.
        top_entropy_quantile: TRL's key (Wang et al. 2025, "Beyond the 80/20 rule"): the fraction of completion
            tokens, the highest-entropy ones of the update's batch, whose clipped surrogate counts; the KL term is
            not masked and the normaliser is unchanged (TRL's). 1.0 (default, the paper) keeps every token.
        dynamic_sampling: DAPO's dynamic sampling (verl's ``filter_groups``): groups whose rewards are all equal
            are dropped and further batches of the training loader drawn until the update holds a batch's worth
            of groups (see :mod:`omni_r1.training.dynamic_sampling`). ``False`` (default, the paper): off.
        dynamic_sampling_max_draws: extra generation batches an update may draw at most; after them it updates
            on the groups kept so far, or skips the update if none.
        beta: weight of the k3 KL penalty to the reference policy (0.04 in the paper; 0 skips the reference).
        loss_type: aggregation of per-token losses: ``grpo`` (paper), ``bnpo``, ``dapo`` or ``dr_grpo``.
        epsilon_low: lower PPO clip range (ratio ≥ 1 − ε_low).
        epsilon_high: upper PPO clip range (ratio ≤ 1 + ε_high; DAPO's clip-higher uses a larger value).
        num_iterations: μ, optimizer steps per generation batch (1 = the paper's on-policy update).
        scale_rewards: advantage scaling: ``group`` (paper), ``batch`` or ``none`` (Dr. GRPO).
        std_floor: optional lower bound on the std that divides advantages (off by default: the paper's formula).
        accumulate_batches: generation batches whose gradients make one optimizer step. The authors' step is 8
            prompts × G (8 GPUs × 1 prompt); on one GPU, ``batch_size: 1`` with ``accumulate_batches: 8`` is the
            same step: every batch's rollouts are generated and scored on their own (memory of one), and the loss is
            normalised by the total over the 8 batches, so the update equals one 8-prompt batch exactly.
        no_weight_decay: parameter-name parts (and ``LayerNorm`` modules) that get no weight decay; the default is
            the authors' Hugging Face Trainer (biases and norms); ``[]`` decays every parameter (the kit's former
            behaviour).
        micro_batch_size: completions per forward/backward pass (memory knob; does not change the update);
            ``None`` takes the whole generation batch at once.
        max_grad_norm: gradient-norm clipping (5 in the paper); ``None`` disables it.
    """

    def __init__(
        self,
        policy: GlobalSystem | TextPolicy,
        reward: HierarchicalReward | None = None,
        detail: DetailSystem | None = None,
        handover: HandoverConfig | None = None,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        scheduler: LRSchedulerCallable | None = None,
        num_generations: int = 8,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        task_temperatures: dict[str, float] | None = None,
        top_p: float = 0.95,
        beta: float = 0.04,
        loss_type: LossType = "grpo",
        epsilon_low: float = 0.2,
        epsilon_high: float = 0.2,
        num_iterations: int = 1,
        accumulate_batches: int = 1,
        no_weight_decay: tuple[str, ...] = NO_DECAY,
        scale_rewards: ScaleRewards = "group",
        std_floor: float | None = None,
        micro_batch_size: int | None = None,
        max_grad_norm: float | None = 5.0,
        top_k: int | None = None,
        entropy_coef: float = 0.0,
        top_entropy_quantile: float = 1.0,
        dynamic_sampling: bool = False,
        dynamic_sampling_max_draws: int = 3,
    ) -> None:
        GRPOModule.validate_init_args(init_arguments(locals()))
        super().__init__()
        self.save_hyperparameters(ignore=["policy", "handover", "reward", "detail", "optimizer", "scheduler"])
        self.automatic_optimization = False
        self.policy = policy
        self.handover = handover if handover is not None else HandoverConfig()
        self.reward = reward if reward is not None else HierarchicalReward()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.num_generations = num_generations
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.task_temperatures = dict(task_temperatures or {})
        self.top_p = top_p
        self.beta = beta
        self.loss_type = loss_type
        self.epsilon_low = epsilon_low
        self.epsilon_high = epsilon_high
        self.num_iterations = num_iterations
        self.scale_rewards = scale_rewards
        self.std_floor = std_floor
        self.micro_batch_size = micro_batch_size
        self.max_grad_norm = max_grad_norm
        self.accumulate_batches = accumulate_batches
        self.no_weight_decay = tuple(no_weight_decay)
        self.top_k = top_k
        self.entropy_coef = entropy_coef
        self.top_entropy_quantile = top_entropy_quantile
        sampling = (num_generations, accumulate_batches, dynamic_sampling_max_draws, scale_rewards, std_floor)
        self.sampler = DynamicSampler(*sampling) if dynamic_sampling else None  # DAPO's kept groups of a window
        self._pending: list[Experience] = []  # generation batches waiting for this optimizer step
        # The KL reference, also the S2 grounder's weights when it grounds with the initial policy and there are no
        # adapters to switch off: then a frozen copy is kept even at β = 0.
        grounds_with_initial = detail is not None and getattr(detail.grounder, "weights", None) == "reference"
        needs_reference = beta > 0 or (grounds_with_initial and not getattr(policy, "has_adapters", False))
        self.reference = ReferencePolicy(policy) if needs_reference else None
        self.last_experience: Experience | None = None
        # The S2 grounder of the paper is the frozen initial policy: adapters off (LoRA) or the reference copy.
        self.detail = detail.bind(policy, self.reference.frozen if self.reference else None) if detail else None

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a bad key (see :func:`check_grpo_args`)."""
        check_grpo_args(args)

    # ------------------------------------------------------------------ rollouts and rewards
    def score(
        self,
        batch: list[VideoSample],
        rollouts: Rollouts,
        details: list[list[DetailOutput]] | None = None,
        image_hw: list[tuple[int, int]] | None = None,
        handovers: list[list[Handover]] | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``(B*G,)`` rewards and per-term values (see :func:`~omni_r1.training.experience.score_groups`)."""
        totals, terms = score_groups(self.reward, batch, rollouts, self.num_generations, details, image_hw, handovers)
        return totals.to(self.device), terms

    def _micro_batches(self, total: int) -> list[slice]:
        size = self.micro_batch_size or total
        return [slice(i, min(i + size, total)) for i in range(0, total, size)]

    def row_temperatures(self, batch: list[VideoSample] | ProcessedBatch) -> float | Tensor:
        """What each completion row of ``batch`` is sampled at: one number when every prompt's task shares it
        (``temperature`` unless ``task_temperatures`` names the task), else a ``(B*G,)`` tensor, prompt by prompt."""
        values = [self.task_temperatures.get(sample.task, self.temperature) for sample in batch]
        if len(set(values)) == 1:
            return float(values[0])
        return torch.tensor(values, dtype=torch.float32).repeat_interleave(self.num_generations)

    @staticmethod
    def _rows(temperature: float | Tensor, part: slice) -> float | Tensor:
        """The temperatures of rows ``part`` (a micro-batch)."""
        return temperature[part] if isinstance(temperature, Tensor) else temperature

    @torch.no_grad()
    def _score_logps(
        self, prompt: PromptBatch, rollouts: Rollouts, reference: bool, temperature: float | Tensor
    ) -> Tensor:
        chunks = []
        for part in self._micro_batches(rollouts.completion_ids.shape[0]):
            rows = self._rows(temperature, part)
            if reference:
                chunks.append(self.reference.logps(prompt, rollouts[part], rows))
            else:
                chunks.append(self.policy.completion_logps(prompt, rollouts[part], temperature=rows))
        return torch.cat(chunks)

    def _global_count(self, mask: Tensor) -> Tensor:
        """Total tokens (bnpo / dapo) or sequences (grpo / dr_grpo) of the generation batch over all ranks."""
        local = mask.sum() if self.loss_type in ("bnpo", "dapo") else torch.tensor(float(mask.shape[0]))
        local = local.float().to(self.device)
        if self.trainer.world_size > 1:
            local = self.trainer.strategy.reduce(local, reduce_op="sum")
        return local

    # ------------------------------------------------------------------ the step
    def make_experience(self, batch: list[VideoSample] | ProcessedBatch) -> Experience:
        """Sample G completions per prompt, score them and compute everything the updates need (``batch``: the
        records, or the records with the prompt inputs the loader prepared)."""
        G = self.num_generations
        prompt = self.policy.encode(batch)
        temperature = self.row_temperatures(batch)
        rollouts = self.policy.generate(
            prompt,
            num_generations=G,
            max_new_tokens=self.max_new_tokens,
            temperature=temperature,
            top_p=self.top_p,
            top_k=self.top_k,
        )
        handovers = None
        if isinstance(self.reward, HierarchicalReward) or self.detail is not None:
            # once per completion: the Detail system and the reward read the same parse and keyframes
            handovers = [
                make_handovers(rollouts.texts[i * G : (i + 1) * G], s, self.handover) for i, s in enumerate(batch)
            ]
        details = None
        if self.detail is not None and all(s.task in ("vos", "avs") for s in batch):
            details = [self.detail.run(s, handed) for s, handed in zip(batch, handovers, strict=True)]
        image_hw = None
        if all(s.task == "grounding" for s in batch) and hasattr(self.policy, "model_image_sizes"):
            image_hw = self.policy.model_image_sizes(prompt.inputs)  # boxes are answered in resized pixels
        rewards, terms = self.score(batch, rollouts, details, image_hw, handovers)
        advantages = group_advantages(rewards, G, scale=self.scale_rewards, std_floor=self.std_floor)
        return Experience(
            prompt=prompt,
            rollouts=rollouts,
            rewards=rewards,
            terms=terms,
            advantages=advantages,
            old_logps=self._score_logps(prompt, rollouts, False, temperature) if self.num_iterations > 1 else None,
            ref_logps=self._score_logps(prompt, rollouts, True, temperature) if self.beta > 0 else None,
            details=details,
            handovers=handovers,
            temperature=temperature,
        )

    def update(self, exps: Experience | Sequence[Experience]) -> tuple[Tensor, dict[str, Tensor]]:
        """μ optimizer steps on one or several experience batches (their gradients summed, the loss normalised by
        their total count); returns the mean loss and token-weighted loss metrics (plus ``grad_norm``, the pre-clip
        total gradient norm averaged over the μ steps, when clipping is on)."""
        exps = [exps] if isinstance(exps, Experience) else list(exps)
        masks = [exp.rollouts.completion_mask.float() for exp in exps]
        num_items = sum(self._global_count(mask) for mask in masks)
        world = self.trainer.world_size
        optimizer = self.optimizers()
        scheduler = self.lr_schedulers()
        sums: dict[str, Tensor] = {}
        total_loss = torch.zeros((), device=self.device)
        grad_norms: list[Tensor] = []
        for _ in range(self.num_iterations):
            optimizer.zero_grad()
            threshold = update_entropy_threshold(self, exps, masks) if self.top_entropy_quantile < 1 else None
            for exp, mask, part in (
                (exp, mask, part) for exp, mask in zip(exps, masks) for part in self._micro_batches(mask.shape[0])
            ):
                loss, metrics = micro_batch_loss(self, exp, mask, part, num_items, threshold)
                # DDP averages gradients over ranks; the loss is already normalised by the global count.
                self.manual_backward(loss * world)
                total_loss += loss.detach()
                for name, value in metrics.items():
                    sums[name] = sums.get(name, 0.0) + value * mask[part].sum()
            if self.max_grad_norm is not None:  # through the FSDP root when sharded: Lightning's clip refuses FSDP
                grad_norms.append(clip_grad_norm(self, self.max_grad_norm, self.trainer.strategy))
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        tokens = sum(mask.sum() for mask in masks).clamp(min=1) * self.num_iterations
        metrics = {name: value / tokens for name, value in sums.items()}
        if grad_norms:  # pre-clip total norm, mean over the μ steps
            metrics["grad_norm"] = torch.stack(grad_norms).mean().to(self.device)
        return total_loss / self.num_iterations, metrics

    def training_step(self, batch: list[VideoSample] | ProcessedBatch, batch_idx: int) -> Tensor | None:
        exp = self.make_experience(batch)
        self.last_experience = exp  # read by the callbacks: completions table, collaboration media
        if self.sampler is not None:
            return self._dynamic_step(exp)
        self._pending.append(exp)
        if len(self._pending) < self.accumulate_batches:  # rewards are logged per batch, the update once per step
            self._log_step(exp, {}, None)
            return None
        pending, self._pending = self._pending, []
        loss, metrics = self.update(pending)
        self._log_step(exp, metrics, loss)
        return loss

    def _dynamic_step(self, exp: Experience) -> Tensor | None:
        """Keep ``exp``'s groups with a reward spread; update once the window closes (dynamic sampling)."""
        self.sampler.add(exp)
        if not self.sampler.ready(rank_min(self)):
            self._log_step(exp, {}, None)
            return None
        pending, stats = self.sampler.take(rank_min(self))
        loss, metrics = self.update(pending) if pending else skip_update(self)  # counts as a step: runs end
        self._log_step(exp, {**metrics, **{f"dynamic_sampling/{k}": v for k, v in stats.items()}}, loss)
        return loss

    # ------------------------------------------------------------------ logging
    def _log_step(self, exp: Experience, loss_metrics: dict[str, Tensor], loss: Tensor | None) -> None:
        """Rewards and rollout statistics of ``exp``; the loss and its metrics when this batch ended an update."""
        G = self.num_generations
        values = step_metrics(exp, G, self.policy.eos_token_ids, loss_metrics, loss)
        if self._trainer is not None and self.trainer.optimizers:  # the rate after this step's scheduler update
            values["train/lr"] = self.trainer.optimizers[0].param_groups[0]["lr"]
        batch_size = exp.rewards.shape[0] // G
        self.log_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in values.items()}, batch_size=batch_size)
        self.log("reward", exp.rewards.mean(), prog_bar=True, logger=False, batch_size=batch_size)

    # ------------------------------------------------------------------ optimisation
    def total_optimizer_steps(self) -> int | None:
        """Optimizer steps of the run (a schedule's length): ``max_steps``, else every batch of every epoch × μ
        over ``accumulate_batches``; ``None`` without a trainer or for an endless loader."""
        trainer = self._trainer
        if trainer is None:
            return None
        if trainer.max_steps is not None and trainer.max_steps > 0:
            return trainer.max_steps
        batches = trainer.estimated_stepping_batches
        if not math.isfinite(batches):
            return None
        return max(1, int(batches) * self.num_iterations // self.accumulate_batches)

    def configure_optimizers(self):
        return policy_optimizers(
            self.policy,
            self.optimizer_factory,
            self.scheduler_factory,
            self.no_weight_decay,
            total_steps=self.total_optimizer_steps(),
        )

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The frozen reference equals the initial weights, rebuilt at construction: don't store it twice.
        state = checkpoint.get("state_dict", {})
        for key in [k for k in state if k.startswith("reference.")]:
            del state[key]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.setdefault("state_dict", {})
        for key, value in self.state_dict().items():
            if key.startswith("reference."):
                state[key] = value

    def setup(self, stage: str) -> None:
        # A segmenter is not a submodule (it holds no trained weights): follow the module to its device.
        segmenter = getattr(self.detail, "segmenter", None)
        if segmenter is not None and hasattr(segmenter, "to"):
            segmenter.to(self.device)
        # Prompts are tokenised and their media featurised in the loader workers, not under the step's autocast.
        share_preprocessor(self._trainer, getattr(self.policy, "preprocessor", None))

    def on_fit_start(self) -> None:
        if self.trainer.accumulate_grad_batches != 1:
            raise ValueError(
                "GRPOModule accumulates over micro-batches itself (exact token normalisation): set "
                "trainer.accumulate_grad_batches to 1 and use model.micro_batch_size"
            )
        if not math.isclose(self.trainer.gradient_clip_val or 0.0, 0.0):
            raise ValueError("set model.max_grad_norm instead of trainer.gradient_clip_val (manual optimisation)")
