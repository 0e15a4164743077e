"""The KL reference policy: the initial policy, kept without a second copy whenever LoRA allows it.

With LoRA the reference is the same module with adapters disabled (the base weights never change), so a 7B
run holds one set of weights for policy, reference and S2 grounder. Without LoRA a frozen copy is taken at
construction, i.e. of the weights the run starts from.
"""

from __future__ import annotations

import copy

from torch import Tensor, nn

from omni_r1.models.global_system import GlobalSystem
from omni_r1.models.rollouts import PromptBatch, Rollouts
from omni_r1.models.text_policy import TextPolicy


class ReferencePolicy(nn.Module):
    """Scores completions under the reference weights.

    The frozen copy (no-LoRA case) is a submodule so that it follows the policy across devices; its weights are
    left out of checkpoints (see ``GRPOModule.on_save_checkpoint``) because they equal the initial weights.
    """

    def __init__(self, policy: GlobalSystem | TextPolicy) -> None:
        super().__init__()
        object.__setattr__(self, "_policy", policy)  # not a submodule: the policy is registered by its owner
        self.uses_adapters = policy.has_adapters
        self.frozen = None
        if not self.uses_adapters:
            self.frozen = copy.deepcopy(policy.model).eval().requires_grad_(False)

    def logps(self, prompt: PromptBatch, rollouts: Rollouts, temperature: float | Tensor) -> Tensor:
        policy = self._policy
        if self.uses_adapters:
            with policy.adapters_disabled():
                return policy.completion_logps(prompt, rollouts, temperature=temperature)
        return policy.completion_logps(prompt, rollouts, temperature=temperature, model=self.frozen)
