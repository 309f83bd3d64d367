"""The migration verbs: plan, run, resume, rollback, pause, status."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from migrator.cli.output import OutputFormat, OutputOption, emit, err_console, fail
from migrator.config import load_config
from migrator.engine.checkpoint import PhaseRecord, PhaseStatus
from migrator.engine.events import Event
from migrator.engine.machine import CONFIRM_FLAG, UNTIL_FLAG, PhasePlan
from migrator.engine.step import Action
from migrator.errors import BadInput, MigratorError
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
    """Progress lines on stderr, so stdout stays machine-readable with --output json."""
    where = "/".join(x for x in (event.phase, event.step) if x)
    detail = event.data.get("reason") or event.data.get("error") or ""
    err_console.print(f"[dim]{event.kind:<22}[/] {where} {detail}".rstrip(), highlight=False, soft_wrap=True)


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


def _finish(record: PhaseRecord, output: OutputFormat) -> None:
    # A safety gate raises SafetyGateError (exit 3); a phase that comes back paused was paused on request.
    note = f" ({record.pause_reason})" if record.pause_reason else ""
    emit(record.model_dump(mode="json"), output, f"phase {record.name}: {record.status.value}{note}")


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
                if phase:
                    raise
                unavailable[name] = str(error)
    except MigratorError as error:
        raise fail(error) from None
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
        record = session.machine.run(target, session.context(), confirm=confirm_irreversible or (), until=until)
    except MigratorError as error:
        raise fail(error) from None
    _finish(record, output)


def resume(
    config: Path = ConfigOption,
    yes: bool = YesOption,
    confirm_irreversible: list[str] = typer.Option(None, CONFIRM_FLAG, help="allow this irreversible step"),
    break_stale_lock: bool = BreakStaleOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Carry on with the phase a crash, a kill or a pause left unfinished (verifying before re-applying)."""
    try:
        session = _session(config, break_stale_lock)
        left = session.unfinished()
        if left is None:
            emit({"resumed": None}, output, "Nothing to resume: no phase is unfinished. `migrator status` shows where the migration stands.")
            return
        target = session.phase(left.name)
        _confirm(f"Resume phase {left.name} ({left.status.value})?", yes)
        if left.status is PhaseStatus.ROLLING_BACK:
            record = session.machine.rollback(target, session.context())
        else:
            record = session.machine.run(target, session.context(), confirm=confirm_irreversible or ())
    except MigratorError as error:
        raise fail(error) from None
    _finish(record, output)


def rollback(
    phase: str = typer.Argument(..., help="the phase to roll back"),
    config: Path = ConfigOption,
    yes: bool = YesOption,
    break_stale_lock: bool = BreakStaleOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Undo the phase's steps, newest first, from the snapshots taken before each was applied."""
    try:
        session = _session(config, break_stale_lock)
        target = session.phase(phase)
        _confirm(f"Roll back phase {phase}?", yes)
        record = session.machine.rollback(target, session.context())
    except MigratorError as error:
        raise fail(error) from None
    _finish(record, output)


def pause(
    config: Path = ConfigOption,
    reason: str = typer.Option("requested by the operator", "--reason", help="recorded in the checkpoint"),
    output: OutputFormat = OutputOption,
) -> None:
    """Ask the running phase to stop at its next step boundary; `migrator resume` carries on."""
    try:
        holder = _session(config).machine.request_pause(reason)
    except MigratorError as error:
        raise fail(error) from None
    who = f"the run held by {holder.describe()} will pause" if holder else "no run holds the lock; the request is recorded"
    emit({"pause_requested": True, "holder": holder.to_dict() if holder else None}, output, f"Pause requested: {who}.")


def status(config: Path = ConfigOption, output: OutputFormat = OutputOption) -> None:
    """Where the migration stands: each phase and step, the lock holder, a pending pause."""
    try:
        current = _session(config).status()
    except MigratorError as error:
        raise fail(error) from None
    table = Table(title=f"Migration {current.migration_id}")
    for column in ("phase", "status", "steps", "note"):
        table.add_column(column)
    for name in phase_names():
        record = current.phase(name)
        if record is None:
            table.add_row(name, "not started", "", "")
            continue
        steps = ", ".join(f"{s.name}={s.status.value}" for s in record.steps)
        note = record.error or record.pause_reason or record.skip_reason or ""
        table.add_row(name, record.status.value, steps, note)
    if current.lock:
        table.caption = f"locked by {current.lock.describe()}"
    emit(current.to_dict(), output, table)
