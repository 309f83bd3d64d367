"""A real Kafka cluster as local processes, for tests and the demo: ZooKeeper mode or KRaft. This module
owns the lifecycle and the state file; the nodes (nodes.py), storage formatting (storage.py), readiness
probes (readiness.py), supervision of the JVMs as a group (supervision.py) and their configs (configs.py)
live beside it.

    cluster = SandboxCluster(workdir, brokers=[BrokerSpec(0, "a"), BrokerSpec(1, "b"), BrokerSpec(2, "c")])
    cluster.up()            # ZooKeeper, the chroot, brokers; returns once each serves metadata naming a controller
    ...
    cluster.down()

    kraft = SandboxCluster(workdir, [], metadata="kraft").up()   # no ZooKeeper; nodes come with add_broker
    kraft.add_broker(BrokerSpec(3000, config={"process.roles": "controller", ...}))

ZooKeeper listens on 127.0.0.1. Each broker listens on a loopback address of its own (derived from its
id, see ports.py) and all brokers on one port, `cluster.broker_port`, as a fleet of VMs does: DNS
records carry no port, so the DNS facade can lead clients to one broker only by its address.

KRaft nodes: a BrokerSpec whose config sets `process.roles` is a KRaft controller, broker or both, in
either mode (a ZooKeeper sandbox runs KRaft controllers for a migration). Its config says everything
KRaft needs (controller.quorum.voters, controller.listener.names, its listeners); the sandbox adds its
cluster-wide defaults, formats its log dirs with the sandbox's `cluster_id` before its first start, and
calls it ready when it listens on all its listeners and, with the broker role, is unfenced. A node whose
listeners do not use `{port}` (a controller on a port of its own) stays off the shared port. In the
`brokers` dict and the method names, "broker" means any node.

Layout of `workdir`: sandbox.json (pids and ports, so `SandboxCluster.load(workdir)` finds a running
cluster again from another process), log4j.properties, zookeeper/{zoo.cfg,data,zookeeper.log} (not in
KRaft mode) and broker-<id>/{server.properties,data,server.log} for every node, controllers included;
a KRaft node's server.log begins with the output of formatting its storage.

Clusters built in a process with `stop_at_exit=True` (the default) are stopped when that process
exits, so an interrupted test run leaves no JVM behind; `migrator sandbox up` passes False to leave
its cluster running.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

import yaml
from confluent_kafka.admin import AdminClient
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError
from kazoo.handlers.threading import KazooTimeoutError

from migrator.config import MigrationConfig
from migrator.errors import BadInput, MigratorError
from migrator.sandbox import configs
from migrator.sandbox.jars import classpath, require_java
from migrator.sandbox.nodes import (
    DEFAULT_BROKERS,
    BrokerProcess,
    BrokerSpec,
    SandboxError,
    SandboxProcess,
    ZooKeeperProcess,
)
from migrator.sandbox.ports import broker_host, free_port, free_shared_port, is_free
from migrator.sandbox.process import JvmProcess
from migrator.sandbox.readiness import broker_ready, zookeeper_serving
from migrator.sandbox.storage import format_storage, new_cluster_id
from migrator.sandbox.supervision import forget_at_exit, stop_all, stop_at_exit

STATE_FILE = "sandbox.json"
# 2: brokers on addresses of their own sharing `broker_port`; 1 had them on 127.0.0.1 with a port each.
_STATE_FORMAT = 2
_POLL_SECONDS = 0.2
# A broker SIGKILLed moments ago is still registered until ZooKeeper expires its session.
_DEREGISTER_TIMEOUT = 2 * configs.ZK_SESSION_TIMEOUT_MS / 1000 + 10
_PORT_TAKEN = "Address already in use"

Metadata = Literal["zookeeper", "kraft"]

log = logging.getLogger(__name__)
# kazoo warns on every dropped connection while processes come and go; shown only where the
# application configured logging.
log.addHandler(logging.NullHandler())


class SandboxCluster:
    def __init__(
        self,
        workdir: Path,
        brokers: Sequence[BrokerSpec] = DEFAULT_BROKERS,
        chroot: str = "/kafka",
        *,
        metadata: Metadata = "zookeeper",
        stop_at_exit: bool = True,
        startup_timeout: float = 120.0,
    ) -> None:
        """`metadata="kraft"`: a cluster without ZooKeeper, of KRaft nodes only, whose `cluster_id` is
        chosen here (`brokers` may be empty, its nodes added later). `chroot` applies to ZooKeeper mode."""
        if metadata not in ("zookeeper", "kraft"):
            raise ValueError(f"metadata must be 'zookeeper' or 'kraft', got {metadata!r}")
        if chroot and (not chroot.startswith("/") or chroot.endswith("/")):
            raise ValueError(f"chroot {chroot!r} must be '' or start with '/' and not end with '/'")
        ids = [spec.id for spec in brokers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"broker ids must be unique, got {ids}")
        self.workdir = Path(workdir).resolve()
        self.chroot = chroot
        self.metadata: Metadata = metadata
        self.stop_at_exit = stop_at_exit
        self.startup_timeout = startup_timeout
        self.zookeeper = ZooKeeperProcess(port=0, home=self.workdir / "zookeeper")
        self._broker_port = 0  # chosen by up()
        self.brokers: dict[int, BrokerProcess] = {}
        for spec in brokers:
            self.brokers[spec.id] = self._broker_process(spec)
        # Fixed when the cluster is created, so brokers added later get the same cluster-wide settings.
        self.broker_defaults: dict[str, object] = configs.broker_defaults(
            sum(1 for b in self.brokers.values() if b.is_broker)
        )
        # A ZooKeeper-mode cluster's id is made by its first broker; a KRaft cluster's is formatted into
        # its nodes' storage, so it must exist before any of them starts.
        self.cluster_id: str | None = new_cluster_id() if metadata == "kraft" else None
        self._zk: KazooClient | None = None
        self._runtime: tuple[str, str] | None = None  # java executable, classpath

    # -- connection details ------------------------------------------------------------------

    @property
    def zookeeper_hosts(self) -> str | None:
        """host:port of ZooKeeper; None in KRaft mode, which has none."""
        return self.zookeeper.address if self.metadata == "zookeeper" else None

    @property
    def zookeeper_connect(self) -> str | None:
        """ZooKeeper with the chroot, as brokers connect; None in KRaft mode."""
        hosts = self.zookeeper_hosts
        return None if hosts is None else hosts + self.chroot

    @property
    def bootstrap_servers(self) -> str:
        """The brokers' addresses (KRaft controllers serve no clients)."""
        return ",".join(broker.address for broker in self.brokers.values() if broker.is_broker)

    @property
    def broker_port(self) -> int:
        """The port every broker listens on, each on its own address (0 before the first up())."""
        return self._broker_port

    # -- whole cluster -----------------------------------------------------------------------

    def up(self) -> SandboxCluster:
        """Start ZooKeeper and create the chroot (ZooKeeper mode), start every node in parallel, and
        return once all are ready (module docstring) and, with ZooKeeper-mode brokers, a controller is
        elected. On failure everything started is stopped again."""
        alive = [p.name for p in self._processes() if p.running]
        if alive:
            raise BadInput(
                f"The sandbox in {self.workdir} is already running ({', '.join(alive)}). Use it as it is, "
                f"or stop it first with `migrator sandbox down --dir {self.workdir}`."
            )
        self._java_runtime()  # fail on a missing java/mvn before anything starts
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "log4j.properties").write_text(configs.LOG4J_PROPERTIES)
        if self.stop_at_exit:
            stop_at_exit(self)
        nodes = list(self.brokers.values())
        try:
            if self.metadata == "zookeeper":
                self._start_zookeeper()
                # Registrations of brokers stopped uncleanly in an earlier run outlive a ZooKeeper restart
                # until their sessions expire, and would make the new brokers fail with NodeExists.
                self._wait_deregistered(list(self.brokers))
                if self.cluster_id is None and any(b.kraft for b in nodes):
                    self.cluster_id = self._claim_zookeeper_cluster_id()
            self._claim_port(nodes)
            for node in nodes:
                self._launch(node)
            self._wait_ready(nodes)
            if self.metadata == "zookeeper" and any(not b.kraft for b in nodes):
                self._wait(
                    lambda: self._zk_client().exists(f"{self.chroot}/controller") is not None,
                    "a controller to be elected",
                    self._processes(),
                )
                self.cluster_id = self._read_cluster_id()
        except BaseException:
            self.down(grace=5)
            raise
        self.save_state()
        return self

    def down(self, grace: float = 30.0) -> None:
        """Stop every process: brokers first (SIGTERM, a controlled shutdown, all at once), then KRaft
        controllers, then ZooKeeper; whatever has not exited after `grace` seconds is SIGKILLed. Files stay."""
        try:
            running = [b for b in self.brokers.values() if b.running]
            # A KRaft broker's controlled shutdown goes through the controllers: they must outlive it.
            for group in ([b for b in running if b.is_broker], [b for b in running if not b.is_broker]):
                stop_all([b.process for b in group if b.process is not None], grace)
            self._close_zk()
            if self.zookeeper.running and self.zookeeper.process is not None:
                stop_all([self.zookeeper.process], min(grace, 10))
        finally:
            forget_at_exit(self)
            if (self.workdir / STATE_FILE).exists():
                self.save_state()

    # -- single brokers ----------------------------------------------------------------------

    def add_broker(self, spec: BrokerSpec, timeout: float | None = None) -> BrokerProcess:
        """Start a new broker or KRaft node (empty log dir, formatted first if KRaft) and wait until it
        is ready."""
        if spec.id in self.brokers:
            raise ValueError(f"broker {spec.id} is already part of this sandbox")
        broker = self._broker_process(spec)
        self._claim_port([broker])
        self.brokers[spec.id] = broker
        self._launch(broker)
        self.save_state()
        self._wait_ready([broker], timeout)
        return broker

    def stop_broker(self, broker_id: int, timeout: float = 60.0) -> None:
        """Controlled shutdown (SIGTERM); returns once the process exited and, in ZooKeeper mode,
        deregistered."""
        broker = self.brokers[broker_id]
        if broker.process is None or not broker.running:
            return
        clean = broker.process.stop(grace=timeout)
        self.save_state()
        if not clean:
            raise SandboxError(
                f"Broker {broker_id} did not finish its controlled shutdown within {timeout:.0f} s and was "
                f"killed. Last lines of {broker.log_path}:\n{broker.process.log_tail()}"
            )
        self._wait_deregistered([broker_id])

    def kill_broker(self, broker_id: int) -> None:
        """SIGKILL, like a VM losing power. A ZooKeeper-mode broker's registration stays until its
        session expires (zookeeper.session.timeout.ms); KRaft controllers fence a broker once its
        heartbeats stop for broker.session.timeout.ms."""
        broker = self.brokers[broker_id]
        if broker.process is not None:
            broker.process.kill()
        self.save_state()

    def start_broker(self, broker_id: int, timeout: float | None = None) -> BrokerProcess:
        """Restart a stopped or killed broker with its data dir (a KRaft node's stays formatted);
        waits until it is ready."""
        broker = self.brokers[broker_id]
        if broker.running:
            return broker
        self._wait_deregistered([broker_id])
        self._claim_port([broker])
        self._launch(broker)
        self.save_state()
        self._wait_ready([broker], timeout)
        return broker

    # -- files -------------------------------------------------------------------------------

    def write_migration_config(self, path: Path, migration_id: str = "sandbox") -> Path:
        """A migration.yaml for this cluster (checkpoints in `.migrator` beside it)."""
        if self.metadata == "kraft":
            raise MigratorError(
                f"The sandbox in {self.workdir} runs in KRaft mode, without ZooKeeper; a migration.yaml describes "
                "a ZooKeeper-mode cluster to migrate, so there is none to write for it."
            )
        if self.cluster_id is None:
            raise MigratorError("The sandbox has no cluster id yet; call up() before writing its config.")
        path = Path(path).resolve()
        data = {
            "migration_id": migration_id,
            "cluster": {
                "zookeeper_connect": self.zookeeper_connect,
                "bootstrap_servers": self.bootstrap_servers,
                "cluster_id": self.cluster_id,
            },
            "checkpoint": {"store": "local", "path": str(path.parent / ".migrator")},
        }
        MigrationConfig.model_validate(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def state(self) -> dict[str, object]:
        """What sandbox.json records."""
        return {
            "format": _STATE_FORMAT,
            "metadata": self.metadata,
            "chroot": self.chroot,
            "cluster_id": self.cluster_id,
            "broker_defaults": self.broker_defaults,
            "zookeeper": {"port": self.zookeeper.port, "pid": _live_pid(self.zookeeper)},
            "broker_port": self.broker_port,
            "brokers": [
                {
                    "id": b.id,
                    "rack": b.spec.rack,
                    "config": dict(b.spec.config),
                    "host": b.host,  # for readers of the file: load() derives it from the id
                    "pid": _live_pid(b),
                }
                for b in self.brokers.values()
            ],
        }

    def save_state(self) -> None:
        path = self.workdir / STATE_FILE
        scratch = path.with_suffix(".json.tmp")
        scratch.write_text(json.dumps(self.state(), indent=2) + "\n")
        os.replace(scratch, path)

    @classmethod
    def load(cls, workdir: Path, *, stop_at_exit: bool = False) -> SandboxCluster:
        """The cluster recorded in `workdir`/sandbox.json, with handles on its processes if they run."""
        workdir = Path(workdir).resolve()
        try:
            state = json.loads((workdir / STATE_FILE).read_text())
        except FileNotFoundError:
            raise BadInput(
                f"There is no sandbox in {workdir} ({STATE_FILE} is missing). Start one with "
                f"`migrator sandbox up --dir {workdir}`, or pass the --dir it was started with."
            ) from None
        except json.JSONDecodeError as exc:
            raise BadInput(
                f"{workdir / STATE_FILE} is not valid JSON ({exc}); it was not written by this tool or was "
                "damaged. Stop any sandbox processes by hand and delete the folder."
            ) from None
        if state.get("format") != _STATE_FORMAT:
            raise BadInput(
                f"{workdir / STATE_FILE} has format {state.get('format')!r}, this migrator reads "
                f"{_STATE_FORMAT} (every broker on its own loopback address, all on one port). Stop and delete "
                f"that sandbox with the migrator version that started it (`migrator sandbox down --purge --dir "
                f"{workdir}`), then start a new one with this version."
            )
        specs = [BrokerSpec(b["id"], b["rack"], b["config"]) for b in state["brokers"]]
        # Files written before KRaft nodes existed have no "metadata": ZooKeeper mode.
        metadata = state.get("metadata", "zookeeper")
        cluster = cls(workdir, specs, state["chroot"], metadata=metadata, stop_at_exit=stop_at_exit)
        cluster.broker_defaults = state["broker_defaults"]
        cluster.cluster_id = state["cluster_id"]
        cluster.zookeeper.port = state["zookeeper"]["port"]
        cluster._attach(cluster.zookeeper, state["zookeeper"]["pid"])
        cluster._use_broker_port(state["broker_port"])
        for record in state["brokers"]:
            cluster._attach(cluster.brokers[record["id"]], record["pid"])
        if stop_at_exit:
            stop_at_exit(cluster)
        return cluster

    # -- internals ---------------------------------------------------------------------------

    def _broker_process(self, spec: BrokerSpec) -> BrokerProcess:
        broker_host(spec.id)  # an id outside the address scheme fails here, before anything starts
        if self.metadata == "kraft" and not configs.process_roles(spec.config):
            raise ValueError(
                f"broker {spec.id} has no process.roles: a KRaft sandbox runs KRaft nodes only (it has no "
                "ZooKeeper to register a ZooKeeper-mode broker)"
            )
        return BrokerProcess(port=self.broker_port, home=self.workdir / f"broker-{spec.id}", spec=spec)

    def _processes(self) -> list[SandboxProcess]:
        nodes: list[SandboxProcess] = list(self.brokers.values())
        return [self.zookeeper, *nodes] if self.metadata == "zookeeper" else nodes

    def _use_broker_port(self, port: int, starting: Sequence[BrokerProcess] = ()) -> None:
        self._broker_port = port
        for broker in (*self.brokers.values(), *starting):
            broker.port = port

    def _claim_port(self, starting: Sequence[BrokerProcess]) -> None:
        """Make sure every broker in `starting` can bind `broker_port`, choosing a new one (free on every
        broker's address) when needed. The brokers share it, so it can move only while no other broker runs.
        Nodes with ports of their own (`on_shared_port` False) neither need it nor hold it in place."""
        sharing = [b for b in starting if b.on_shared_port]
        taken = [b for b in sharing if not (self.broker_port and is_free(self.broker_port, b.host))]
        if not taken:
            return
        serving = self._serving_besides(sharing)
        if serving:
            raise self._port_taken(taken[0], serving)
        hosts = list(dict.fromkeys(b.host for b in (*self.brokers.values(), *sharing) if b.on_shared_port))
        try:
            port = free_shared_port(hosts)
        except OSError as error:
            raise SandboxError(f"No port is free on every broker address of the sandbox: {error}.") from None
        self._use_broker_port(port, starting)

    def _serving_besides(self, starting: Sequence[BrokerProcess]) -> list[BrokerProcess]:
        return [b for b in self.brokers.values() if b.running and b.on_shared_port and b not in starting]

    def _port_taken(self, broker: BrokerProcess, serving: Sequence[BrokerProcess]) -> SandboxError:
        port = self.broker_port
        return SandboxError(
            f"Broker {broker.id} cannot listen on {broker.address}: another program holds port {port} on that "
            f"address or on all addresses (0.0.0.0). The brokers of a sandbox share one port, each on its own "
            f"address (DNS records carry no port), and broker(s) {', '.join(str(b.id) for b in serving)} already "
            f"serve on {port}, so it cannot move. Stop the program holding it (`ss -ltnp 'sport = :{port}'` "
            f"names it) and start broker {broker.id} again."
        )

    def _attach(self, node: SandboxProcess, pid: int | None) -> None:
        if pid is not None:
            node.process = JvmProcess.attach(pid, str(node.config_path), node.log_path)

    def _start_zookeeper(self) -> None:
        zk = self.zookeeper
        zk.port = free_port()
        self._launch(zk)
        self._wait(lambda: zookeeper_serving(zk.port), "ZooKeeper to serve requests", [zk])
        if self.chroot:
            self._zk_client().ensure_path(self.chroot)

    def _write_zookeeper_config(self) -> None:
        zk = self.zookeeper
        zk.data_dir.mkdir(parents=True, exist_ok=True)
        zk.config_path.write_text(
            configs.render_properties(configs.zookeeper_config(data_dir=zk.data_dir, port=zk.port))
        )

    def _broker_config(self, broker: BrokerProcess) -> dict[str, object]:
        """Its server.properties as they are written at its next launch."""
        return configs.broker_config(
            broker_id=broker.id,
            rack=broker.spec.rack,
            host=broker.host,
            port=broker.port,
            zookeeper_connect=self.zookeeper_connect,
            data_dir=broker.data_dir,
            defaults=self.broker_defaults,
            overrides=broker.spec.config,
        )

    def _java_runtime(self) -> tuple[str, str]:
        if self._runtime is None:
            self._runtime = (require_java(), classpath())
        return self._runtime

    def _launch(self, node: SandboxProcess) -> None:
        """Write the node's config (its port may have moved since the last run), format a KRaft node's
        storage if it is new, and start it."""
        assert isinstance(node, (ZooKeeperProcess, BrokerProcess))
        java, jars = self._java_runtime()
        node.home.mkdir(parents=True, exist_ok=True)
        if isinstance(node, BrokerProcess):
            node.data_dir.mkdir(parents=True, exist_ok=True)
            config = self._broker_config(node)
            node.config_path.write_text(configs.render_properties(config))
            if node.kraft:
                format_storage(node, config, self.cluster_id, java, jars, self.workdir / "log4j.properties")
        else:
            self._write_zookeeper_config()
        node.process = JvmProcess.launch(
            java=java,
            classpath=jars,
            main_class=node.main_class,
            config_path=node.config_path,
            heap=node.heap,
            log4j_config=self.workdir / "log4j.properties",
            log_path=node.log_path,
        )

    def _claim_zookeeper_cluster_id(self) -> str:
        """The id in ZooKeeper, written now if no broker has made one yet: KRaft nodes that join a
        ZooKeeper-mode cluster (for a migration) are formatted with the id its brokers will use."""
        path = f"{self.chroot}/cluster/id"
        cluster_id = new_cluster_id()
        try:
            self._zk_client().create(path, json.dumps({"version": "1", "id": cluster_id}).encode(), makepath=True)
        except NodeExistsError:
            return self._read_cluster_id()
        return cluster_id

    def _wait_ready(self, brokers: list[BrokerProcess], timeout: float | None = None) -> None:
        admins: dict[tuple[str, int], AdminClient] = {}

        def ready(broker: BrokerProcess) -> bool:
            # The config afresh: the shared port may move while we wait.
            return broker_ready(broker, self._broker_config(broker), self._zk_client, self.chroot, admins)

        names = ", ".join(str(b.id) for b in brokers)
        watched: list[SandboxProcess] = [*brokers]
        if self.metadata == "zookeeper":
            watched.insert(0, self.zookeeper)
        self._wait(lambda: all(ready(b) for b in brokers), f"broker(s) {names} to be ready", watched, timeout)
        self.save_state()

    def _wait_deregistered(self, broker_ids: Iterable[int]) -> None:
        # KRaft nodes keep no registration in ZooKeeper, and a KRaft sandbox has none.
        paths = [f"{self.chroot}/brokers/ids/{i}" for i in broker_ids if not self.brokers[i].kraft]
        self._wait(
            lambda: all(self._zk_client().exists(p) is None for p in paths),
            f"{', '.join(paths)} to disappear (ZooKeeper session expiry)",
            [],
            _DEREGISTER_TIMEOUT,
        )

    def _wait(
        self,
        condition: Callable[[], bool],
        what: str,
        watched: Sequence[SandboxProcess],
        timeout: float | None = None,
    ) -> None:
        """Poll `condition` until true. Fail fast, quoting its log, if a watched process exits; if one
        lost the race for its port (another program bound it between our check and its start), they
        are relaunched once on a new port (see `_move_port`)."""
        timeout = self.startup_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        relaunched = False
        while True:
            try:
                if condition():
                    return
            except (KazooException, KazooTimeoutError):
                pass  # ZooKeeper not reachable yet: keep polling
            for node in watched:
                if node.running or node.process is None:
                    continue
                log_tail = node.process.log_tail()
                movable = not isinstance(node, BrokerProcess) or node.on_shared_port
                if _PORT_TAKEN in log_tail and movable and not relaunched:
                    relaunched = True
                    self._move_port(node, watched)
                    continue
                raise SandboxError(
                    f"{node.name} (pid {node.pid}) exited while waiting for {what}. "
                    f"Last lines of {node.log_path}:\n{log_tail}"
                )
            if time.monotonic() >= deadline:
                details = "".join(
                    f"\n--- last lines of {node.log_path} ---\n{node.process.log_tail(15)}"
                    for node in watched
                    if node.process is not None
                )
                raise SandboxError(f"Timed out after {timeout:.0f} s waiting for {what}.{details}")
            time.sleep(_POLL_SECONDS)

    def _move_port(self, node: SandboxProcess, watched: Sequence[SandboxProcess]) -> None:
        """Relaunch `node`, which found its port taken, on a new one. A broker's port is the cluster's:
        it moves only when no broker outside this start-up runs, and all brokers starting on it move too."""
        if isinstance(node, ZooKeeperProcess):
            node.port = free_port()
            self._launch(node)
            return
        assert isinstance(node, BrokerProcess)
        starting = [b for b in watched if isinstance(b, BrokerProcess) and b.on_shared_port]
        serving = self._serving_besides(starting)
        if serving:
            raise self._port_taken(node, serving)
        # None of them serves clients yet, and their registrations must go before they start again.
        stop_all([b.process for b in starting if b.process is not None], grace=10)
        self._wait_deregistered([b.id for b in starting])
        self._claim_port(starting)
        for broker in starting:
            self._launch(broker)

    def _zk_client(self) -> KazooClient:
        assert self.zookeeper_hosts is not None, "a KRaft sandbox has no ZooKeeper"
        if self._zk is None:
            client = KazooClient(hosts=self.zookeeper_hosts, timeout=10.0, logger=log)
            try:
                client.start(timeout=10)
            except KazooTimeoutError:
                client.close()
                raise
            self._zk = client
        return self._zk

    def _close_zk(self) -> None:
        if self._zk is not None:
            self._zk.stop()
            self._zk.close()
            self._zk = None

    def _read_cluster_id(self) -> str:
        raw, _ = self._zk_client().get(f"{self.chroot}/cluster/id")
        return str(json.loads(raw)["id"])


def _live_pid(node: SandboxProcess) -> int | None:
    return node.pid if node.running else None


