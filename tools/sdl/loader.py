"""Safe, bounded YAML loading for SDL text.

PyYAML's ``safe_load`` alone is not enough for text we did not write:

- **Size**: input over 1 MiB is refused before parsing.
- **Alias bombs** ("billion laughs"): aliases are shared references after loading, but every later walk
  (schema validation, the compiler, JSON encoding) expands them. The composed node graph is measured with
  aliases expanded and refused above ``MAX_NODES``.
- **Duplicate keys**: PyYAML keeps the last one silently; Go's yaml.v3 (the reference parser) rejects them.
- **YAML 1.1 surprises**: PyYAML turns ``yes``/``no``/``on``/``off`` into booleans (so
  ``next_cases: [off]`` would become ``[False]``) and ``2024-01-01`` into a date. yaml.v3 keeps those as
  strings, so this loader only resolves ``true``/``false`` as booleans and never builds timestamps.
- **One document** only; mapping keys must be strings (a key like ``1`` or ``true`` is an error).
"""

from __future__ import annotations

import re

import yaml

from tools.errors import InvalidSDL

__all__ = ["DOCUMENT", "MAX_NODES", "MAX_SDL_BYTES", "load_trusted_yaml", "load_yaml"]

MAX_SDL_BYTES = 1024 * 1024
MAX_NODES = 100_000
DOCUMENT = "(document)"

_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SDLLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader with YAML 1.2-style booleans and no timestamps (see module docstring)."""


_SDLLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SDLLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_trusted_yaml(text: str) -> object:
    """Load a file we ship (schema, templates) with the same YAML 1.2 scalar rules, without limits.

    The SDL schema itself says ``const: off``: PyYAML's default rules would read that as ``False``.
    """
    return yaml.load(text, Loader=_SDLLoader)  # noqa: S506 - _SDLLoader is a SafeLoader


def load_yaml(text: str) -> object:
    """Parse one YAML document under the limits above; raise InvalidSDL on anything else."""
    if not isinstance(text, str):
        raise InvalidSDL("SDL must be text", path=DOCUMENT)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SDL_BYTES:
        raise InvalidSDL(f"SDL is larger than {MAX_SDL_BYTES // 1024} KiB", path=DOCUMENT)
    loader = _SDLLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise InvalidSDL(_yaml_problem(exc), path=_mark_path(exc)) from None
        except yaml.YAMLError as exc:
            raise InvalidSDL(f"not valid YAML ({_one_line(str(exc))})", path=DOCUMENT) from None
        if node is None:
            raise InvalidSDL("SDL is empty", path=DOCUMENT)
        tree = _check_tree(node)
        if not tree:  # aliases share a collection (or loop): count the graph with aliases expanded
            _check_nodes(node)
        try:
            if tree:
                try:
                    return _construct_tree(loader, node)
                except _NotPlain:
                    pass
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise InvalidSDL(f"not valid YAML ({_one_line(str(exc))})", path=DOCUMENT) from None
    finally:
        loader.dispose()


class _NotPlain(Exception):
    """The document uses a tag or a merge key ``_construct_tree`` leaves to PyYAML's constructor."""


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


def _construct_tree(loader: yaml.BaseLoader, root: yaml.Node) -> object:
    """What ``loader.construct_document`` builds, for a document whose collections ``_check_tree`` found to
    form a tree (and whose keys it checked).

    Plain maps, sequences and strings (nearly every node of an SDL) are built directly; other scalars (ints,
    floats, booleans, null, explicit scalar tags) go through the loader's own constructors, so they read
    exactly as before. Anything else (a merge key, a tagged collection) raises ``_NotPlain`` and the caller
    uses the loader's generic path. Tested equal to it (tests/sdl/test_fuzz.py).
    """
    scalar, mapping, sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode
    construct = loader.construct_object

    def build(node: yaml.Node) -> object:
        kind = node.__class__
        if kind is scalar:
            return node.value if node.tag == _STR_TAG else construct(node, deep=True)
        if kind is mapping and node.tag == _MAP_TAG:
            out = {}
            for key_node, value_node in node.value:
                if key_node.tag != _STR_TAG:  # a merge key (``<<``): PyYAML flattens those
                    raise _NotPlain
                out[key_node.value] = build(value_node)
            return out
        if kind is sequence and node.tag == _SEQ_TAG:
            return [build(child) for child in node.value]
        raise _NotPlain

    return build(root)


def _check_nodes(root: yaml.Node) -> None:
    """Refuse duplicate or non-string keys and documents that expand past MAX_NODES (iteratively)."""
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_stack: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in expanded and not children_done:
            continue
        if children_done:
            on_stack.discard(key)
            expanded[key] = 1 + sum(expanded[id(child)] for child in _children(node))
            if expanded[key] > MAX_NODES:
                raise InvalidSDL(f"SDL expands to more than {MAX_NODES} YAML nodes", path=DOCUMENT)
            continue
        if key in on_stack:
            raise InvalidSDL("recursive YAML aliases are not allowed", path=DOCUMENT)
        if isinstance(node, yaml.MappingNode):
            _check_keys(node)
        on_stack.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in expanded)


def _check_tree(root: yaml.Node) -> bool:
    """``_check_nodes`` for the common case: False as soon as a collection is reached twice (an alias to it,
    maybe a loop), and the caller falls back to ``_check_nodes``; True when the collections form a tree (an
    alias to a scalar is harmless: it counts once per use, as expanded)."""
    count = 0
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise InvalidSDL(f"SDL expands to more than {MAX_NODES} YAML nodes", path=DOCUMENT)
        kind = node.__class__
        if kind is yaml.ScalarNode:
            continue
        key = id(node)
        if key in seen:
            return False
        seen.add(key)
        if kind is yaml.MappingNode:
            _check_keys(node)
            for key_node, value_node in node.value:
                stack.append(key_node)
                stack.append(value_node)
        else:
            stack.extend(node.value)
    return True


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_keys(node: yaml.MappingNode) -> None:
    seen: set[str] = set()
    for key_node, _ in node.value:
        line = key_node.start_mark.line + 1
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
            shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
            raise InvalidSDL(f"mapping key {shown!r} must be a string (quote it)", path=f"line {line}")
        if key_node.value in seen:
            raise InvalidSDL(f"mapping key {key_node.value!r} is defined twice", path=f"line {line}")
        seen.add(key_node.value)


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or exc.context or "syntax error"
    return f"not valid YAML: {_one_line(problem)}"


def _mark_path(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return DOCUMENT
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
