"""The official Confluent Python client against a running Accord server.

Usage: avro_client.py BASE_URL. Exits non-zero (with a traceback) on the first failed check.
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

url = sys.argv[1]
client = SchemaRegistryClient({"url": url})
subject = "payments-value"

v1 = json.dumps({
    "type": "record", "name": "Payment", "namespace": "acme",
    "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}],
})
v2 = json.dumps({
    "type": "record", "name": "Payment", "namespace": "acme",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "currency", "type": "string", "default": "EUR"},
    ],
})
bad = json.dumps({
    "type": "record", "name": "Payment", "namespace": "acme",
    "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"},
               {"name": "payer", "type": "string"}],
})

assert "AVRO" in client.get_schema_types()

# register, then register again: same id
sid = client.register_schema(subject, Schema(v1, "AVRO"))
assert client.register_schema(subject, Schema(v1, "AVRO")) == sid
print("register ok", sid)

# lookup
found = client.lookup_schema(subject, Schema(v1, "AVRO"))
assert found.schema_id == sid and found.version == 1, found
print("lookup ok")

# get by id
by_id = client.get_schema(sid)
assert json.loads(by_id.schema_str) == json.loads(v1), by_id.schema_str
assert by_id.schema_type == "AVRO"
print("get_schema ok")

# compatibility config
client.set_compatibility(subject_name=subject, level="BACKWARD")
assert client.get_compatibility(subject) == "BACKWARD"
client.set_compatibility(level="FULL")
assert client.get_compatibility() == "FULL"
client.set_compatibility(level="BACKWARD")
print("compatibility config ok")

# test compatibility
assert client.test_compatibility(subject, Schema(v2, "AVRO")) is True
assert client.test_compatibility(subject, Schema(bad, "AVRO")) is False
print("test_compatibility ok")

# incompatible registration refused with 409
try:
    client.register_schema(subject, Schema(bad, "AVRO"))
    raise AssertionError("incompatible schema was registered")
except SchemaRegistryError as e:
    assert e.http_status_code == 409, (e.http_status_code, e.error_code)
print("incompatible refused ok")

# evolve; latest and versions
sid2 = client.register_schema(subject, Schema(v2, "AVRO"))
assert sid2 != sid
latest = client.get_latest_version(subject)
assert latest.version == 2 and latest.schema_id == sid2, latest
assert client.get_versions(subject) == [1, 2]
assert client.get_version(subject, 1).schema_id == sid
assert subject in client.get_subjects()
print("latest/versions ok")

# serialize -> deserialize round trip (auto-registration off: the serializer looks up)
ser = AvroSerializer(client, v2, conf={"auto.register.schemas": False, "use.latest.version": False})
de = AvroDeserializer(client)
ctx = SerializationContext("payments", MessageField.VALUE)
record = {"id": "p-1", "amount": 12.5, "currency": "USD"}
data = ser(record, ctx)
assert data[0] == 0 and int.from_bytes(data[1:5], "big") == sid2, data[:5]
assert de(data, ctx) == record
# a reader on an older writer id resolves through the registry too
old_ser = AvroSerializer(client, v1, conf={"auto.register.schemas": True})
old = old_ser({"id": "p-0", "amount": 1.0}, ctx)
assert int.from_bytes(old[1:5], "big") == sid
assert de(old, ctx) == {"id": "p-0", "amount": 1.0}
print("serialize/deserialize ok")

# deletes
assert client.delete_version(subject, 2) == 2
assert client.get_versions(subject) == [1]
assert client.delete_subject(subject) == [1]
assert client.delete_subject(subject, permanent=True) == [1, 2]
try:
    client.get_versions(subject)  # not cached by the client, unlike get_latest_version
    raise AssertionError("deleted subject still answers")
except SchemaRegistryError as e:
    assert e.http_status_code == 404 and e.error_code == 40401, (e.http_status_code, e.error_code)
print("delete ok")
print("ALL OK")
