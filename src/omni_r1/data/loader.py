"""A DataLoader that resumes mid-epoch: a restarted run continues with exactly the batches it had not seen yet.

Lightning stores ``state_dict()`` of a train dataloader that has one in every checkpoint and hands it back to
``load_state_dict`` on resume, just before it creates the epoch's iterator. A plain ``DataLoader`` has no state,
so a run resumed from a step-``k`` checkpoint restarts the epoch at its first batch and, because the shuffle
generator is fresh, replays the permutation of epoch 0 in every later epoch: the resumed run trains on other data
than the uninterrupted one.

The state kept here is the shuffle generator's state when the current pass began, the number of batches the pass
has yielded and the generator's state now. On resume the generator is put back to the start of the interrupted
pass and the batches already trained on are drawn from the (batch) sampler and dropped: indices only, no sample is
read. The pass then goes on in the same order, and every later pass draws the same permutations as the
uninterrupted run. The worker base seed comes from the same generator, so worker seeding is reproduced as well.

Limitation: Lightning does not call ``load_state_dict`` when an epoch-based run (``max_steps=-1``) resumes from a
checkpoint taken exactly at the end of an epoch; iteration-based runs (``max_steps``) always restore.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset, RandomSampler

_END = object()


class _SkipFirst:
    """A view of a (batch) sampler that drops the first ``loader._offset`` entries of each pass.

    ``__iter__`` is a generator function, so the offset is read when the first batch is requested, not when the
    iterator object is built (multi-process loaders build and discard one before the real one).
    """

    def __init__(self, loader: ResumableDataLoader, sampler: Any) -> None:
        self.loader = loader
        self.sampler = sampler

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[Any]:
        iterator = iter(self.sampler)
        for _ in range(self.loader._offset):
            if next(iterator, _END) is _END:
                return
        yield from iterator


class ResumableDataLoader(DataLoader):
    """``torch.utils.data.DataLoader`` with ``state_dict`` / ``load_state_dict`` for exact mid-epoch resume.

    Takes exactly the arguments of ``DataLoader`` (so Lightning can re-create it, e.g. to inject a
    ``DistributedSampler``). Without a ``generator`` it makes a private one seeded with the global torch seed
    (``torch.initial_seed()``, what ``seed_everything`` set), drawing nothing from the global generator. A plain
    ``DataLoader`` draws each pass's shuffle order and worker base seed from the global generator, which rollout
    sampling shares: every epoch boundary or validation pass would shift the sampled completions, and a resumed
    run could not reproduce those draws.

    Raises:
        TypeError: the dataset is an ``IterableDataset`` (its order is not driven by sampler indices, so skipping
            indices would not skip data).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.dataset, IterableDataset):
            raise TypeError(
                f"ResumableDataLoader needs a map-style dataset, got the IterableDataset {type(self.dataset).__name__}"
            )
        if self.generator is None:
            self.generator = torch.Generator().manual_seed(torch.initial_seed())
            if isinstance(self.sampler, RandomSampler) and self.sampler.generator is None:
                self.sampler.generator = self.generator
        self._pass_start = self.generator.get_state()  # generator state before the current pass drew from it
        self._offset = 0  # batches skipped at the start of the current pass (non-zero only for a resumed pass)
        self._resume_offset = 0  # batches to skip in the next pass, set by load_state_dict
        self._live: Any = None  # the current pass's iterator (it counts the batches it yielded)

    @property
    def _index_sampler(self) -> _SkipFirst:
        # DataLoader iterators read their index source from this property once per pass.
        return _SkipFirst(self, super()._index_sampler)

    def __iter__(self) -> Any:
        self._offset, self._resume_offset = self._resume_offset, 0
        self._pass_start = self.generator.get_state()
        self._live = super().__iter__()
        return self._live

    def _batches_yielded(self) -> int:
        return self._offset + (self._live._num_yielded if self._live is not None else 0)

    def state_dict(self) -> dict[str, Any]:
        """Position in the current pass and the shuffle generator states.

        Returns:
            ``batches`` (yielded by the current pass, counting a resumed pass's skipped ones), ``num_batches``
            (``len(self)``, checked on load), ``pass_start`` and ``generator`` (the generator's states at the
            start of the pass and now).
        """
        return {
            "batches": self._batches_yielded(),
            "num_batches": len(self),
            "pass_start": self._pass_start,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Make the next pass continue where the saved one stopped (or start the following pass if it ended).

        Raises:
            KeyError: a key of :meth:`state_dict` is missing.
            ValueError: the number of batches per pass differs from the saved loader's (other data, batch size or
                ``drop_last``: the saved position means nothing here).
        """
        missing = [k for k in ("batches", "num_batches", "pass_start", "generator") if k not in state_dict]
        if missing:
            raise KeyError(
                f"dataloader state is missing {missing}; expected the keys of ResumableDataLoader.state_dict"
            )
        if state_dict["num_batches"] != len(self):
            raise ValueError(
                f"the checkpoint's train dataloader had {state_dict['num_batches']} batches per epoch, this one has "
                f"{len(self)}: the dataset, batch size or drop_last changed, so the saved position cannot be resumed"
            )
        batches = int(state_dict["batches"])
        finished = batches >= len(self)
        self.generator.set_state(state_dict["generator" if finished else "pass_start"])
        self._pass_start = self.generator.get_state()
        self._resume_offset = 0 if finished else batches
