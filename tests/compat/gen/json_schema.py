"""Writes tests/compat/json.json: the JSON Schema compatibility cases as data.

Each case is an old and a new schema and whether the new one reads documents valid under
the old (backward) and the old one reads documents valid under the new (forward), with the
JSON path a failing direction must name. Derived from JSON Schema semantics and the
Confluent registry's documented JSON-Schema rules, STRICT policy (see
../shared/reference/compatibility.md). Run: python3 tests/compat/gen/json_schema.py
"""
import json
import os

D4 = "http://json-schema.org/draft-04/schema#"
D2020 = "https://json-schema.org/draft/2020-12/schema"
D2019 = "https://json-schema.org/draft/2019-09/schema"

cases = []


def case(name, old, new, backward, forward, bpath=None, fpath=None):
    c = {"name": name, "old": old, "new": new, "backward": backward, "forward": forward}
    if not backward:
        c["backward_path"] = bpath
    if not forward:
        c["forward_path"] = fpath
    cases.append(c)


def obj(props, required=None, additional=None, **extra):
    o = {"type": "object", "properties": props}
    if required:
        o["required"] = required
    if additional is not None:
        o["additionalProperties"] = additional
    o.update(extra)
    return o


S = {"type": "string"}
I = {"type": "integer"}
N = {"type": "number"}

# Types.
case("identical", obj({"a": S}), obj({"a": S}), True, True)
case("description and title changed", {"type": "string", "description": "x"},
     {"type": "string", "description": "y", "title": "t"}, True, True)
case("integer widened to number", I, N, True, False, None, "#/")
case("number narrowed to integer", N, I, False, True, "#/", None)
case("string to integer", S, I, False, False, "#/", "#/")
case("null added to the type", S, {"type": ["string", "null"]}, True, False, None, "#/")
case("type list narrowed", {"type": ["string", "null"]}, S, False, True, "#/", None)
case("any to string", {}, S, False, True, "#/", None)
case("true schema to string", True, S, False, True, "#/", None)
case("string to false", S, False, False, True, "#/", None)
case("string to empty schema", S, {}, True, False, None, "#/")
case("object to array", {"type": "object"}, {"type": "array"}, False, False, "#/", "#/")
case("boolean to string", {"type": "boolean"}, S, False, False, "#/", "#/")

# Objects: open content model (additionalProperties absent).
case("open: optional property added", obj({"a": S}), obj({"a": S, "b": S}), False, True, "#/properties/b", None)
case("open: property removed", obj({"a": S, "b": S}), obj({"a": S}), True, False, None, "#/properties/b")
case("open: property with an empty schema added", obj({"a": S}), obj({"a": S, "b": {}}), True, True)
case("open: required property added", obj({"a": S}), obj({"a": S, "b": S}, ["b"]), False, True, "#/properties/b", None)
case("open: property type changed", obj({"a": S}), obj({"a": I}), False, False,
     "#/properties/a", "#/properties/a")
case("open: property integer to number", obj({"a": I}), obj({"a": N}), True, False, None, "#/properties/a")
case("property description changed", obj({"a": S}), obj({"a": {"type": "string", "description": "d"}}), True, True)

# Closed content model.
case("closed: optional property added", obj({"a": S}, additional=False), obj({"a": S, "b": S}, additional=False),
     True, False, None, "#/properties/b")
case("closed: required property added", obj({"a": S}, additional=False),
     obj({"a": S, "b": S}, ["b"], additional=False), False, False, "#/properties/b", "#/properties/b")
case("closed: required property with default added", obj({"a": S}, additional=False),
     obj({"a": S, "b": {"type": "string", "default": "x"}}, ["b"], additional=False), True, False, None,
     "#/properties/b")
case("closed: property removed", obj({"a": S, "b": S}, additional=False), obj({"a": S}, additional=False),
     False, True, "#/properties/b", None)
case("closed: property whose schema was false removed", obj({"a": S, "b": False}, additional=False),
     obj({"a": S}, additional=False), True, True)
case("open to closed", obj({"a": S}), obj({"a": S}, additional=False), False, True, "#/additionalProperties", None)
case("closed to open", obj({"a": S}, additional=False), obj({"a": S}), True, False, None, "#/additionalProperties")
case("2019-09: unevaluatedProperties false added", {"$schema": D2019, **obj({"a": S})},
     {"$schema": D2019, **obj({"a": S}, unevaluatedProperties=False)}, False, True, "#/unevaluatedProperties", None)

# Required.
case("existing property made required", obj({"a": S, "b": S}), obj({"a": S, "b": S}, ["b"]), False, True,
     "#/required/b", None)
case("existing property made required with a default", obj({"a": S, "b": S}),
     obj({"a": S, "b": {"type": "string", "default": ""}}, ["b"]), True, True)
case("required removed", obj({"a": S, "b": S}, ["b"]), obj({"a": S, "b": S}), True, False, None, "#/required/b")

# Partially open content models.
AS = {"type": "string"}
case("partially open: covered property added", obj({"a": S}, additional=AS), obj({"a": S, "b": S}, additional=AS),
     True, True)
case("partially open: uncovered property added", obj({"a": S}, additional=AS), obj({"a": S, "b": I}, additional=AS),
     False, False, "#/properties/b", "#/properties/b")
case("additionalProperties widened", obj({}, additional=S), obj({}, additional={"type": ["string", "number"]}),
     True, False, None, "#/additionalProperties")
case("open to additionalProperties schema", obj({"a": S}), obj({"a": S}, additional=S), False, True,
     "#/additionalProperties", None)
PP = {"^x_": S}
case("patternProperties: matching property added", obj({}, patternProperties=PP),
     obj({"x_a": S}, patternProperties=PP), True, True)
case("patternProperties: unmatched property added", obj({}, patternProperties=PP),
     obj({"y": I}, patternProperties=PP), True, False, None, "#/properties/y")
case("patternProperties added to an open model", obj({}), obj({}, patternProperties=PP), True, True)

# Object bounds and dependencies.
case("maxProperties added", obj({}), obj({}, maxProperties=3), False, True, "#/maxProperties", None)
case("minProperties decreased", obj({}, minProperties=2), obj({}, minProperties=1), True, False, None,
     "#/minProperties")
case("dependentRequired added", {"$schema": D2019, **obj({"a": S, "b": S})},
     {"$schema": D2019, **obj({"a": S, "b": S}, dependentRequired={"a": ["b"]})}, False, True,
     "#/dependencies/a", None)
case("dependencies array narrowed", obj({"a": S, "b": S, "c": S}, dependencies={"a": ["b", "c"]}),
     obj({"a": S, "b": S, "c": S}, dependencies={"a": ["b"]}), True, False, None, "#/dependencies/a")
case("propertyNames added", obj({}), obj({}, propertyNames={"pattern": "^[a-z]+$"}), True, True)
case("nested: property added to an open nested object", obj({"addr": obj({"city": S})}),
     obj({"addr": obj({"city": S, "zip": S})}), False, True, "#/properties/addr/properties/zip", None)
case("nested: property removed from a closed nested object", obj({"addr": obj({"city": S, "zip": S}, additional=False)}),
     obj({"addr": obj({"city": S}, additional=False)}), False, True, "#/properties/addr/properties/zip", None)

# Arrays.
def arr(items=None, **extra):
    a = {"type": "array"}
    if items is not None:
        a["items"] = items
    a.update(extra)
    return a

case("items type changed", arr(S), arr(I), False, False, "#/items", "#/items")
case("items integer to number", arr(I), arr(N), True, False, None, "#/items")
case("items constrained", arr(), arr(S), False, True, "#/items", None)
case("maxItems added", arr(S), arr(S, maxItems=5), False, True, "#/maxItems", None)
case("maxItems increased", arr(S, maxItems=5), arr(S, maxItems=10), True, False, None, "#/maxItems")
case("minItems increased", arr(S, minItems=1), arr(S, minItems=2), False, True, "#/minItems", None)
case("uniqueItems added", arr(S), arr(S, uniqueItems=True), False, True, "#/uniqueItems", None)
case("contains added", arr(), arr(contains=S), True, True)
case("array of objects: item property type changed", arr(obj({"id": I})), arr(obj({"id": S})), False, False,
     "#/items/properties/id", "#/items/properties/id")
case("2020-12 tuple: item added to an open tuple", {"$schema": D2020, "type": "array", "prefixItems": [S]},
     {"$schema": D2020, "type": "array", "prefixItems": [S, I]}, False, True, "#/items/1", None)
case("2020-12 tuple: item added to a closed tuple",
     {"$schema": D2020, "type": "array", "prefixItems": [S], "items": False},
     {"$schema": D2020, "type": "array", "prefixItems": [S, I], "items": False}, True, False, None, "#/items/1")
case("draft-07 tuple: item added to a closed tuple", {"type": "array", "items": [S], "additionalItems": False},
     {"type": "array", "items": [S, I], "additionalItems": False}, True, False, None, "#/items/1")
case("tuple item type changed", {"$schema": D2020, "type": "array", "prefixItems": [S]},
     {"$schema": D2020, "type": "array", "prefixItems": [I]}, False, False, "#/items/0",
     "#/items/0")

# Strings.
case("maxLength added", S, {"type": "string", "maxLength": 10}, False, True, "#/maxLength", None)
case("maxLength increased", {"type": "string", "maxLength": 10}, {"type": "string", "maxLength": 20}, True, False,
     None, "#/maxLength")
case("maxLength decreased", {"type": "string", "maxLength": 20}, {"type": "string", "maxLength": 10}, False, True,
     "#/maxLength", None)
case("minLength removed", {"type": "string", "minLength": 2}, S, True, False, None, "#/minLength")
case("pattern added", S, {"type": "string", "pattern": "^a"}, False, True, "#/pattern", None)
case("pattern changed", {"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "^b"}, False, False,
     "#/pattern", "#/pattern")
case("pattern removed", {"type": "string", "pattern": "^a"}, S, True, False, None, "#/pattern")

# Numbers.
case("maximum added", N, {"type": "number", "maximum": 10}, False, True, "#/maximum", None)
case("maximum increased", {"type": "number", "maximum": 10}, {"type": "number", "maximum": 20}, True, False, None,
     "#/maximum")
case("minimum increased", {"type": "number", "minimum": 0}, {"type": "number", "minimum": 1}, False, True,
     "#/minimum", None)
case("exclusiveMinimum added", N, {"type": "number", "exclusiveMinimum": 0}, False, True, "#/exclusiveMinimum", None)
case("multipleOf added", I, {"type": "integer", "multipleOf": 5}, False, True, "#/multipleOf", None)
case("multipleOf reduced to a divisor", {"type": "integer", "multipleOf": 10}, {"type": "integer", "multipleOf": 5},
     True, False, None, "#/multipleOf")
case("multipleOf changed to a non-divisor", {"type": "integer", "multipleOf": 10},
     {"type": "integer", "multipleOf": 3}, False, False, "#/multipleOf", "#/multipleOf")
case("draft-04 exclusiveMaximum flag added", {"$schema": D4, "type": "number", "maximum": 10},
     {"$schema": D4, "type": "number", "maximum": 10, "exclusiveMaximum": True}, True, True)

# Enums and const.
case("enum extended", {"enum": ["a", "b"]}, {"enum": ["a", "b", "c"]}, True, False, None, "#/enum")
case("enum narrowed", {"enum": ["a", "b", "c"]}, {"enum": ["a", "b"]}, False, True, "#/enum", None)
case("enum changed", {"enum": ["a", "b"]}, {"enum": ["a", "c"]}, False, False, "#/enum", "#/enum")
case("enum added to a string", S, {"type": "string", "enum": ["a"]}, False, True, "#/", None)
case("enum removed", {"type": "string", "enum": ["a"]}, S, True, False, None, "#/")
case("const changed", {"const": "a"}, {"const": "b"}, False, False, "#/const", "#/const")

# Combinations.
case("oneOf branch added", {"oneOf": [S, I]}, {"oneOf": [S, I, {"type": "boolean"}]}, True, False, None, "#/")
case("oneOf branch removed", {"oneOf": [S, I, {"type": "boolean"}]}, {"oneOf": [S, I]}, False, True, "#/", None)
case("anyOf branch widened", {"anyOf": [S, I]}, {"anyOf": [S, N]}, True, False, None, "#/")
case("string widened to a oneOf", S, {"oneOf": [S, {"type": "null"}]}, True, False, None, "#/")
case("oneOf branches reordered", {"oneOf": [S, I]}, {"oneOf": [I, S]}, True, True)
case("allOf branch added", {"allOf": [obj({"a": S})]}, {"allOf": [obj({"a": S}), {"required": ["a"]}]},
     False, True, "#/", None)
case("allOf branch removed", {"allOf": [obj({"a": S}), {"required": ["a"]}]}, {"allOf": [obj({"a": S})]},
     True, False, None, "#/")
case("oneOf to anyOf", {"oneOf": [S, I]}, {"anyOf": [S, I]}, True, False, None, "#/")
case("not added", S, {"type": "string", "not": {"enum": ["x"]}}, False, True, "#/", None)
case("not widened", {"not": S}, {"not": {"type": ["string", "null"]}}, False, True, "#/not", None)

# References and recursion.
DEF_A = {"definitions": {"a": S}, "type": "object", "properties": {"x": {"$ref": "#/definitions/a"}}}
DEF_A_INT = {"definitions": {"a": I}, "type": "object", "properties": {"x": {"$ref": "#/definitions/a"}}}
case("local $ref target type changed", DEF_A, DEF_A_INT, False, False, "#/properties/x",
     "#/properties/x")
case("local $ref moved to $defs", DEF_A,
     {"$schema": D2020, "$defs": {"b": S}, "type": "object", "properties": {"x": {"$ref": "#/$defs/b"}}}, True, True)
case("$ref replaced by the inline schema", DEF_A, obj({"x": S}), True, True)
TREE = obj({"value": I, "children": {"type": "array", "items": {"$ref": "#"}}})
TREE_N = obj({"value": N, "children": {"type": "array", "items": {"$ref": "#"}}})
case("recursive schema: value widened", TREE, TREE_N, True, False, None, "#/properties/value")
case("recursive schema: annotation changed", TREE, {**TREE, "title": "tree"}, True, True)
case("anchor $ref target narrowed",
     {"$schema": D2020, "$defs": {"n": {"$anchor": "num", "type": "number"}}, "$ref": "#num"},
     {"$schema": D2020, "$defs": {"n": {"$anchor": "num", "type": "integer"}}, "$ref": "#num"},
     False, True, "#/", None)

# Where the reference registry compares keywords rather than what the schemas admit, these
# cases follow it: `contains`, `propertyNames`, `if`/`then`/`else` and draft 4's boolean
# exclusive flags are not compared; a model with `patternProperties` and no
# `additionalProperties` counts as unopen (a property matching no pattern may be added, not
# dropped); an anyOf reads what a oneOf of the same branches did.
case("all-items schema replaced by a tuple", arr(S), arr([S]), False, False, "#/items/0", "#/items")
case("2020-12: item added before unevaluatedItems false",
     {"$schema": D2020, "type": "array", "prefixItems": [S], "unevaluatedItems": False},
     {"$schema": D2020, "type": "array", "prefixItems": [S, I], "unevaluatedItems": False},
     True, False, None, "#/items/1")
case("2020-12: unevaluatedItems false added",
     {"$schema": D2020, "type": "array", "prefixItems": [S]},
     {"$schema": D2020, "type": "array", "prefixItems": [S], "unevaluatedItems": False},
     False, True, "#/unevaluatedItems", None)
case("2020-12: item covered by an unevaluatedItems schema removed",
     {"$schema": D2020, "type": "array", "prefixItems": [S, I], "unevaluatedItems": False},
     {"$schema": D2020, "type": "array", "prefixItems": [S], "unevaluatedItems": I},
     True, False, None, "#/unevaluatedItems")
case("2020-12: dependentSchemas entry tightened",
     {"$schema": D2020, **obj({"a": S}, dependentSchemas={"a": {"required": ["b"]}})},
     {"$schema": D2020, **obj({"a": S}, dependentSchemas={"a": {"required": ["b", "c"]}})},
     True, True)
case("2020-12: dependentSchemas entry added",
     {"$schema": D2020, **obj({"a": S})},
     {"$schema": D2020, **obj({"a": S}, dependentSchemas={"a": {"required": ["b"]}})},
     False, True, "#/dependencies/a", None)
case("if/then/else changed is not compared", {"if": S, "then": {"maxLength": 3}},
     {"if": S, "then": {"maxLength": 1}}, True, True)

cases.append({
    "name": "history: null dropped one version ago",
    "history": [{"type": ["string", "null"]}, S], "new": {"type": "string", "description": "x"},
    "levels": {"NONE": True, "BACKWARD": True, "BACKWARD_TRANSITIVE": False, "FORWARD": True,
               "FORWARD_TRANSITIVE": True, "FULL": True, "FULL_TRANSITIVE": False},
    "path": "#/",
})
cases.append({
    "name": "history: closed model grows one optional property per version",
    "history": [obj({"a": S}, additional=False), obj({"a": S, "b": S}, additional=False)],
    "new": obj({"a": S, "b": S, "c": S}, additional=False),
    "levels": {"NONE": True, "BACKWARD": True, "BACKWARD_TRANSITIVE": True, "FORWARD": False,
               "FORWARD_TRANSITIVE": False, "FULL": False, "FULL_TRANSITIVE": False},
    "path": "#/properties/c",
})

# Every case of the reference registry's published diff tables (backward verdicts only).
from json_confluent import confluent_cases  # noqa: E402

cases.extend(confluent_cases())

out = os.path.join(os.path.dirname(__file__), "..", "json.json")
with open(out, "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
print(len(cases), "cases")
