"""The Cruise Control test double: an HTTP server serving the subset of Cruise Control 2.5.143's REST API
the migrator calls, every request and response judged by the published OpenAPI description (spec.py).

    double = CruiseControlDouble(config)      # config: MigrationConfig of a sandbox
    double.start(); double.url                # http://127.0.0.1:<port>  (+ /kafkacruisecontrol/...)
    double.restart()                          # a crash: the executor and every user task are forgotten
    double.stop()
    assert double.violations == []            # responses the spec forbids (the double's own bugs)
    double.rejected                           # requests refused because the spec forbids them

Modelled on Cruise Control's sources (tag 2.5.143), never on our client:
- Endpoints: GET `state` (substates executor, monitor), GET `kafka_cluster_state`, GET `user_tasks`,
  POST `remove_broker`, POST `demote_broker`, POST `stop_proposal_execution`. Anything else is
  answered 404, as it is not served here.
- Async requests (`state`, `remove_broker`, `demote_broker`; AbstractAsyncRequest) run as user tasks:
  the answer waits up to `max_block_seconds` (webserver.request.maxBlockTimeMs), else it is 202 with a
  ProgressResult; the `User-Task-ID` header names the task on every answer. Sending the same request
  with that header fetches it; an id unknown for that request is an error
  (UserTaskManager.getOrCreateUserTask -> ensureHeaderNotPresent). At most `max_active_user_tasks`
  (max.active.user.tasks, default 5) tasks may be active.
- An execution (POST with dryrun=false) is refused while one runs ("Cannot start a new execution
  while there is an ongoing execution...") or while Kafka lists reassignments it did not start
  ("...initiated by external agent"), as KafkaCruiseControl.sanityCheckDryRun does. Its user task is
  InExecution while the executor runs, then Completed (or CompletedWithError).
- Errors are ErrorResponse JSON: 400 for a bad request, 500 "Error processing <METHOD> request
  '<path>' due to: '<exception>: <message>'" for a failed operation (KafkaCruiseControlServletUtils).
- Executor state fields are those of ExecutorState.getJsonStructure for each state; data figures in
  MB, counted per finished partition, as Cruise Control does.
- The metric windows: until `windows_ready_after_seconds` have passed since start, a proposal fails
  with NotEnoughValidWindowsException, as a freshly started Cruise Control does.
- Proposals are the double's own deterministic drain (proposals.py), NOT Cruise Control's goals.
- Executing moves the data for real, on the sandbox, through the migrator's native executor
  (KIP-455 reassignments, throttles, preferred leader election).
- `restart()` is a crash: the executor thread dies where it is (reassignments already submitted go
  on in Kafka, its throttles stay), and the new process knows no task: NO_TASK_IN_PROGRESS and an
  empty `user_tasks`, as Cruise Control after a restart (CC #233).
- Two-step verification (the purgatory, `review`, `review_board`) is not modelled: the description
  gives remove_broker no review answer to validate against.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from migrator.clients.kafka import KafkaAdmin
from migrator.clients.zk import ZooKeeper
from migrator.config import MigrationConfig
from migrator.engine.events import EventBus
from migrator.movers.executor import Executor, MovePaused
from migrator.movers.cruise_control_memory import reassignment_plan
from migrator.movers.plan import MovePlan
from migrator.movers.settings import MovementConfig
from tests.cruise_control_double import proposals as drains
from tests.cruise_control_double.spec import SpecViolation, check_request, check_response, openapi

PREFIX = "/kafkacruisecontrol/"
USER_TASK_HEADER = "User-Task-ID"
ASYNC = {"state", "remove_broker", "demote_broker"}
MB = 1024 * 1024
#: Without replication_throttle Cruise Control sets no throttle; the native executor always sets one,
#: so the double's "none" is a rate no sandbox link reaches.
NO_THROTTLE = 10_000_000_000


class UserRequestError(Exception):
    """Cruise Control's UserRequestException: HTTP 400."""


class _Crashed(BaseException):
    """Raised inside the executor thread when the double 'crashes'."""


@dataclass
class UserTask:
    id: str
    method: str
    path: str
    params: dict[str, list[str]]
    client: str
    start_ms: int
    future: Future[dict[str, Any]]
    status: str = "Active"  # Active, InExecution, Completed, CompletedWithError

    @property
    def request_url(self) -> str:
        query = urlencode([(k, v) for k, vs in sorted(self.params.items()) for v in vs])
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")


@dataclass
class Execution:
    """What the executor runs: the proposals of one request, and the thread moving them."""

    task_id: str
    kind: str  # "replica" or "leader"
    proposals: dict[tuple[str, int], tuple[tuple[int, ...], tuple[int, ...]]]  # key -> (old, new)
    sizes: dict[tuple[str, int], int]
    reason: str
    thread: threading.Thread | None = None
    stopping: bool = False
    outcome: str | None = None  # None while running; "completed", "stopped", "failed: ..."
    memory: dict[str, Any] = field(default_factory=dict)


class _Process:
    """One 'process' of the double: its user tasks and executor. A restart replaces it."""

    def __init__(self) -> None:
        self.tasks: dict[str, UserTask] = {}
        self.execution: Execution | None = None
        self.recently_removed: set[int] = set()
        self.recently_demoted: set[int] = set()
        self.crashed = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cc-double-task")
        self.started = time.monotonic()
        self.lock = threading.RLock()


class CruiseControlDouble:
    def __init__(
        self,
        config: MigrationConfig,
        *,
        max_block_seconds: float = 0.5,
        progress_check_interval_seconds: float = 0.5,
        proposal_delay_seconds: float = 0.0,
        windows_ready_after_seconds: float = 0.0,
        max_active_user_tasks: int = 5,
        host: str = "127.0.0.1",
    ) -> None:
        self.config = config
        self.max_block_seconds = max_block_seconds
        self.progress_check_interval_seconds = progress_check_interval_seconds
        self.proposal_delay_seconds = proposal_delay_seconds
        self.windows_ready_after_seconds = windows_ready_after_seconds
        self.max_active_user_tasks = max_active_user_tasks
        self.host = host
        self.port = 0
        self.violations: list[str] = []
        self.rejected: list[str] = []
        self.requests: list[str] = []
        self.executions_started = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._process = _Process()
        self._admin = _Serialised(KafkaAdmin(config.cluster))
        self._zk_session: ZooKeeper | None = None

    # ------------------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def _zk(self) -> ZooKeeper:
        """Opened on first use, so the endpoints that need no cluster answer without one."""
        if self._zk_session is None:
            session = ZooKeeper.from_config(self.config.cluster)
            session.open()
            self._zk_session = session
        return self._zk_session

    def start(self) -> CruiseControlDouble:
        openapi()  # a missing description fails here, with its path, rather than as a 500 per request
        self._server = make_server(self.host, self.port, self._wsgi, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="cc-double-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._kill_process()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._zk_session is not None:
            self._zk_session.close()
            self._zk_session = None
        self._admin.close()

    def restart(self) -> None:
        """A crash and a start: everything the process knew is gone. The listening socket is kept (a
        new one on the same port can fail to bind while the old one's connections linger), so the
        restart looks instantaneous from outside."""
        self._kill_process()
        self._process = _Process()

    def _kill_process(self) -> None:
        process = self._process
        process.crashed.set()
        execution = process.execution
        if execution is not None and execution.thread is not None:
            execution.thread.join(timeout=30)
        process.pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> CruiseControlDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ HTTP

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        self.requests.append(f"{request.method} {request.full_path}")
        if not request.path.startswith(PREFIX):
            return Response("not found", 404)
        endpoint = request.path[len(PREFIX) :].strip("/")
        try:
            params = check_request(request)
        except SpecViolation as exc:
            self.rejected.append(f"{request.method} {request.full_path}: {exc}")
            return self._error(request, 400, f"Bad {request.method} request '/{endpoint}' due to '{exc}'.", exc)
        handler = getattr(self, f"_{request.method.lower()}_{endpoint}", None)
        if handler is None:
            return self._error(request, 404, f"{request.method} /{endpoint} is not served by the test double.", None)
        try:
            if endpoint in ASYNC:
                status, body, task_id = self._async(request, endpoint, lambda task_id: handler(params, task_id))
            else:
                status, body, task_id = 200, handler(params), None
            response = Response(json.dumps(body), status, content_type="application/json")
            if task_id:
                response.headers[USER_TASK_HEADER] = task_id
        except UserRequestError as exc:
            response = self._error(request, 400, f"Bad {request.method} request '/{endpoint}' due to '{exc}'.", exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes Cruise Control's 500 answer
            # Like e.getMessage(): an ExecutionException's message is its cause's class and message.
            response = self._error(
                request, 500, f"Error processing {request.method} request '/{endpoint}' due to: '{exc}'.", exc
            )
        try:
            check_response(request, response)
        except SpecViolation as exc:
            self.violations.append(f"{request.method} {request.full_path} -> {response.status_code}: {exc}")
            return self._error(request, 500, f"the test double answered against the spec: {exc}", None)
        return response

    @staticmethod
    def _error(request: Request, status: int, message: str, exc: BaseException | None) -> Response:
        trace = "".join(traceback.format_exception(exc)) if exc is not None else ""
        body = {"version": 1, "stackTrace": trace, "errorMessage": message}
        return Response(json.dumps(body), status, content_type="application/json")

    def _async(
        self, request: Request, endpoint: str, operation: Callable[[str], dict[str, Any]]
    ) -> tuple[int, dict[str, Any], str]:
        process = self._process
        params = {k: request.args.getlist(k) for k in request.args}
        wanted = request.headers.get(USER_TASK_HEADER)
        with process.lock:
            if wanted:
                task = process.tasks.get(wanted)
                if task is None or task.path != request.path or task.method != request.method or task.params != params:
                    raise ValueError(f"Unexpected header {wanted} (value: {USER_TASK_HEADER}) in the request.")
            else:
                active = [t for t in process.tasks.values() if t.status == "Active"]
                if len(active) >= self.max_active_user_tasks:
                    raise RuntimeError(
                        f"There are already {len(active)} active user tasks, which has reached the servlet capacity."
                    )
                task_id = str(uuid.uuid4())
                task = UserTask(
                    task_id,
                    request.method,
                    request.path,
                    params,
                    request.remote_addr or "",
                    int(time.time() * 1000),
                    process.pool.submit(self._run_task, process, task_id, operation),
                )
                process.tasks[task_id] = task
        try:
            body = task.future.result(timeout=self.max_block_seconds)
        except FutureTimeout:
            return 202, _progress(endpoint, task), task.id
        except UserRequestError:
            raise  # Cruise Control finds these while parsing the parameters, before any task runs
        except Exception as exc:
            raise ExecutionFailed(exc) from exc
        return 200, body, task.id

    def _run_task(self, process: _Process, task_id: str, operation: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        try:
            body = operation(task_id)
        except BaseException:
            with process.lock:
                process.tasks[task_id].status = "CompletedWithError"
            raise
        with process.lock:
            task = process.tasks[task_id]
            if task.status == "Active":
                task.status = "Completed"
        return body

    # ------------------------------------------------------------------------------ reads

    def _get_state(self, params: dict[str, Any], task_id: str) -> dict[str, Any]:
        substates = set(params.get("substates") or ())
        if not substates or substates - {"executor", "monitor"}:
            raise UserRequestError(
                "the test double serves the executor and monitor substates only; ask for substates=executor"
            )
        body: dict[str, Any] = {"version": 1}
        if "executor" in substates:
            body["ExecutorState"] = self._executor_state()
        if "monitor" in substates:
            ready = self._windows_ready()
            body["MonitorState"] = {
                "state": "RUNNING",
                "trained": ready,
                "trainingPct": 100.0 if ready else 0.0,
                "numMonitoredWindows": 5 if ready else 0,
                "numValidPartitions": 0,
                "numTotalPartitions": 0,
                "monitoringCoveragePct": 100.0 if ready else 0.0,
                "numFlawedPartitions": 0,
            }
        return body

    def _executor_state(self) -> dict[str, Any]:
        process = self._process
        state: dict[str, Any] = {}
        if process.recently_removed:
            state["recentlyRemovedBrokers"] = sorted(process.recently_removed)
        if process.recently_demoted:
            state["recentlyDemotedBrokers"] = sorted(process.recently_demoted)
        execution = process.execution
        if execution is None or execution.outcome is not None:
            return {"state": "NO_TASK_IN_PROGRESS", **state}
        common = {"triggeredUserTaskId": execution.task_id, "triggeredSelfHealingTaskId": "", "triggeredTaskReason": execution.reason}
        if execution.kind == "leader":
            done = self._finished(execution)
            total = len(execution.proposals)
            return {
                "state": "STOPPING_EXECUTION" if execution.stopping else "LEADER_MOVEMENT_TASK_IN_PROGRESS",
                **common,
                **state,
                "numTotalLeadershipMovements": total,
                "numPendingLeadershipMovements": total - len(done),
                "numFinishedLeadershipMovements": len(done),
                "maximumBrokerLeaderMovementConcurrency": 250,
                "minimumBrokerLeaderMovementConcurrency": 250,
                "averageBrokerLeaderMovementConcurrency": 250,
                "clusterLeaderMovementConcurrency": 1000,
            }
        done = self._finished(execution)
        in_flight = set(self._admin.list_partition_reassignments()) & set(execution.proposals)
        total = len(execution.proposals)
        concurrency = execution.memory.get("concurrency", 5)
        body = {
            "state": "STOPPING_EXECUTION" if execution.stopping else "INTER_BROKER_REPLICA_MOVEMENT_TASK_IN_PROGRESS",
            **common,
            **state,
            "maximumConcurrentPartitionMovementsPerBroker": concurrency,
            "minimumConcurrentPartitionMovementsPerBroker": concurrency,
            "averageConcurrentPartitionMovementsPerBroker": concurrency,
            "numInProgressPartitionMovements": len(in_flight - done),
            "abortingPartitions": 0,
        }
        if execution.stopping:
            body["numCancelledPartitionMovements"] = total - len(done) - len(in_flight - done)
            return body
        body.update(
            {
                "numPendingPartitionMovements": total - len(done) - len(in_flight - done),
                "numFinishedPartitionMovements": len(done),
                "numTotalPartitionMovements": total,
                "finishedDataMovement": sum(execution.sizes.get(k, 0) for k in done) // MB,
                "totalDataToMove": sum(execution.sizes.values()) // MB,
            }
        )
        return body

    def _finished(self, execution: Execution) -> set[tuple[str, int]]:
        """Partitions at their new replicas with nothing in flight: Cruise Control counts only these."""
        current = self._assignment(sorted({t for t, _ in execution.proposals}))
        in_flight = set(self._admin.list_partition_reassignments())
        return {k for k, (_, new) in execution.proposals.items() if current.get(k) == new and k not in in_flight}

    def _get_kafka_cluster_state(self, params: dict[str, Any]) -> dict[str, Any]:
        brokers = sorted(self._zk.broker_ids())
        assignment = self._assignment()
        states = self._zk.partition_states(list(assignment))
        configs = self._admin.topic_configs(sorted({t for t, _ in assignment}))
        leaders = {b: 0 for b in brokers}
        replicas_of = {b: 0 for b in brokers}
        out_of_sync = {b: 0 for b in brokers}
        offline_of = {b: 0 for b in brokers}
        groups: dict[str, list[dict[str, Any]]] = {"offline": [], "with-offline-replicas": [], "urp": [], "under-min-isr": []}
        other: list[dict[str, Any]] = []
        for (topic, partition), replicas in sorted(assignment.items()):
            st = states.get((topic, partition)) or {}
            isr = list(st.get("isr", []))
            leader = int(st.get("leader", -1))
            offline = [b for b in replicas if b not in brokers]
            entry = {
                "topic": topic,
                "partition": partition,
                "leader": leader,
                "replicas": list(replicas),
                "in-sync": isr,
                "out-of-sync": [b for b in replicas if b not in isr],
                "offline": offline,
                "min-isr": int((configs.get(topic, {}).get("min.insync.replicas") or _Value("1")).value or 1),
            }
            if leader in leaders:
                leaders[leader] += 1
            for b in replicas:
                if b in replicas_of:
                    replicas_of[b] += 1
                    out_of_sync[b] += b not in isr
                else:
                    offline_of[b] = offline_of.get(b, 0) + 1
            if leader < 0:
                groups["offline"].append(entry)
            elif offline:
                groups["with-offline-replicas"].append(entry)
            elif len(isr) < len(replicas):
                groups["urp"].append(entry)
            elif len(isr) < entry["min-isr"]:
                groups["under-min-isr"].append(entry)
            else:
                other.append(entry)
        if params.get("verbose"):
            groups["other"] = other
        controller = (self._zk.controller() or {}).get("brokerid")
        n = max(1, len(brokers))
        total_replicas = sum(len(r) for r in assignment.values())
        summary = {
            "Brokers": len(brokers),
            "Topics": len({t for t, _ in assignment}),
            "Replicas": total_replicas,
            "Leaders": sum(leaders.values()),
            "AvgReplicationFactor": total_replicas / max(1, len(assignment)),
            "AvgReplicasPerBroker": total_replicas / n,
            "AvgLeadersPerBroker": sum(leaders.values()) / n,
            "MaxReplicasPerBroker": max(replicas_of.values(), default=0),
            "MaxLeadersPerBroker": max(leaders.values(), default=0),
            "StdReplicasPerBroker": int(_std(list(replicas_of.values()))),
            "StdLeadersPerBroker": int(_std(list(leaders.values()))),
        }
        return {
            "KafkaBrokerState": {
                "LeaderCountByBrokerId": {str(b): n for b, n in leaders.items()},
                "OutOfSyncCountByBrokerId": {str(b): n for b, n in out_of_sync.items()},
                "ReplicaCountByBrokerId": {str(b): n for b, n in replicas_of.items()},
                "OfflineReplicaCountByBrokerId": {str(b): n for b, n in offline_of.items()},
                "IsController": {str(b): b == controller for b in brokers},
                "OnlineLogDirsByBrokerId": {str(b): [] for b in brokers},
                "OfflineLogDirsByBrokerId": {str(b): [] for b in brokers},
                "BrokerSetByBrokerId": {},
                "Summary": summary,
            },
            "KafkaPartitionState": groups,
            "version": 1,
        }

    def _get_user_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        process = self._process
        wanted = {i.strip() for i in (params.get("user_task_ids") or "").split(",") if i.strip()}
        types = {t.strip().upper() for t in (params.get("types") or "").split(",") if t.strip()}
        type_of = {"Active": "ACTIVE", "InExecution": "IN_EXECUTION", "Completed": "COMPLETED", "CompletedWithError": "COMPLETED_WITH_ERROR"}
        with process.lock:
            tasks = [
                {
                    "UserTaskId": t.id,
                    "RequestURL": t.request_url,
                    "ClientIdentity": t.client,
                    "StartMs": str(t.start_ms),
                    "Status": t.status,
                }
                for t in process.tasks.values()
                if (not wanted or t.id in wanted) and (not types or type_of[t.status] in types)
            ]
        return {"userTasks": tasks, "version": 1}

    # ------------------------------------------------------------------------------ writes

    def _post_remove_broker(self, params: dict[str, Any], task_id: str) -> dict[str, Any]:
        removed = set(params["brokerid"])
        destinations = set(params.get("destination_broker_ids") or ())
        if destinations & removed:
            raise UserRequestError("No overlap is allowed between the specified destination broker ids and broker ids")
        live = set(self._zk.broker_ids())
        if unknown := sorted((removed | destinations) - live - removed):
            raise UserRequestError(f"Brokers {unknown} are not alive in the cluster")
        return self._optimize(params, task_id, "replica", lambda a: drains.drain(a, removed, live, destinations), removed)

    def _post_demote_broker(self, params: dict[str, Any], task_id: str) -> dict[str, Any]:
        demoted = set(params["brokerid"])
        return self._optimize(params, task_id, "leader", lambda a: drains.demote(a, demoted), demoted)

    def _post_stop_proposal_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        execution = self._process.execution
        if execution is not None and execution.outcome is None:
            execution.stopping = True
        elif params.get("stop_external_agent", True):
            listed = self._admin.list_partition_reassignments()
            if listed:
                self._admin.alter_partition_reassignments({k: None for k in listed})
        return {"version": 1, "message": "Proposal execution stopped."}

    def _optimize(
        self,
        params: dict[str, Any],
        task_id: str,
        kind: str,
        propose: Callable[[dict[tuple[str, int], tuple[int, ...]]], dict[tuple[str, int], tuple[int, ...]]],
        brokers: set[int],
    ) -> dict[str, Any]:
        process = self._process
        dryrun = params.get("dryrun", True)
        if self.proposal_delay_seconds:
            time.sleep(self.proposal_delay_seconds)
        if not self._windows_ready():
            raise NotEnoughValidWindows(
                "There are only 0 valid windows when aggregating in range [-1, "
                f"{int(time.time() * 1000)}] for aggregation options (minValidEntityRatio=0.95, minValidWindows=1)"
            )
        if not dryrun:
            self._sanity_check_execution(process)
        assignment = self._assignment()
        try:
            moved = propose(assignment)
        except drains.ProposalError as exc:
            raise OptimizationFailure(str(exc)) from exc
        sizes = self._sizes(moved) if kind == "replica" else {}
        body = _optimization_result(assignment, moved, sizes, bool(params.get("verbose")), self._zk.broker_ids())
        if not dryrun:
            self._execute(process, task_id, kind, {k: (assignment[k], v) for k, v in moved.items()}, sizes, params)
            (process.recently_removed if kind == "replica" else process.recently_demoted).update(brokers)
        return body

    def _sanity_check_execution(self, process: _Process) -> None:
        execution = process.execution
        if execution is not None and execution.outcome is None:
            raise IllegalState(
                "Cannot start a new execution while there is an ongoing execution. "
                "Please use stop_ongoing_execution=true to stop ongoing execution and start a new one."
            )
        listed = self._admin.list_partition_reassignments()
        if listed:
            names = ", ".join(f"{t}-{p}" for t, p in sorted(listed))
            raise IllegalState(
                f"Cannot execute new proposals while there are ongoing partition reassignments initiated by external agent: [{names}]"
            )

    def _execute(
        self,
        process: _Process,
        task_id: str,
        kind: str,
        proposals: dict[tuple[str, int], tuple[tuple[int, ...], tuple[int, ...]]],
        sizes: dict[tuple[str, int], int],
        params: dict[str, Any],
    ) -> None:
        settings = MovementConfig(
            throttle_bytes_per_second=params.get("replication_throttle") or NO_THROTTLE,
            max_moves_per_broker=params.get("concurrent_partition_movements_per_broker", 5),
            poll_interval_seconds=(
                params["execution_progress_check_interval_ms"] / 1000
                if params.get("execution_progress_check_interval_ms")
                else self.progress_check_interval_seconds
            ),
            progress_interval_seconds=self.progress_check_interval_seconds,
            on_pause="cancel",
            elect_leaders=True,
        )
        execution = Execution(task_id, kind, proposals, sizes, str(params.get("reason") or ""))
        execution.memory["concurrency"] = settings.max_moves_per_broker
        plan = reassignment_plan(
            ((k, old, new, sizes.get(k, 0) * len([b for b in new if b not in old])) for k, (old, new) in proposals.items()),
            settings.limits(),
        )
        with process.lock:
            process.execution = execution
            process.tasks[task_id].status = "InExecution"
        self.executions_started += 1
        execution.thread = threading.Thread(
            target=self._run_execution, args=(process, execution, plan, settings), name="cc-double-executor", daemon=True
        )
        execution.thread.start()

    def _run_execution(self, process: _Process, execution: Execution, plan: MovePlan, settings: MovementConfig) -> None:
        def sleep(seconds: float) -> None:
            if process.crashed.wait(seconds):
                raise _Crashed()

        def pause_requested() -> str | None:
            if process.crashed.is_set():
                raise _Crashed()
            return "stop_proposal_execution" if execution.stopping else None

        try:
            with KafkaAdmin(self.config.cluster) as admin, ZooKeeper.from_config(self.config.cluster) as zk:
                executor = Executor(
                    self.config,
                    admin,
                    zk,
                    events=EventBus(),
                    persist=lambda: None,
                    pause_requested=pause_requested,
                    settings=settings,
                    sleep=sleep,
                )
                executor.run(plan, execution.memory)
            outcome, status = "completed", "Completed"
        except _Crashed:
            return  # the process is gone: nobody records anything
        except MovePaused:
            outcome, status = "stopped", "Completed"
        except Exception as exc:  # noqa: BLE001 - the task ends with an error, as Cruise Control's would
            outcome, status = f"failed: {exc}", "CompletedWithError"
        with process.lock:
            execution.outcome = outcome
            task = process.tasks.get(execution.task_id)
            if task is not None:
                task.status = status

    # ------------------------------------------------------------------------------ helpers

    def _windows_ready(self) -> bool:
        return time.monotonic() - self._process.started >= self.windows_ready_after_seconds

    def _assignment(self, topics: list[str] | None = None) -> dict[tuple[str, int], tuple[int, ...]]:
        data = self._zk.topics(topics)
        return {(t, int(p)): tuple(r) for t, d in data.items() for p, r in (d or {}).get("partitions", {}).items()}

    def _sizes(self, keys: dict[tuple[str, int], Any]) -> dict[tuple[str, int], int]:
        """Largest replica of each partition (what a new replica copies), from describe_log_dirs."""
        sizes: dict[tuple[str, int], int] = {}
        for (topic, partition, _), size in self._admin.replica_sizes(self._zk.broker_ids()).items():
            if (topic, partition) in keys:
                sizes[(topic, partition)] = max(sizes.get((topic, partition), 0), size)
        return sizes


class ExecutionFailed(Exception):
    """ExecutionException around the operation's failure, as OperationFuture.get() throws it."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{_java_name(cause)}: {cause}")
        self.cause = cause


class IllegalState(Exception):
    """java.lang.IllegalStateException."""


class NotEnoughValidWindows(Exception):
    """com.linkedin.cruisecontrol.exception.NotEnoughValidWindowsException."""


class OptimizationFailure(Exception):
    """com.linkedin.kafka.cruisecontrol.exception.OptimizationFailureException."""


_JAVA_NAMES = {
    ExecutionFailed: "java.util.concurrent.ExecutionException",
    IllegalState: "java.lang.IllegalStateException",
    NotEnoughValidWindows: "com.linkedin.cruisecontrol.exception.NotEnoughValidWindowsException",
    OptimizationFailure: "com.linkedin.kafka.cruisecontrol.exception.OptimizationFailureException",
    ValueError: "java.lang.IllegalArgumentException",
    RuntimeError: "java.lang.RuntimeException",
}


def _java_name(exc: BaseException) -> str:
    return _JAVA_NAMES.get(type(exc), f"java.lang.RuntimeException ({type(exc).__name__})")


class _Serialised:
    """One call at a time: the HTTP threads share one KafkaAdmin, and kafka-python's is not thread-safe."""

    def __init__(self, target: KafkaAdmin) -> None:
        self._target = target
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call


class _Value:
    def __init__(self, value: str) -> None:
        self.value = value


def _progress(endpoint: str, task: UserTask) -> dict[str, Any]:
    elapsed = int(time.time() * 1000) - task.start_ms
    step = {"step": "Pending", "description": "Operation enqueued, waiting to be executed.", "time-in-ms": elapsed, "completionPercentage": 0.0}
    return {"version": 1, "progress": [{"version": 1, "operation": endpoint, "operationProgress": [step]}]}


def _std(values: list[int]) -> float:
    if not values:
        return 0.0
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5


def _optimization_result(
    assignment: dict[tuple[str, int], tuple[int, ...]],
    moved: dict[tuple[str, int], tuple[int, ...]],
    sizes: dict[tuple[str, int], int],
    verbose: bool,
    brokers: list[int],
) -> dict[str, Any]:
    replica_moves = sum(len([b for b in new if b not in assignment[k]]) for k, new in moved.items())
    leader_moves = sum(1 for k, new in moved.items() if new[0] != assignment[k][0])
    data_mb = sum(sizes.get(k, 0) * len([b for b in new if b not in assignment[k]]) for k, new in moved.items()) // MB
    after = dict(assignment)
    after.update(moved)
    body: dict[str, Any] = {
        "summary": {
            "numReplicaMovements": replica_moves,
            "dataToMoveMB": data_mb,
            "numIntraBrokerReplicaMovements": 0,
            "intraBrokerDataToMoveMB": 0,
            "numLeaderMovements": leader_moves,
            "recentWindows": 5,
            "monitoredPartitionsPercentage": 100.0,
            "excludedTopics": [],
            "excludedBrokersForReplicaMove": [],
            "excludedBrokersForLeadership": [],
            "onDemandBalancednessScoreBefore": 0.0,
            "onDemandBalancednessScoreAfter": 0.0,
            "provisionStatus": "UNDECIDED",
            "provisionRecommendation": "",
        },
        # The double optimises no goals (see proposals.py), so it reports none.
        "goalSummary": [],
        "loadAfterOptimization": _broker_stats(after, brokers),
        "version": 1,
    }
    if verbose:
        body["proposals"] = [
            {"topicPartition": f"{t}-{p}", "oldLeader": assignment[(t, p)][0], "oldReplicas": list(assignment[(t, p)]), "newReplicas": list(new)}
            for (t, p), new in sorted(moved.items())
        ]
        body["loadBeforeOptimization"] = _broker_stats(assignment, brokers)
    return body


def _broker_stats(assignment: dict[tuple[str, int], tuple[int, ...]], brokers: list[int]) -> dict[str, Any]:
    """BrokerStats with replica and leader counts; the double models no load, so load figures are 0."""
    rows = []
    for broker in sorted(brokers):
        replicas = sum(1 for r in assignment.values() if broker in r)
        leaders = sum(1 for r in assignment.values() if r and r[0] == broker)
        rows.append(
            {
                "Host": "127.0.0.1",
                "Broker": broker,
                "Rack": "",
                "BrokerState": "ALIVE",
                "DiskMB": 0.0,
                "DiskPct": 0.0,
                "CpuPct": 0.0,
                "LeaderNwInRate": 0.0,
                "FollowerNwInRate": 0.0,
                "NwOutRate": 0.0,
                "PnwOutRate": 0.0,
                "Replicas": replicas,
                "Leaders": leaders,
                "DiskCapacityMB": 0.0,
                "NetworkInCapacity": 0.0,
                "NetworkOutCapacity": 0.0,
                "NumCore": 1.0,
            }
        )
    return {"hosts": [], "brokers": rows, "version": 1}
