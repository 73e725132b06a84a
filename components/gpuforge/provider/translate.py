"""Derive analyzer-friendly input types from gpuforge's component Args, and convert back.

Pulumi's Python component analyzer (`pulumi.provider.experimental.analyzer`, pinned SDK)
reads `inspect.get_annotations` without evaluating strings and accepts only str, int, float,
bool, Any, `pulumi.Input[T]`, `Optional[T]`, lists, `dict[str, T]`, Enums and classes whose
annotations follow the same rules. gpuforge's Args use `from __future__ import annotations`,
`Literal` aliases, `tuple[...]` and `Sequence[pulumi.Resource]`, and the components call
methods on their Args object, while the provider host passes a plain dict. So the Args are
left as they are (Python users keep them), and for each component this module builds, from
the Args' resolved type hints:

- a `TypedDict` the analyzer accepts: `Literal[...]` becomes an Enum of its values,
  `Sequence` / `tuple` a list, `Mapping` a dict, a dataclass or pydantic model its own
  TypedDict, `A | list[A]` a list of A, any other union `Any`; fields with defaults are
  `NotRequired` (the Args default applies);
- a converter from what the host passes (schema names already mapped to Python names, enum
  members for enums) back to the real Args object.

Fields that are resource references (`pulumi.Resource` has no package schema to point at)
are not offered; other languages pass those dependencies as `dependsOn` in the resource
options. `EXCLUDED` lists them, and `tests/test_provider.py` fails on any field this module
cannot translate.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import inspect
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi.output
from pydantic import BaseModel

Converter = Callable[[Any], Any]
# TypedDict and Optional called with types built at run time (mypy checks only literal uses)
_TypedDict: Any = TypedDict
_Optional: Any = typing.Optional
_Input: Any = pulumi.Input

MODULE = "gpuforge.provider.types"  # the module every generated type claims (one namespace)


class Untranslatable(TypeError):
    """A field whose type has no analyzer-friendly form."""


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.replace("-", "_").split("_"))


def _is_resource(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, pulumi.Resource)


def is_resource_ref(t: Any) -> bool:
    """A resource, or a collection / optional of resources."""
    if _is_resource(t):
        return True
    args = typing.get_args(t)
    return bool(args) and any(is_resource_ref(a) for a in args if a is not type(None))


def _identity(v: Any) -> Any:
    return v


class Translator:
    """Builds the generated types of one provider; names must be unique across it."""

    def __init__(self) -> None:
        self.types: dict[str, Any] = {}  # generated name -> type (Enum / TypedDict)
        self._seen: dict[Any, tuple[Any, Converter]] = {}

    # -- types -------------------------------------------------------------------------------
    def convert(self, t: Any, name: str) -> tuple[Any, Converter]:
        """(analyzer type, converter from host value to the original type's value)."""
        origin, args = typing.get_origin(t), typing.get_args(t)
        if t in (str, int, float, bool):
            return t, _identity
        if t is Any or t is object:
            return Any, _identity
        if origin is typing.Literal:
            return self._enum(name, args)
        if origin in (typing.Union, types.UnionType):
            return self._union(t, args, name)
        if origin is pulumi.Output:
            inner, conv = self.convert(args[0], name)
            return pulumi.Output[inner], conv  # type: ignore[valid-type]
        if origin in (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence, set, frozenset):
            item = args[0] if args else Any
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                raise Untranslatable(f"{name}: fixed-size tuple {t}")
            inner, conv = self.convert(item, name)
            back = tuple if origin in (tuple, collections.abc.Sequence) else list
            return list[inner], (lambda v, conv=conv, back=back: back(conv(x) for x in v))  # type: ignore[valid-type]
        if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
            if args and args[0] is not str:
                raise Untranslatable(f"{name}: map keys must be str, not {args[0]}")
            inner, conv = self.convert(args[1] if args else Any, name)
            return dict[str, inner], (lambda v, conv=conv: {k: conv(x) for k, x in v.items()})  # type: ignore[valid-type]
        if isinstance(t, type) and (dataclasses.is_dataclass(t) or issubclass(t, BaseModel)):
            return self.record(t, _camel(t.__name__) if t.__module__.startswith("gpuforge") else name)
        raise Untranslatable(f"{name}: unsupported type {t!r}")

    def _enum(self, name: str, values: tuple[Any, ...]) -> tuple[Any, Converter]:
        if not all(isinstance(v, str) for v in values):
            raise Untranslatable(f"{name}: Literal of non-strings {values}")
        key = ("enum", values)
        if key in self._seen:
            return self._seen[key]
        members = {(_camel(v) or "Empty").replace(".", "_"): v for v in values}
        e = enum.Enum(self._unique(name), members, type=str, module=MODULE)  # type: ignore[misc]
        out: tuple[Any, Converter] = (e, lambda v: v.value if isinstance(v, enum.Enum) else v)
        self._seen[key] = out
        self.types[e.__name__] = e
        return out

    def _union(self, t: Any, args: tuple[Any, ...], name: str) -> tuple[Any, Converter]:
        rest = tuple(a for a in args if a is not type(None))
        optional = len(rest) < len(args)
        # pulumi.Input[T] = Union[T, Awaitable[T], Output[T]]
        awaitable = [a for a in rest if typing.get_origin(a) is collections.abc.Awaitable]
        if awaitable:
            inner, conv = self.convert(typing.get_args(awaitable[0])[0], name)
            out: Any = _Input[inner]
            return (_Optional[out] if optional else out), conv
        if len(rest) == 1:
            inner, conv = self.convert(rest[0], name)
            return (_Optional[inner] if optional else inner), conv
        # `A | list[A]` (one value or several): the list form carries both
        lists = [a for a in rest if typing.get_origin(a) in (list, collections.abc.Sequence)]
        if len(rest) == 2 and len(lists) == 1 and typing.get_args(lists[0]) and typing.get_args(lists[0])[0] in rest:
            inner, conv = self.convert(lists[0], name)
            return _Optional[inner], conv
        # anything else (e.g. a path or an inline mapping): untyped, validated by gpuforge
        return _Optional[Any], _identity

    def record(self, cls: type, name: str, skip: frozenset[str] = frozenset()) -> tuple[Any, Converter]:
        """A TypedDict for a dataclass / pydantic model / Args class, and its converter."""
        if cls in self._seen:
            return self._seen[cls]
        hints = resolved_hints(cls)
        fields: dict[str, Any] = {}
        convs: dict[str, Converter] = {}
        for field, has_default in _fields(cls):
            if field.startswith("_") or field in skip:
                continue
            t = hints[field]
            if is_resource_ref(t):
                continue
            inner, conv = self.convert(t, name + _camel(field))
            fields[field] = NotRequired[inner] if has_default else inner
            convs[field] = conv
        td = _TypedDict(self._unique(name), fields)
        td.__module__ = MODULE
        td.__doc__ = (cls.__doc__ or "").strip().split("\n\n")[0] or None

        def back(value: Any, cls: type = cls, convs: dict[str, Converter] = convs) -> Any:
            kwargs = {k: convs[k](v) for k, v in (value or {}).items() if k in convs and v is not None}
            # a pydantic model stays a mapping: gpuforge's loader validates it with every
            # problem at once (load_stack), which constructing the model here would bypass
            return kwargs if issubclass(cls, BaseModel) else cls(**kwargs)

        out: tuple[Any, Converter] = (td, back)
        self._seen[cls] = out
        self.types[td.__name__] = td
        return out

    def _unique(self, name: str) -> str:
        base, i = name, 2
        while name in self.types:
            name, i = f"{base}{i}", i + 1
        return name


def resolved_hints(cls: type) -> dict[str, Any]:
    """Type hints of a class written with `from __future__ import annotations`, evaluated."""
    globalns = dict(vars(sys.modules[cls.__module__]))
    return typing.get_type_hints(cls, globalns=globalns, localns=dict(vars(pulumi.output)))


def own_hints(cls: type) -> dict[str, Any]:
    """A class's own annotations (not its bases'), evaluated; None where a name is unknown at
    run time (imported for type checking only)."""
    globalns = dict(vars(sys.modules[cls.__module__]))
    localns = dict(vars(pulumi.output))
    out: dict[str, Any] = {}
    for k, v in inspect.get_annotations(cls).items():
        try:
            out[k] = eval(v, globalns, localns) if isinstance(v, str) else v
        except Exception:  # noqa: BLE001
            out[k] = None
    return out


def _fields(cls: type) -> list[tuple[str, bool]]:
    if dataclasses.is_dataclass(cls):
        return [
            (f.name, f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING)
            for f in dataclasses.fields(cls)
            if f.init
        ]
    if issubclass(cls, BaseModel):
        return [(k, not f.is_required()) for k, f in cls.model_fields.items()]
    raise Untranslatable(f"{cls.__name__} is neither a dataclass nor a pydantic model")


def excluded_fields(cls: type) -> list[str]:
    """Fields of an Args class that the provider does not offer (resource references)."""
    hints = resolved_hints(cls)
    return [f for f, _ in _fields(cls) if is_resource_ref(hints[f])]
