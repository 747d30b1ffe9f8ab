"""Typed agent configs: one frozen dataclass per agent, its defaults in ``configs/<file>.json``.

A config class lists its hyperparameters as typed fields (no defaults in Python: the JSON files
are the one place for them). A class may extend another (``JointConfig(MAMLBCConfig)``); each
class in the chain that names a ``file`` contributes its JSON file, parents first, so a child's file
holds only what it adds or changes. In a file, ``"default"`` holds the defaults and any other
name (``"small"`` for the tests) overrides some of them; a name is resolved in every file of the
chain that has it::

    MAMLBCConfig.named("small", inner_steps=2)

Values are checked against the field types (JSON lists become tuples, ints are accepted for
floats), then against the accepted range a field's type carries (``PositiveInt``,
``Probability``...: the range is declared once, beside the field) and then by each class's
:meth:`AgentConfig.check` for rules that tie fields together; unknown keys are refused with the
list of accepted ones.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
C = TypeVar("C", bound="AgentConfig")

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
elif typing.TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Callable[[type], type]:
        """Python 3.10's ``typing.dataclass_transform`` (3.11+): it only informs type checkers."""
        return lambda cls: cls


@dataclasses.dataclass(frozen=True)
class Accepted:
    """A config field's accepted range, attached to its type with ``Annotated``."""

    text: str
    """The range as the error message states it."""
    ok: Callable[[Any], bool]


PositiveInt = Annotated[int, Accepted("> 0", lambda v: v > 0)]
NonNegativeInt = Annotated[int, Accepted(">= 0", lambda v: v >= 0)]
PositiveFloat = Annotated[float, Accepted("> 0", lambda v: v > 0)]
NonNegativeFloat = Annotated[float, Accepted(">= 0", lambda v: v >= 0)]
Probability = Annotated[float, Accepted("[0, 1]", lambda v: 0.0 <= v <= 1.0)]
Fraction = Annotated[float, Accepted("[0, 1)", lambda v: 0.0 <= v < 1.0)]
OptionalPositiveInt = Annotated[int | None, Accepted("None or >= 1", lambda v: v is None or v >= 1)]
LayerWidths = Annotated[
    tuple[int, ...], Accepted("positive layer widths", lambda v: all(h > 0 for h in v))
]


@dataclass_transform(frozen_default=True)
@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Base of the agents' configs: loading named configs, type checks, JSON round trip.

    A subclass is a frozen dataclass without a decorator, its JSON file named as a class
    keyword: ``class BCConfig(FinetuneConfig, MLPConfig, file="bc")``.
    """

    file: ClassVar[str | None] = None
    """``configs/<file>.json`` holds the defaults of the fields this class adds."""
    adapt_only: ClassVar[tuple[str, ...]] = ()
    """Fields that only adaptation reads: a checkpoint may be loaded with other values."""

    def __init_subclass__(cls, file: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if file is not None:
            cls.file = file
        dataclasses.dataclass(frozen=True)(cls)

    @classmethod
    def named(cls: type[C], config: str = "default", **overrides: Any) -> C:
        """The named config of the JSON chain with ``overrides`` applied."""
        return cls.from_dict({**cls.resolve(config), **overrides})

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """A config from a complete ``{field: value}`` mapping (as :meth:`to_json` writes it)."""
        accepted = sorted(f.name for f in dataclasses.fields(cls))
        unknown = sorted(set(values) - set(accepted))
        if unknown:
            raise ValueError(
                f"unknown hyperparameter {unknown[0]!r} for {cls.__name__} "
                f"(unknown: {unknown}); accepted: {accepted}"
            )
        missing = sorted(set(accepted) - set(values))
        if missing:
            raise ValueError(f"{cls.__name__} is missing hyperparameters {missing}")
        return cls(**values)

    @classmethod
    def files(cls) -> list[Path]:
        """The JSON files of the chain, parents first."""
        chain = [k for k in reversed(cls.__mro__) if k.__dict__.get("file")]
        return [CONFIG_DIR / f"{k.__dict__['file']}.json" for k in chain]

    @classmethod
    def resolve(cls, config: str = "default") -> dict[str, Any]:
        """The raw values of a named config: each file's ``default`` then its ``config``."""
        if not isinstance(config, str):
            raise TypeError(f"config={config!r} must be a config name (str) or {cls.__name__}")
        layers = [json.loads(p.read_text()) for p in cls.files()]
        names = sorted({name for layer in layers for name in layer})
        if config not in names:
            raise ValueError(
                f"config={config!r} is not a named config of {cls.__name__} "
                f"({', '.join(p.name for p in cls.files())}); accepted: {names}"
            )
        values: dict[str, Any] = {}
        for layer in layers:
            values.update(layer.get("default", {}))
            values.update(layer.get(config, {}) if config != "default" else {})
        return values

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (tuples as lists)."""
        return {f.name: _to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self), include_extras=True)
        for f in dataclasses.fields(self):
            hint, accepted = hints[f.name], ()
            if get_origin(hint) is Annotated:
                hint, *accepted = get_args(hint)
            value = _coerce(f"{type(self).__name__}.{f.name}", getattr(self, f.name), hint)
            object.__setattr__(self, f.name, value)
            for a in accepted:
                self.require(f.name, a.ok(value), a.text)
        self.check()

    def check(self) -> None:
        """Rules that tie fields together (subclasses extend it and call ``super().check()``);
        a single field's range belongs to its type (``PositiveInt``...)."""

    def require(self, name: str, ok: bool, accepted: str) -> None:
        """Raise a ValueError naming field ``name`` and ``accepted`` unless ``ok``."""
        if not ok:
            raise ValueError(
                f"{type(self).__name__}.{name}={getattr(self, name)!r} is invalid; "
                f"accepted: {accepted}"
            )


def _to_json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """``value`` checked against the type ``hint`` (the few types configs use), converted where
    JSON cannot say it (lists -> tuples, ints -> floats)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _coerce(name, value, inner)
    if origin is Literal:
        if value not in get_args(hint):
            raise ValueError(f"{name}={value!r} is invalid; accepted: {list(get_args(hint))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{name}={value!r} must be a list of {get_args(hint)[0].__name__}")
        return tuple(_coerce(f"{name}[{i}]", v, get_args(hint)[0]) for i, v in enumerate(value))
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }
    if hint not in ok:
        raise TypeError(f"{name}: unsupported config field type {hint!r}")
    if not ok[hint]:
        raise TypeError(f"{name}={value!r} must be of type {hint.__name__}")
    return float(value) if hint is float else value


class MLPConfig(AgentConfig):
    """A config with a policy MLP (mixed into the agents' configs that have one)."""

    hidden: LayerWidths
    """Widths of the MLP's hidden layers."""
    activation: Literal["tanh", "relu", "elu"]
    """The MLP's nonlinearity."""
