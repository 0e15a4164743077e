"""Token sampling for the policies' decoding loops: temperature, top-k and exact top-p without a sort, and the loop.

Both policies prefill each prompt once, repeat its KV cache for the G completions and then decode one token per
forward (:func:`decode_with_cache`); ``transformers``' ``generate`` would prefill every copy. What a decoding step
feeds the model (positions, attention mask, multimodal rotary offsets) is the policy's business, passed in as a
function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

# Rejection rounds before the nucleus falls back to a full sort; a row is still rejected after n rounds with
# probability below (1 - top_p) ** n.
REJECTION_ROUNDS = 8


def divide_by_temperature(logits: Tensor, temperature: float | Tensor) -> Tensor:
    """``logits`` ``(N, ..., V)`` over the softmax temperature: one number for every row, or an ``(N,)`` tensor
    with each row's own (a batch mixing tasks sampled at different temperatures)."""
    if isinstance(temperature, Tensor):
        shape = (-1,) + (1,) * (logits.ndim - 1)
        return logits / temperature.to(device=logits.device, dtype=logits.dtype).reshape(shape)
    return logits / temperature


def _draw(probs: Tensor) -> Tensor:
    """``(N,)`` one draw per row of ``(N, V)`` probabilities by inverting the cumulative distribution.

    Much cheaper than ``torch.multinomial`` on CPU; the float64 cumsum keeps ``u < total`` strict, so a token of
    probability 0 (a forbidden one) is never drawn.
    """
    cdf = probs.double().cumsum(dim=-1)  # (N, V), non-decreasing
    u = torch.rand(probs.shape[0], 1, dtype=torch.float64, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_max(probs.shape[-1] - 1).squeeze(-1)


def in_nucleus(probs: Tensor, token: Tensor, top_p: float) -> Tensor:
    """``(N,)`` whether each token belongs to its row's top-p nucleus.

    A token is in the nucleus when the tokens more likely than it hold less than ``top_p`` of the probability: the
    smallest set of most likely tokens that reaches ``top_p``, the set ``transformers``' ``TopPLogitsWarper`` keeps.
    """
    chosen = probs.gather(-1, token[:, None])  # (N, 1)
    mass_above = (probs * (probs > chosen)).sum(dim=-1)
    return mass_above < top_p


def _draw_sorted_nucleus(probs: Tensor, top_p: float) -> Tensor:
    """Nucleus sampling by a full sort (exact, but ``torch.sort`` is slow on CPU: the fallback only)."""
    sorted_probs, order = probs.sort(dim=-1, descending=True)  # (N, V)
    mass_above = sorted_probs.cumsum(dim=-1) - sorted_probs
    return order.gather(-1, _draw(sorted_probs.masked_fill(mass_above >= top_p, 0.0))[:, None]).squeeze(-1)


def keep_top_k(logits: Tensor, top_k: int | None) -> Tensor:
    """``logits`` with every token less likely than its row's ``top_k``-th set to ``-inf`` (``transformers``'
    ``TopKLogitsWarper``: ties with the k-th value are kept; ``top_k`` above the vocabulary keeps everything)."""
    if top_k is None or top_k >= logits.shape[-1]:
        return logits
    kth = logits.topk(top_k, dim=-1).values[..., -1:]  # (N, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def sample_next_token(
    logits: Tensor,
    *,
    do_sample: bool = True,
    temperature: float | Tensor = 1.0,
    top_p: float = 1.0,
    forbidden: Tensor | None = None,
    rejection_rounds: int = REJECTION_ROUNDS,
    top_k: int | None = None,
) -> Tensor:
    """``(N,)`` next tokens from ``(N, V)`` logits: forbidden ids removed, then greedy or temperature, top-k and
    nucleus, in ``transformers``' order (the nucleus is taken of the top-k-renormalised distribution).

    Nucleus sampling draws from the full distribution and redraws the rows whose token falls outside the nucleus
    (see :func:`in_nucleus`). Accepted draws follow the nucleus-renormalised distribution exactly, a draw is
    accepted with probability at least ``top_p``, and no sort over the vocabulary is needed; rows still rejected
    after ``rejection_rounds`` redraws are sampled through a sort.
    """
    logits = logits.float()
    if forbidden is not None and forbidden.numel():
        logits = logits.index_fill(-1, forbidden, float("-inf"))
    if not do_sample:
        return logits.argmax(dim=-1)
    probs = keep_top_k(divide_by_temperature(logits, temperature), top_k).softmax(dim=-1)  # (N, V)
    token = _draw(probs)
    if top_p >= 1.0:
        return token
    pending = ~in_nucleus(probs, token, top_p)
    for _ in range(rejection_rounds):
        if not bool(pending.any()):
            return token
        redraw = _draw(probs)
        token = torch.where(pending, redraw, token)
        pending &= ~in_nucleus(probs, redraw, top_p)
    if bool(pending.any()):
        token[pending] = _draw_sorted_nucleus(probs[pending], top_p)
    return token


def decode_with_cache(
    logits: Tensor,
    step: Callable[[Tensor, int], Tensor],
    *,
    eos_token_ids: Sequence[int],
    pad_token_id: int,
    forbidden_token_ids: Sequence[int] = (),
    max_new_tokens: int,
    do_sample: bool = True,
    temperature: float | Tensor = 1.0,
    top_p: float = 1.0,
    top_k: int | None = None,
) -> Tensor:
    """Sample up to ``max_new_tokens`` tokens per row, stopping early once every row has emitted an EOS.

    Args:
        logits: ``(N, V)`` next-token logits after each (already repeated) prompt.
        step: ``step(tokens, i)`` feeds the ``(N,)`` tokens sampled at step ``i`` (0-based) to the model, extending
            its cache, and returns the ``(N, V)`` logits of the next position.
        eos_token_ids: ids that end a completion.
        pad_token_id: what finished rows emit from then on.
        forbidden_token_ids: ids never sampled.
        max_new_tokens: completion length limit.
        do_sample: sample (else greedy).
        temperature: softmax temperature when sampling, or an ``(N,)`` tensor of per-row temperatures.
        top_p: nucleus mass when sampling.
        top_k: keep only the ``top_k`` most likely tokens before the nucleus (``None``: no top-k).

    Returns:
        ``(N, C)`` sampled ids, ``C <= max_new_tokens``; rows are padded after their first EOS.
    """
    device = logits.device
    eos = torch.tensor(list(eos_token_ids), device=device)
    forbidden = torch.tensor(list(forbidden_token_ids), dtype=torch.long, device=device)
    done = torch.zeros(logits.shape[0], dtype=torch.bool, device=device)
    tokens = []
    for i in range(max_new_tokens):
        token = sample_next_token(
            logits, do_sample=do_sample, temperature=temperature, top_p=top_p, forbidden=forbidden, top_k=top_k
        )
        token = token.masked_fill(done, pad_token_id)  # (N,) finished rows only pad
        tokens.append(token)
        done |= torch.isin(token, eos)
        if i + 1 == max_new_tokens or bool(done.all()):
            break
        logits = step(token, i)
    return torch.stack(tokens, dim=1)  # (N, C)
