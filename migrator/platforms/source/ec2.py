"""The `ec2` platform: one instance per broker, launched from a launch template (boto3).

    provision   find the broker's instance by its tags (or source_platform.ec2.existing_instances);
                reuse it (starting it if stopped) or RunInstances from the launch template in the rack's
                subnet, with user data that makes it this broker (user_data.py) and our tags; then
                wait until every instance runs. Registration in ZooKeeper is checked separately
                (check_registered / wait_registered), as for every platform.
    retire      terminate the instances we launched; STOP (never terminate) the fleet's own instances
                named in existing_instances, so a rollback can start them again with their data.
                Shutting an instance down stops its Kafka unit, which is a controlled shutdown.

Idempotency: instances are found by tags before anything is launched, and RunInstances carries a
ClientToken derived from the migration id and the broker id, so a retry after a crash between the
call and our next read does not launch a second instance. AWS keeps answering a token with the same
(possibly long terminated) instance, so after a rollback the token moves on deterministically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

from migrator.clients import aws
from migrator.errors import BadInput, PermanentError, TemporaryError
from migrator.platforms.source.base import BrokerPlatform, PlatformSettings
from migrator.platforms.source.config import Ec2PlatformConfig
from migrator.platforms.model import Host, HostState, NewBroker, Outcome, ProvisionRecord
from migrator.platforms.source.user_data import HOST_MARK, broker_script

MANAGED_BY = "kafka-k8s-migrator"
TAG_MANAGED_BY = "managed-by"
TAG_MIGRATION = "migration-id"
TAG_BROKER = "kafka-broker-id"

_HOST_STATES = {
    "pending": HostState.STARTING,
    "running": HostState.RUNNING,
    "stopping": HostState.STOPPING,
    "shutting-down": HostState.STOPPING,
    "stopped": HostState.STOPPED,
    "terminated": HostState.TERMINATED,
}
#: An instance as DescribeInstances returns it.
Instance = dict[str, Any]

_LIVE = ("pending", "running", "stopping", "stopped")
_GONE = ("shutting-down", "terminated")
#: How many terminated instances one broker id may have had before we stop moving its token on.
_TOKEN_GENERATIONS = 20
_PERMISSIONS = (
    "ec2:DescribeInstances, ec2:DescribeLaunchTemplateVersions, ec2:DescribeSubnets, ec2:RunInstances, "
    "ec2:CreateTags, ec2:StartInstances, ec2:StopInstances and ec2:TerminateInstances (plus iam:PassRole "
    "if the launch template names an instance profile)"
)
_BOOT_HINT = "its boot log is /var/log/cloud-init-output.log on the instance, the broker's log is Kafka's own"


def client_token(migration_id: str, broker_id: int, after: str = "") -> str:
    """RunInstances' idempotency token (at most 64 ASCII characters). `after` is the instance the
    previous token launched, once that one was terminated."""
    digest = hashlib.sha256(f"{migration_id}/{broker_id}/{after}".encode()).hexdigest()
    return f"kkm-{broker_id}-{digest[:40]}"


class Ec2Platform(BrokerPlatform):
    kind = "ec2"

    def __init__(
        self, settings: PlatformSettings, section: Ec2PlatformConfig, migration_id: str, client: Any | None = None
    ) -> None:
        super().__init__(settings)
        self.section = section
        self.migration_id = migration_id
        if client is None:
            try:
                client = aws.client("ec2", section.region, section.endpoint_url)
            except NoRegionError:
                raise BadInput(
                    "No AWS region is set for the ec2 platform. Set source_platform.ec2.region in migration.yaml "
                    "(or AWS_REGION in the environment)."
                ) from None
        self.client = client

    # -- platform interface -----------------------------------------------------------------------

    def preflight(self, brokers: Sequence[NewBroker]) -> None:
        if not brokers:
            return
        for broker in brokers:
            self._user_data(broker)  # template errors and oversize user data, before any call
        template = self.section.launch_template
        self._call("describe_launch_template_versions", **template.selector(), Versions=[template.version])
        self._call("describe_subnets", SubnetIds=sorted({self._subnet(b) for b in brokers}))
        try:
            self._call("run_instances", DryRun=True, **self._launch_params(brokers[0]))
        except ClientError as exc:
            if aws.error_code(exc) != "DryRunOperation":  # "would have succeeded"
                raise

    def provision(self, brokers: Sequence[NewBroker]) -> list[ProvisionRecord]:
        live = self._instances([b.id for b in brokers], _LIVE)
        self.preflight([b for b in brokers if b.id not in live])
        outcomes: dict[int, Outcome] = {}
        instance_ids: dict[int, str] = {}
        for broker in brokers:
            instance = live.get(broker.id)
            if instance is None:
                instance, outcomes[broker.id] = self._launch(broker), Outcome.LAUNCHED
            elif instance["State"]["Name"] in ("stopping", "stopped"):
                self._wait_for_states({broker.id: instance["InstanceId"]}, {"stopped"})
                self._call("start_instances", InstanceIds=[instance["InstanceId"]])
                outcomes[broker.id] = Outcome.STARTED
            else:
                outcomes[broker.id] = Outcome.REUSED
            instance_ids[broker.id] = instance["InstanceId"]
        running = self._wait_for_states(instance_ids, {"running"}, fail=_GONE)
        return [
            ProvisionRecord(b.id, outcomes[b.id], _address(running[b.id]), instance_ids[b.id]) for b in brokers
        ]

    def retire(self, broker_ids: Sequence[int]) -> None:
        found = self._instances(broker_ids, _LIVE + ("shutting-down",))
        missing = [i for i in broker_ids if i not in found]
        registered = self.settings.registrations.read(missing).registered if missing else {}
        unknown = [i for i in missing if i in registered]
        if unknown:
            raise BadInput(
                f"Broker(s) {', '.join(map(str, unknown))} are registered in ZooKeeper but run on no instance "
                f"migrator launched for migration {self.migration_id}. Name their instances in "
                "source_platform.ec2.existing_instances (broker id: instance id) so migrator can stop them, "
                "or stop them yourself. Nothing was changed."
            )
        ours = {b: i["InstanceId"] for b, i in found.items() if not self._adopted(b, i)}
        adopted = {b: i["InstanceId"] for b, i in found.items() if self._adopted(b, i)}
        if ours:
            self._call("terminate_instances", InstanceIds=sorted(ours.values()))
        if adopted:
            self._call("stop_instances", InstanceIds=sorted(adopted.values()))
        self._wait_for_states(ours, {"terminated"})
        self._wait_for_states(adopted, {"stopped", "terminated"})

    def hosts(self, broker_ids: Sequence[int]) -> dict[int, Host]:
        found = self._instances(broker_ids, _LIVE + _GONE)
        hosts = {}
        for broker_id in broker_ids:
            instance = found.get(broker_id)
            if instance is None:
                hosts[broker_id] = Host(HostState.ABSENT)
                continue
            reason = _state_reason(instance)
            hosts[broker_id] = Host(
                _HOST_STATES.get(instance["State"]["Name"], HostState.UNKNOWN),
                _address(instance),
                instance["InstanceId"],
                hint=f"{reason}; {_BOOT_HINT}" if reason else _BOOT_HINT,
            )
        return hosts

    # -- finding instances -------------------------------------------------------------------------

    def _instances(self, broker_ids: Iterable[int], states: Sequence[str]) -> dict[int, Instance]:
        """broker id -> its instance in one of `states`: ours by tags, else the configured existing one.
        A live instance wins over a terminated one; two live ones for one broker stop everything."""
        ids = sorted(set(broker_ids))
        candidates: dict[int, list[Instance]] = {}
        if ids:
            for instance in self._describe(
                Filters=[
                    {"Name": f"tag:{TAG_MANAGED_BY}", "Values": [MANAGED_BY]},
                    {"Name": f"tag:{TAG_MIGRATION}", "Values": [self.migration_id]},
                    {"Name": f"tag:{TAG_BROKER}", "Values": [str(i) for i in ids]},
                    {"Name": "instance-state-name", "Values": list(states)},
                ]
            ):
                candidates.setdefault(int(_tag(instance, TAG_BROKER)), []).append(instance)
        existing = {i: self.section.existing_instances[i] for i in ids if i in self.section.existing_instances}
        if existing:
            for instance in self._describe_existing(existing):
                if instance["State"]["Name"] in states:
                    broker_id = next(b for b, i in existing.items() if i == instance["InstanceId"])
                    candidates.setdefault(broker_id, []).append(instance)
        return {b: _pick(b, found) for b, found in candidates.items()}

    def _adopted(self, broker_id: int, instance: Instance) -> bool:
        instance_id: str = instance["InstanceId"]
        return self.section.existing_instances.get(broker_id) == instance_id

    def _describe(self, **params: Any) -> list[Instance]:
        instances: list[Instance] = []
        while True:
            page = self._call("describe_instances", **params)
            instances += [i for r in page.get("Reservations", []) for i in r.get("Instances", [])]
            if not page.get("NextToken"):
                return instances
            params["NextToken"] = page["NextToken"]

    def _describe_existing(self, existing: dict[int, str]) -> list[Instance]:
        try:
            return self._describe(InstanceIds=sorted(existing.values()))
        except ClientError as exc:
            if aws.error_code(exc).startswith("InvalidInstanceID"):
                raise BadInput(
                    f"EC2 does not know an instance named in source_platform.ec2.existing_instances "
                    f"({_message(exc)}). Correct the instance ids there; nothing was changed."
                ) from None
            raise

    # -- launching and waiting ---------------------------------------------------------------------

    def _launch(self, broker: NewBroker) -> Instance:
        params = self._launch_params(broker)
        token = client_token(self.migration_id, broker.id)
        for _ in range(_TOKEN_GENERATIONS):
            instance: Instance = self._call("run_instances", ClientToken=token, **params)["Instances"][0]
            if self._state_now(instance["InstanceId"]) not in _GONE:
                return instance
            # The token answered with an instance launched (and terminated) before: move on.
            token = client_token(self.migration_id, broker.id, after=instance["InstanceId"])
        raise PermanentError(
            f"Broker {broker.id} has had {_TOKEN_GENERATIONS} instances terminated in this migration; migrator "
            "stops launching more. Find out why they end (EC2 console: state transition reason) and retry."
        )

    def _state_now(self, instance_id: str) -> str:
        try:
            found = self._describe(InstanceIds=[instance_id])
        except ClientError as exc:
            if aws.error_code(exc) == "InvalidInstanceID.NotFound":
                return "pending"  # EC2's reads are eventually consistent: a brand-new instance may not show yet
            raise
        return found[0]["State"]["Name"] if found else "pending"

    def _wait_for_states(
        self, instance_ids: dict[int, str], target: set[str], fail: Sequence[str] = ()
    ) -> dict[int, Instance]:
        """Poll until every instance is in a `target` state; one in a `fail` state ends the wait."""
        if not instance_ids:
            return {}
        wanted = "/".join(sorted(target))
        deadline = self.settings.clock() + self.section.instance_timeout_seconds
        while True:
            try:
                current = {i["InstanceId"]: i for i in self._describe(InstanceIds=sorted(instance_ids.values()))}
            except ClientError as exc:
                if aws.error_code(exc) != "InvalidInstanceID.NotFound":
                    raise
                current = {}  # just launched, not visible yet
            found = {b: current[i] for b, i in instance_ids.items() if i in current}
            states = {b: found[b]["State"]["Name"] if b in found else "pending" for b in instance_ids}
            failed = [
                f"The instance {instance_ids[b]} of broker {b} went {s} instead of {wanted} "
                f"({_state_reason(found[b]) or 'EC2 gives no reason'})"
                for b, s in states.items()
                if s in fail
            ]
            if failed:
                raise PermanentError(
                    "; ".join(failed) + ". Check the launch template (AMI, instance type, capacity "
                    "in the subnet's zone) and provision again."
                )
            if all(s in target for s in states.values()):
                return found
            if self.settings.clock() >= deadline:
                waiting = ", ".join(f"{instance_ids[b]} (broker {b}) is {s}" for b, s in states.items() if s not in target)
                raise TemporaryError(
                    f"EC2 instances did not reach {wanted} within {self.section.instance_timeout_seconds:.0f} s "
                    f"(source_platform.ec2.instance_timeout_seconds): {waiting}. Running the step again resumes "
                    "the wait.",
                    delay=self.section.poll_interval_seconds,
                )
            self.settings.sleep(self.section.poll_interval_seconds)

    # -- request pieces ----------------------------------------------------------------------------

    def _subnet(self, broker: NewBroker) -> str:
        subnet = self.section.subnets.get(broker.rack) if broker.rack is not None else self.section.default_subnet
        if subnet is None:
            where = f"rack {broker.rack!r}" if broker.rack is not None else "no rack"
            raise BadInput(
                f"Broker {broker.id} has {where}, and source_platform.ec2 maps no subnet to it (subnets: "
                f"{', '.join(sorted(self.section.subnets)) or 'none'}; default_subnet: "
                f"{self.section.default_subnet or 'unset'}). Add the subnet of that rack's zone; nothing was changed."
            )
        return subnet

    def _tags(self, broker: NewBroker) -> list[dict[str, str]]:
        tags = {
            **self.section.tags,
            "Name": self.section.name_pattern.format(id=broker.id, migration_id=self.migration_id),
            TAG_MIGRATION: self.migration_id,
            TAG_BROKER: str(broker.id),
            TAG_MANAGED_BY: MANAGED_BY,
        }
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def _user_data(self, broker: NewBroker) -> str:
        return broker_script(
            migration_id=self.migration_id,
            broker_id=broker.id,
            rack=broker.rack,
            properties=self.server_properties(broker, HOST_MARK),
            properties_path=self.section.properties_path,
            start_command=self.section.start_command,
        )

    def _launch_params(self, broker: NewBroker) -> dict[str, Any]:
        params: dict[str, Any] = {
            "LaunchTemplate": {**self.section.launch_template.selector(), "Version": self.section.launch_template.version},
            "MinCount": 1,
            "MaxCount": 1,
            "SubnetId": self._subnet(broker),
            "UserData": self._user_data(broker),  # boto3 base64-encodes it
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": self._tags(broker)},
                {"ResourceType": "volume", "Tags": self._tags(broker)},
            ],
        }
        if self.section.instance_type:
            params["InstanceType"] = self.section.instance_type
        return params

    # -- errors ------------------------------------------------------------------------------------

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        action = "".join(word.title() for word in operation.split("_"))
        try:
            return aws.call(self.client, operation, **params)
        except (NoCredentialsError, PartialCredentialsError):
            raise BadInput(
                "No usable AWS credentials were found for EC2. Provide them the standard way (AWS_PROFILE, "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance/pod role); nothing was changed."
            ) from None
        except aws.CONNECTION_ERRORS as exc:
            raise BadInput(
                f"EC2 cannot be reached ({exc}). Check the network, source_platform.ec2.region and "
                "source_platform.ec2.endpoint_url (leave it unset for AWS itself); nothing was changed."
            ) from None
        except ClientError as exc:
            code = aws.error_code(exc)
            if code in ("UnauthorizedOperation", "AuthFailure", "AccessDenied", "Blocked"):
                raise BadInput(
                    f"AWS denied ec2:{action} ({code}: {_message(exc)}). Grant the identity running migrator "
                    f"{_PERMISSIONS}; nothing was changed."
                ) from None
            if code.startswith("InvalidLaunchTemplate"):
                raise BadInput(
                    f"The launch template {self.section.launch_template.describe()} cannot be used "
                    f"({code}: {_message(exc)}). "
                    "Set source_platform.ec2.launch_template to an existing template id or name and version "
                    "(aws ec2 describe-launch-templates); nothing was changed."
                ) from None
            if code.startswith("InvalidSubnet"):
                raise BadInput(
                    f"A subnet in source_platform.ec2.subnets does not exist ({_message(exc)}). Map each rack to a "
                    "subnet id of its zone (aws ec2 describe-subnets); nothing was changed."
                ) from None
            if code == "IdempotentParameterMismatch":
                raise BadInput(
                    f"EC2 refused {action}: an earlier attempt with the same idempotency token used other "
                    "parameters, so source_platform changed between attempts. Restore the earlier settings, or "
                    "roll the step back before changing them. Nothing was launched."
                ) from None
            if code in ("InsufficientInstanceCapacity", "InsufficientCapacity"):
                raise TemporaryError(
                    f"EC2 has no capacity for the instance right now ({_message(exc)}).", delay=60.0
                ) from None
            raise


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _state_reason(instance: Instance) -> str:
    """Why EC2 put the instance in its state, e.g. 'Server.InsufficientInstanceCapacity: ...'; '' if it says nothing."""
    return str((instance.get("StateReason") or {}).get("Message") or "")


def _tag(instance: Instance, key: str) -> str:
    return str(next(t["Value"] for t in instance.get("Tags", []) if t["Key"] == key))


def _address(instance: Instance) -> str | None:
    return instance.get("PrivateDnsName") or instance.get("PrivateIpAddress") or None


def _pick(broker_id: int, instances: list[Instance]) -> Instance:
    live = [i for i in instances if i["State"]["Name"] in _LIVE]
    if len(live) > 1:
        raise PermanentError(
            f"Broker {broker_id} has {len(live)} live instances ({', '.join(i['InstanceId'] for i in live)}); "
            "a broker id must run on one host only. Terminate the extra one(s) after checking which one is "
            "registered in ZooKeeper, then run again."
        )
    if live:
        return live[0]
    return max(instances, key=lambda i: str(i.get("LaunchTime", "")))
