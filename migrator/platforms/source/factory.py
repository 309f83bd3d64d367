"""The source platform a migration.yaml describes."""

from __future__ import annotations

from migrator.clients.zk import split_connect
from migrator.config import MigrationConfig
from migrator.errors import BadInput
from migrator.platforms.source.base import BrokerPlatform, PlatformSettings
from migrator.platforms.source.local import LocalPlatform
from migrator.platforms.source.manual import Announce, ManualPlatform, print_to_stderr
from migrator.platforms.properties import PropertiesTemplate
from migrator.platforms.registration import Registrations


def settings_for(config: MigrationConfig) -> PlatformSettings:
    section = config.source_platform
    if section is None:
        raise BadInput(
            "migration.yaml has no source_platform: section, which says where new brokers start and old ones "
            "stop: kind (local, ec2 or manual), server_properties (the template of every new broker: "
            "listeners, log.dirs, ...) and the section of that kind. Add one and run again; nothing was changed."
        )
    cluster = config.cluster
    broker_connect = section.zookeeper_connect or cluster.zookeeper_connect
    if split_connect(broker_connect)[1] != split_connect(cluster.zookeeper_connect)[1]:
        raise BadInput(
            f"source_platform.zookeeper_connect ({broker_connect}) has another chroot than cluster.zookeeper_connect "
            f"({cluster.zookeeper_connect}); new brokers would silently create a NEW cluster there. Use the "
            "same chroot (or leave source_platform.zookeeper_connect unset)."
        )
    return PlatformSettings(
        registrations=Registrations(cluster.zookeeper_connect, cluster.cluster_id, cluster.timeout_seconds),
        template=PropertiesTemplate(broker_connect, section.server_properties),
        register_timeout=section.register_timeout_seconds,
        retire_timeout=section.retire_timeout_seconds,
        poll_interval=section.poll_interval_seconds,
    )


def source_platform(config: MigrationConfig, announce: Announce = print_to_stderr) -> BrokerPlatform:
    """The configured platform. `announce` receives the manual platform's instructions for a human."""
    settings = settings_for(config)
    section = config.source_platform
    assert section is not None  # settings_for checked it
    if section.kind == "local":
        assert section.local is not None  # SourcePlatformConfig requires it for kind local
        return LocalPlatform(settings, section.local.sandbox_dir)
    if section.kind == "ec2":
        # Imported on demand: boto3 costs start-up time that other platforms need not pay.
        from migrator.platforms.source.ec2 import Ec2Platform

        assert section.ec2 is not None
        return Ec2Platform(settings, section.ec2, config.migration_id)
    return ManualPlatform(settings, section.manual_section, announce)
