"""Argument values checked before anything is built: one line naming the key, its value and what is allowed.

LightningCLI rejects unknown keys and wrong types, but not values: ``micro_batch_size: -1`` or ``temperature: 0``
type-check and then fail (or silently train nothing) after the weights have loaded. Every configurable class of
the kit therefore exposes a classmethod ``validate_init_args(args)`` over its plain constructor arguments. The
constructor calls it (so Python users get the same checks), and :func:`validate_tree` calls it on a parsed config
for every ``class_path`` node *before* any class is instantiated, so a bad value stops ``fit`` before the model
loads.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

# Whether checks of files and folders named by a config run: off for readers of configs that only look at them.
_CHECK_PATHS: ContextVar[bool] = ContextVar("omni_r1_check_paths", default=True)


def paths_checked() -> bool:
    """Whether validators check that the files and folders a config names exist (see :func:`without_path_checks`)."""
    return _CHECK_PATHS.get()


@contextmanager
def without_path_checks():
    """Validate values but not the existence of paths (a config read before its inputs exist, e.g. a dry run)."""
    token = _CHECK_PATHS.set(False)
    try:
        yield
    finally:
        _CHECK_PATHS.reset(token)


class ConfigError(ValueError):
    """A configuration value that is not allowed; ``str()`` is one line: ``key = value: allowed``."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key} = {value!r}: {allowed}")

    def __reduce__(self):  # pickles by its own arguments (worker processes re-raise it)
        return (type(self), (self.key, self.value, self.allowed))

    def under(self, prefix: str) -> ConfigError:
        """The same error with ``prefix.`` in front of the key (the key's place in a nested config)."""
        return ConfigError(f"{prefix}.{self.key}" if prefix else self.key, self.value, self.allowed)


def require(condition: bool, key: str, value: Any, allowed: str) -> None:
    """Raise :class:`ConfigError` for ``key`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(key, value, allowed)


def require_choice(key: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    require(value in choices, key, value, f"must be one of {', '.join(map(repr, choices))}")


def require_int(key: str, value: Any, *, minimum: int | None = None, optional: bool = False, note: str = "") -> None:
    """``value`` is an int (not a bool) ``>= minimum``; ``None`` passes when ``optional``."""
    if value is None and optional:
        return
    ok = isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum)
    allowed = "must be an integer" + (f" >= {minimum}" if minimum is not None else "")
    allowed += " or null" if optional else ""
    require(ok, key, value, allowed + (f" ({note})" if note else ""))


def require_number(
    key: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
    optional: bool = False,
    note: str = "",
) -> None:
    """``value`` is a real number in the given range; ``None`` passes when ``optional``."""
    if value is None and optional:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    if ok and minimum is not None:
        ok = value > minimum if exclusive_minimum else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if exclusive_maximum else value <= maximum
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive_minimum else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"{'<' if exclusive_maximum else '<='} {maximum}")
    allowed = "must be a number" + (" " + " and ".join(parts) if parts else "") + (" or null" if optional else "")
    require(ok, key, value, allowed + (f" ({note})" if note else ""))


def require_str(key: str, value: Any, *, optional: bool = False, note: str = "") -> None:
    """``value`` is a non-blank string; ``None`` passes when ``optional``."""
    if value is None and optional:
        return
    ok = isinstance(value, str) and bool(value.strip())
    allowed = "must be a non-empty string" + (" or null" if optional else "")
    require(ok, key, value, allowed + (f" ({note})" if note else ""))


def require_bool(key: str, value: Any) -> None:
    """``value`` is ``True`` or ``False`` (a string such as ``"false"`` would be truthy)."""
    require(isinstance(value, bool), key, value, "must be true or false")


def require_file(key: str, value: Any, *, optional: bool = False, note: str = "") -> None:
    """``value`` names an existing file (relative paths from the working directory); ``None`` passes when
    ``optional``. Checked before loading so that a typo stops the run before anything else loads."""
    require_str(key, value, optional=optional, note=note)
    if value is None or not paths_checked():
        return
    path = Path(value).expanduser()
    where = f"{path.resolve()} does not exist" if not path.exists() else f"{path.resolve()} is not a file"
    require(path.is_file(), key, value, where + (f" ({note})" if note else ""))


def require_device(key: str, value: Any, *, optional: bool = True) -> None:
    """``value`` is a device torch understands (``cpu``, ``cuda``, ``cuda:1``...); ``None`` passes when
    ``optional`` (the class then picks one)."""
    if value is None and optional:
        return
    import torch  # deferred: this module stays importable without loading torch

    try:
        torch.device(value)
    except (RuntimeError, TypeError):
        raise ConfigError(key, value, "must be a torch device such as 'cpu', 'cuda' or 'cuda:0'") from None


def init_arguments(local_vars: Mapping[str, Any]) -> dict[str, Any]:
    """A constructor's arguments from ``locals()`` taken on its first line (``self`` and ``__class__`` dropped):
    ``Class.validate_init_args(init_arguments(locals()))`` checks them without listing each one again.

    Name the class rather than ``self``: a subclass's validator expects the subclass's own arguments.
    """
    return {k: v for k, v in local_vars.items() if k not in ("self", "__class__")}


def as_arguments(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass instance, a mapping or a jsonargparse Namespace as a plain dict; ``None`` for
    anything else (a value of another type is the type checker's to reject)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
    value = _plain(value)
    return dict(value) if isinstance(value, Mapping) else None


def validate_nested(key: str, cls: type, value: Any) -> None:
    """Check a nested dataclass argument (``pixels``, ``lora``...) with ``cls.validate_init_args``.

    Dataclass arguments are plain mappings in a parsed config (no ``class_path``), so :func:`validate_tree` does
    not reach them: the owner's validator calls this. ``None`` passes; errors get ``key.`` in front.
    """
    args = as_arguments(value) if value is not None else None
    if args is None:
        return
    try:
        cls.validate_init_args({**_defaults(cls), **args})
    except ConfigError as error:
        raise error.under(key) from None


def _resolve(class_path: str) -> type | None:
    module, _, name = class_path.rpartition(".")
    if not module:
        return None
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None  # jsonargparse reports unknown classes itself


def _defaults(cls: type) -> dict[str, Any]:
    """The constructor's default values: validators always see every argument, as the constructor does."""
    if dataclasses.is_dataclass(cls):  # the signature shows a placeholder for fields with a default_factory
        return {
            f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(cls)
            if f.init and (f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING)
        }
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _plain(value: Any) -> Any:
    """jsonargparse Namespaces → dicts, recursively (validators see plain Python values)."""
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def validate_tree(config: Any, prefix: str = "") -> None:
    """Call ``validate_init_args`` of every ``class_path`` node in ``config`` on its ``init_args``.

    Raises :class:`ConfigError` with the key's full dotted path (``model.init_args.micro_batch_size``).
    """
    config = _plain(config)
    if isinstance(config, list):
        for i, item in enumerate(config):
            validate_tree(item, f"{prefix}[{i}]" if prefix else f"[{i}]")
        return
    if not isinstance(config, Mapping):
        return
    class_path = config.get("class_path")
    init_args = config.get("init_args") or {}
    if isinstance(class_path, str) and isinstance(init_args, Mapping):
        cls = _resolve(class_path)
        check: Callable[[Mapping[str, Any]], None] | None = getattr(cls, "validate_init_args", None)
        if check is not None:
            args_prefix = f"{prefix}.init_args" if prefix else "init_args"
            try:
                check({**_defaults(cls), **init_args})
            except ConfigError as error:
                raise error.under(args_prefix) from None
    for key, value in config.items():
        if isinstance(value, (Mapping, list)):
            validate_tree(value, f"{prefix}.{key}" if prefix else key)
