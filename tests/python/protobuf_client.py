"""The official Confluent Python client's Protobuf serde against a running Accord server.

Usage: protobuf_client.py BASE_URL. Compiles tests/python/protos with grpcio-tools into a
temporary directory, then round-trips an Order (which imports google/protobuf/timestamp.proto
and the user file acme/common/money.proto) through ProtobufSerializer/ProtobufDeserializer.
Exits non-zero (with a traceback) on the first failed check.
"""
import base64
import os
import sys
import tempfile

import grpc_tools
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

url = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
out = tempfile.mkdtemp(prefix="accord-proto-")
well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
rc = protoc.main([
    "protoc", f"-I{os.path.join(here, 'protos')}", f"-I{well_known}", f"--python_out={out}",
    "acme/common/money.proto", "acme/orders/order.proto",
])
assert rc == 0, "protoc failed"
sys.path.insert(0, out)
from acme.common import money_pb2  # noqa: E402
from acme.orders import order_pb2  # noqa: E402

client = SchemaRegistryClient({"url": url})
assert "PROTOBUF" in client.get_schema_types()
ctx = SerializationContext("orders", MessageField.VALUE)

order = order_pb2.Order(
    id="o-1",
    total=money_pb2.Money(currency="EUR", minor_units=1250),
    tags=["gift", "express"],
    attributes={"source": "test"},
    web_session="s-9",
)
order.placed_at.FromSeconds(1_700_000_000)

serializer = ProtobufSerializer(order_pb2.Order, client, {"use.deprecated.format": False})
deserializer = ProtobufDeserializer(order_pb2.Order, {"use.deprecated.format": False})
data = serializer(order, ctx)
assert data[0] == 0, data[:6]
schema_id = int.from_bytes(data[1:5], "big")
assert data[5] == 0, "message index [0] is the single byte 0"
assert deserializer(data, ctx) == order
print("round trip ok", schema_id)

# The user import was registered under its file name and is referenced by version; the
# well-known import resolved without a reference.
subjects = client.get_subjects()
assert "acme/common/money.proto" in subjects and "orders-value" in subjects, subjects
assert not any(s.startswith("google/") for s in subjects), subjects
latest = client.get_latest_version("orders-value")
refs = [(r.name, r.subject, r.version) for r in latest.schema.references]
assert refs == [("acme/common/money.proto", "acme/common/money.proto", 1)], refs
assert latest.schema_id == schema_id
# Without a format the server answers .proto text.
assert "message Order" in latest.schema.schema_str, latest.schema.schema_str
assert 'import "acme/common/money.proto";' in latest.schema.schema_str
print("references ok")

# The server answers the serialized form the client asks for, equal to the compiled one.
served = client.get_schema(schema_id, fmt="serialized")
fd = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(served.schema_str))
original = descriptor_pb2.FileDescriptorProto()
order_pb2.DESCRIPTOR.CopyToProto(original)
assert fd.package == original.package and list(fd.dependency) == list(original.dependency), fd
for got, want in zip(fd.message_type, original.message_type):
    assert got.name == want.name
    assert [(f.name, f.number, f.type, f.label, f.type_name.lstrip(".")) for f in got.field] == \
        [(f.name, f.number, f.type, f.label, f.type_name.lstrip(".")) for f in want.field], (got, want)
assert len(fd.message_type) == len(original.message_type)
assert not fd.HasField("source_code_info")
print("serialized form ok")

# Serializing again, and with lookups instead of registration, finds the same schema.
assert serializer(order, ctx)[1:5] == data[1:5]
lookup_only = ProtobufSerializer(
    order_pb2.Order, client, {"use.deprecated.format": False, "auto.register.schemas": False})
assert lookup_only(order, ctx)[1:5] == data[1:5]
print("lookup ok")

# Registering the well-known import too (skip.known.types=False) also works.
with_known = ProtobufSerializer(
    order_pb2.Order, client, {"use.deprecated.format": False, "skip.known.types": False})
ctx2 = SerializationContext("orders-known", MessageField.VALUE)
data2 = with_known(order, ctx2)
assert "google/protobuf/timestamp.proto" in client.get_subjects()
assert deserializer(data2, ctx2) == order
print("known types registered ok")
print("ALL OK")
