"""Writes tests/lint/cases.json: one or more cases per lint rule id, for every format the rule
concerns, each with the exact findings (rule id and path) expected. The runner
(tests/it/lint_suite.rs) runs every case with its rules enforced and again in warn mode.
Run: python3 tests/lint/gen_cases.py
"""
import json
import os

cases = []
DOMAIN = r"^(?P<domain>[a-z]+)\.(?P<entity>[a-z][a-z-]*)$"


def case(name, fmt, schema, rules, expect, subject="payments.card-value", previous=None, domain=None,
         existing=()):
    c = {"name": name, "format": fmt, "subject": subject, "schema": schema, "rules": rules,
         "expect": [{"ruleId": r, "path": p} for r, p in expect]}
    if existing:
        # findings the previous version already had: warnings, never enforced
        c["existing"] = [{"ruleId": r, "path": p} for r, p in existing]
    if previous is not None:
        c["previous"] = previous
    if domain is not None:
        c["domain"] = domain  # the subject's governance domain
    cases.append(c)


def rec(name, fields, **extra):
    r = {"type": "record", "name": name, "fields": fields}
    r.update(extra)
    return r


def f(name, t="string", **extra):
    d = {"name": name, "type": t}
    d.update(extra)
    return d


P3 = 'syntax = "proto3";\npackage acme;\n'
CARD = rec("Card", [f("id")], namespace="payments")

# subject.name and the naming strategies
case("topic strategy: subject matches", "AVRO", CARD, {"subject.name": {"strategy": "topic", "pattern": DOMAIN}}, [])
case("topic strategy: no -key/-value suffix", "AVRO", CARD, {"subject.name": {"strategy": "topic"}},
     [("subject.name", "")], subject="payments.card")
case("topic strategy: topic does not match the pattern", "AVRO", CARD,
     {"subject.name": {"strategy": "topic", "pattern": DOMAIN}}, [("subject.name", "")], subject="Payments.Card-value")
case("record strategy: subject is the record name", "AVRO", CARD, {"subject.name": {"strategy": "record"}}, [],
     subject="payments.Card")
case("record strategy: subject is not the record name", "AVRO", CARD, {"subject.name": {"strategy": "record"}},
     [("subject.name", "")])
case("topic-record strategy (Protobuf)", "PROTOBUF", P3 + "message Order { string id = 1; }\n",
     {"subject.name": {"strategy": "topic_record", "pattern": r"^[a-z]+$"}}, [], subject="orders-acme.Order")
case("topic-record strategy: record part missing (Protobuf)", "PROTOBUF", P3 + "message Order { string id = 1; }\n",
     {"subject.name": {"strategy": "topic_record"}}, [("subject.name", "")], subject="orders-value")
case("topic strategy (JSON)", "JSON", {"title": "Reading", "type": "object"},
     {"subject.name": {"strategy": "topic", "pattern": DOMAIN}}, [], subject="sensors.reading-value")
case("record strategy (JSON title)", "JSON", {"title": "Reading", "type": "object"},
     {"subject.name": {"strategy": "record"}}, [("subject.name", "")], subject="sensors.reading-value")

# Avro names
case("avro.namespace-domain: namespace lacks the domain", "AVRO", rec("Card", [f("id")], namespace="billing"),
     {"subject.name": {"strategy": "topic", "pattern": DOMAIN}, "avro.namespace-domain": {}},
     [("avro.namespace-domain", "/namespace")])
case("avro.namespace-domain: namespace has the domain", "AVRO", rec("Card", [f("id")], namespace="acme.payments"),
     {"subject.name": {"strategy": "topic", "pattern": DOMAIN}, "avro.namespace-domain": {}}, [])
case("avro.namespace-domain: domain from the subject's governance", "AVRO", rec("Card", [f("id")], namespace="billing"),
     {"avro.namespace-domain": {}}, [("avro.namespace-domain", "/namespace")], subject="cards-value", domain="payments")
case("avro.type-name: record and nested record", "AVRO",
     rec("card_payment", [f("holder", rec("cardHolder", [f("name")]))]),
     {"avro.type-name": {"case": "PascalCase"}}, [("avro.type-name", "/name"), ("avro.type-name", "/fields/0/type/name")])
case("avro.type-name: enum and fixed", "AVRO",
     rec("Card", [f("kind", {"type": "enum", "name": "card_kind", "symbols": ["A"]}),
                  f("hash", {"type": "fixed", "name": "Md5", "size": 16})]),
     {"avro.type-name": {"case": "PascalCase"}}, [("avro.type-name", "/fields/0/type/name")])
case("avro.namespace: segment case", "AVRO", rec("Card", [f("id")], namespace="payments.CardData"),
     {"avro.namespace": {"case": "snake_case"}}, [("avro.namespace", "/namespace")])
case("avro.field-name: camelCase", "AVRO", rec("Card", [f("cardId"), f("card_number")]),
     {"avro.field-name": {"case": "camelCase"}}, [("avro.field-name", "/fields/1/name")])
case("avro.field-name: snake_case, nested in an array", "AVRO",
     rec("Card", [f("lines", {"type": "array", "items": rec("Line", [f("skuId")])})]),
     {"avro.field-name": {"case": "snake_case"}}, [("avro.field-name", "/fields/0/type/items/fields/0/name")])
case("avro.enum-symbol: UPPER_SNAKE", "AVRO",
     rec("Card", [f("state", {"type": "enum", "name": "State", "symbols": ["active", "CLOSED"]})]),
     {"avro.enum-symbol": {"case": "UPPER_SNAKE"}}, [("avro.enum-symbol", "/fields/0/type/symbols/0")])

# Protobuf names
case("protobuf.package: segment case", "PROTOBUF", 'syntax = "proto3";\npackage Acme.orders;\nmessage Order {}\n',
     {"protobuf.package": {"case": "snake_case"}}, [("protobuf.package", "#/")])
case("protobuf.message-name: PascalCase, nested too", "PROTOBUF",
     P3 + "message order_line { message detail {} }\nmessage Order {}\n",
     {"protobuf.message-name": {"case": "PascalCase"}},
     [("protobuf.message-name", "#/order_line"), ("protobuf.message-name", "#/order_line.detail")])
case("protobuf.field-name: snake_case", "PROTOBUF", P3 + "message Order { string id = 1; string customerId = 2; }\n",
     {"protobuf.field-name": {"case": "snake_case"}}, [("protobuf.field-name", "#/Order/2")])
case("protobuf.enum-name: PascalCase", "PROTOBUF",
     P3 + "enum order_status { ORDER_STATUS_UNSPECIFIED = 0; }\nmessage Order { order_status s = 1; }\n",
     {"protobuf.enum-name": {"case": "PascalCase"}}, [("protobuf.enum-name", "#/order_status")])
case("protobuf.enum-value: UPPER_SNAKE", "PROTOBUF",
     P3 + "enum Status { STATUS_UNSPECIFIED = 0; StatusActive = 1; }\n",
     {"protobuf.enum-value": {"case": "UPPER_SNAKE"}}, [("protobuf.enum-value", "#/Status/StatusActive")])
case("protobuf.enum-value-prefix: nested enum", "PROTOBUF",
     P3 + "message Order { enum OrderStatus { ORDER_STATUS_UNSPECIFIED = 0; PAID = 1; } OrderStatus s = 1; }\n",
     {"protobuf.enum-value-prefix": {}}, [("protobuf.enum-value-prefix", "#/Order.OrderStatus/PAID")])
case("protobuf.enum-zero-value: named otherwise", "PROTOBUF",
     P3 + "enum Status { STATUS_NONE = 0; STATUS_ACTIVE = 1; }\n",
     {"protobuf.enum-zero-value": {"suffix": "_UNSPECIFIED"}}, [("protobuf.enum-zero-value", "#/Status/STATUS_NONE")])
case("protobuf.enum-zero-value: conventional", "PROTOBUF",
     P3 + "enum Status { STATUS_UNSPECIFIED = 0; STATUS_ACTIVE = 1; }\n",
     {"protobuf.enum-zero-value": {}, "protobuf.enum-value-prefix": {}, "protobuf.enum-value": {"case": "UPPER_SNAKE"}}, [])

# JSON Schema names
case("json.property-name: camelCase, nested", "JSON",
     {"type": "object", "properties": {"customer_id": {"type": "string"},
                                       "address": {"type": "object", "properties": {"zip_code": {"type": "string"}}}}},
     {"json.property-name": {"case": "camelCase"}},
     [("json.property-name", "#/properties/customer_id"), ("json.property-name", "#/properties/address/properties/zip_code")])
case("json.property-name: in $defs", "JSON",
     {"$defs": {"Line": {"type": "object", "properties": {"SKU": {"type": "string"}}}}, "type": "object"},
     {"json.property-name": {"case": "camelCase"}}, [("json.property-name", "#/$defs/Line/properties/SKU")])
case("json.title: missing", "JSON", {"type": "object"}, {"json.title": {"case": "PascalCase"}}, [("json.title", "#/title")])
case("json.title: wrong case", "JSON", {"title": "order record", "type": "object"}, {"json.title": {"case": "PascalCase"}},
     [("json.title", "#/title")])

# Documentation
case("doc.required: Avro record and fields", "AVRO", rec("Card", [f("id", doc="The id."), f("note")]),
     {"doc.required": {"on": ["record", "field"]}}, [("doc.required", "/name"), ("doc.required", "/fields/1/name")])
case("doc.required: Avro documented", "AVRO", rec("Card", [f("id", doc="The id.")], doc="A card."),
     {"doc.required": {"on": ["record", "field"]}}, [])
case("doc.required: Protobuf comments", "PROTOBUF",
     P3 + "// An order.\nmessage Order {\n  // The id.\n  string id = 1;\n  string note = 2;\n}\nmessage Line {}\n",
     {"doc.required": {"on": ["record", "field"]}}, [("doc.required", "#/Order/2"), ("doc.required", "#/Line")])
case("doc.required: JSON descriptions, fields only", "JSON",
     {"type": "object", "properties": {"id": {"type": "string", "description": "The id."}, "note": {"type": "string"}}},
     {"doc.required": {"on": ["field"]}}, [("doc.required", "#/properties/note")])

# Hygiene
case("hygiene.forbidden-names (Avro)", "AVRO", rec("Card", [f("id"), f("data")]),
     {"hygiene.forbidden-names": {"names": ["data", "misc"]}}, [("hygiene.forbidden-names", "/fields/1/name")])
case("hygiene.forbidden-names (Protobuf)", "PROTOBUF", P3 + "message Order { string id = 1; bytes data = 2; }\n",
     {"hygiene.forbidden-names": {"names": ["data"]}}, [("hygiene.forbidden-names", "#/Order/2")])
case("hygiene.forbidden-names (JSON, any case)", "JSON", {"type": "object", "properties": {"Data": {}}},
     {"hygiene.forbidden-names": {"names": ["data"]}}, [("hygiene.forbidden-names", "#/properties/Data")])
case("hygiene.max-depth (Avro)", "AVRO", rec("A", [f("b", rec("B", [f("c", "int")]))]),
     {"hygiene.max-depth": {"max": 1}}, [("hygiene.max-depth", "/fields/0/type/fields/0/name")])
case("hygiene.max-depth (Protobuf)", "PROTOBUF", P3 + "message A { message B { int32 c = 1; } B b = 1; }\n",
     {"hygiene.max-depth": {"max": 1}}, [("hygiene.max-depth", "#/A.B/1")])
case("hygiene.max-depth (JSON)", "JSON",
     {"type": "object", "properties": {"b": {"type": "object", "properties": {"c": {"type": "integer"}}}}},
     {"hygiene.max-depth": {"max": 1}}, [("hygiene.max-depth", "#/properties/b/properties/c")])
case("hygiene.new-optional-default (Avro)", "AVRO", rec("Card", [f("id"), f("note", ["null", "string"])]),
     {"hygiene.new-optional-default": {}}, [("hygiene.new-optional-default", "/fields/1/name")],
     previous=rec("Card", [f("id")]))
case("hygiene.new-optional-default (Avro, with default)", "AVRO",
     rec("Card", [f("id"), f("note", ["null", "string"], default=None)]),
     {"hygiene.new-optional-default": {}}, [], previous=rec("Card", [f("id")]))
case("hygiene.new-optional-default (JSON)", "JSON",
     {"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}, "n": {"type": "integer", "default": 0}},
      "required": ["id"]},
     {"hygiene.new-optional-default": {}}, [("hygiene.new-optional-default", "#/properties/note")],
     previous={"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]})
case("hygiene.new-optional-default (Protobuf fields always default)", "PROTOBUF",
     P3 + "message Order { string id = 1; string note = 2; }\n", {"hygiene.new-optional-default": {}}, [],
     previous=P3 + "message Order { string id = 1; }\n")

# Findings on elements the previous version already had are "existing": reported, not enforced.
case("existing: an old camelCase field is a warning, a new one is enforced", "AVRO",
     rec("Card", [f("cardId"), f("expiryMonth"), f("holder_name")], namespace="payments"),
     {"avro.field-name": {"case": "snake_case"}}, [("avro.field-name", "/fields/1/name")],
     previous=rec("Card", [f("cardId")], namespace="payments"),
     existing=[("avro.field-name", "/fields/0/name")])
case("existing: a subject name that already broke the rule does not freeze the subject", "AVRO",
     rec("Card", [f("id"), f("note", ["null", "string"], default=None)], namespace="payments"),
     {"subject.name": {"strategy": "topic"}}, [], subject="payments.card",
     previous=CARD, existing=[("subject.name", "")])
case("existing: a renamed Protobuf field is new", "PROTOBUF",
     P3 + "message Order { string orderId = 1; string created_at = 2; }\n",
     {"protobuf.field-name": {"case": "snake_case"}}, [("protobuf.field-name", "#/Order/1")],
     previous=P3 + "message Order { string order_id = 1; string createdAt = 2; }\n")
case("existing: an undocumented JSON property kept, a new one added", "JSON",
     {"type": "object", "title": "Card", "properties": {"id": {"type": "string"}, "note": {"type": "string"}}},
     {"doc.required": {"on": ["field"]}}, [("doc.required", "#/properties/note")],
     previous={"type": "object", "title": "Card", "properties": {"id": {"type": "string"}}},
     existing=[("doc.required", "#/properties/id")])

out = os.path.join(os.path.dirname(__file__), "cases.json")
with open(out, "w") as fh:
    json.dump(cases, fh, indent=1)
    fh.write("\n")
print(len(cases), "cases")
