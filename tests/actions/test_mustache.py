"""Kibana's Mustache rendering: variables, escaping modes, lambdas, errors."""

import pytest

from actions.mustache import render_object, render_string

VARIABLES = {
    "context": {"value": 3.0, "msg": 'say "hi" <b>*now*</b>', "tags": ["a", "b"], "ok": True, "zero": 0},
    "rule": {"name": "cpu"},
    "kibana.alert.reason": "too hot",
}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("none", 'say "hi" <b>*now*</b>'),
        ("json", 'say \\"hi\\" <b>*now*</b>'),
        ("markdown", 'say "hi" <b>\\*now\\*</b>'),
        ("slack", '`say "hi" <b>*now*</b>`'),
        ("html", "say &quot;hi&quot; &lt;b&gt;*now*&lt;/b&gt;"),
    ],
)
def test_double_braces_escape_by_the_connector_types_mode(mode, expected):
    assert render_string("{{context.msg}}", VARIABLES, mode) == expected


def test_triple_braces_never_escape():
    assert render_string("{{{context.msg}}}", VARIABLES, "json") == 'say "hi" <b>*now*</b>'


def test_slack_escapes_html_characters_when_there_is_no_markup():
    assert render_string("{{v}}", {"v": "a <b> & `c`"}, "slack") == "a &lt;b&gt; &amp; 'c'"


def test_objects_print_as_json_and_arrays_comma_joined_with_as_json():
    assert render_string("{{context.tags}}|{{context.tags.asJSON}}", VARIABLES) == 'a,b|["a","b"]'
    assert render_string("{{rule}}", VARIABLES) == '{"name":"cpu"}'


def test_scalars_print_as_javascript_does():
    assert (
        render_string("{{context.value}} {{context.ok}} {{context.zero}} {{context.none}}", VARIABLES)
        == "3 true 0 "
    )


def test_dotted_variable_names_are_expanded():
    assert render_string("{{kibana.alert.reason}}", VARIABLES) == "too hot"


def test_lambdas_format_dates_numbers_math_and_hjson():
    variables = {"d": "2024-01-02T03:04:05.000Z", "n": 1234.5}
    assert render_string(
        "{{#FormatDate}}{{d}}; America/New_York; dddd MMM Do YYYY HH:mm{{/FormatDate}}", variables
    ) == ("Monday Jan 1st 2024 22:04")
    assert render_string("{{#FormatDate}}{{d}}{{/FormatDate}}", variables) == "2024-01-02 03:04am"
    assert render_string(
        "{{#FormatNumber}}{{n}}; en-US; maximumFractionDigits: 0{{/FormatNumber}}", variables
    ) == ("1,234")
    assert render_string(
        "{{#FormatNumber}}{{n}}; de-DE; style: currency, currency: EUR{{/FormatNumber}}", variables
    ) == ("1.234,50\xa0€")
    assert render_string("{{#EvalMath}}round(n / 100, 1){{/EvalMath}}", variables) == "12.3"
    assert (
        render_string('{{#ParseHjson}}{a: 1, b: ["x", "y"]}{{/ParseHjson}}', variables)
        == '{"a":1,"b":["x","y"]}'
    )


def evalmath(expression, variables=None):
    return render_string("{{#EvalMath}}" + expression + "{{/EvalMath}}", variables or {})


def test_evalmath_multiplying_a_string_gives_nan_instead_of_building_it():
    # Before: Python's `'ab' * 1000000`, a 2 MB string in the rendered message.
    assert evalmath("multiply(s, 1000000)", {"s": "ab"}) == "NaN"
    assert evalmath("s * 1000000", {"s": "ab"}) == "NaN"
    assert evalmath("add(s, 1)", {"s": "12"}) == "NaN"  # a numeric string is still a string, as in tinymath


def test_evalmath_works_in_doubles_so_no_result_outgrows_one():
    # Before: Python integers, so a power or a product could grow without bound.
    assert evalmath("pow(10, 400)") == "Infinity"
    assert evalmath("pow(-10, 401)") == "-Infinity"
    assert evalmath("n * n", {"n": 10**200}) == "Infinity"
    assert evalmath("exp(1000)") == "Infinity"
    assert evalmath("12345678901234567890 * 10") == "123456789012345670000"
    assert evalmath("1e21 * 1") == "1e+21"
    assert evalmath("0.1 + 0.2") == "0.30000000000000004"
    assert evalmath("sum(0.1, 0.2, 0.3)") == "0.6000000000000001"  # added left to right, as JavaScript
    assert evalmath("n * 1", {"n": 2**1024}) == "Infinity"  # an integer beyond any double
    assert evalmath("unique(a)", {"a": list(range(100_000)) * 2}) == "100000"  # not a quadratic scan


def test_evalmath_has_only_tinymaths_operators():
    for expression in ("2 ** 10", "'a' * 3", "[1] * 3", "(lambda: 1)()", "n.__class__"):
        rendered = evalmath(expression, {"n": 1})
        assert rendered.startswith('error rendering mustache template "{{#EvalMath}}'), expression
        assert f'error evaluating tinymath expression "{expression}"' in rendered


def test_evalmath_applies_functions_index_wise_to_arrays_as_tinymath_does():
    variables = {"a": [1, 2, 3], "context": {"values": [10, 20]}}
    assert evalmath("add(a, 1)", variables) == "2,3,4"
    assert evalmath("a * 2", variables) == "2,4,6"
    assert evalmath("sum(a)", variables) == "6"
    assert evalmath("context.values[1] / 4", variables) == "5"
    assert evalmath("ifelse(sum(a) > 5, 1, 0)", variables) == "1"


def test_evalmath_refuses_deep_nesting_without_exhausting_the_stack():
    rendered = evalmath("(" * 2000 + "1" + ")" * 2000)
    assert rendered.endswith("the expression is nested too deeply")
    assert evalmath("+".join(["1"] * 5000)) == "5000"  # a long flat sum is fine


def test_a_broken_template_renders_an_error_string_instead_of_raising():
    assert render_string("{{#a}}", {}).startswith('error rendering mustache template "{{#a}}": ')


def test_render_object_renders_every_string_and_keeps_keys():
    params = {"{{key}}": ["{{context.value}}", 5, {"deep": "{{rule.name}}"}]}
    assert render_object(params, VARIABLES) == {"{{key}}": ["3", 5, {"deep": "cpu"}]}
