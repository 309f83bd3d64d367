"""The migration verbs: plan, run, resume, rollback, pause, status."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from migrator.cli.metrics import MetricsPortOption, serving
from migrator.cli.output import OutputFormat, OutputOption, emit, err_console, fail
from migrator.cli.progress import ProgressBars, progress_line
from migrator.config import load_config
from migrator.engine.checkpoint import PhaseRecord, PhaseStatus
from migrator.engine.events import Event
from migrator.engine.machine import CONFIRM_FLAG, PAUSE_REQUESTED, UNTIL_FLAG, PhasePlan
from migrator.engine.step import Action
from migrator.errors import BadInput, MigratorError, OperatorPause
from migrator.session import Session
from phases import phase_names

ConfigOption = typer.Option(Path("migration.yaml"), "--config", "-c", help="path of migration.yaml")
YesOption = typer.Option(False, "--yes", "-y", help="do not ask before changing anything")
BreakStaleOption = typer.Option(
    False, "--break-stale-lock", help="take over a lock whose holder process is dead (on this host)"
)


def register(app: typer.Typer) -> None:
    for command in (plan, run, resume, rollback, pause, status):
        app.command()(command)


def _session(config: Path, break_stale_lock: bool = False) -> Session:
    session = Session.open(load_config(config), break_stale_lock=break_stale_lock)
    session.events.subscribe(_print_event)
    return session


def _print_event(event: Event) -> None:
    """Event lines on stderr, so stdout stays machine-readable with --output json (progress figures
    go to the bars of `_progress_shown`)."""
    if event.kind == "progress":
        return
    where = "/".join(x for x in (event.phase, event.step) if x)
    detail = event.data.get("reason") or event.data.get("error") or ""
    err_console.print(f"[dim]{event.kind:<22}[/] {where} {detail}".rstrip(), highlight=False, soft_wrap=True)


@contextmanager
def _progress_shown(session: Session) -> Iterator[None]:
    """A progress bar (bytes, rate, ETA) on stderr for every step that reports progress."""
    bars = ProgressBars(
        Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[line]}"), console=err_console)
    )
    unsubscribe = session.events.subscribe(bars.on_event)
    try:
        yield
    finally:
        unsubscribe()
        bars.close()


def _plan_table(plans: list[PhasePlan]) -> Table:
    table = Table(title="Migration plan (dry-run: nothing is changed)")
    for column in ("phase", "step", "status", "would do"):
        table.add_column(column)
    for plan in plans:
        if plan.skip_reason:
            table.add_row(plan.phase, "-", "skip", plan.skip_reason)
            continue
        for step in plan.steps:
            marker = " [bold red](POINT OF NO RETURN)[/]" if step.point_of_no_return else ""
            lines = [_action_text(a) for a in step.actions]
            todo = "already done" if step.already_done else ("\n".join(lines) or "nothing to do")
            table.add_row(plan.phase, step.name + marker, step.status.value, todo)
    return table


def _action_text(action: Action) -> str:
    """One planned action for people: multi-line details (rendered manifests, a diff) as blocks of their own."""
    inline = {k: v for k, v in action.detail.items() if not (isinstance(v, str) and "\n" in v)}
    blocks = [f"{key}:\n{value.rstrip()}" for key, value in action.detail.items() if key not in inline]
    head = f"{action.verb} {action.target}" + (f" {inline}" if inline else "")
    return "\n".join(escape(text) for text in (head, *blocks))


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise BadInput(f"{question} needs a confirmation and there is no terminal to ask; add --yes to go ahead.")
    if not typer.confirm(question, default=False):
        raise typer.Exit(code=1)


def _finish_all(records: list[PhaseRecord], output: OutputFormat) -> None:
    """Print each phase's outcome; a run that stopped on the operator's `migrator pause` exits with
    OperatorPause's code (a safety gate raised SafetyGateError, exit 3, before getting here)."""
    if not records:
        emit({"phases": []}, output, "Nothing to do: no phase needs it.")
        return
    lines = []
    for record in records:
        note = f" ({record.pause_reason})" if record.pause_reason else ""
        lines.append(f"phase {record.name}: {record.status.value}{note}")
    data = records[0].model_dump(mode="json") if len(records) == 1 else {"phases": [r.model_dump(mode="json") for r in records]}
    emit(data, output, "\n".join(lines))
    last = records[-1]
    if last.status is PhaseStatus.PAUSED and last.pause_reason and last.pause_reason.startswith(PAUSE_REQUESTED):
        raise typer.Exit(code=OperatorPause.exit_code)


def plan(
    phase: list[str] = typer.Argument(None, help="phases to plan (default: all, in order)"),
    config: Path = ConfigOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Print the dry-run plan of each phase: the steps, what each would change, the point of no return."""
    try:
        session = _session(config)
        names = phase or phase_names()
        plans, unavailable = [], {}
        for name in names:
            try:
                plans.append(session.machine.plan(session.phase(name), session.context()))
            except BadInput as error:
                # The first phase reads only the cluster: if that fails, no plan is worth printing.
                if phase or name == names[0]:
                    raise
                unavailable[name] = str(error)
    except MigratorError as error:
        raise fail(error, output) from None
    data = {"phases": [p.to_dict() for p in plans], "not_planned": unavailable}
    table = _plan_table(plans)
    for name, why in unavailable.items():
        table.add_row(name, "-", "not planned", why)
    emit(data, output, table)


def run(
    phase: str = typer.Argument(..., help="the phase to run"),
    config: Path = ConfigOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="print the plan (as `migrator plan PHASE` does) and change nothing"),
    yes: bool = YesOption,
    confirm_irreversible: list[str] = typer.Option(
        None, CONFIRM_FLAG, help="allow this irreversible step (repeat for each)"
    ),
    until: str = typer.Option(None, UNTIL_FLAG, help="stop after this step (the phase stays paused)"),
    break_stale_lock: bool = BreakStaleOption,
    metrics_port: int | None = MetricsPortOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Run one phase (or carry on with it): each step is checkpointed, applied, then verified."""
    if dry_run:
        plan([phase], config, output)
        return
    try:
        session = _session(config, break_stale_lock)
        target = session.phase(phase)
        session.require_order(phase)
        _confirm(f"Run phase {phase} against {session.config.cluster.zookeeper_connect}?", yes)
        with serving(session, metrics_port), _progress_shown(session):
            record = session.machine.run(target, session.context(), confirm=confirm_irreversible or (), until=until)
    except MigratorError as error:
        raise fail(error, output) from None
    _finish_all([record], output)


def resume(
    config: Path = ConfigOption,
    yes: bool = YesOption,
    confirm_irreversible: list[str] = typer.Option(None, CONFIRM_FLAG, help="allow this irreversible step"),
    break_stale_lock: bool = BreakStaleOption,
    metrics_port: int | None = MetricsPortOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Carry on with what a crash, a kill or a pause interrupted (a run or a rollback), verifying first."""
    try:
        session = _session(config, break_stale_lock)
        choice = session.unfinished()
        if choice is None:
            emit({"resumed": None}, output, "Nothing to resume: no phase is unfinished. `migrator status` shows where the migration stands.")
            return
        direction = "rollback" if choice.rolling_back else "run"
        err_console.print(f"Resuming the {direction} of phase {choice.phase}: {choice.why}.", highlight=False)
        _confirm(f"Resume the {direction} of phase {choice.phase}?", yes)
        with serving(session, metrics_port), _progress_shown(session):
            if choice.rolling_back:
                records = session.rollback_to(choice.rollback_to or choice.phase)
            else:
                target = session.phase(choice.phase)
                records = [session.machine.run(target, session.context(), confirm=confirm_irreversible or ())]
    except MigratorError as error:
        raise fail(error, output) from None
    _finish_all(records, output)


def rollback(
    phase: str = typer.Argument(None, help="the phase to roll back (every later phase must be rolled back first)"),
    to: str = typer.Option(None, "--to", help="roll back every phase from the newest down to this one"),
    config: Path = ConfigOption,
    yes: bool = YesOption,
    break_stale_lock: bool = BreakStaleOption,
    metrics_port: int | None = MetricsPortOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Undo a phase's steps, newest first, from the snapshots taken before each was applied; with
    --to, undo every later phase first, newest first."""
    try:
        if (phase is None) == (to is None):
            raise BadInput(
                "Name the phase to roll back (`migrator rollback PHASE`) or the phase to walk back to "
                "(`migrator rollback --to PHASE`), not both and not neither. Nothing was changed."
            )
        session = _session(config, break_stale_lock)
        if phase is not None:
            session.require_rollback_order(phase)
        path = session.rollback_path(to or phase)
        _confirm(f"Roll back phase(s) {', '.join(path) or (to or phase)}, in this order?", yes)
        with serving(session, metrics_port), _progress_shown(session):
            records = session.rollback_to(to or phase)
    except MigratorError as error:
        raise fail(error, output) from None
    _finish_all(records, output)


def pause(
    config: Path = ConfigOption,
    reason: str = typer.Option("requested by the operator", "--reason", help="recorded in the checkpoint"),
    output: OutputFormat = OutputOption,
) -> None:
    """Ask the running phase to stop at its next step boundary; `migrator resume` carries on."""
    try:
        holder = _session(config).machine.request_pause(reason)
    except MigratorError as error:
        raise fail(error, output) from None
    who = f"the run held by {holder.describe()} will pause" if holder else "no run holds the lock; the request is recorded"
    emit({"pause_requested": True, "holder": holder.to_dict() if holder else None}, output, f"Pause requested: {who}.")


def status(config: Path = ConfigOption, output: OutputFormat = OutputOption) -> None:
    """Where the migration stands: each phase and step, the lock holder, a pending pause."""
    try:
        current = _session(config).status()
    except MigratorError as error:
        raise fail(error, output) from None
    table = Table(title=f"Migration {current.migration_id}")
    for column in ("phase", "status", "steps", "note"):
        table.add_column(column)
    recorded = list(current.checkpoint.phases) if current.checkpoint else []
    for name in phase_names() + [n for n in recorded if n not in phase_names()]:
        record = current.phase(name)
        if record is None:
            table.add_row(name, "not started", "", "")
            continue
        steps = ", ".join(f"{s.name}={s.status.value}" for s in record.steps)
        note = record.error or record.pause_reason or record.skip_reason or ""
        if record.gate and record.status in (PhaseStatus.RUNNING, PhaseStatus.PAUSED):
            state = "open" if record.gate["ok"] else "CLOSED"
            note = "\n".join(x for x in (note, f"safety gate {state} at {record.gate['at']}: {record.gate['reason']}") if x)
        moving = [s for s in record.steps if s.progress is not None]
        if moving:
            last = moving[-1]
            note = "\n".join(x for x in (note, f"{last.name}: {progress_line(last.progress)} (as of {last.progress.get('at', '?')})") if x)
        table.add_row(name, record.status.value, steps, note)
    captions = []
    if current.lock:
        captions.append(f"locked by {current.lock.describe()}")
    if current.checkpoint and current.checkpoint.rollback_to:
        captions.append(f"a rollback down to {current.checkpoint.rollback_to} is under way (`migrator resume` carries it on)")
    table.caption = "; ".join(captions) or None
    emit(current.to_dict(), output, table)
