"""Which of an answer cell's code runs before its answer is bound: read without running it (issue 23, R23f W1).

A function's body runs when the function is called, not where it is defined: a replay defined before the answer and
called after it costs the graded answer nothing. So the code that runs is the top-level statements up to the answer
(their decorators, default values and annotations, class bodies and comprehensions included: these run at once), and
the body of every function the cell defines whose name that code reads (a call, or the function handed to a call,
which may call it), followed from function to function: a helper called by a helper called before the answer runs
too. Reading a class's name runs its dunder methods (`__init__`, a dataclass's `__post_init__`, `__repr__` when it
is printed, `__call__`, a base's `__init_subclass__`: Python calls them itself), not its other methods, which run
where they are read as an attribute (R23g W3: a Reading built before the answer and replayed after it is graded
whole); reading an attribute of a function's name (`obj.replay()`, a property's `obj.rate`) runs every function of
that name. A method called only by code outside the cell (a library calling `obj.step()`) is not followed. A lambda bound to a name is a
function of that name; any other lambda counts as run where it stands (it is handed on, to be called). A decorator
other than the few that only wrap (CALL_FREE_DECORATORS) may call the function it decorates: the function runs at
its definition. Reading by name errs on the side of running: a function named only in a string (`globals()["f"]()`)
is not followed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lrcourse.checking.answer_replay import stores_into

# Decorators that wrap a function without calling it (unless the cell defines a function of that name itself)
CALL_FREE_DECORATORS = frozenset(
    {"cache", "lru_cache", "wraps", "staticmethod", "classmethod", "property", "cached_property"}
    | {"no_grad", "enable_grad", "inference_mode"}  # torch's, a replay's likely dress
)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def run_before_the_answer(tree: ast.Module, variable: str) -> list[ast.AST]:
    """Every node of the cell `tree` that runs before `variable` is whole: what a statement after it raises costs the
    graded answer nothing (the answer cell's scheduler check, and its self-contained check, R23g M1)."""
    return nodes_run(up_to_the_answer(tree, variable), tree)


def up_to_the_answer(tree: ast.Module, variable: str) -> list[ast.stmt]:
    """The cell's top-level statements up to the last that assigns `variable`, or an item or attribute of it, or
    changes it in place (`answer["k"] = ...`, `answer.update(...)`; all of them if none does): what runs before the
    answer is whole."""
    storing = [index for index, statement in enumerate(tree.body) if stores_into(statement, variable)]
    return tree.body[: storing[-1] + 1] if storing else tree.body


def nodes_run(statements: list[ast.stmt], tree: ast.Module) -> list[ast.AST]:
    """Every node that runs when `statements` (top-level statements of `tree`) run: their own, then the bodies of the
    functions and classes `tree` defines that they reach by name."""
    bodies = _bodies_by_name(tree)
    return nodes_reached([node for statement in statements for node in _running(statement, bodies)], tree)


def nodes_reached(run: list[ast.AST], tree: ast.Module) -> list[ast.AST]:
    """`run` (nodes of `tree` that run), then the bodies of the functions and classes `tree` defines that they reach
    by name, followed from body to body over the whole cell (a helper defined below the code calling it too)."""
    bodies = _bodies_by_name(tree)
    run = list(run)
    followed: set[str] = set()
    index = 0
    while index < len(run):
        for name in _names_read(run[index]) - followed:
            if name in bodies:
                followed.add(name)
                run.extend(node for body in bodies[name] for node in _running(body, bodies))
        index += 1
    return run


def _running(node: ast.AST, bodies: dict[str, list[ast.AST]]) -> Iterator[ast.AST]:
    """`node` and what runs with it, short of the bodies of the functions it defines (and of lambdas bound to a
    name): these run when called. A function decorated by a decorator that may call it yields its own name read."""
    yield node
    if isinstance(node, _FUNCTIONS):
        for child in (*node.decorator_list, *_signature(node.args), node.returns):
            if child is not None:
                yield from _running(child, bodies)
        if any(not _call_free(decorator, bodies) for decorator in node.decorator_list):
            yield ast.Name(id=node.name, ctx=ast.Load())
        return
    if isinstance(node, ast.Assign) and _named_lambda(node):
        yield from _running(node.value.args, bodies)  # the defaults; the body runs when called
        yield from (child for target in node.targets for child in _running(target, bodies))
        return
    for child in ast.iter_child_nodes(node):
        yield from _running(child, bodies)


def _signature(arguments: ast.arguments) -> list[ast.AST]:
    """A function's default values and annotations: evaluated where it is defined."""
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
    annotations = [argument.annotation for argument in every if argument is not None]
    return [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None), *annotations]


def _call_free(decorator: ast.expr, bodies: dict) -> bool:
    called = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", None)
    return name in CALL_FREE_DECORATORS and name not in bodies


def _named_lambda(node: ast.Assign) -> bool:
    return isinstance(node.value, ast.Lambda) and all(isinstance(target, ast.Name) for target in node.targets)


def _bodies_by_name(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """name -> the bodies that run when the name is read: a function's statements (every function of that name, at
    any depth), a named lambda's expression, a class's dunder methods (through their names)."""
    bodies: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, _FUNCTIONS):
            bodies.setdefault(node.name, []).extend(node.body)
        elif isinstance(node, ast.Assign) and _named_lambda(node):
            for target in node.targets:
                bodies.setdefault(target.id, []).append(node.value.body)
        elif isinstance(node, ast.ClassDef):
            methods = [child.name for child in node.body if isinstance(child, _FUNCTIONS) and _dunder(child.name)]
            bodies.setdefault(node.name, []).extend(ast.Name(id=name, ctx=ast.Load()) for name in methods)
    return bodies


def _dunder(name: str) -> bool:
    """A method Python calls itself, on the class or its instances (`__init__`, `__post_init__`, `__repr__`...)."""
    return name.startswith("__") and name.endswith("__")


def _names_read(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return {node.id}
    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
        return {node.attr}
    return set()
