"""MQTT connector: Indunet's embedded MQTT 3.1.1 endpoint, or a client of an external broker."""

from indunet.connect.mqtt.acl import (
    MosquittoFiles,
    may_publish,
    may_subscribe,
    mosquitto_acl,
    mosquitto_hash,
    set_mosquitto_passwords,
    verify_mosquitto_hash,
    write_mosquitto_files,
)
from indunet.connect.mqtt.client import BrokerClient
from indunet.connect.mqtt.config import SERVICE_CLIENT_ID, BrokerUrl, MqttConfig
from indunet.connect.mqtt.connector import MqttConnector
from indunet.connect.mqtt.endpoint import Authenticate, EndpointLimits, MqttEndpoint
from indunet.connect.mqtt.mosquitto import NO_CAP, BrokerSettings, mosquitto_config
from indunet.connect.mqtt.packets import PacketDecoder, ProtocolError, UnsupportedProtocolVersion
from indunet.connect.mqtt.payloads import PayloadError
from indunet.connect.mqtt.probe import PROBE_COUNT, BrokerReport, BrokerUnreachable, check_broker
from indunet.connect.mqtt.router import MessageRouter
from indunet.connect.mqtt.topics import commands_topic, result_topic, status_topic, telemetry_topic

__all__ = [
    "NO_CAP",
    "PROBE_COUNT",
    "SERVICE_CLIENT_ID",
    "Authenticate",
    "BrokerClient",
    "BrokerReport",
    "BrokerSettings",
    "BrokerUnreachable",
    "BrokerUrl",
    "EndpointLimits",
    "MessageRouter",
    "MosquittoFiles",
    "MqttConfig",
    "MqttConnector",
    "MqttEndpoint",
    "PacketDecoder",
    "PayloadError",
    "ProtocolError",
    "UnsupportedProtocolVersion",
    "check_broker",
    "commands_topic",
    "may_publish",
    "may_subscribe",
    "mosquitto_acl",
    "mosquitto_config",
    "mosquitto_hash",
    "result_topic",
    "set_mosquitto_passwords",
    "status_topic",
    "telemetry_topic",
    "verify_mosquitto_hash",
    "write_mosquitto_files",
]
