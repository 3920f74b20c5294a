"""Which of an answer cell's code runs before its answer is bound: read without running it (issue 23, R23f W1).

A function's body runs when the function is called, not where it is defined: a replay defined before the answer and
called after it costs the graded answer nothing. So the code that runs is the top-level statements up to the last that
may change the answer (`up_to_the_answer`: `x = {}` then `fill(x)` is whole only after `fill`, R23s W5) (their
decorators, default values and annotations, class bodies and comprehensions included: these run at once), and the body
of every function the cell defines whose name that code reads (a call, or the function handed to a call, which may call
it), followed from function to function: a helper called by a helper called before the answer runs too. Reading a
class's name runs its dunder methods (`__init__`, a dataclass's `__post_init__`, `__repr__` when it is printed,
`__call__`, a base's `__init_subclass__`: Python calls them itself), not its other methods, which run where they are
read as an attribute (R23g W3: a Reading built before the answer and replayed after it is graded whole); reading an
attribute of a function's name (`obj.replay()`, a property's `obj.rate`) runs every function of that name. A method
called only by code outside the cell (a library calling `obj.step()`) is not followed. A lambda bound to a name is a
function of that name; any other lambda counts as run where it stands (it is handed on, to be called). A decorator other
than the few that only wrap (CALL_FREE_DECORATORS) may call the function it decorates: the function runs at its
definition. Reading by name errs on the side of running: a function named only in a string (`globals()["f"]()`) is not
followed.
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
    """The cell's top-level statements up to the last that may change `variable` (all of them if none does): what
    runs before the answer is whole. A statement may change it if it assigns it, or an item or attribute of it, or
    changes it in place (`answer["k"] = ...`, `answer.update(...)`), or, with what it reaches by name (`nodes_run`),
    hands it to a call (`fill(answer)`, R23s W5; a function of the cell only if its body changes what it is handed),
    or calls, or calls a method of, a holder of it: a name bound by such a statement (`t = Thread(target=lambda:
    answer.update(...))`, then `t.start()`), or bound to it (`box = answer`). Handing it to a builtin that only reads
    it (`print(answer)`, ONLY_READING) or handing on an item of it (`StepLR(o, **answer)`, `f(answer["gamma"])`)
    changes nothing: a self-test after the answer stays after it."""
    bodies = _bodies_by_name(tree)
    same = _same_object(tree, variable)
    defined: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, _FUNCTIONS):
            defined.setdefault(node.name, []).append(node)
    holders, last = set(same), None
    for index, statement in enumerate(tree.body):
        run = _followed([*_running(statement, bodies)], bodies)
        if stores_into(statement, variable) or _may_change(run, same, holders, bodies, defined):
            last = index
            holders |= {node.id for node in ast.walk(statement) if _stored(node) and node.id not in same}
        elif isinstance(statement, ast.Assign) and _holding(statement.value, holders):
            holders |= {node.id for target in statement.targets for node in ast.walk(target) if _stored(node)}
    return tree.body[: last + 1] if last is not None else tree.body


def _same_object(tree: ast.Module, variable: str) -> frozenset[str]:
    """`variable` and the names the cell binds to it or it to (`x = box`, `box = x`): a change of one is of the other
    (`box` filled by a thread started before `x = box`, joined after)."""
    same = {variable}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            names = {target.id for target in node.targets if isinstance(target, ast.Name)} | {node.value.id}
            same |= names if variable in names else set()
    return frozenset(same)


# Builtins that only read what they are handed (unless the cell defines a function of that name)
ONLY_READING = frozenset(
    {"print", "len", "repr", "str", "format", "type", "isinstance", "id", "hash", "sorted", "list", "tuple", "set"}
    | {"frozenset", "dict", "sum", "min", "max", "abs", "round", "float", "int", "bool", "enumerate", "zip", "iter"}
    | {"any", "all", "reversed", "range"}
)


def _may_change(run: list[ast.AST], same: frozenset[str], holders: set[str], bodies: dict, defined: dict) -> bool:
    """Among the nodes `run`, one changes the answer (any of the names `same`) in place (in a function the statement
    calls too), hands it or a holder of it to a call that may change it, or calls a holder or its method."""
    others = holders - same
    for node in run:
        if not isinstance(node, ast.Call):
            continue
        if any(stores_into(node, name) for name in same) or _root(node.func) in others:
            return True
        if _may_change_handed(node, holders, bodies, defined, 0):
            return True
    return False


def _may_change_handed(call: ast.Call, holders: set[str], bodies: dict, defined: dict, depth: int) -> bool:
    """The `call` is handed one of `holders` (or a container holding one) and may change it: not a builtin that only
    reads (ONLY_READING); a function of the cell (`defined`) only where its body changes the parameter it is handed
    as (`replays(answer)` reading `answer["gamma"]` changes nothing; `fill(d)` calling `d.update` does)."""
    reader = call.func.id if isinstance(call.func, ast.Name) else None
    if reader in ONLY_READING and reader not in bodies:
        return False
    if reader not in defined or depth > 3:
        handed = [*call.args, *(keyword.value for keyword in call.keywords if keyword.arg is not None)]
        return any(_holding(argument, holders) for argument in handed)
    for function in defined[reader]:
        parameters = _parameters_handed(call, function.args, holders)
        if parameters is None or any(_changes_parameter(function, p, bodies, defined, depth) for p in parameters):
            return True
    return False


def _parameters_handed(call: ast.Call, arguments: ast.arguments, holders: set[str]) -> list[str] | None:
    """The parameters of a function with `arguments` that `call` hands a holder to; None if one goes to `*args` or
    `**kwargs`, or follows a `*` of the call (its place unknown). `*answer` and `**answer` hand on its items."""
    positional = [*arguments.posonlyargs, *arguments.args]
    named = {argument.arg for argument in [*arguments.args, *arguments.kwonlyargs]}
    parameters, starred = [], False
    for index, value in enumerate(call.args):
        starred = starred or isinstance(value, ast.Starred)
        if _holding(value, holders):
            if starred or index >= len(positional):
                return None
            parameters.append(positional[index].arg)
    for keyword in call.keywords:
        if keyword.arg is not None and _holding(keyword.value, holders):
            if keyword.arg not in named:
                return None
            parameters.append(keyword.arg)
    return parameters


def _changes_parameter(function: ast.AST, parameter: str, bodies: dict, defined: dict, depth: int) -> bool:
    """The body of `function` changes `parameter` in place, binds another name to it, or hands it to a call that may
    change it."""
    for node in ast.walk(function):
        if node is not function and stores_into(node, parameter):
            return True
        if isinstance(node, ast.Assign) and _holding(node.value, {parameter}):
            return True
        if isinstance(node, ast.Call) and _may_change_handed(node, {parameter}, bodies, defined, depth + 1):
            return True
    return False


def _holding(node: ast.AST, holders: set[str]) -> bool:
    """`node` is a holder, or a tuple, list, set or dict holding one (`args=(answer,)`); not an item of one."""
    if isinstance(node, ast.Name):
        return node.id in holders
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_holding(element, holders) for element in node.elts if not isinstance(element, ast.Starred))
    if isinstance(node, ast.Dict):
        return any(_holding(value, holders) for value in node.values)
    return False


def _root(node: ast.AST) -> str | None:
    """The name `node` (`t`, `t.start`, `box["k"].update`) is rooted at."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _stored(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)


def nodes_run(statements: list[ast.stmt], tree: ast.Module) -> list[ast.AST]:
    """Every node that runs when `statements` (top-level statements of `tree`) run: their own, then the bodies of the
    functions and classes `tree` defines that they reach by name."""
    bodies = _bodies_by_name(tree)
    return nodes_reached([node for statement in statements for node in _running(statement, bodies)], tree)


def nodes_reached(run: list[ast.AST], tree: ast.Module) -> list[ast.AST]:
    """`run` (nodes of `tree` that run), then the bodies of the functions and classes `tree` defines that they reach
    by name, followed from body to body over the whole cell (a helper defined below the code calling it too)."""
    return _followed(list(run), _bodies_by_name(tree))


def _followed(run: list[ast.AST], bodies: dict[str, list[ast.AST]]) -> list[ast.AST]:
    """`run`, extended in place with the `bodies` its nodes reach by name, followed from body to body."""
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
