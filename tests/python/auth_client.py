"""The official Confluent Python client against an Accord server with authentication on.

Usage: auth_client.py BASE_URL KEY_ID:SECRET. Registers and reads with `basic.auth.user.info`,
and checks that a wrong secret gets 401. Exits non-zero on the first failed check.
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

url, user_info = sys.argv[1], sys.argv[2]
client = SchemaRegistryClient({"url": url, "basic.auth.user.info": user_info})
# `card_holder` breaks the default policy's camelCase field rule (warn mode): the answer
# carries `warnings`, which the client must take in its stride.
schema = json.dumps({"type": "record", "name": "Card", "namespace": "payments",
                     "fields": [{"name": "id", "type": "string"},
                                {"name": "card_holder", "type": "string", "default": ""}]})
sid = client.register_schema("payments.card-value", Schema(schema, "AVRO"))
assert client.get_schema(sid).schema_type == "AVRO"
assert client.get_latest_version("payments.card-value").schema_id == sid
print("register and read ok", sid)

ctx = SerializationContext("payments.card", MessageField.VALUE)
data = AvroSerializer(client, schema)({"id": "c-1", "card_holder": "Ada"}, ctx)
assert AvroDeserializer(client)(data, ctx) == {"id": "c-1", "card_holder": "Ada"}
print("serde ok")

key_id = user_info.split(":", 1)[0]
wrong = SchemaRegistryClient({"url": url, "basic.auth.user.info": f"{key_id}:wrong"})
try:
    wrong.get_subjects()
    raise AssertionError("a wrong secret was accepted")
except SchemaRegistryError as e:
    assert e.http_status_code == 401 and e.error_code == 40101, (e.http_status_code, e.error_code)
print("wrong secret refused ok")
print("ALL OK")
