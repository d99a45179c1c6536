"""Renderings for people: an impact or upstream answer as a table, and a backfill plan (its
`as_dict()` form, live or stored) as a table or a Mermaid flowchart. JSON is the value itself."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ripple.graph.store import Closure

MERMAID_MAX_UNITS = 500  # larger plans are cut, and the chart says so


def print_closure(out: Console, closure: Closure) -> None:
    """A blast radius or root-cause answer, nearest first (upstream adds each node's last state)."""
    heading = "Blast radius of" if closure.direction == "downstream" else "Upstream of"
    also = f" (also named {', '.join(closure.aliases)})" if closure.aliases else ""
    table = Table(title=escape(f"{heading} {closure.root}{also}"))
    table.add_column("dist", justify="right")
    table.add_column("kind")
    table.add_column("node", overflow="fold")
    table.add_column("dependence")
    upstream = closure.direction == "upstream"
    if upstream:
        table.add_column("last state")
    for node in sorted(closure.nodes, key=lambda n: (n.distance, n.kind, n.id)):
        name = escape(node.id + "".join(f"\n  = {alias}" for alias in node.aliases))
        if node.lifecycle is not None:
            name += f" [red]({node.lifecycle})[/]"
        row = [str(node.distance), node.kind, name, node.dependence]
        if upstream:
            row.append(node.state or "-")
        table.add_row(*row)
    out.print(table)
    note = " [red](truncated: raise --limit for the full answer)[/]" if closure.truncated else ""
    out.print(f"{len(closure.nodes)} nodes, {len(closure.edges)} edges{note}")


def plan_table(plan: dict[str, Any], title: str | None = None) -> RenderableType:
    """The units wave by wave, then what the plan left out and why."""
    table = Table(title=title or "Backfill plan from " + ", ".join(plan["roots"]))
    table.add_column("wave", justify="right")
    table.add_column("dag")
    table.add_column("task", overflow="fold")
    table.add_column("logical date")
    table.add_column("action")
    table.add_column("after", justify="right")
    table.add_column("held")
    for unit in plan["units"]:
        table.add_row(
            str(unit["layer"] + 1),
            unit["dagId"],
            unit["taskId"],
            unit["logicalDate"][:16].replace("T", " "),
            unit["action"],
            str(len(unit["parents"])),
            "held" if unit.get("held") else "",
        )
    parts: list[RenderableType] = [table, Text(summary(plan))]
    for item in plan["held"]:
        parts.append(Text(f"held: {item['unit']} — {item['reason']}", style="red"))
    for cycle in plan["cycles"]:
        parts.append(Text(f"cycle: {' ⇄ '.join(cycle)}", style="red"))
    for item in plan["unmapped"]:
        parts.append(Text(f"unmapped: {item['job']} — {item['reason']}", style="yellow"))
    for item in plan["excluded"]:
        parts.append(Text(f"excluded: {item['task']} — {item['reason']}", style="dim"))
    for note in plan["notes"]:
        parts.append(Text(f"note: {note}"))
    return Group(*parts)


def summary(plan: dict[str, Any]) -> str:
    units = plan["units"]
    dags = {u["dagId"] for u in units}
    clears = sum(1 for u in units if u["action"] == "clear")
    text = (
        f"{len(units)} task instances in {len(dags)} DAGs over {len(plan['dates'])} logical "
        f"date(s), {len(plan['layers'])} waves: {clears} clear, {len(units) - clears} trigger"
    )
    if plan["held"]:
        text += f"; {len(plan['held'])} held"
    if plan["unmapped"]:
        text += f"; {len(plan['unmapped'])} unmapped jobs"
    if plan["cycles"]:
        text += f"; {len(plan['cycles'])} cycles"
    if plan["truncated"]:
        text += f"; TRUNCATED by maxTasks ({plan['omitted']} left out)"
    if plan.get("closureTruncated"):
        text += "; lineage walk hit its cap (plan may be incomplete)"
    return text


def plan_mermaid(plan: dict[str, Any]) -> str:
    """A Mermaid flowchart: one subgraph per DAG, one node per unit, an arrow per parent."""
    units = plan["units"][:MERMAID_MAX_UNITS]
    names = {unit["id"]: f"u{i}" for i, unit in enumerate(units)}
    lines = ["flowchart LR"]
    by_dag: dict[str, list[dict[str, Any]]] = {}
    for unit in units:
        by_dag.setdefault(unit["dagId"], []).append(unit)
    for d, (dag, members) in enumerate(sorted(by_dag.items())):
        lines.append(f'  subgraph dag{d}["{_label(dag)}"]')
        for unit in members:
            label = f"{unit['taskId']}<br/>{unit['logicalDate'][:19]}<br/>{unit['action']}"
            lines.append(f'    {names[unit["id"]]}["{_label(label)}"]')
        lines.append("  end")
    for unit in units:
        for parent in unit["parents"]:
            if parent in names:
                lines.append(f"  {names[parent]} --> {names[unit['id']]}")
    held = [names[u["id"]] for u in units if u.get("held")]
    if held:
        lines.append("  classDef held fill:#eee,stroke:#c00,stroke-dasharray: 4 2")
        lines.append(f"  class {','.join(held)} held")
    if len(plan["units"]) > len(units):
        lines.append(f"  %% {len(plan['units']) - len(units)} more units not drawn")
    return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    return re.sub(r'["\[\]{}]', "_", text)
