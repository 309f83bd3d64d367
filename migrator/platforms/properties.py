"""server.properties of a new broker: the configured template, filled in for one broker.

The platform, not the template, writes broker.id, broker.rack and zookeeper.connect, so a new broker
always joins the existing cluster under the same chroot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from migrator.errors import BadInput
from migrator.platforms.source.config import PropertyValue, check_properties
from migrator.platforms.model import NewBroker


@dataclass(frozen=True)
class PropertiesTemplate:
    zookeeper_connect: str
    values: Mapping[str, PropertyValue] = field(default_factory=dict)

    def render(self, broker: NewBroker, host: str) -> dict[str, str]:
        """The broker's properties, in file order: identity first, then template and overrides with
        {id}, {rack} and {host} filled in. Other braces (the sandbox's {port}) are left alone."""
        properties = {"broker.id": str(broker.id)}
        if broker.rack is not None:
            properties["broker.rack"] = broker.rack
        properties["zookeeper.connect"] = self.zookeeper_connect
        for key, value in {**check_properties(dict(self.values)), **broker.config}.items():
            properties[key] = _fill(key, value, broker, host)
        return properties


def _fill(key: str, value: str, broker: NewBroker, host: str) -> str:
    if "{rack}" in value and broker.rack is None:
        raise BadInput(
            f"source_platform.server_properties.{key} uses {{rack}}, but broker {broker.id} has no rack. "
            "Give every new broker a rack or remove {rack} from that value."
        )
    return value.replace("{id}", str(broker.id)).replace("{rack}", broker.rack or "").replace("{host}", host)


def to_text(properties: Mapping[str, str]) -> str:
    """Java properties text. Backslashes are escapes in that format, so a literal one is doubled."""
    return "".join(f"{key}={_escape(value)}\n" for key, value in properties.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\")
