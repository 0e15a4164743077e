"""Tiny random-weight models in Hugging Face format, built offline and deterministically for a seed.

Tests and CPU demos must exercise the exact loading code that serves ``Qwen/Qwen2.5-Omni-7B``
(``Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained`` and ``Qwen2_5OmniProcessor.from_pretrained``)
without downloading anything. So the tiny thinker uses the stock transformers classes with small widths, and its
processor carries a real byte-level BPE tokenizer with Qwen's special tokens and Qwen2.5-Omni's chat template.
Only the sizes differ from the real model: 2 text layers of width 64, a 2-block vision encoder and a 2-layer
audio encoder, about 0.3 M parameters.

Every builder writes into a temporary sibling folder, adds an ``omni_r1_tiny.json`` marker last and renames the
folder into place under a file lock: a folder without a matching marker is half-written or stale and is rebuilt.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

TINY_VERSION = 1
MARKER_FILE = "omni_r1_tiny.json"

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


def tiny_thinker_config(tokenizer: Any) -> Any:
    """A ``Qwen2_5OmniThinkerConfig`` with tiny encoders whose token ids are the tokenizer's."""
    from transformers import Qwen2_5OmniThinkerConfig

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,  # head_dim 16
        "num_key_value_heads": 2,
        # M-RoPE splits head_dim / 2 rotary frequencies into (time, height, width) sections.
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
        "max_position_embeddings": 32768,
        "pad_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
    }
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "patch_size": 14,
        "temporal_patch_size": 2,
        "spatial_merge_size": 2,
        "fullatt_block_indexes": [1],  # block 0 uses window attention, block 1 full attention, like the real one
        "out_hidden_size": text["hidden_size"],
    }
    audio = {
        "num_mel_bins": 128,  # Whisper-v3 features, as WhisperFeatureExtractor(feature_size=128) produces
        "encoder_layers": 2,
        "encoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "d_model": 32,
        "output_dim": text["hidden_size"],
    }
    return Qwen2_5OmniThinkerConfig(
        text_config=text,
        vision_config=vision,
        audio_config=audio,
        audio_token_index=ids["<|AUDIO|>"],
        image_token_index=ids["<|IMAGE|>"],
        video_token_index=ids["<|VIDEO|>"],
        audio_start_token_id=ids["<|audio_bos|>"],
        audio_end_token_id=ids["<|audio_eos|>"],
        vision_start_token_id=ids["<|vision_bos|>"],
        vision_end_token_id=ids["<|vision_eos|>"],
        user_token_id=tokenizer.convert_tokens_to_ids("user"),
    )


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


def _seeded(seed: int, make: Callable[[], Any]) -> Any:
    """Run ``make`` with the torch RNG seeded, leaving the caller's RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def _set_generation_defaults(model: Any, tokenizer: Any) -> None:
    # Qwen chat models stop on <|im_end|> or <|endoftext|> and pad with <|endoftext|>.
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.pad_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id


def make_tiny_omni(seed: int = 0) -> tuple[Any, Any]:
    """In-memory tiny thinker and processor; :func:`build_tiny_omni` saves exactly these.

    Returns:
        ``(Qwen2_5OmniThinkerForConditionalGeneration in eval mode, Qwen2_5OmniProcessor)``.
    """
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    tokenizer = build_tokenizer()
    config = tiny_thinker_config(tokenizer)
    model = _seeded(seed, lambda: Qwen2_5OmniThinkerForConditionalGeneration(config)).eval()
    _set_generation_defaults(model, tokenizer)
    return model, build_processor(tokenizer)


def make_tiny_qwen2(seed: int = 0) -> tuple[Any, Any]:
    """In-memory tiny text-only ``Qwen2ForCausalLM`` sharing the Omni tokenizer (text-only tests, benchmarks)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tokenizer()
    text = tiny_thinker_config(tokenizer).text_config
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=text.hidden_size,
        intermediate_size=text.intermediate_size,
        num_hidden_layers=text.num_hidden_layers,
        num_attention_heads=text.num_attention_heads,
        num_key_value_heads=text.num_key_value_heads,
        max_position_embeddings=text.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    model = _seeded(seed, lambda: Qwen2ForCausalLM(config)).eval()
    _set_generation_defaults(model, tokenizer)
    return model, tokenizer


def _marker(kind: str, seed: int) -> dict[str, Any]:
    import transformers

    return {"kind": kind, "seed": seed, "version": TINY_VERSION, "transformers": transformers.__version__}


def is_built(out_dir: str | os.PathLike[str], kind: str, seed: int) -> bool:
    """Whether ``out_dir`` holds a complete tiny ``kind`` model for ``seed`` built by this kit version."""
    path = Path(out_dir) / MARKER_FILE
    try:
        return json.loads(path.read_text()) == _marker(kind, seed)
    except (OSError, ValueError):
        return False


def _build_once(out_dir: str | os.PathLike[str], kind: str, seed: int, write: Callable[[Path], None]) -> Path:
    """Build into a temporary sibling and rename it into place, under a file lock; skip if already built."""
    from filelock import FileLock

    out = Path(out_dir).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if is_built(out, kind, seed):
            return out
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            write(tmp)
            (tmp / MARKER_FILE).write_text(json.dumps(_marker(kind, seed), indent=2) + "\n")
            if out.exists():  # half-written or stale: replace whole, never merge
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def build_tiny_omni(out_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Save a tiny random ``Qwen2_5OmniThinkerForConditionalGeneration`` and its processor into ``out_dir``.

    The folder loads with ``Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(out_dir)`` and
    ``Qwen2_5OmniProcessor.from_pretrained(out_dir)``. Same seed, same bytes; a complete folder is reused.

    Args:
        out_dir: destination folder (created; replaced if incomplete or built for another seed).
        seed: torch seed of the random weights (the tokenizer does not depend on it).

    Returns:
        The absolute folder path.
    """

    def write(path: Path) -> None:
        model, processor = make_tiny_omni(seed)
        model.save_pretrained(path)
        processor.save_pretrained(path)

    return _build_once(out_dir, "qwen2.5-omni", seed, write)


def build_tiny_omni_full(out_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Same thinker as :func:`build_tiny_omni`, saved in the layout of the full ``Qwen/Qwen2.5-Omni-7B`` folder.

    The config has ``model_type: qwen2_5_omni`` with a ``thinker_config`` and weights prefixed ``thinker.``
    (no talker, ``enable_audio_output: false``): it checks that the thinker loads from a full Omni checkpoint.
    """
    from transformers import Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration

    def write(path: Path) -> None:
        thinker, processor = make_tiny_omni(seed)
        config = Qwen2_5OmniConfig(thinker_config=thinker.config.to_dict(), enable_audio_output=False)
        full = Qwen2_5OmniForConditionalGeneration(config)
        full.thinker.load_state_dict(thinker.state_dict())
        full.save_pretrained(path)
        processor.save_pretrained(path)

    return _build_once(out_dir, "qwen2.5-omni-full", seed, write)


def build_tiny_qwen2(out_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Save the tiny text-only ``Qwen2ForCausalLM`` and its tokenizer into ``out_dir`` (see :func:`build_tiny_omni`)."""

    def write(path: Path) -> None:
        model, tokenizer = make_tiny_qwen2(seed)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)

    return _build_once(out_dir, "qwen2", seed, write)


def build_tiny_sam2_video_predictor(device: str = "cpu", image_size: int = 256, seed: int = 0) -> Any:
    """SAM2.1 hiera-tiny video predictor with seeded random weights at a small input size.

    At the default 1024 px one CPU frame costs seconds; 256 (or 128) keeps tests fast. ``image_size`` must be a
    multiple of 32 (the Hiera stride times the mask decoder's upscaling).

    CPU pitfall: the predictor stores memory features in bfloat16. Wherever a frame's memory holds no float32
    object pointer to promote it (objects prompted on different keyframes, as S2 does, or propagation starting
    before the first prompt), the memory attention gets bf16 keys against float32 weights and
    ``propagate_in_video`` fails with "mat1 and mat2 must have the same dtype". Run tracking on CPU under
    ``torch.autocast("cpu", dtype=torch.bfloat16)``. The CUDA post-processing extension is optional: without
    it sam2 warns once and skips hole filling.

    Args:
        device: torch device of the model.
        image_size: square input resolution of the image encoder.
        seed: torch seed of the random weights.

    Returns:
        A ``sam2.sam2_video_predictor.SAM2VideoPredictor`` in eval mode.
    """
    if image_size <= 0 or image_size % 32:
        raise ValueError(
            f"build_tiny_sam2_video_predictor: image_size must be a positive multiple of 32, got {image_size}"
        )
    from sam2.build_sam import build_sam2_video_predictor  # slow import (hydra): only when asked for

    return _seeded(
        seed,
        lambda: build_sam2_video_predictor(
            "configs/sam2.1/sam2.1_hiera_t.yaml",
            ckpt_path=None,
            device=device,
            hydra_overrides_extra=[f"++model.image_size={image_size}"],
        ),
    )
