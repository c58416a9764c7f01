"""Writes tests/compat/protobuf.json: the Protobuf compatibility cases as data.

Each case is an old and a new `.proto` file and whether the new one reads data written
with the old (backward) and the old one reads data written with the new (forward), with
the path a failing direction must name. Derived from the Protobuf wire rules and the
Confluent registry's documented Protobuf checks (see ../shared/reference/compatibility.md).
Run: python3 tests/compat/gen/protobuf.py
"""
import json
import os

P3 = 'syntax = "proto3";\npackage acme;\n'
P2 = 'syntax = "proto2";\npackage acme;\n'


def m(body, extra="", head=P3):
    return f"{head}message M {{\n{body}\n}}\n{extra}"


cases = []


def case(name, old, new, backward, forward, bpath=None, fpath=None):
    c = {"name": name, "old": old, "new": new, "backward": backward, "forward": forward}
    if not backward:
        c["backward_path"] = bpath
    if not forward:
        c["forward_path"] = fpath
    cases.append(c)


def scalar(name, a, b, ok, path="#/M/1"):
    case(name, m(f"  {a} f = 1;"), m(f"  {b} f = 1;"), ok, ok, path, path)


E = "enum E {\n  E0 = 0;\n  E1 = 1;\n}\n"
E2 = "enum F {\n  F0 = 0;\n}\n"
N = "message N {\n  int32 x = 1;\n}\n"
P = "message P {\n  int32 x = 1;\n}\n"

case("identical", m("  string a = 1;"), m("  string a = 1;"), True, True)
case("formatting and comments only", m("  string a = 1;"),
     "syntax   =  \"proto3\";\n// comment\npackage acme;\nmessage M { /* c */ string a = 1; }\n", True, True)
case("field added", m("  string a = 1;"), m("  string a = 1;\n  int64 b = 2;"), True, True)
case("field removed", m("  string a = 1;\n  int64 b = 2;"), m("  string a = 1;"), True, True)
case("field renamed", m("  string a = 1;"), m("  string renamed = 1;"), True, True)
case("field renumbered (removed and added)", m("  string a = 1;"), m("  string a = 2;"), True, True)
case("field removed with its number reserved", m("  string a = 1;\n  int32 b = 2;"),
     m("  string a = 1;\n  reserved 2;\n  reserved \"b\";"), True, True)
# Scalar groups.
scalar("int32 to int64", "int32", "int64", True)
scalar("int32 to uint32", "int32", "uint32", True)
scalar("uint64 to int32", "uint64", "int32", True)
scalar("bool to int64", "bool", "int64", True)
scalar("int64 to bool", "int64", "bool", True)
scalar("sint32 to sint64", "sint32", "sint64", True)
scalar("string to bytes", "string", "bytes", True)
scalar("bytes to string", "bytes", "string", True)
scalar("fixed32 to sfixed32", "fixed32", "sfixed32", True)
scalar("fixed64 to sfixed64", "fixed64", "sfixed64", True)
scalar("int32 to sint32 (zigzag)", "int32", "sint32", False)
scalar("sint64 to int64", "sint64", "int64", False)
scalar("fixed32 to fixed64", "fixed32", "fixed64", False)
scalar("float to double", "float", "double", False)
scalar("double to float", "double", "float", False)
scalar("int32 to string", "int32", "string", False)
scalar("int64 to fixed64", "int64", "fixed64", False)
scalar("sfixed64 to int64", "sfixed64", "int64", False)
scalar("bool to string", "bool", "string", False)
scalar("float to fixed32", "float", "fixed32", False)
# Enums and named types.
case("int32 to enum", m("  int32 f = 1;", E), m("  E f = 1;", E), True, True)
case("enum to uint64", m("  E f = 1;", E), m("  uint64 f = 1;", E), True, True)
case("enum to another enum", m("  E f = 1;", E + E2), m("  F f = 1;", E + E2), False, False, "#/M/1", "#/M/1")
case("enum value added", m("  E f = 1;", E), m("  E f = 1;", E.replace("E1 = 1;", "E1 = 1;\n  E2 = 2;")), True, True)
case("enum value removed", m("  E f = 1;", E), m("  E f = 1;", E.replace("  E1 = 1;\n", "")), True, True)
case("enum value renamed", m("  E f = 1;", E), m("  E f = 1;", E.replace("E1 = 1", "E_ONE = 1")), True, True)
case("enum type added", m("  int32 f = 1;"), m("  int32 f = 1;", E), True, True)
case("enum type removed", m("  int32 f = 1;", E), m("  int32 f = 1;"), True, True)
case("string to message", m("  string f = 1;", N), m("  N f = 1;", N), False, False, "#/M/1", "#/M/1")
case("bytes to message", m("  bytes f = 1;", N), m("  N f = 1;", N), False, False, "#/M/1", "#/M/1")
case("message type changed", m("  N f = 1;", N + P), m("  P f = 1;", N + P), False, False, "#/M/1", "#/M/1")
case("int64 to well-known Timestamp",
     m("  int64 f = 1;", head=P3 + 'import "google/protobuf/timestamp.proto";\n'),
     m("  google.protobuf.Timestamp f = 1;", head=P3 + 'import "google/protobuf/timestamp.proto";\n'),
     False, False, "#/M/1", "#/M/1")
case("field type in referenced message changed", m("  N f = 1;", N),
     m("  N f = 1;", N.replace("int32 x", "string x")), False, False, "#/N/1", "#/N/1")
# Maps.
case("map value widened in its group", m("  map<string, int32> f = 1;"), m("  map<string, int64> f = 1;"), True, True)
case("map value changed", m("  map<string, int32> f = 1;"), m("  map<string, string> f = 1;"),
     False, False, "#/M/1", "#/M/1")
case("map key changed", m("  map<string, int32> f = 1;"), m("  map<int32, int32> f = 1;"),
     False, False, "#/M/1", "#/M/1")
case("scalar to map", m("  int32 f = 1;"), m("  map<string, int32> f = 1;"), False, False, "#/M/1", "#/M/1")
case("map to repeated message", m("  map<string, int32> f = 1;", N), m("  repeated N f = 1;", N),
     False, False, "#/M/1", "#/M/1")
case("map value message changed", m("  map<string, N> f = 1;", N), m("  map<string, N> f = 1;", N.replace("int32 x", "double x")),
     False, False, "#/N/1", "#/N/1")
# Labels.
case("int32 made repeated", m("  int32 f = 1;"), m("  repeated int32 f = 1;"), False, False, "#/M/1", "#/M/1")
case("repeated double made singular", m("  repeated double f = 1;"), m("  double f = 1;"), False, False, "#/M/1", "#/M/1")
case("enum made repeated", m("  E f = 1;", E), m("  repeated E f = 1;", E), False, False, "#/M/1", "#/M/1")
case("string made repeated", m("  string f = 1;"), m("  repeated string f = 1;"), True, True)
case("bytes made singular", m("  repeated bytes f = 1;"), m("  bytes f = 1;"), True, True)
case("message made repeated", m("  N f = 1;", N), m("  repeated N f = 1;", N), True, True)
case("proto3 optional keyword added", m("  int32 f = 1;"), m("  optional int32 f = 1;"), True, True)
case("proto2 optional to proto3 implicit", m("  optional int32 f = 1;", head=P2), m("  int32 f = 1;"), True, True)
case("repeated string to repeated bytes", m("  repeated string f = 1;"), m("  repeated bytes f = 1;"), True, True)
# proto2 required.
case("proto2 optional field added", m("  optional int32 a = 1;", head=P2),
     m("  optional int32 a = 1;\n  optional string b = 2;", head=P2), True, True)
case("proto2 required field added", m("  optional int32 a = 1;", head=P2),
     m("  optional int32 a = 1;\n  required string b = 2;", head=P2), False, False, "#/M/2", "#/M/2")
case("proto2 required field removed", m("  optional int32 a = 1;\n  required string b = 2;", head=P2),
     m("  optional int32 a = 1;", head=P2), False, False, "#/M/2", "#/M/2")
case("proto2 optional made required", m("  optional int32 a = 1;", head=P2), m("  required int32 a = 1;", head=P2),
     False, False, "#/M/1", "#/M/1")
case("proto2 required made optional", m("  required int32 a = 1;", head=P2), m("  optional int32 a = 1;", head=P2),
     False, False, "#/M/1", "#/M/1")
case("proto2 default value changed", m("  optional int32 a = 1 [default = 1];", head=P2),
     m("  optional int32 a = 1 [default = 2];", head=P2), True, True)
# Oneofs.
case("oneof added with a new field", m("  string a = 1;"), m("  string a = 1;\n  oneof pick {\n    int32 b = 2;\n  }"), True, True)
case("one field moved into a new oneof", m("  string a = 1;\n  int32 b = 2;"),
     m("  string a = 1;\n  oneof pick {\n    int32 b = 2;\n  }"), True, True)
case("two fields moved into a new oneof", m("  string a = 1;\n  int32 b = 2;"),
     m("  oneof pick {\n    string a = 1;\n    int32 b = 2;\n  }"), False, True, "#/M/pick", None)
case("field moved into an existing oneof", m("  oneof pick {\n    string a = 1;\n  }\n  int32 b = 2;"),
     m("  oneof pick {\n    string a = 1;\n    int32 b = 2;\n  }"), False, True, "#/M/pick", None)
case("field removed from a kept oneof", m("  oneof pick {\n    string a = 1;\n    int32 b = 2;\n  }"),
     m("  oneof pick {\n    string a = 1;\n  }"), False, True, "#/M/pick/2", None)
case("whole oneof removed", m("  oneof pick {\n    string a = 1;\n    int32 b = 2;\n  }\n  int64 c = 3;"),
     m("  int64 c = 3;"), True, True)
case("oneof field moved to the top level", m("  oneof pick {\n    string a = 1;\n    int32 b = 2;\n  }"),
     m("  oneof pick {\n    string a = 1;\n  }\n  int32 b = 2;"), True, False, None, "#/M/pick")
case("oneof renamed", m("  oneof pick {\n    string a = 1;\n  }"), m("  oneof choice {\n    string a = 1;\n  }"), True, True)
# Messages and packages.
case("message added", m("  int32 a = 1;"), m("  int32 a = 1;", N), True, False, None, "#/N")
case("message removed", m("  int32 a = 1;", N), m("  int32 a = 1;"), False, True, "#/N", None)
case("message renamed", m("  int32 a = 1;"), "syntax = \"proto3\";\npackage acme;\nmessage M2 {\n  int32 a = 1;\n}\n",
     False, False, "#/M", "#/M2")
# A package change alone is compatible, as the reference registry reports it.
case("package changed", m("  int32 a = 1;"), m("  int32 a = 1;", head='syntax = "proto3";\npackage acme.v2;\n'),
     True, True)
case("nested message added", m("  int32 a = 1;"), m("  int32 a = 1;\n  message Inner {\n    int32 x = 1;\n  }"),
     True, False, None, "#/M/Inner")
case("nested message removed", m("  int32 a = 1;\n  message Inner {\n    int32 x = 1;\n  }"), m("  int32 a = 1;"),
     False, True, "#/M/Inner", None)
case("nested message field changed", m("  Inner i = 1;\n  message Inner {\n    int32 x = 1;\n  }"),
     m("  Inner i = 1;\n  message Inner {\n    string x = 1;\n  }"), False, False, "#/M/Inner/1", "#/M/Inner/1")
case("recursive message gains a field", "syntax = \"proto3\";\nmessage Node {\n  Node next = 1;\n}\n",
     "syntax = \"proto3\";\nmessage Node {\n  Node next = 1;\n  int32 v = 2;\n}\n", True, True)
case("recursive message field changed", "syntax = \"proto3\";\nmessage Node {\n  Node next = 1;\n  int32 v = 2;\n}\n",
     "syntax = \"proto3\";\nmessage Node {\n  Node next = 1;\n  double v = 2;\n}\n", False, False, "#/Node/2", "#/Node/2")
case("service added", m("  int32 a = 1;"), m("  int32 a = 1;", "service S {\n  rpc Get(M) returns (M);\n}\n"), True, True)
case("json_name changed", m("  int32 a = 1;"), m("  int32 a = 1 [json_name = \"alpha\"];"), True, True)
case("field deprecated", m("  int32 a = 1;"), m("  int32 a = 1 [deprecated = true];"), True, True)
case("imports reordered", m("  google.protobuf.Timestamp t = 1;\n  google.protobuf.Duration d = 2;",
                             head=P3 + 'import "google/protobuf/timestamp.proto";\nimport "google/protobuf/duration.proto";\n'),
     m("  google.protobuf.Timestamp t = 1;\n  google.protobuf.Duration d = 2;",
       head=P3 + 'import "google/protobuf/duration.proto";\nimport "google/protobuf/timestamp.proto";\n'), True, True)

V1 = m("  int32 a = 1;")
V2 = m("  string b = 2;")
V3 = m("  string a = 1;\n  string b = 2;")
cases.append({
    "name": "history: a field number reused with another type two versions later",
    "history": [V1, V2], "new": V3,
    "levels": {"NONE": True, "BACKWARD": True, "BACKWARD_TRANSITIVE": False, "FORWARD": True,
               "FORWARD_TRANSITIVE": False, "FULL": True, "FULL_TRANSITIVE": False},
    "path": "#/M/1",
})
cases.append({
    "name": "history: a message removed then added back",
    "history": [m("  int32 a = 1;", N), m("  int32 a = 1;")], "new": m("  int32 a = 1;", N),
    "levels": {"NONE": True, "BACKWARD": True, "BACKWARD_TRANSITIVE": True, "FORWARD": False,
               "FORWARD_TRANSITIVE": False, "FULL": False, "FULL_TRANSITIVE": False},
    "path": "#/N",
})

# Oneof membership, by the reference registry's rules: fields are matched by number wherever
# they sit; independent fields made mutually exclusive break old data, relaxing exclusivity
# does not, and a oneof member dropped while its oneof lives on (under any name) is a removal.
ABC = "  oneof a {\n    int32 x = 1;\n    int32 y = 2;\n    int32 z = 3;\n  }"
AB_C = "  oneof a {\n    int32 x = 1;\n    int32 y = 2;\n  }\n  oneof b {\n    int32 z = 3;\n  }"
case("oneof split in two", m(ABC), m(AB_C), True, False, None, "#/M/a")
case("two oneofs merged", m(AB_C), m(ABC), False, True, "#/M/a", None)
case("renamed oneof losing a field", m("  oneof a {\n    int32 x = 1;\n    int32 y = 2;\n  }"),
     m("  oneof b {\n    int32 x = 1;\n  }"), False, True, "#/M/a/2", None)
case("oneof member moved to the top level", m("  oneof a {\n    int32 x = 1;\n    int32 y = 2;\n  }"),
     m("  int32 x = 1;\n  oneof a {\n    int32 y = 2;\n  }"), True, False, None, "#/M/a")
case("whole oneof deleted", m("  int32 k = 4;\n  oneof a {\n    int32 x = 1;\n    int32 y = 2;\n  }"),
     m("  int32 k = 4;"), True, True)

# Every case of the reference registry's published diff table (backward verdicts only).
from protobuf_confluent import confluent_cases  # noqa: E402

cases.extend(confluent_cases())

out = os.path.join(os.path.dirname(__file__), "..", "protobuf.json")
with open(out, "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
print(len(cases), "cases")
