"""The tiny models' tokenizer and processor: a real byte-level BPE with Qwen's special tokens and chat template.

The tokenizer is trained on a fixed corpus and does not depend on the weight seed, so prompts tokenize identically
for every tiny model; only its vocabulary is small. The processor is the stock ``Qwen2_5OmniProcessor`` with small
pixel bounds, so the placeholder expansion the real checkpoint uses is exercised as is.
"""

from __future__ import annotations

import json
import random
from typing import Any

# Qwen2.5-Omni's special tokens, in the order of the real vocabulary (ids follow the BPE pieces).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|AUDIO|>",
    "<|audio_bos|>",
    "<|audio_eos|>",
    "<|vision_bos|>",
    "<|vision_eos|>",
    "<|vision_pad|>",
    "<|IMAGE|>",
    "<|VIDEO|>",
)
# Named tokens Qwen2_5OmniProcessor reads from the tokenizer (``tokenizer.image_token`` ...).
MODALITY_TOKENS = {
    "image_token": "<|IMAGE|>",
    "video_token": "<|VIDEO|>",
    "audio_token": "<|AUDIO|>",
    "vision_bos_token": "<|vision_bos|>",
    "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
}

# Qwen2.5-Omni-7B's chat template, verbatim: media parts become ``<|vision_bos|><|VIDEO|><|vision_eos|>`` (one
# placeholder the processor expands to the feature count) and a default system turn is added when none is given.
CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}{% set image_count = namespace(value=0) %}"
    "{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: "
    "{% endif %}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{% elif content['type'] == 'audio' or 'audio' in content or 'audio_url' in content %}"
    "{% set audio_count.value = audio_count.value + 1 %}{% if add_audio_id %}Audio {{ audio_count.value }}: "
    "{% endif %}<|audio_bos|><|AUDIO|><|audio_eos|>{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: "
    "{% endif %}<|vision_bos|><|VIDEO|><|vision_eos|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen2's pre-tokenizer split: digits are single pieces, as in the real tokenizer, so timestamps tokenize alike.
_QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_BPE_VOCAB = 1024
_PIXELS = {"shortest_edge": 56 * 56, "longest_edge": 112 * 112}  # 4 to 16 merged tokens per image / frame pair

_WORDS = (
    "the a an man woman person child dog cat horse bird car bus bike ball guitar piano drum violin phone table "
    "chair door tree road river red blue green white black yellow left right front back middle top bottom small "
    "large young old running walking sitting standing holding playing singing talking barking moving jumping "
    "wearing near behind next to with on in of and who is are which object sound voice instrument video frame "
    "moment time start end description find segment box first second last two three all referred target"
).split()


def _corpus() -> list[str]:
    """A few hundred lines of English, chat turns, JSON answers and reasoning tags, fixed for every seed.

    The tokenizer must not depend on the weight seed: prompts tokenize identically for all tiny models.
    """
    rng = random.Random(1234)

    def phrase(n: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(n))

    def stamp() -> str:
        return f"{rng.randint(0, 1):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 99):02d}"

    lines = []
    for _ in range(300):
        moment = json.dumps({"start_time": stamp(), "end_time": stamp(), "description": phrase(5)})
        box = json.dumps([{"bbox_2d": [rng.randint(0, 999) for _ in range(4)], "label": rng.choice(_WORDS)}])
        lines += [
            f"system\nYou are a helpful assistant.\nuser\n{phrase(10).capitalize()}?\nassistant\n",
            f"<think>{phrase(12)}.</think>\n<answer>{moment}</answer>",
            f"<think>{phrase(8)}</think><answer>{box}</answer>",
            f'user\nGiven the expression "{phrase(4)}", ground all referred objects as JSON boxes.',
        ]
    return lines


def build_tokenizer() -> Any:
    """Train a byte-level BPE on :func:`_corpus` and wrap it as a ``Qwen2Tokenizer`` with Qwen's special tokens.

    Returns:
        A ``transformers.Qwen2Tokenizer`` (the class the real checkpoint loads) whose special tokens are single
        ids, with ``image_token``/``audio_token``/... attributes for the Omni processor and the Omni chat template.
    """
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=_BPE_VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(_corpus(), trainer)
    vocab = bpe.get_vocab()
    merges = [tuple(pair) for pair in json.loads(bpe.to_str())["model"]["merges"]]
    # Pin the special tokens' ids after the BPE pieces, in Qwen's order, instead of leaving them to insertion order.
    vocab.update({token: len(vocab) + i for i, token in enumerate(SPECIAL_TOKENS)})
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=list(SPECIAL_TOKENS[1:]),
        model_max_length=32768,
        chat_template=CHAT_TEMPLATE,
        **MODALITY_TOKENS,
    )
    for role in ("user", "assistant"):  # the thinker config stores the id of "user"
        if len(tokenizer.encode(role)) != 1:
            raise RuntimeError(f"tiny tokenizer: role word {role!r} should be one token; enlarge the corpus")
    return tokenizer


def generation_bad_words_ids(tokenizer: Any) -> list[list[int]]:
    """``bad_words_ids`` that keep sampling off placeholder and media-boundary tokens.

    A random (or young) policy samples ``<|VIDEO|>``, ``<|AUDIO|>``... like any other id; fed back, they would
    be taken for media features. Every special token except the stop tokens (eos, pad) is forbidden. Works for
    the real Qwen tokenizer as well as the tiny one.
    """
    stop = {tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    return [[i] for i in sorted(set(tokenizer.all_special_ids) - stop)]


def build_processor(tokenizer: Any) -> Any:
    """``Qwen2_5OmniProcessor`` around the tiny tokenizer, with small per-image pixel bounds.

    Note: the Omni processor's class defaults for *videos* (``128·28·28`` to ``768·28·28`` pixels per frame)
    override the video processor's saved ``size``; callers set the budget per call with
    ``videos_kwargs={"size": {"shortest_edge": ..., "longest_edge": ...}}``.
    """
    from transformers import Qwen2_5OmniProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor, WhisperFeatureExtractor

    return Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessor(size=dict(_PIXELS)),
        video_processor=Qwen2VLVideoProcessor(size=dict(_PIXELS), cap_pixels_per_frame=True),
        feature_extractor=WhisperFeatureExtractor(feature_size=128),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )
