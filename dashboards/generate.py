"""Build dashboards/migration-progress.json with grafana-foundation-sdk.

    .venv/bin/python dashboards/generate.py          # rewrite the JSON
    .venv/bin/python dashboards/generate.py --check  # exit 1 if the committed JSON differs

Panels ask for the migrator's own metrics (migrator/metrics/names.py: every name used here must be
there) and for the broker metrics a Strimzi user's Prometheus already holds, named by Strimzi's JMX
exporter rules (../shared/upstream/strimzi-0.45.2/metrics/kafka-metrics.yaml). Every query goes to the
datasource chosen in the `datasource` variable, so no UID is hard-coded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, table, text, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, StackingConfig, VizLegendOptions, VizTooltipOptions
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat
from grafana_foundation_sdk.models.text import TextMode

OUTPUT = Path(__file__).resolve().parent / "migration-progress.json"
UID = "kafka-migration-progress"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
#: ZkMigrationState values (Kafka 3.9 docs, kafka.controller:type=KafkaController,name=ZkMigrationState).
ZK_MIGRATION_STATES = {0: "NONE", 1: "MIGRATION", 2: "PRE_MIGRATION", 3: "POST_MIGRATION", 4: "ZK"}
_ACTIVE_PHASE = 'kafka_migration_phase_state{state=~"running|paused|failed|rolling_back"} == 1'


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    if instant:
        q = q.instant().format(PromQueryFormat.TABLE)
    return q


def graph(title: str, answers: str, unit: str, *queries: prometheus.Dataquery, stack: common.StackingMode | None = None, steps: bool = False) -> timeseries.Panel:
    panel = (
        timeseries.Panel().title(title).description(answers).unit(unit).datasource(DATASOURCE).height(8).span(12)
        .legend(VizLegendOptions().display_mode(common.LegendDisplayMode.LIST).placement(common.LegendPlacement.BOTTOM).show_legend(True).calcs([]))
        .tooltip(VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.NONE))
    )
    for q in queries:
        panel = panel.with_target(q)
    if stack is not None:
        panel = panel.stacking(StackingConfig().mode(stack)).fill_opacity(60)
    if steps:
        panel = panel.line_interpolation(common.LineInterpolation.STEP_AFTER)
    return panel


def single(
    title: str,
    answers: str,
    unit: str,
    expr: str,
    mappings: dict[int, tuple[str, str]] | None = None,
    span: int = 6,
    legend: str = "",
) -> stat.Panel:
    panel = (
        stat.Panel().title(title).description(answers).unit(unit).datasource(DATASOURCE).height(8).span(span)
        .with_target(query(expr, legend))
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME if legend else common.BigValueTextMode.VALUE)
        .wide_layout(True)
        .show_percent_change(False)
        .percent_change_color_mode(common.PercentChangeColorMode.STANDARD)
        .orientation(common.VizOrientation.AUTO)
    )
    if mappings:
        panel = panel.mappings([
            model.ValueMap(options={str(v): model.ValueMappingResult(text=label, color=color, index=i) for i, (v, (label, color)) in enumerate(mappings.items())})
        ])
    return panel


def listing(title: str, answers: str, expr: str, span: int = 12) -> table.Panel:
    return (
        table.Panel().title(title).description(answers).datasource(DATASOURCE).height(8).span(span)
        .with_target(query(expr, instant=True))
        .frame_index(0)
        .show_header(True)
    )


def build() -> db.Dashboard:
    return (
        db.Dashboard("Kafka migration progress")
        .uid(UID)
        .tags(["kafka", "migration", "strimzi", "kafka-k8s-migrator"])
        .description("A ZooKeeper-mode Kafka fleet moving from VMs onto Kubernetes under Strimzi, phase by phase (kafka-k8s-migrator).")
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .with_variable(db.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_row(db.Row("Phases"))
        .with_panel(graph(
            "Phase timeline",
            "Which phase ran when: each active phase (running, paused, failed or rolling back) is a line at its position in the run order.",
            "none",
            query(f"kafka_migration_phase_order * on (phase) group_left () ({_ACTIVE_PHASE})", "{{phase}}"),
            steps=True,
        ))
        .with_panel(single(
            "Point of no return",
            "Whether an irreversible step (e.g. KRaft finalize) has been entered: from then on rollback is refused and the only way is forward.",
            "none",
            "max(kafka_migration_point_of_no_return_passed)",
            {0: ("not passed: every phase can roll back", "green"), 1: ("PASSED: rollback refused", "red")},
        ))
        .with_panel(single(
            "Paused phases",
            "How many phases stand paused now (on request, after --until, or on a safety gate); the pause table below says why.",
            "none",
            "sum(kafka_migration_paused_phases)",
        ))
        .with_panel(listing(
            "Phase states now",
            "Every phase and the state it is in.",
            "kafka_migration_phase_state == 1",
        ))
        .with_panel(listing(
            "Step states now",
            "Every step of every phase, its state, and whether it is reversible (false = point of no return).",
            "kafka_migration_step_state == 1",
        ))
        .with_row(db.Row("Where the data lives"))
        .with_panel(graph(
            "Leader share by environment",
            "Which share of partition leaders (the replicas clients talk to) runs on VMs and which on Kubernetes.",
            "percent",
            query("sum by (env) (kafka_migration_leaders)", "{{env}}"),
            stack=common.StackingMode.PERCENT,
        ))
        .with_panel(graph(
            "Replica share by environment",
            "Which share of all partition replicas (the data) sits on VMs and which on Kubernetes.",
            "percent",
            query("sum by (env) (kafka_migration_replicas)", "{{env}}"),
            stack=common.StackingMode.PERCENT,
        ))
        .with_panel(graph(
            "Replicas per broker",
            "How many replicas each broker holds; a broker that is to retire should fall to zero.",
            "none",
            query("kafka_migration_broker_replicas", "{{env}} {{broker}}"),
        ))
        .with_panel(graph(
            "Leaders per broker",
            "How many partitions each broker leads.",
            "none",
            query("kafka_migration_broker_leaders", "{{env}} {{broker}}"),
        ))
        .with_row(db.Row("Data movement"))
        .with_panel(graph(
            "Bytes moved and remaining",
            "How much of the current replica move is copied and how much is left (bytes the plan must copy).",
            "bytes",
            query("kafka_migration_move_moved_bytes", "moved"),
            query("kafka_migration_move_remaining_bytes", "remaining", "B"),
        ))
        .with_panel(graph(
            "Copy rate",
            "Bytes per second the move achieves (migrator, over the last minute) and what the brokers count as reassignment traffic.",
            "Bps",
            query("kafka_migration_move_rate_bytes_per_second", "migrator"),
            query("sum(rate(kafka_server_brokertopicmetrics_reassignmentbytesin_total[5m]))", "brokers: reassignment bytes in", "B"),
            query("sum(rate(kafka_server_brokertopicmetrics_reassignmentbytesout_total[5m]))", "brokers: reassignment bytes out", "C"),
        ))
        .with_panel(single(
            "ETA",
            "When the move is done at the rate it actually achieves (not the throttle); empty while no rate is known yet.",
            "s",
            "max(kafka_migration_move_eta_seconds)",
        ))
        .with_panel(single(
            "Batch in flight",
            "Which batch of the plan is moving now (0: none).",
            "none",
            "max(kafka_migration_move_batch)",
        ))
        .with_panel(graph(
            "Partitions of the move",
            "Partitions of the move done and still to go.",
            "none",
            query("kafka_migration_move_partitions", "{{state}}"),
            query("kafka_migration_reassignments_in_flight", "reassignments in flight", "B"),
        ))
        .with_panel(graph(
            "Throttle in force per broker",
            "Replication throttle rate set on each broker (leader and follower side); 0 means none. One left behind after a move is a bug.",
            "Bps",
            query("kafka_migration_throttle_rate_bytes_per_second", "{{broker}} {{direction}}"),
        ))
        .with_panel(graph(
            "Bytes left per broker",
            "What each broker still has to receive (in) or give up (out) in the current move.",
            "bytes",
            query("kafka_migration_move_broker_remaining_bytes", "{{broker}} {{direction}}"),
        ))
        .with_row(db.Row("Health"))
        .with_panel(graph(
            "Under-replicated, under min ISR, offline (migrator)",
            "The partitions the migrator's safety gates count; any offline partition, or more than the configured tolerance, pauses the run.",
            "none",
            query("max(kafka_migration_under_replicated_partitions)", "under-replicated"),
            query("max(kafka_migration_under_min_isr_partitions)", "under min ISR", "B"),
            query("max(kafka_migration_offline_partitions)", "offline", "C"),
        ))
        .with_panel(graph(
            "Under-replicated, under min ISR, offline (brokers)",
            "The same, as the brokers report them (Strimzi's JMX exporter names).",
            "none",
            query("sum(kafka_server_replicamanager_underreplicatedpartitions)", "under-replicated"),
            query("sum(kafka_server_replicamanager_underminisrpartitioncount)", "under min ISR", "B"),
            query("max(kafka_controller_kafkacontroller_offlinepartitionscount)", "offline", "C"),
        ))
        .with_panel(graph(
            "Canary produce latency p99 and errors",
            "How long a canary message takes to be acknowledged (99th percentile), and canary messages that failed.",
            "s",
            query("histogram_quantile(0.99, sum by (le) (rate(kafka_migration_canary_produce_latency_seconds_bucket[5m])))", "p99"),
            query("sum(increase(kafka_migration_canary_produce_errors_total[5m]))", "errors (5m)", "B"),
        ))
        .with_panel(graph(
            "Pauses",
            "Pauses by cause (operator, safety gate, --until) and the number of phases paused now.",
            "none",
            query("sum by (cause) (increase(kafka_migration_pauses_total[5m]))", "{{cause}}"),
            query("sum(kafka_migration_paused_phases)", "paused now", "B"),
        ))
        .with_panel(listing(
            "Pause reasons",
            "Why each paused phase stopped, as recorded in the checkpoint.",
            "kafka_migration_pause_info",
        ))
        .with_row(db.Row("DNS facade"))
        .with_panel(listing(
            "Facade targets",
            "What each facade name (per broker, and the bootstrap name) answers now, and the environment of the broker behind it.",
            "kafka_migration_dns_facade_target_info",
        ))
        .with_panel(graph(
            "Facade targets by environment",
            "How many facade answers lead to VM brokers and how many to Kubernetes ones.",
            "none",
            query("count by (env) (kafka_migration_dns_facade_target_info)", "{{env}}"),
        ))
        .with_row(db.Row("KRaft migration"))
        .with_panel(single(
            "ZkMigrationState",
            "The active controller's migration state: ZK before the cutover, MIGRATION while dual-writing (what the cutover waits for), NONE once KRaft.",
            "none",
            "max(kafka_controller_kafkacontroller_zkmigrationstate)",
            {v: (name, "blue") for v, name in ZK_MIGRATION_STATES.items()},
            span=8,
        ))
        .with_panel(single(
            "ZooKeeper brokers still to migrate",
            "ZooKeeper-mode brokers registered with the KRaft controllers that have not migrated yet (MigratingZkBrokerCount); dual-write starts at 0.",
            "none",
            "max(kafka_controller_kafkacontroller_migratingzkbrokercount)",
            span=8,
        ))
        .with_panel(single(
            "Brokers per environment",
            "Live brokers on VMs and on Kubernetes (the cutover starts only when no VM broker is left).",
            "none",
            "sum by (env) (kafka_migration_brokers)",
            span=8,
            legend="{{env}}",
        ))
        .with_panel(
            text.Panel().title("About this board").height(4).span(24).mode(TextMode.MARKDOWN).content(
                "Built by `dashboards/generate.py` (grafana-foundation-sdk). Migrator metrics come from "
                "`migrator run|resume|rollback|demo --metrics-port N` or `migrator metrics serve`; broker panels "
                "from Strimzi's JMX exporter rules. See dashboards/README.md for what each panel answers."
            )
        )
    )


def render() -> str:
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    rendered = render()
    if "--check" in argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != rendered:
            print(f"{OUTPUT} is out of date: run `python {Path(__file__).name}` and commit it", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
