"""The Global system on the tiny thinker: inputs, placeholder-free sampling, EOS masking, SFT loss masking."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from omni_r1.models.rollouts import completion_mask_after_eos


def test_generation_from_video_and_audio_never_emits_placeholders(tiny_policy_factory, refavs_batch, revos_batch):
    policy = tiny_policy_factory()
    forbidden = set(policy.forbidden_token_ids)
    vocab = policy.tokenizer.get_vocab()
    assert {vocab["<|AUDIO|>"], vocab["<|VIDEO|>"], vocab["<|IMAGE|>"], vocab["<|vision_bos|>"]} <= forbidden
    assert set(policy.eos_token_ids).isdisjoint(forbidden)
    # RefAVS: image + 10 s audio; ReVOS: a 2-fps video. A random model samples placeholders freely unless forbidden.
    for batch in (refavs_batch, revos_batch):
        for seed in range(3):
            torch.manual_seed(seed)
            rollouts = policy.generate(batch, num_generations=4, max_new_tokens=24, temperature=1.5, top_p=1.0)
            assert rollouts.completion_ids.shape[0] == len(batch) * 4
            kept = rollouts.completion_ids[rollouts.completion_mask.bool()]
            assert not set(kept.tolist()) & forbidden


def test_unconstrained_random_model_would_sample_placeholders(tiny_policy_factory, revos_batch):
    """Guards the test above: without ``bad_words_ids`` the same sampling does hit the forbidden ids."""
    policy = tiny_policy_factory()
    inputs = policy._to_device(policy.prompt_inputs(revos_batch))
    torch.manual_seed(0)
    out = policy.model.generate(
        **inputs, do_sample=True, temperature=1.5, top_p=1.0, top_k=None, max_new_tokens=64, num_return_sequences=8
    )
    sampled = set(out[:, inputs["input_ids"].shape[1] :].flatten().tolist())
    assert sampled & set(policy.forbidden_token_ids)


def test_prompt_inputs_carry_video_and_audio_features(tiny_policy_factory, refavs_batch, revos_batch):
    policy = tiny_policy_factory()
    avs = policy.prompt_inputs(refavs_batch)
    assert "pixel_values" in avs and "input_features" in avs  # first frame as an image + the audio
    vos = policy.prompt_inputs(revos_batch)
    assert "pixel_values_videos" in vos and "input_features" not in vos  # ReVOS has no audio
    vocab = policy.tokenizer.get_vocab()
    video_tokens = (vos["input_ids"] == vocab["<|VIDEO|>"]).sum().item()
    merge = 2 * 2  # spatial merge 2×2 patches into one token
    assert video_tokens == int(vos["video_grid_thw"].prod(dim=1).sum()) // merge
    assert (vos["input_ids"][:, -1] != policy.tokenizer.pad_token_id).all()  # left padded for generation


def test_completion_mask_keeps_tokens_up_to_first_eos():
    ids = torch.tensor([[5, 6, 9, 7, 9], [5, 6, 7, 8, 4], [9, 1, 1, 1, 1]])
    mask = completion_mask_after_eos(ids, [9])
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]


def test_sft_loss_counts_only_response_tokens(tiny_policy_factory, revos_batch):
    policy = tiny_policy_factory()
    responses = ["<think>a</think><answer>{}</answer>", "<think>bb</think><answer>[]</answer>"]
    loss = policy.sft_loss(revos_batch, responses)
    # Recompute by hand: CE over exactly the response tokens + <|im_end|> of each row.
    full = policy.prompt_inputs(revos_batch, responses)
    prompts = policy.prompt_inputs(revos_batch)
    with torch.no_grad():
        logits = policy.model(**full, use_cache=False).logits
    total, count = 0.0, 0
    for row, response in enumerate(responses):
        n = len(policy.tokenizer(response + "<|im_end|>")["input_ids"])
        ids = full["input_ids"][row]
        assert prompts["attention_mask"][row].sum() + n == full["attention_mask"][row].sum()
        logp = torch.log_softmax(logits[row, -n - 1 : -1].float(), dim=-1)
        total += -logp.gather(1, ids[-n:, None]).sum().item()
        count += n
    assert torch.isclose(loss, torch.tensor(total / count), atol=1e-5)


def _uneven(batch: list) -> list:
    """The batch with a much longer second instruction, so the first prompt is left-padded by many tokens."""
    return [batch[0], dataclasses.replace(batch[1], expression=batch[1].expression + " that keeps moving" * 8)]


@pytest.mark.parametrize("cache_encoders", [True, False])
def test_cached_sampler_gives_the_greedy_tokens_of_transformers_generate(
    tiny_policy_factory, refavs_batch, revos_batch, cache_encoders
):
    """The prefill-once loop continues the multimodal rotary positions as ``generate`` does, padded rows too."""
    policy = tiny_policy_factory(cache_encoders=cache_encoders)
    for batch in (refavs_batch, _uneven(refavs_batch), _uneven(revos_batch)):
        prompt = policy.encode(batch)
        ours = policy.generate(prompt, num_generations=1, max_new_tokens=24, do_sample=False)
        policy.hf_generate = True
        reference = policy.generate(prompt, num_generations=1, max_new_tokens=24, do_sample=False)
        policy.hf_generate = False
        assert torch.equal(ours.completion_mask, reference.completion_mask)
        assert torch.equal(ours.completion_ids, reference.completion_ids)
        assert ours.texts == reference.texts
        # Repeating the prefilled cache for G completions must not mix prompts up.
        grouped = policy.generate(prompt, num_generations=3, max_new_tokens=24, do_sample=False)
        assert torch.equal(grouped.completion_ids, ours.completion_ids.repeat_interleave(3, dim=0))


def test_cached_sampler_logits_equal_a_full_forward(tiny_policy_factory, revos_batch, monkeypatch):
    """Every decoding step's logits (cached prefill, rotary positions continued by hand) equal those of one full
    forward over prompt + completion, the pass that scores the tokens in training. A position off by the padding
    of a left-padded prompt changes them by ~1e-3 on the tiny model; agreement is to float32 rounding."""
    from omni_r1.models import policy as policy_module

    decode = policy_module.decode_with_cache
    recorded = []

    def recording(logits, step, **kwargs):
        recorded.append(logits)
        return decode(logits, lambda token, i: recorded.append(step(token, i)) or recorded[-1], **kwargs)

    monkeypatch.setattr(policy_module, "decode_with_cache", recording)
    policy = tiny_policy_factory()
    prompt = policy.encode(_uneven(revos_batch))
    assert not prompt.inputs["attention_mask"].all()
    torch.manual_seed(0)
    rollouts = policy.generate(prompt, num_generations=3, max_new_tokens=12, temperature=1.0, top_p=1.0)
    steps = torch.stack(recorded, dim=1)  # (B*G, C, V)
    ids = torch.cat([rollouts.prompt_ids, rollouts.completion_ids], dim=1)
    mask = torch.cat([rollouts.prompt_mask, rollouts.completion_mask], dim=1)
    with torch.no_grad():
        kwargs = policy._model_inputs(prompt, ids, mask, rollouts.prompt_index)
        full = policy.model(**kwargs, use_cache=False).logits[:, -rollouts.completion_ids.shape[1] - 1 : -1]
    kept = rollouts.completion_mask.bool()
    assert steps.shape == full.shape and kept[:, 1:].any()
    torch.testing.assert_close(steps[kept], full[kept], atol=2e-6, rtol=1e-5)
