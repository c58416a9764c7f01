"""The official Confluent Python client's JSON Schema serde against a running Accord server.

Usage: json_client.py BASE_URL. Exits non-zero (with a traceback) on the first failed check.
"""
import json
import sys

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

url = sys.argv[1]
client = SchemaRegistryClient({"url": url})
assert "JSON" in client.get_schema_types()
ctx = SerializationContext("sensors", MessageField.VALUE)

schema = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Reading",
    "type": "object",
    "properties": {
        "sensor": {"type": "string"},
        "celsius": {"type": "number", "minimum": -273.15},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["sensor", "celsius"],
    "additionalProperties": False,
})
reading = {"sensor": "s-1", "celsius": 21.5, "tags": ["roof"]}

serializer = JSONSerializer(schema, client)
deserializer = JSONDeserializer(schema)
data = serializer(reading, ctx)
assert data[0] == 0
schema_id = int.from_bytes(data[1:5], "big")
assert deserializer(data, ctx) == reading
print("round trip ok", schema_id)

registered = client.get_schema(schema_id)
assert registered.schema_type == "JSON"
assert json.loads(registered.schema_str) == json.loads(schema)
assert client.get_latest_version("sensors-value").schema_id == schema_id
assert serializer(reading, ctx)[1:5] == data[1:5]
print("registry ok")

# A reader that fetches the writer schema from the registry by id.
by_id = JSONDeserializer(None, schema_registry_client=client)
assert by_id(data, ctx) == reading
print("deserialize by id ok")

# The client validates against the registered schema before sending.
try:
    serializer({"sensor": "s-1", "celsius": -300}, ctx)
    raise AssertionError("an invalid reading was serialized")
except SerializationError:
    pass
print("client-side validation ok")
print("ALL OK")
