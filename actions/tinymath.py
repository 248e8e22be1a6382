"""Kibana's tinymath (the `EvalMath` Mustache lambda), in Python.

Numbers only, as JavaScript numbers (IEEE doubles): `+ - * /`, the comparisons `< > <= >= ==`,
tinymath's functions, numeric literals and variables read from the template's variables (`a.b[0]`,
or quoted). Any other value given to an arithmetic function makes its result `NaN`, as tinymath's
`isOperable` does, so no operation ever works on a string or a list built by the expression, and no
result is larger than a double (about 1.8e308; beyond that it is `Infinity`). There is no `**` and no
attribute or call syntax beyond tinymath's. Grammar: tinymath's `grammar.peggy` (a PEG, parsed here
with memoisation so nesting cannot make it exponential); nesting is capped at `MAX_DEPTH`.
"""

from __future__ import annotations

import json
import math
import random
import re
from decimal import Decimal
from typing import Any

MAX_DEPTH = 200  # parser rules on the stack: 5 to 7 per level of brackets or function calls
MAX_EXPRESSION_CHARS = 10_000


class TinymathError(Exception):
    pass


# ---- JavaScript numbers ------------------------------------------------------------------------


def js_number(value: float) -> str:
    """`Number.prototype.toString()`: `1`, `0.1`, `1e+21`, `1.5e-7`, `NaN`, `Infinity`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits_tuple))
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def to_text(value: Any) -> str:
    """What `${result}` prints in JavaScript."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, list):
        return ",".join("" if item is None else to_text(item) for item in value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return str(value)


# ---- parsing (tinymath's grammar.peggy) --------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE]-?[0-9]+)?")
_VALID_CHARS = re.compile(r"[0-9A-Za-z._@\[\]-]+")
_FUNCTION_NAME = re.compile(r"[a-zA-Z_-]+")
_ARGUMENT_NAME = re.compile(r"[a-zA-Z_]+")
_COMPARISONS = {"<=": "lte", ">=": "gte", "==": "eq", "<": "lt", ">": "gt"}

# Nodes: a float, ("var", name), ("fn", name, [args]), ("named", name), and
# ("fold", first, [(function name, node), ...]) for `a + b - c` (add(subtract(...)) left to right).


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.memo: dict[tuple[str, int], tuple[Any, int] | None] = {}
        self.depth = 0
        self.furthest = 0

    def fail(self, pos: int) -> None:
        self.furthest = max(self.furthest, pos)
        return None

    def ws(self, pos: int) -> int:
        return _WS.match(self.text, pos).end()

    def lit(self, pos: int, token: str) -> int | None:
        if self.text.startswith(token, pos):
            return pos + len(token)
        return self.fail(pos)

    def rule(self, name: str, pos: int):
        key = (name, pos)
        if key not in self.memo:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise TinymathError("the expression is nested too deeply")
            try:
                self.memo[key] = getattr(self, "_" + name)(pos)
            finally:
                self.depth -= 1
        return self.memo[key]

    def parse(self):
        result = self.rule("expression", 0)
        if result is None or result[1] != len(self.text):
            at = self.furthest if result is None else max(self.furthest, result[1])
            found = f'"{self.text[at]}"' if at < len(self.text) else "end of input"
            raise TinymathError(f"Failed to parse expression. Unexpected {found} at position {at}.")
        return result[0]

    def _expression(self, pos):
        return self.rule("comparison", pos) or self.rule("math", pos) or self.rule("expression_group", pos)

    def _comparison(self, pos):
        left = self.rule("math", self.ws(pos))
        if left is None:
            return None
        for symbol, name in _COMPARISONS.items():
            after = self.lit(left[1], symbol)
            if after is not None:
                right = self.rule("math", after)
                if right is not None:
                    return ("fn", name, [left[0], right[0]]), self.ws(right[1])
                return None
        return None

    def _binary(self, pos, operand: str, operators: dict[str, str]):
        first = self.rule(operand, self.ws(pos))
        if first is None:
            return None
        node, pos = first
        steps = []  # a left fold kept flat, so a long `1+1+...` does not nest
        while pos < len(self.text) and self.text[pos] in operators:
            right = self.rule(operand, pos + 1)
            if right is None:
                self.fail(pos + 1)
                break
            steps.append((operators[self.text[pos]], right[0]))
            pos = right[1]
        return (("fold", node, steps) if steps else node), self.ws(pos)

    def _math(self, pos):
        return self._binary(pos, "multiply_divide", {"+": "add", "-": "subtract"})

    def _multiply_divide(self, pos):
        return self._binary(pos, "factor", {"*": "multiply", "/": "divide"})

    def _factor(self, pos):
        return self.rule("group", pos) or self.rule("function", pos) or self.rule("literal", pos)

    def _parenthesised(self, pos, inner: str):
        pos = self.lit(self.ws(pos), "(")
        if pos is None:
            return None
        body = self.rule(inner, self.ws(pos))
        if body is None:
            return None
        end = self.lit(self.ws(body[1]), ")")
        return None if end is None else (body[0], self.ws(end))

    def _group(self, pos):
        return self._parenthesised(pos, "math")

    def _expression_group(self, pos):
        return self._parenthesised(pos, "expression")

    def _function(self, pos):
        pos = self.ws(pos)
        name = _FUNCTION_NAME.match(self.text, pos)
        if name is None:
            return self.fail(pos)
        after = self.lit(name.end(), "(")
        if after is None:
            return None
        args: list = []
        pos = self.ws(after)
        first = self.rule("argument", pos)
        if first is not None:
            args.append(first[0])
            pos = first[1]
            while True:
                comma = self.lit(self.ws(pos), ",")
                if comma is None:
                    break
                following = self.rule("argument", self.ws(comma))
                if following is None:
                    break
                args.append(following[0])
                pos = following[1]
            pos = self.ws(pos)
            trailing = self.lit(pos, ",")
            pos = self.ws(trailing if trailing is not None else pos)
        end = self.lit(pos, ")")
        return None if end is None else (("fn", name.group(), args), self.ws(end))

    def _argument(self, pos):
        name = _ARGUMENT_NAME.match(self.text, pos)
        if name is not None:
            equals = self.lit(self.ws(name.end()), "=")
            # `a == b` is a comparison, not a named argument
            if equals is not None and not self.text.startswith("=", equals):
                value_at = self.ws(equals)
                value = self._number(value_at) or self._string(value_at)
                if value is not None:
                    return ("named", name.group()), self.ws(value[1])
        return self.rule("expression", pos)

    def _literal(self, pos):
        pos = self.ws(pos)
        found = self._number(pos) or self._variable(pos)
        return None if found is None else (found[0], self.ws(found[1]))

    def _number(self, pos):
        match = _NUMBER.match(self.text, pos)
        return (float(match.group()), match.end()) if match else self.fail(pos)

    def _quoted(self, pos):
        quote = self.text[pos : pos + 1]
        if quote not in ('"', "'"):
            return None
        chars, i = [], pos + 1
        while i < len(self.text):
            if self.text.startswith("\\" + quote, i):
                chars.append(quote)
                i += 2
            elif self.text[i] == quote:
                return "".join(chars), i + 1
            else:
                chars.append(self.text[i])
                i += 1
        return self.fail(i)

    def _string(self, pos):
        quoted = self._quoted(pos)
        if quoted is not None:
            return quoted
        match = _VALID_CHARS.match(self.text, pos)
        return (match.group(), match.end()) if match else self.fail(pos)

    def _variable(self, pos):
        found = self._string(pos)
        return None if found is None else (("var", found[0]), self.ws(found[1]))


def parse(expression: str):
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise TinymathError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    return _Parser(expression).parse()


# ---- values ------------------------------------------------------------------------------------


def _js_value(value: Any) -> Any:
    """Variables as JavaScript sees them: every number is a double."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an integer beyond the largest double
            return math.inf if value > 0 else -math.inf
    if isinstance(value, list | tuple):
        return [_js_value(item) for item in value]
    return value


_PATH_PART = re.compile(r"[^.\[\]'\"]+")
_MISSING = object()


def _lookup(scope: dict, name: str) -> Any:
    """lodash `get(scope, name)` (`a.b[0]`), else `scope[name]` (a key that holds dots)."""
    node: Any = scope
    parts = _PATH_PART.findall(name)
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list | tuple) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return scope.get(name, _MISSING)
    return node if parts else scope.get(name, _MISSING)


def _is_number(value: Any) -> bool:
    return isinstance(value, float) and not math.isnan(value)


def _operable(args: list) -> bool:
    return all(all(map(_is_number, a)) if isinstance(a, list) else _is_number(a) for a in args)


# ---- functions (tinymath's src/functions) ------------------------------------------------------


def _elementwise(fn, *args):
    """Apply `fn` index-wise when any argument is an array (tinymath's array rule)."""
    lengths = {len(a) for a in args if isinstance(a, list)}
    if not lengths:
        return fn(*args)
    if len(lengths) > 1:
        raise TinymathError("Array length mismatch")
    size = lengths.pop()
    return [fn(*(a[i] if isinstance(a, list) else a for a in args)) for i in range(size)]


def _unary(fn):
    return lambda a: _elementwise(fn, a)


def _reduce(fn):
    """`add`, `multiply`, `max`, `min`: a single array reduces to one number, else index-wise."""

    def reducer(*args):
        if not args:
            raise TinymathError("Missing arguments")
        if len(args) == 1:
            if isinstance(args[0], list):
                if not args[0]:
                    raise TinymathError("Reduce of empty array with no initial value")
                result = args[0][0]
                for item in args[0][1:]:
                    result = fn(result, item)
                return result
            return args[0]
        result = args[0]
        for item in args[1:]:
            result = _elementwise(fn, result, item)
        return result

    return reducer


def _finite_or_inf(fn):
    def safe(*args):
        try:
            return fn(*args)
        except OverflowError:
            return math.inf

    return safe


def _js_pow(a: float, b: float) -> float:
    if math.isnan(b) or (math.isnan(a) and b != 0):
        return math.nan
    try:
        return math.pow(a, b)
    except OverflowError:
        negative = a < 0 and b == int(b) and int(b) % 2 == 1
        return -math.inf if negative else math.inf
    except ValueError:
        if a == 0:  # 0 to a negative power
            return -math.inf if math.copysign(1, a) < 0 and b == int(b) and int(b) % 2 == 1 else math.inf
        return math.nan  # negative base, fractional exponent


def _js_round(a: float) -> float:
    """`Math.round`: halves go up."""
    if not math.isfinite(a):
        return a
    return float(math.floor(a + 0.5)) if abs(a) < 2**52 else a


def _js_floor(a: float) -> float:
    return float(math.floor(a)) if math.isfinite(a) else a


def _js_ceil(a: float) -> float:
    return float(math.ceil(a)) if math.isfinite(a) else a


def _js_divide(a: float, b: float) -> float:
    """JavaScript's `/`: dividing by zero gives ±Infinity, or NaN for 0 / 0."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1, b)


def _divide(a: float, b: float) -> float:
    if b == 0:
        raise TinymathError("Cannot divide by 0")
    return a / b


def _mod(a: float, b: float) -> float:
    if b == 0:
        raise TinymathError("Cannot divide by 0")
    return math.fmod(a, b) if math.isfinite(a) else math.nan


def _ln(a: float) -> float:
    if a < 0:
        raise TinymathError("Must be greater than 0")
    return -math.inf if a == 0 else math.log(a)


def _log(a, base=math.e):
    if base <= 0:
        raise TinymathError("Base out of range")
    ln_base = _ln(base)
    return _elementwise(lambda x: _js_divide(_ln(x), ln_base), a)


def _sqrt(a: float) -> float:
    if a < 0:
        raise TinymathError("Unable find the square root of a negative number")
    return math.sqrt(a)


def _round(a, digits=0.0):
    scale = _js_pow(10.0, digits)
    return _elementwise(lambda x: _js_round(x * scale) / scale, a)


def _pow(a, b=None):
    if b is None:
        raise TinymathError("Missing exponent")
    return _elementwise(lambda x: _js_pow(x, b), a)


def _clamp(a, low=None, high=None):
    if high is None:
        raise TinymathError("Missing maximum value. You may want to use the 'min' function instead")
    if low is None:
        raise TinymathError("Missing minimum value. You may want to use the 'max' function instead")

    def one(x, lo, hi):
        if lo > hi:
            raise TinymathError("Min must be less than max")
        return min(max(x, lo), hi)

    return _elementwise(one, a, low, high)


def _transposed(args: list) -> list[list]:
    size = next(len(a) for a in args if isinstance(a, list))
    if any(isinstance(a, list) and len(a) != size for a in args):
        raise TinymathError("Array length mismatch")
    return [[a[i] if isinstance(a, list) else a for a in args] for i in range(size)]


def _per_index(fn):
    """`median`, `mode`: over all numbers, or per index when any argument is an array."""

    def apply(*args):
        if len(args) == 1:
            return fn(args[0]) if isinstance(args[0], list) else fn([args[0]])
        if any(isinstance(a, list) for a in args):
            return [fn(column) for column in _transposed(list(args))]
        return fn(list(args))

    return apply


def _median(values: list) -> float:
    ordered = sorted(values, reverse=True)
    half = len(ordered) // 2
    if not ordered:
        return math.nan
    return (ordered[half] + ordered[half - 1]) / 2 if len(ordered) % 2 == 0 else ordered[half]


def _mode(values: list) -> list:
    counts: dict[float, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    top = max(counts.values(), default=0)
    return sorted(value for value, count in counts.items() if count == top)


def _js_sum(values) -> float:
    """Left to right, as JavaScript's reduce adds (no compensated summation)."""
    total = 0.0
    for value in values:
        total += value
    return total


def _mean(*args):
    if len(args) == 1:
        return _js_sum(args[0]) / len(args[0]) if isinstance(args[0], list) else args[0]
    total = _FUNCTIONS["add"](*args)
    return _elementwise(lambda x: x / len(args), total)


def _sum(*args):
    return _js_sum(x for a in args for x in (a if isinstance(a, list) else [a]))


def _compare(op):
    def compare(a, b=None):
        if b is None:
            raise TinymathError("Missing b value")
        if isinstance(a, list):
            if not isinstance(b, list):
                return all(op(x, b) for x in a)
            if len(a) != len(b):
                raise TinymathError("Array length mismatch")
            return all(op(x, y) for x, y in zip(a, b, strict=True))
        return op(a, b)

    return compare


def _ifelse(cond=None, a=None, b=None):
    if not isinstance(cond, bool):
        raise TinymathError("Condition clause is of the wrong type")
    if a is None:
        raise TinymathError("Missing a value")
    if b is None:
        raise TinymathError("Missing b value")
    return a if cond else b


def _size(a):
    if isinstance(a, list):
        return float(len(a))
    raise TinymathError("Must pass an array")


def _unique(a):
    if not isinstance(a, list):
        return 1.0
    # a set, not tinymath's indexOf scan: quadratic in the length of a variable's array
    return float(len({_identity(item) for item in a}))


def _identity(item: Any) -> Any:
    if isinstance(item, float | str | bool) or item is None:
        return (type(item).__name__, item)  # `true` and `1` are not the same value
    return json.dumps(item, sort_keys=True, default=str)


_FUNCTIONS: dict[str, Any] = {
    "abs": _unary(abs),
    "add": _reduce(lambda a, b: a + b),
    "cbrt": _unary(lambda a: math.copysign(abs(a) ** (1 / 3), a)),
    "ceil": _unary(_js_ceil),
    "clamp": _clamp,
    "cos": _unary(lambda a: math.cos(a) if math.isfinite(a) else math.nan),
    "count": _size,
    "cube": _unary(lambda a: _js_pow(a, 3.0)),
    "defaults": lambda a, b=None: _elementwise(lambda x: b if x is None else x, a),
    "degtorad": _unary(lambda a: a * math.pi / 180),
    "divide": lambda a, b: _elementwise(_divide, a, b),
    "exp": _unary(_finite_or_inf(math.exp)),
    "first": lambda a: (a[0] if a else None) if isinstance(a, list) else a,
    "fix": _unary(lambda a: _js_floor(a) if a > 0 else _js_ceil(a)),
    "floor": _unary(_js_floor),
    "ifelse": _ifelse,
    "last": lambda a: (a[-1] if a else None) if isinstance(a, list) else a,
    "log": _log,
    "log10": lambda a: _log(a, 10.0),
    "max": _reduce(max),
    "mean": _mean,
    "median": _per_index(_median),
    "min": _reduce(min),
    "mod": lambda a, b: _elementwise(_mod, a, b),
    "mode": _per_index(_mode),
    "multiply": _reduce(lambda a, b: a * b),
    "pi": lambda: math.pi,
    "pow": _pow,
    "radtodeg": _unary(lambda a: a * 180 / math.pi),
    "random": lambda a=None, b=None: (
        random.random() if a is None else random.uniform(0, a) if b is None else random.uniform(a, b)
    ),
    "range": lambda *args: _elementwise(
        lambda x, y: x - y, _FUNCTIONS["max"](*args), _FUNCTIONS["min"](*args)
    ),
    "round": _round,
    "sin": _unary(lambda a: math.sin(a) if math.isfinite(a) else math.nan),
    "size": _size,
    "sqrt": _unary(_sqrt),
    "square": _unary(lambda a: _js_pow(a, 2.0)),
    "subtract": lambda a, b: _elementwise(lambda x, y: x - y, a, b),
    "sum": _sum,
    "tan": _unary(lambda a: math.tan(a) if math.isfinite(a) else math.nan),
    "unique": _unique,
    "eq": _compare(lambda a, b: a == b),
    "lt": _compare(lambda a, b: a < b),
    "gt": _compare(lambda a, b: a > b),
    "lte": _compare(lambda a, b: a <= b),
    "gte": _compare(lambda a, b: a >= b),
}
# These take values of any type, as in tinymath; every other function gets numbers or returns NaN.
_ANY_VALUE = {"count", "defaults", "first", "ifelse", "last", "size", "unique"}


def evaluate(expression: str, scope: dict) -> Any:
    """The value of `expression` (a float, a bool, a list of them, or a variable's value)."""
    tree = parse(expression)

    def run(node):
        if isinstance(node, float):
            return node
        kind = node[0]
        if kind == "var":
            value = _lookup(scope, node[1])
            if value is _MISSING:
                raise TinymathError(f"Unknown variable: {node[1]}")
            return _js_value(value)
        if kind == "named":
            raise TinymathError(f"Named arguments are not supported in tinymath itself, at {node[1]}")
        if kind == "fold":
            result = run(node[1])
            for name, operand in node[2]:
                result = call(name, [result, run(operand)])
            return result
        if node[1] not in _FUNCTIONS:
            raise TinymathError(f"No such function: {node[1]}")
        return call(node[1], [run(arg) for arg in node[2]])

    def call(name: str, args: list):
        fn = _FUNCTIONS[name]
        if name not in _ANY_VALUE and not _operable(args):
            return math.nan
        try:
            return fn(*args)
        except ZeroDivisionError:
            return math.nan  # JavaScript's 0 / 0 (the mean of no values)
        except TypeError:
            raise TinymathError(f"Wrong number of arguments to {name}") from None

    return run(tree)
