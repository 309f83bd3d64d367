"""Thin client of Cruise Control's REST API (2.5.x), under `<url>/kafkacruisecontrol/`.

Only the endpoints the cruise-control mover needs: `state`, `kafka_cluster_state`, `user_tasks`,
`remove_broker`, `demote_broker`, `stop_proposal_execution`. Parameter names, response fields and
executor states are those of Cruise Control's OpenAPI description (cruise-control 2.5.143,
`cruise-control/src/main/resources/yaml/`) and its servlet sources:

- Cruise Control reads a list parameter as ONE comma-separated value (`ParameterUtils.
  parseParamToIntegerSet` splits `getParameter(name)` on ","; a repeated parameter loses all but its
  first value), so lists go out as `brokerid=1,2`.
- Every request asks for `json=true`; errors then come back as `ErrorResponse` (`errorMessage`).
- An async endpoint (`state`, `remove_broker`, `demote_broker`, ...) answers 202 with a
  `ProgressResult` when its work outlasts `webserver.request.maxBlockTimeMs`, and names its task in the
  `User-Task-ID` response header. The result is fetched by sending the SAME request (same path, same
  parameters: `UserTaskManager.getUserTaskByUserTaskId` compares both) with that header; an unknown id
  is refused, which is what a restarted Cruise Control answers.
- A POST is a dry run unless `dryrun=false`. With two-step verification on, a POST without
  `review_id` is parked for review and answers a review result instead of running.
- `stop_proposal_execution` defaults to `stop_external_agent=true`, which also cancels reassignments
  Cruise Control did not start: this client always sends the flag explicitly.

Retries (tenacity) cover connection failures only: a request that reached Cruise Control is never
sent twice by this layer, since a repeated non-dry-run POST is a second execution request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from migrator.errors import BadInput, MigratorError

JSON = dict[str, Any]
USER_TASK_HEADER = "User-Task-ID"
URL_PREFIX = "kafkacruisecontrol"

#: Executor states (ExecutorState.State in Cruise Control); all but the first mean "busy".
NO_TASK_IN_PROGRESS = "NO_TASK_IN_PROGRESS"
EXECUTOR_STATES = (
    NO_TASK_IN_PROGRESS,
    "STARTING_EXECUTION",
    "INTER_BROKER_REPLICA_MOVEMENT_TASK_IN_PROGRESS",
    "INTRA_BROKER_REPLICA_MOVEMENT_TASK_IN_PROGRESS",
    "LEADER_MOVEMENT_TASK_IN_PROGRESS",
    "STOPPING_EXECUTION",
    "INITIALIZING_PROPOSAL_EXECUTION",
    "GENERATING_PROPOSALS_FOR_EXECUTION",
)

# Messages of Cruise Control's exceptions (KafkaCruiseControl.sanityCheckDryRun,
# MetricSampleAggregator.validateCompleteness, UserTaskManager.insertFuturesByUserTaskId).
ONGOING_EXECUTION = "Cannot start a new execution while there is an ongoing execution"
EXTERNAL_REASSIGNMENTS = "ongoing partition reassignments initiated by external agent"
NOT_ENOUGH_WINDOWS = ("NotEnoughValidWindowsException", "valid windows")
TOO_MANY_TASKS = "active user tasks, which has reached the servlet capacity"
#: A User-Task-ID the server does not know (for that request): after a restart it knows none.
TASK_FORGOTTEN = "Unexpected header"


class CruiseControlError(MigratorError):
    """Cruise Control answered with an error; `message` is its ErrorResponse.errorMessage."""

    def __init__(self, status: int, message: str, endpoint: str) -> None:
        super().__init__(f"Cruise Control refused {endpoint} (HTTP {status}): {message}")
        self.status = status
        self.message = message
        self.endpoint = endpoint

    @property
    def ongoing_execution(self) -> bool:
        return ONGOING_EXECUTION in self.message

    @property
    def external_reassignments(self) -> bool:
        return EXTERNAL_REASSIGNMENTS in self.message

    @property
    def not_enough_windows(self) -> bool:
        return any(marker in self.message for marker in NOT_ENOUGH_WINDOWS)

    @property
    def too_many_tasks(self) -> bool:
        return TOO_MANY_TASKS in self.message

    @property
    def task_forgotten(self) -> bool:
        return TASK_FORGOTTEN in self.message


@dataclass(frozen=True)
class Reply:
    """One answer: 200 (done) or 202 (still working; poll with `user_task_id`)."""

    status: int
    user_task_id: str | None
    body: JSON

    @property
    def in_progress(self) -> bool:
        return self.status == 202


@dataclass(frozen=True)
class ExecutorState:
    """`ExecutorState` of `state?substates=executor`. Data figures are Cruise Control's, in MB and
    counted per FINISHED partition only (CC #2233): progress of our own comes from replica sizes."""

    state: str
    triggered_user_task_id: str | None = None
    triggered_self_healing_task_id: str | None = None
    reason: str | None = None
    total_partition_movements: int | None = None
    finished_partition_movements: int | None = None
    in_progress_partition_movements: int | None = None
    pending_partition_movements: int | None = None
    finished_data_movement_mb: int | None = None
    total_data_to_move_mb: int | None = None
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @property
    def busy(self) -> bool:
        return self.state != NO_TASK_IN_PROGRESS

    @property
    def task_id(self) -> str | None:
        """Whoever started the execution in flight: a user task or a self-healing task."""
        return self.triggered_user_task_id or self.triggered_self_healing_task_id or None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExecutorState:
        return cls(
            state=str(data["state"]),
            triggered_user_task_id=data.get("triggeredUserTaskId") or None,
            triggered_self_healing_task_id=data.get("triggeredSelfHealingTaskId") or None,
            reason=data.get("triggeredTaskReason"),
            total_partition_movements=data.get("numTotalPartitionMovements"),
            finished_partition_movements=data.get("numFinishedPartitionMovements"),
            in_progress_partition_movements=data.get("numInProgressPartitionMovements"),
            pending_partition_movements=data.get("numPendingPartitionMovements"),
            finished_data_movement_mb=data.get("finishedDataMovement"),
            total_data_to_move_mb=data.get("totalDataToMove"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class UserTask:
    """One entry of `user_tasks` (UserTaskInfo): Status is Active, InExecution, Completed or CompletedWithError."""

    user_task_id: str
    request_url: str
    client_identity: str
    start_ms: int
    status: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UserTask:
        return cls(
            user_task_id=str(data["UserTaskId"]),
            request_url=str(data["RequestURL"]),
            client_identity=str(data["ClientIdentity"]),
            start_ms=int(data["StartMs"]),
            status=str(data["Status"]),
        )

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.start_ms / 1000))
        return f"user task {self.user_task_id} ({self.status}, {self.request_url}, from {self.client_identity}, started {started})"


@dataclass(frozen=True)
class Proposal:
    """One ExecutionProposal: a partition's replicas before and after (the first is the preferred leader)."""

    topic: str
    partition: int
    old_replicas: tuple[int, ...]
    new_replicas: tuple[int, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Proposal:
        # topicPartition is TopicPartition.toString(): "<topic>-<partition>", and topics may contain '-'.
        topic, _, partition = str(data["topicPartition"]).rpartition("-")
        return cls(topic, int(partition), tuple(data["oldReplicas"]), tuple(data["newReplicas"]))


@dataclass(frozen=True)
class Optimization:
    """An OptimizationResult: the summary and (verbose) the proposals."""

    proposals: tuple[Proposal, ...]
    summary: JSON
    user_task_id: str | None

    @property
    def data_to_move_mb(self) -> int:
        return int(self.summary.get("dataToMoveMB", 0))


@dataclass(frozen=True)
class ReviewPending:
    """Two-step verification parked the request: a reviewer approves `review_id` on the review board."""

    review_id: int
    body: JSON


def _csv(values: Collection[int] | Collection[str]) -> str:
    return ",".join(str(v) for v in values)


_connect_retry = retry(
    retry=retry_if_exception_type(requests.ConnectionError),
    stop=stop_after_attempt(4),
    wait=wait_exponential(multiplier=0.5, max=4.0),
    reraise=True,
)


class CruiseControl:
    """A Cruise Control server at `url` (scheme://host:port, without /kafkacruisecontrol)."""

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        timeout_seconds: float = 30.0,
        ca_file: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = f"{url.rstrip('/')}/{URL_PREFIX}"
        self.timeout = timeout_seconds
        self._session = requests.Session()
        self._session.auth = auth
        if ca_file:
            self._session.verify = ca_file
        self._sleep = sleep
        self._clock = clock

    def __enter__(self) -> CruiseControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # ----------------------------------------------------------------------------- transport

    def request(
        self, method: str, endpoint: str, params: Mapping[str, Any], user_task_id: str | None = None
    ) -> Reply:
        """One request; `user_task_id` fetches the result of an earlier one sent with the same parameters."""
        query = {k: _wire(v) for k, v in params.items() if v is not None}
        query["json"] = "true"
        headers = {USER_TASK_HEADER: user_task_id} if user_task_id else {}
        try:
            response = self._send(method, endpoint, query, headers)
        except requests.RequestException as exc:
            raise BadInput(
                f"Cruise Control at {self.base} did not answer {endpoint} ({type(exc).__name__}: {exc}). Check "
                "cruise_control.url in migration.yaml and that Cruise Control is up and reachable from here."
            ) from exc
        if response.status_code in (401, 403):
            raise BadInput(
                f"Cruise Control at {self.base} refused {endpoint} with HTTP {response.status_code} "
                f"({_error_text(response)}). Check cruise_control.username/password in migration.yaml and the "
                "user's role in Cruise Control's auth configuration (the mover needs ADMIN for executions)."
            )
        if response.status_code not in (200, 202):
            raise CruiseControlError(response.status_code, _error_text(response), endpoint)
        try:
            body = response.json()
        except ValueError:
            raise CruiseControlError(response.status_code, f"not JSON: {response.text[:200]!r}", endpoint) from None
        return Reply(response.status_code, response.headers.get(USER_TASK_HEADER), body)

    @_connect_retry
    def _send(self, method: str, endpoint: str, query: Mapping[str, str], headers: Mapping[str, str]) -> requests.Response:
        return self._session.request(
            method, f"{self.base}/{endpoint}", params=query, headers=dict(headers), timeout=self.timeout
        )

    def complete(
        self,
        method: str,
        endpoint: str,
        params: Mapping[str, Any],
        timeout_seconds: float,
        user_task_id: str | None = None,
        poll_seconds: float = 1.0,
    ) -> Reply:
        """Send (or, with `user_task_id`, ask for an earlier request's result) and, while Cruise Control
        answers 202, ask again with the User-Task-ID until it is done. A read whose task Cruise Control
        forgot (it restarted meanwhile) is simply asked again; a POST is not, since it may start an
        execution: the caller decides."""
        reply = self.request(method, endpoint, params, user_task_id=user_task_id)
        deadline = self._clock() + timeout_seconds
        while reply.in_progress:
            if self._clock() > deadline:
                raise CruiseControlError(
                    202, f"still in progress after {timeout_seconds:g} s (user task {reply.user_task_id})", endpoint
                )
            self._sleep(poll_seconds)
            try:
                reply = self.request(method, endpoint, params, user_task_id=reply.user_task_id)
            except CruiseControlError as exc:
                if method != "GET" or not exc.task_forgotten:
                    raise
                reply = self.request(method, endpoint, params)
        return reply

    # ----------------------------------------------------------------------------- reads

    def executor_state(self, timeout_seconds: float | None = None) -> ExecutorState:
        reply = self.complete("GET", "state", {"substates": "executor"}, timeout_seconds or self.timeout)
        return ExecutorState.from_json(reply.body["ExecutorState"])

    def monitor_state(self, timeout_seconds: float | None = None) -> JSON:
        reply = self.complete("GET", "state", {"substates": "monitor"}, timeout_seconds or self.timeout)
        return dict(reply.body.get("MonitorState") or {})

    def kafka_cluster_state(self) -> JSON:
        return self.request("GET", "kafka_cluster_state", {}).body

    def user_tasks(self, user_task_ids: Collection[str] = ()) -> list[UserTask]:
        params = {"user_task_ids": _csv(user_task_ids)} if user_task_ids else {}
        return [UserTask.from_json(t) for t in self.request("GET", "user_tasks", params).body["userTasks"]]

    # ----------------------------------------------------------------------------- writes

    def remove_broker_params(
        self,
        brokers: Collection[int],
        *,
        destinations: Collection[int] = (),
        replication_throttle: int | None = None,
        concurrent_partition_movements_per_broker: int | None = None,
        **common: Any,
    ) -> JSON:
        """The query of a remove_broker request; kept, because polling its 202 must repeat it exactly.
        `common` takes demote_broker_params' keywords."""
        return {
            **self.demote_broker_params(brokers, **common),
            "destination_broker_ids": _csv(sorted(destinations)) if destinations else None,
            "replication_throttle": replication_throttle,
            "concurrent_partition_movements_per_broker": concurrent_partition_movements_per_broker,
        }

    def demote_broker_params(
        self,
        brokers: Collection[int],
        *,
        dryrun: bool = True,
        concurrent_leader_movements: int | None = None,
        execution_progress_check_interval_ms: int | None = None,
        review_id: int | None = None,
        reason: str | None = None,
    ) -> JSON:
        """The query of a demote_broker request (and what every optimization request shares)."""
        return {
            "brokerid": _csv(sorted(brokers)),
            "dryrun": dryrun,
            "verbose": True,  # the proposals are in the answer only when verbose
            "concurrent_leader_movements": concurrent_leader_movements,
            "execution_progress_check_interval_ms": execution_progress_check_interval_ms,
            "review_id": review_id,
            "reason": reason,
        }

    def optimize(
        self, endpoint: str, params: Mapping[str, Any], timeout_seconds: float, user_task_id: str | None = None
    ) -> Optimization | ReviewPending:
        """POST `endpoint` (remove_broker, demote_broker) and wait for its OptimizationResult."""
        return optimization_of(self.complete("POST", endpoint, params, timeout_seconds, user_task_id=user_task_id))

    def stop_proposal_execution(self, *, stop_external_agent: bool = False, reason: str | None = None) -> str:
        """Stop Cruise Control's execution; with stop_external_agent=False never a reassignment it did not start."""
        body = self.request(
            "POST", "stop_proposal_execution", {"stop_external_agent": stop_external_agent, "reason": reason}
        ).body
        return str(body.get("message", ""))


def optimization_of(reply: Reply) -> Optimization | ReviewPending:
    """The result of remove_broker/demote_broker: an OptimizationResult, or a review result when two-step
    verification parked the request."""
    body = reply.body
    if "summary" not in body and "RequestInfo" in body:
        # ReviewResult (two-step verification): the request waits in the purgatory.
        info = body["RequestInfo"]
        return ReviewPending(int(info[0]["Id"]), body)
    return Optimization(
        tuple(Proposal.from_json(p) for p in body.get("proposals", [])), dict(body["summary"]), reply.user_task_id
    )


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error_text(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason
    if isinstance(data, dict) and "errorMessage" in data:
        return str(data["errorMessage"])
    return str(data)[:500]
