"""A parser (lark) and a small evaluator for the subset of the Firestore security rules language
that firestore.rules uses. Nothing on these machines runs real rules (the official emulator is a
jar we cannot download), so the cut-over script checks that the file parses, and the access-matrix
test asks `Rules.allows(...)` who may do what.

Covered: `rules_version`, `service`, nested `match` blocks with `{name}` and `{name=**}`
segments, `function` definitions with parameters, `allow <methods>: if <expr>;`, and the
expressions `|| && ! == != < <= > >= in is`, `.` member access, calls (`exists`, `get`,
`string.lower()`, `map.diff(m).changedKeys().hasOnly(list)`, user functions), lists, string,
int and boolean literals, `null`, and path literals with `$(expr)` parts.

Not covered (the evaluator rejects or ignores them): `let` bindings, the ternary, arithmetic,
maps and sets as literals, `getAfter`/`existsAfter`, `request.time`, `request.query` (list
queries are evaluated as reads of one document: whether a query is provably restricted by its
filters is not checked), field types beyond string/int/bool/list/map, the limits of 10/20
document reads per request, and error values as first-class values (an error makes its `allow`
deny, with the real language's `||`/`&&` error absorption).

    python scripts/firestore_rules.py firestore.rules   # exit 0 when it parses, else the reason
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

GRAMMAR = r"""
start: "rules_version" "=" STRING ";" service

service: "service" dotted "{" block_item* "}"
dotted: NAME ("." NAME)*

?block_item: match | function | allow
match: "match" match_path "{" block_item* "}"
match_path: ("/" match_segment)+
?match_segment: NAME -> literal_segment
    | "{" NAME "}" -> single_wildcard
    | "{" NAME "=" "**" "}" -> rest_wildcard

function: "function" NAME "(" [NAME ("," NAME)*] ")" "{" "return" expr ";" "}"
allow: "allow" METHOD ("," METHOD)* ":" "if" expr ";"

?expr: or_expr
?or_expr: and_expr ("||" and_expr)*
?and_expr: rel_expr ("&&" rel_expr)*
?rel_expr: unary
    | unary REL_OP unary -> relation
    | unary "in" unary -> contains
    | unary "is" NAME -> is_type
?unary: postfix
    | "!" unary -> negation
?postfix: primary
    | postfix "." NAME -> member
    | postfix "(" [expr ("," expr)*] ")" -> call
    | postfix "[" expr "]" -> index
?primary: STRING -> string
    | INT -> integer
    | "true" -> true
    | "false" -> false
    | "null" -> null
    | NAME -> name
    | "[" [expr ("," expr)*] "]" -> list
    | "(" expr ")"
    | path_literal
path_literal: ("/" path_part)+
?path_part: NAME -> path_text
    | "$(" expr ")" -> path_expr

METHOD.2: "read" | "write" | "get" | "list" | "create" | "update" | "delete"
REL_OP: "==" | "!=" | "<=" | ">=" | "<" | ">"
STRING: /'[^'\n]*'/ | /"[^"\n]*"/
INT: /[0-9]+/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
COMMENT: /\/\/[^\n]*/

%import common.WS
%ignore WS
%ignore COMMENT
"""

_PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=True)

# A read is a get or a list; a write is a create, an update or a delete.
METHOD_GROUPS = {"read": {"get", "list"}, "write": {"create", "update", "delete"}}


class RulesSyntaxError(ValueError):
    """The rules file does not parse: the message says where."""


class RulesEvalError(Exception):
    """An evaluation error of the rules language (a missing field, a wrong type, ...)."""


def parse(text: str) -> Tree[Any]:
    try:
        return _PARSER.parse(text)
    except LarkError as exc:
        raise RulesSyntaxError(str(exc).strip().splitlines()[0]) from None


# ---- the model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allow:
    segments: tuple[tuple[str, str], ...]  # (kind, name): literal, single, rest
    methods: frozenset[str]
    condition: Tree[Any] | Token
    functions: Mapping[str, Function]


@dataclass(frozen=True)
class Function:
    params: tuple[str, ...]
    body: Tree[Any] | Token
    functions: dict[str, Function] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Request:
    """One request against one document: `path` like "users/u1"; `auth` is None when signed
    out, else {"uid": ..., "token": {...claims}}; `data` the document after the write."""

    method: str  # get, list, create, update, delete
    path: str
    auth: Mapping[str, Any] | None
    data: Mapping[str, Any] | None = None


class Rules:
    """The allow statements of one rules file, with the functions in scope of each."""

    def __init__(self, text: str) -> None:
        tree = parse(text)
        self.allows: list[Allow] = []
        service = tree.children[1]
        assert isinstance(service, Tree)
        for item in service.children[1:]:
            if isinstance(item, Tree) and item.data == "match":
                self._collect(item, (), {})

    def _collect(
        self, node: Tree[Any], prefix: tuple[tuple[str, str], ...], scope: dict[str, Function]
    ) -> None:
        path_node, *items = node.children
        segments = prefix + tuple(_segment(s) for s in path_node.children)
        local = dict(scope)  # functions are visible in their block and the blocks inside it
        for item in items:
            if isinstance(item, Tree) and item.data == "function":
                name, *params_and_body = item.children
                params = tuple(str(p) for p in params_and_body[:-1] if p is not None)
                local[str(name)] = Function(params, params_and_body[-1], local)
        for item in items:
            if not isinstance(item, Tree):
                continue
            if item.data == "allow":
                *methods, condition = item.children
                names = frozenset(str(m) for m in methods)
                self.allows.append(Allow(segments, names, condition, local))
            elif item.data == "match":
                self._collect(item, segments, local)

    def allows_request(self, request: Request, db: Mapping[str, Mapping[str, Any]]) -> bool:
        """True when any allow statement matching the path and method grants the request."""
        path = ("databases", "(default)", "documents", *request.path.split("/"))
        for allow in self.allows:
            if not _method_matches(allow.methods, request.method):
                continue
            bindings = _match(allow.segments, path)
            if bindings is None:
                continue
            evaluator = _Evaluator(request, db, allow.functions, bindings)
            try:
                if evaluator.eval(allow.condition) is True:
                    return True
            except RulesEvalError:
                continue  # an error denies this statement; another may still allow
        return False

    def paths(self) -> set[str]:
        """Every match path that has an allow statement, written as in the file."""
        return {_render(a.segments) for a in self.allows}


def _segment(node: Tree[Any]) -> tuple[str, str]:
    kind = {"literal_segment": "literal", "single_wildcard": "single", "rest_wildcard": "rest"}
    return kind[str(node.data)], str(node.children[0])


def _render(segments: tuple[tuple[str, str], ...]) -> str:
    out = []
    for kind, name in segments:
        out.append(name if kind == "literal" else "{" + name + ("=**}" if kind == "rest" else "}"))
    return "/" + "/".join(out)


def _method_matches(methods: frozenset[str], method: str) -> bool:
    return method in methods or any(method in METHOD_GROUPS.get(m, ()) for m in methods)


def _match(segments: tuple[tuple[str, str], ...], path: tuple[str, ...]) -> dict[str, Any] | None:
    bindings: dict[str, Any] = {}
    for i, (kind, name) in enumerate(segments):
        if kind == "rest":  # `{name=**}` matches the rest (zero or more segments) at any level
            rest_segments = segments[i + 1 :]
            for cut in range(i, len(path) + 1):
                tail = _match(rest_segments, path[cut:])
                if tail is not None:
                    bindings[name] = "/".join(path[i:cut])
                    return {**bindings, **tail}
            return None
        if i >= len(path):
            return None
        if kind == "literal" and path[i] != name:
            return None
        if kind == "single":
            bindings[name] = path[i]
    return bindings if len(segments) == len(path) else None


# ---- evaluation ------------------------------------------------------------------------------


class _Path(str):
    """A document path value (from a path literal)."""


class _MapDiff:
    def __init__(self, after: Mapping[str, Any], before: Mapping[str, Any]) -> None:
        self.after, self.before = after, before

    def changed_keys(self) -> set[str]:
        keys = set(self.after) | set(self.before)
        return {k for k in keys if self.after.get(k, _MISSING) != self.before.get(k, _MISSING)}


_MISSING = object()
_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "map": lambda v: isinstance(v, dict),
}


class _Evaluator:
    def __init__(
        self,
        request: Request,
        db: Mapping[str, Mapping[str, Any]],
        functions: Mapping[str, Function],
        bindings: Mapping[str, Any],
    ) -> None:
        self.db = db
        self.functions = functions
        self.scope: dict[str, Any] = dict(bindings)
        existing = db.get(request.path)
        auth = None
        if request.auth is not None:
            auth = {"uid": request.auth["uid"], "token": dict(request.auth.get("token", {}))}
        self.scope["request"] = {
            "auth": auth,
            "method": request.method,
            "resource": {"data": dict(request.data)} if request.data is not None else None,
        }
        self.scope["resource"] = {"data": dict(existing)} if existing is not None else None

    def eval(self, node: Tree[Any] | Token) -> Any:
        if isinstance(node, Token):  # a bare NAME never reaches here (aliased to `name`)
            raise RulesEvalError(f"unexpected token {node!r}")
        handler = getattr(self, f"_{node.data}", None)
        if handler is None:
            raise RulesEvalError(f"not covered by this evaluator: {node.data}")
        return handler(node)

    # literals and names
    def _string(self, node: Tree[Any]) -> str:
        return str(node.children[0])[1:-1]

    def _integer(self, node: Tree[Any]) -> int:
        return int(str(node.children[0]))

    def _true(self, _: Tree[Any]) -> bool:
        return True

    def _false(self, _: Tree[Any]) -> bool:
        return False

    def _null(self, _: Tree[Any]) -> None:
        return None

    def _list(self, node: Tree[Any]) -> list[Any]:
        return [self.eval(c) for c in node.children if c is not None]

    def _name(self, node: Tree[Any]) -> Any:
        name = str(node.children[0])
        if name not in self.scope:
            raise RulesEvalError(f"unknown name {name}")
        return self.scope[name]

    def _path_literal(self, node: Tree[Any]) -> _Path:
        parts = []
        for part in node.children:
            if part.data == "path_text":
                parts.append(str(part.children[0]))
            else:
                value = self.eval(part.children[0])
                if not isinstance(value, str):
                    raise RulesEvalError("a path part must be a string")
                parts.append(value)
        # /databases/(default)/documents/a/b -> a/b
        if parts[:1] != ["databases"] or len(parts) < 3 or parts[2] != "documents":
            raise RulesEvalError("path literal outside /databases/$(database)/documents")
        return _Path("/".join(parts[3:]))

    # operators
    def _or_expr(self, node: Tree[Any]) -> bool:
        error: RulesEvalError | None = None
        for child in node.children:
            try:
                if self._bool(child):
                    return True  # true absorbs an error on either side
            except RulesEvalError as exc:
                error = exc
        if error is not None:
            raise error
        return False

    def _and_expr(self, node: Tree[Any]) -> bool:
        error: RulesEvalError | None = None
        for child in node.children:
            try:
                if not self._bool(child):
                    return False  # false absorbs an error on either side
            except RulesEvalError as exc:
                error = exc
        if error is not None:
            raise error
        return True

    def _bool(self, node: Tree[Any] | Token) -> bool:
        value = self.eval(node)
        if not isinstance(value, bool):
            raise RulesEvalError(f"not a boolean: {value!r}")
        return value

    def _negation(self, node: Tree[Any]) -> bool:
        return not self._bool(node.children[0])

    def _relation(self, node: Tree[Any]) -> bool:
        left, op = self.eval(node.children[0]), str(node.children[1])
        right = self.eval(node.children[2])
        if op == "==":
            return bool(_same_type(left, right) and left == right)
        if op == "!=":
            return not (_same_type(left, right) and left == right)
        if isinstance(left, int) and isinstance(right, int):
            pair: tuple[Any, Any] = (left, right)
        elif isinstance(left, str) and isinstance(right, str):
            pair = (left, right)
        else:
            raise RulesEvalError(f"cannot order {left!r} and {right!r}")
        a, b = pair
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    def _contains(self, node: Tree[Any]) -> bool:
        item, container = self.eval(node.children[0]), self.eval(node.children[1])
        if isinstance(container, dict):
            return item in container
        if isinstance(container, list):
            return any(_same_type(item, c) and item == c for c in container)
        raise RulesEvalError(f"`in` needs a list or a map, got {container!r}")

    def _is_type(self, node: Tree[Any]) -> bool:
        value, type_name = self.eval(node.children[0]), str(node.children[1])
        if type_name not in _TYPES:
            raise RulesEvalError(f"type {type_name} not covered")
        return _TYPES[type_name](value)

    def _member(self, node: Tree[Any]) -> Any:
        target, name = node.children[0], str(node.children[1])
        value = self.eval(target)
        if isinstance(value, dict):
            if name not in value:
                raise RulesEvalError(f"no field {name}")
            return value[name]
        # methods: resolved by _call, which sees the member node itself
        raise RulesEvalError(f"no field {name} on {type(value).__name__}")

    def _index(self, node: Tree[Any]) -> Any:
        value, key = self.eval(node.children[0]), self.eval(node.children[1])
        if isinstance(value, dict) and isinstance(key, str) and key in value:
            return value[key]
        raise RulesEvalError(f"no key {key!r}")

    def _call(self, node: Tree[Any]) -> Any:
        callee, *arg_nodes = node.children
        args = [self.eval(a) for a in arg_nodes if a is not None]
        if isinstance(callee, Tree) and callee.data == "member":
            receiver = self.eval(callee.children[0])
            return _method(receiver, str(callee.children[1]), args)
        if not (isinstance(callee, Tree) and callee.data == "name"):
            raise RulesEvalError("only named functions and methods can be called")
        name = str(callee.children[0])
        if name == "exists":
            return self._doc_path(args) in self.db
        if name == "get":
            path = self._doc_path(args)
            if path not in self.db:
                raise RulesEvalError(f"get() of a missing document {path}")
            return {"data": dict(self.db[path])}
        function = self.functions.get(name)
        if function is None:
            raise RulesEvalError(f"unknown function {name}")
        if len(args) != len(function.params):
            raise RulesEvalError(f"{name} takes {len(function.params)} arguments")
        inner = _Evaluator.__new__(_Evaluator)
        inner.db, inner.functions = self.db, function.functions
        inner.scope = {**self.scope, **dict(zip(function.params, args, strict=True))}
        return inner.eval(function.body)

    @staticmethod
    def _doc_path(args: list[Any]) -> str:
        if len(args) != 1 or not isinstance(args[0], _Path):
            raise RulesEvalError("exists()/get() take one path")
        return str(args[0])


def _same_type(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return isinstance(a, type(b)) or isinstance(b, type(a))


def _method(receiver: Any, name: str, args: list[Any]) -> Any:
    if isinstance(receiver, str) and name == "lower" and not args:
        return receiver.lower()
    if isinstance(receiver, dict) and name == "diff" and len(args) == 1:
        if not isinstance(args[0], dict):
            raise RulesEvalError("diff() needs a map")
        return _MapDiff(receiver, args[0])
    if isinstance(receiver, _MapDiff) and name == "changedKeys" and not args:
        return receiver.changed_keys()
    if isinstance(receiver, set) and name == "hasOnly" and len(args) == 1:
        return receiver <= set(args[0])
    raise RulesEvalError(f"method {name} not covered on {type(receiver).__name__}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: firestore_rules.py FILE", file=sys.stderr)
        return 2
    try:
        rules = Rules(Path(argv[1]).read_text(encoding="utf-8"))
    except (OSError, RulesSyntaxError) as exc:
        print(f"{argv[1]}: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[1]}: parses ({len(rules.allows)} allow statements)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
