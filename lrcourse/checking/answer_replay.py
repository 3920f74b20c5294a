"""Is a plain-data answer still what its answer cell gives? The grader runs the answer cell alone and reads the name
then; in the notebook a later scratch cell can change the value in place (`answer.append(...)`, `answer[0] = ...`,
`answer.update(...)`) without assigning the name, and the kernel's checks would judge the changed value (issue 23,
R23s). Two ways to tell, the exact one where it is safe:

- a cell of plain data (literals, arithmetic, containers, comprehensions, the context's names, calls only of the
  builtins in PURE_CALLS and of `math`'s functions, no assignment into an object) is run again, alone, on copies of
  the context's values, with no other builtins: it can print, write or change nothing, and costs what it cost the
  first time. Its value and the current one are compared as the grader reads them (`lrcourse.wire`);
- any other cell (one that calls the chapter's helpers, say) is not run again: the cells the kernel ran after it are
  read instead, for a statement that changes the name's value in place (a mutating method called on it, an item or
  attribute assigned or deleted in it). An alias (`x = answer; x.append(1)`) escapes that reading.
"""

from __future__ import annotations

import ast
import builtins
import copy
import json
import math
import types

from lrcourse import wire

# Builtins whose calls only compute a value from their arguments (no output, no files, no code from text)
PURE_CALLS = frozenset(
    {"abs", "bool", "dict", "enumerate", "float", "int", "len", "list", "max", "min", "range", "reversed", "round"}
    | {"set", "sorted", "str", "sum", "tuple", "zip"}
)
# Methods that change a list, a dict or a set in place
MUTATING = frozenset(
    {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem"}
    | {"add", "discard", "difference_update", "intersection_update", "symmetric_difference_update"}
    | {"__setitem__", "__delitem__", "__iadd__", "__imul__", "__ior__"}
)
_PLAIN_NODES = (
    *(ast.Module, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Pass),
    *(ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.JoinedStr),
    *(ast.FormattedValue, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Subscript, ast.Slice, ast.Starred),
    *(ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.Call, ast.keyword),
    *(ast.Attribute, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop),
)


def plain_cell(source: str) -> bool:
    """The cell computes plain data only (the kinds of statement and expression above) and assigns names only, so
    running it again has no effect but its names' values."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return all(_plain_node(node) for node in ast.walk(tree))


def _plain_node(node: ast.AST) -> bool:
    if not isinstance(node, _PLAIN_NODES):
        return False
    if isinstance(node, (ast.Subscript, ast.Attribute)) and not isinstance(node.ctx, ast.Load):
        return False  # an assignment into an object: it may be the context's
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        return False  # `x.__class__.__subclasses__()` and the like: no plain value's business
    if isinstance(node, ast.Call):
        called = node.func
        return (isinstance(called, ast.Name) and called.id in PURE_CALLS) or (
            isinstance(called, ast.Attribute) and isinstance(called.value, ast.Name) and called.value.id == "math"
        )
    return True


def value_alone(source: str, variable: str, context: dict) -> tuple[bool, object]:
    """(True, what `variable` is after `source`, a plain cell, runs alone on copies of the `context` values it reads),
    or (False, None) where it cannot say: the cell is not plain, a value cannot be copied, or the run raised (a name
    the cell reads that the context lacks: the self-contained check names it)."""
    if not plain_cell(source):
        return False, None
    namespace = {"__builtins__": {name: getattr(builtins, name) for name in PURE_CALLS}}
    for name, value in context.items():
        if name == "math":
            namespace[name] = math  # the only module whose calls a plain cell makes: the real one, as the grader's
            continue
        try:
            namespace[name] = value if isinstance(value, types.ModuleType) else copy.deepcopy(value)
        except Exception:  # an object that will not copy: the cell is not run again
            return False, None
    try:
        exec(compile(source, "<answer cell, alone>", "exec"), namespace)
    except Exception:
        return False, None
    return (True, namespace[variable]) if variable in namespace else (False, None)


def same_as_sent(first, second) -> bool | None:
    """The two values read alike by the grader (what `lrcourse.wire` sends of each; a dict's order is no difference),
    or None where either cannot be sent (the form checks say so)."""
    try:
        return json.dumps(_canonical(wire.encode(first))) == json.dumps(_canonical(wire.encode(second)))
    except Exception:
        return None


def _canonical(encoded):
    """An encoded value (`wire.encode`) with every dict's pairs in one order: their order is not part of an answer."""
    if not isinstance(encoded, dict):
        return encoded
    if isinstance(encoded.get("dict"), list):
        pairs = [[_canonical(key), _canonical(value)] for key, value in encoded["dict"]]
        return {"dict": sorted(pairs, key=lambda pair: json.dumps(pair, sort_keys=True))}
    return {
        key: [_canonical(item) for item in value] if key in ("list", "tuple") and isinstance(value, list) else value
        for key, value in sorted(encoded.items())
    }


def reads_before_assigning(source: str, variable: str) -> bool:
    """The cell reads `variable` at its top level before it assigns it (`answer += [4]`, `answer = answer | {...}`):
    its value then comes from an earlier cell, which the grader does not run. Statements in the order they run, an
    assignment's value before its targets; a compound statement (a loop, an `if`) that binds the name ends the search
    (its order inside is not read: no refusal on a guess)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for statement in tree.body:
        if isinstance(statement, ast.AugAssign) and _is_name(statement.target, variable):
            return True
        if isinstance(statement, (ast.Assign, ast.AnnAssign)):
            if statement.value is not None and _reads(statement.value, variable):
                return True
        elif _binds(statement, variable):
            return False
        elif _reads(statement, variable):
            return True
        if _binds(statement, variable):
            return False
    return False


def _is_name(node: ast.AST, variable: str) -> bool:
    return isinstance(node, ast.Name) and node.id == variable


def _reads(node: ast.AST, variable: str) -> bool:
    """`node` reads `variable` outside any function, lambda or class body (their reads run later, if ever)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
        return False
    if _is_name(node, variable) and isinstance(node.ctx, ast.Load):
        return True
    return any(_reads(child, variable) for child in ast.iter_child_nodes(node))


def _binds(statement: ast.stmt, variable: str) -> bool:
    return any(_is_name(node, variable) and isinstance(node.ctx, ast.Store) for node in ast.walk(statement))


def stores_into(statement: ast.stmt, variable: str) -> bool:
    """`statement` binds `variable` or changes its value in place (the forms `changed_in_place` reads): the answer
    may not be whole before it has run."""
    return _binds(statement, variable) or any(_changes(node, variable) for node in ast.walk(statement))


def changed_in_place(sources: list[str], variable: str) -> bool:
    """One of the cells `sources` changes `variable`'s value in place: calls a mutating method on it, assigns or
    deletes an item or an attribute of it, or augments one of its items (`answer[0] += 1`)."""
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        if any(_changes(node, variable) for node in ast.walk(tree)):
            return True
    return False


def _changes(node: ast.AST, variable: str) -> bool:
    if isinstance(node, (ast.Subscript, ast.Attribute)) and not isinstance(node.ctx, ast.Load):
        return _rooted_at(node.value, variable)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING:
        return _rooted_at(node.func.value, variable)
    return False


def _rooted_at(node: ast.AST, variable: str) -> bool:
    """`node` is `variable` or an item or attribute of it, however deep (`answer["a"][0]`)."""
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return isinstance(node, ast.Name) and node.id == variable
