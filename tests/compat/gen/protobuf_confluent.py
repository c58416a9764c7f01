"""The Confluent registry's published Protobuf diff table, as verdicts.

`protobuf-provider/src/test/resources/diff-schema-examples.json` of `confluentinc/schema-registry`
lists an original `.proto`, an update and whether the update is compatible (reads data the
original wrote: our `backward`). Every case is here in table order, named
`confluent diff-schema-examples.json #<n>: <the table's description>`; a failing case names the
path of the table's first incompatible change. Cases that import a file carry it as
`old_refs` / `new_refs` (reference name → text). The six cases about `confluent:reserved`
metadata carry it as `old_metadata` / `new_metadata`.
"""

P3 = 'syntax = "proto3";\n'
P2 = 'syntax = "proto2";\n'

STATUS = "    message Status {\n    string test_string = 1;\n    }\n"
TM_FOO = P3 + "package foo;\nmessage TestMessage {\n    string test_string = 1;\n    .foo.TestMessage.Status test_int = 2;\n" + STATUS + "}"


def tm(body, extra="", head=P3):
    return f"{head}message TestMessage {{\n{body}}}\n{extra}"


ENUM = "enum Status {\n    ACTIVE = 0;\n    INACTIVE = 1;\n}\n"


def google(package, field="int32", outer=False):
    msg = f"message GoogleHome {{\n  {field} deviceID = 1;\n  bool enabled = 2;\n}}"
    if outer:
        msg = f"message outer {{\n  {msg}\n}}"
    return f'syntax = "proto3";\n\npackage {package};\n\noption java_outer_classname = "GoogleImpl";\n\n{msg}'


def importing(file, type_name):
    return P3 + f'import "{file}";\nmessage TestMessage {{\n    {type_name} test_string = 1;\n    }}'


D = ".io.confluent.cloud.demo.domain"
GH_LOCAL = P3 + "message TestMessage {\n    GoogleHome test_string = 1;\n    }\nmessage GoogleHome {\n  int32 deviceID = 1;\n  bool enabled = 2;\n}"



def reserved(names):
    return {"properties": {"confluent:reserved": names}}


def tm_foo_with(fields):
    return (P3 + "package foo;\n\nmessage TestMessage {\n  string test_string = 1;\n  .foo.TestMessage.Status test_int = 2;\n"
            + fields + "\n  message Status {\n    string test_string = 1;\n  }\n}\n")


def rows():
    """(description, original, update, compatible, path, original refs, update refs)."""
    return [
        ("Add new reserved fields with conflict", TM_FOO, TM_FOO, False, "test_string", None,
         reserved("test_string")),
        ("Update with null metadata", TM_FOO, TM_FOO, False, "status", reserved("status"), None),
        ("Detect reserved property removed", TM_FOO, TM_FOO, False, "status", reserved("status"), reserved("")),
        ("Detect property conflict with reserved property", TM_FOO,
         tm_foo_with("  int32 cost = 3;\n  string status = 4;\n"), False, "cost", reserved("cost,status"),
         reserved("cost,status")),
        ("Detect reserved property removed and property conflict with reserved property", TM_FOO,
         tm_foo_with("  string status = 3;\n"), False, "cost", reserved("cost,status"), reserved("status")),
        ("Allow addition of un-reserved property", TM_FOO, tm_foo_with("  float test_float = 3;\n"), True, None,
         reserved("cost,status"), reserved("cost,status")),
        ("Detect package change", TM_FOO, TM_FOO.replace("foo", "bar"), True),
        ("Detect change to name qualification",
         tm("    string test_string = 1;\n    Status test_int = 2;\n" + STATUS),
         tm("    string test_string = 1;\n    .TestMessage.Status test_int = 2;\n" + STATUS), True),
        ("Detect change to name qualification with package",
         P3 + "package foo;\n" + tm("    string test_string = 1;\n    Status test_int = 2;\n" + STATUS, head=""),
         TM_FOO, True),
        ("Detect added field", tm("    string test_string = 1;\n"),
         tm("    string test_string = 1;\n    string test_string2 = 2;\n"), True),
        ("Detect added required field", tm("    optional string test_string = 1;\n", head=P2),
         tm("    optional string test_string = 1;\n    required string test_string2 = 2;\n", head=P2), False,
         "#/TestMessage/2"),
        ("Detect added field to nested type",
         P3 + "message Wrapper {\n    int32 wrapperInt = 1;\n    message TestMessage {\n    string test_string = 1;\n}\n}",
         P3 + "message Wrapper {\n    int32 wrapperInt = 1;\n    message TestMessage {\n    string test_string = 1;\n    string test_string2 = 2;\n}\n}",
         True),
        ("Detect removed field", tm("    string test_string = 1;\n    string test_string2 = 2;\n"),
         tm("    string test_string = 1;\n"), True),
        ("Detect removed required field",
         tm("    optional string test_string = 1;\n    required string test_string2 = 2;\n", head=P2),
         tm("    optional string test_string = 1;\n", head=P2), False, "#/TestMessage/2"),
        ("Detect changed field number", tm("    string test_string = 1;\n"), tm("    string test_string = 2;\n"),
         True),
        ("Detect compatible field number type change", tm("    string test_string = 1;\n    int32 test_int = 2;\n"),
         tm("    string test_string = 1;\n    int64 test_int = 2;\n"), True),
        ("Detect compatible field string type change",
         tm("    string test_string = 1;\n    string test_string2 = 2;\n"),
         tm("    string test_string = 1;\n    bytes test_string2 = 2;\n"), True),
        ("Detect field number type to enum change", tm("    string test_string = 1;\n    int32 test_int = 2;\n"),
         tm("    string test_string = 1;\n    Status test_int = 2;\n", ENUM), True),
        ("Detect enum type to field number change",
         tm("    string test_string = 1;\n    Status test_int = 2;\n", ENUM),
         tm("    string test_string = 1;\n    int32 test_int = 2;\n"), True),
        ("Detect field number type to message with same name as enum",
         tm("    string test_string = 1;\n    int32 test_int = 2;\n"),
         tm("    string test_string = 1;\n    .TestMessage.Status test_int = 2;\n" + STATUS, ENUM), False,
         "#/TestMessage/2"),
        ("Detect message with same name as enum to field number change",
         tm("    string test_string = 1;\n    .TestMessage.Status test_int = 2;\n" + STATUS, ENUM),
         tm("    string test_string = 1;\n    int32 test_int = 2;\n"), False, "#/TestMessage/2"),
        ("Detect enum const change", tm("    string test_string = 1;\n    Status test_int = 2;\n", ENUM),
         tm("    string test_string = 1;\n    Status test_int = 2;\n", ENUM.replace("INACTIVE", "NOT_ACTIVE")),
         True),
        ("Detect compatible field to oneof change",
         tm("    string test_string = 1;\n    string test_string2 = 2;\n"),
         tm("    string test_string = 1;\n    oneof new_oneof {\n        string test_string2 = 2;\n        int32 other_id = 3;\n}\n"),
         True),
        ("Detect incompatible field to oneof change",
         tm("    string test_string = 1;\n    string test_string2 = 2;\n"),
         tm("    oneof new_oneof {\n    string test_string = 1;\n    string test_string2 = 2;\n        int32 other_id = 3;\n}\n"),
         False, "#/TestMessage/new_oneof"),
        ("Detect compatible add field to oneof",
         tm("    oneof new_oneof {\n    string test_string = 1;\n    string test_string2 = 2;\n}\n"),
         tm("    oneof new_oneof {\n    string test_string = 1;\n    string test_string2 = 2;\n        int32 other_id = 3;\n}\n"),
         True),
        ("Detect incompatible remove field from oneof",
         tm("    oneof new_oneof {\n    string test_string = 1;\n    string test_string2 = 2;\n        int32 other_id = 3;\n}\n"),
         tm("    oneof new_oneof {\n    string test_string = 1;\n    string test_string2 = 2;\n}\n"), False,
         "#/TestMessage/new_oneof/3"),
        ("Detect incompatible field type change", tm("    string test_string = 1;\n    int32 test_int = 2;\n"),
         tm("    string test_string = 1;\n    TestMessage2 test_int = 2;\n", "message TestMessage2 {\n    string s1 = 1;\n}"),
         False, "#/TestMessage/2"),
        ("Detect incompatible field type change", tm("    string test_string = 1;\n    int32 test_int = 2;\n"),
         tm("    string test_string = 1;\n    string test_string2 = 2;\n"), False, "#/TestMessage/2"),
        ("Detect incompatible field type change",
         tm("    string test_string = 1;\n    TestMessage2 test_int = 2;\n", "message TestMessage2 {\n    string s1 = 1;\n}"),
         tm("    string test_string = 1;\n    TestMessage3 test_int = 2;\n", "message TestMessage3 {\n    string s1 = 1;\n}"),
         False, "#/TestMessage/2"),
        ("Detect incompatible field type change",
         tm("    string test_string = 1;\n    map<string, int32> test_map_int = 2;\n"),
         tm("    string test_string = 1;\n    map<string, string> test_map_string = 2;\n"), False, "#/TestMessage/2"),
        ("Detect compatible name qualification in map",
         tm("    string test_string = 1;\n    map<string, Status> test_map = 2;\n" + STATUS),
         tm("    string test_string = 1;\n    map<string, TestMessage.Status> test_map = 2;\n" + STATUS), True),
        ("Detect compatible field label change for message",
         tm("    string test_string = 1;\n    optional Status test_status = 2;\n" + STATUS),
         tm("    string test_string = 1;\n    repeated Status test_status = 2;\n" + STATUS), True),
        ("Detect compatible field label change for string",
         tm("    optional string test_string = 1;\n    Status test_status = 2;\n" + STATUS),
         tm("    repeated string test_string = 1;\n    Status test_status = 2;\n" + STATUS), True),
        ("Detect compatible field label change for bytes",
         tm("    optional bytes test_bytes = 1;\n    Status test_status = 2;\n" + STATUS),
         tm("    repeated bytes test_bytes = 1;\n    Status test_status = 2;\n" + STATUS), True),
        ("Detect incompatible field label change for number",
         tm("    optional int32 test_int = 1;\n    Status test_status = 2;\n" + STATUS),
         tm("    repeated int32 test_int = 1;\n    Status test_status = 2;\n" + STATUS), False, "#/TestMessage/1"),
        ("Detect compatible message addition", tm("    string test_string = 1;\n"),
         tm("    string test_string = 1;\n", "message TestMessage2 {\n    string test_string = 1;\n}"), True),
        ("Detect compatible message index change", tm("    string test_string = 1;\n"),
         P3 + "message TestMessage2 {\n    string test_string = 1;\n}\nmessage TestMessage {\n    string test_string = 1;\n}",
         True),
        ("Detect compatible message index change",
         tm("    string test_string = 1;\n", "message TestMessage2 {\n    string test_string = 1;\n}"),
         P3 + "message TestMessage2 {\n    string test_string = 1;\n}\nmessage TestMessage {\n    string test_string = 1;\n}",
         True),
        ("Detect incompatible import change", importing("google.proto", D + ".GoogleHome"),
         importing("google2.proto", D + ".GoogleHome"), False, "#/TestMessage/1",
         {"google.proto": google("io.confluent.cloud.demo.domain")},
         {"google2.proto": google("io.confluent.cloud.demo.domain", "string")}),
        ("Detect moving to import", GH_LOCAL, importing("google.proto", D + ".GoogleHome"), False, "#/GoogleHome",
         {}, {"google.proto": google("io.confluent.cloud.demo.domain")}),
        ("Detect moving from import", importing("google.proto", D + ".GoogleHome"), GH_LOCAL, True, None,
         {"google.proto": google("io.confluent.cloud.demo.domain")}, {}),
        ("Detect import change with different remote package name", importing("google.proto", D + ".GoogleHome"),
         importing("google2.proto", D + "2.GoogleHome"), True, None,
         {"google.proto": google("io.confluent.cloud.demo.domain")},
         {"google2.proto": google("io.confluent.cloud.demo.domain2")}),
        ("Detect import change with different remote package nested name",
         importing("google.proto", D + ".outer.GoogleHome"), importing("google2.proto", D + "2.outer.GoogleHome"),
         True, None, {"google.proto": google("io.confluent.cloud.demo.domain", outer=True)},
         {"google2.proto": google("io.confluent.cloud.demo.domain2", outer=True)}),
        ("Detect incompatible import change with different remote package nested name",
         importing("google.proto", D + ".outer.GoogleHome"), importing("google2.proto", D + "2.outer.GoogleHome"),
         False, "#/TestMessage/1", {"google.proto": google("io.confluent.cloud.demo.domain", outer=True)},
         {"google2.proto": google("io.confluent.cloud.demo.domain2", "string", outer=True)}),
        ("Detect incompatible import change with same subject, different version",
         importing("google.proto", D + ".outer.GoogleHome"), importing("google.proto", D + "2.outer.GoogleHome"),
         False, "#/TestMessage/1", {"google.proto": google("io.confluent.cloud.demo.domain", outer=True)},
         {"google.proto": google("io.confluent.cloud.demo.domain2", "string", outer=True)}),
    ]


def confluent_cases():
    cases = []
    for n, row in enumerate(rows(), start=1):
        desc, o, u, ok = row[:4]
        c = {"name": f"confluent diff-schema-examples.json #{n}: {desc}", "old": o, "new": u,
             "backward": ok, "forward": None}
        if not ok:
            c["backward_path"] = row[4]
        if n <= 6:
            # The reserved-field cases: metadata on either side.
            if row[5] is not None:
                c["old_metadata"] = row[5]
            if row[6] is not None:
                c["new_metadata"] = row[6]
        elif len(row) > 5:
            c["old_refs"], c["new_refs"] = row[5], row[6]
        cases.append(c)
    return cases
