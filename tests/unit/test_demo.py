from ripple.graph.memory import MemoryGraph
from ripple.graph.store import WalkOptions
from ripple.ingest.demo import JOBS, NAMESPACE, demo_events
from ripple.ingest.event import Event, parse_event
from ripple.ingest.projection import project


def parsed(days: int = 2) -> list[Event]:
    return [parse_event(doc) for doc in demo_events(days)]


def test_every_demo_event_parses() -> None:
    events = parsed()
    assert len(events) == 2 * 2 * len(JOBS)  # START + terminal, per job, per day
    assert all(e.kind == "RunEvent" for e in events)
    assert {e.event_type for e in events} == {"START", "COMPLETE", "FAIL"}


def test_the_demo_has_column_lineage_with_direct_indirect_and_masking() -> None:
    outputs = [ref for e in parsed() for ref in e.outputs]
    assert all(ref.lineage for ref in outputs)
    entries = [e for ref in outputs if ref.lineage for e in ref.lineage.entries]
    per_column = [e for e in entries if e.dst_field is not None]
    assert {e.type for e in per_column} == {"DIRECT"}
    assert any(e.masking for e in per_column)
    dataset_level = [e for e in entries if e.dst_field is None]
    assert dataset_level
    assert {e.type for e in dataset_level} == {"INDIRECT"}
    assert all(ref.key.namespace == NAMESPACE for ref in outputs)


def test_the_demo_has_exactly_one_failure_with_an_error_message() -> None:
    failed = [e for e in parsed() if e.event_type == "FAIL"]
    assert len(failed) == 1
    assert failed[0].job is not None
    assert failed[0].job.key.name == "build_customer_ltv"
    assert failed[0].run is not None
    assert failed[0].run.error_message
    others = [e for e in parsed() if e.event_type != "FAIL"]
    assert all(e.run is not None and e.run.error_message is None for e in others)


def test_the_demo_failure_is_on_the_last_day() -> None:
    events = parsed(days=3)
    failed = [e for e in events if e.event_type == "FAIL"]
    assert len(failed) == 1
    assert failed[0].job is not None
    name = failed[0].job.key.name
    same_job = [e.event_time for e in events if e.job is not None and e.job.key.name == name]
    assert failed[0].event_time == max(same_job)


def test_the_demo_projects_without_dangling_column_lineage() -> None:
    graph = MemoryGraph()
    for event in parsed():
        graph.apply(project(event))
    for node_id in graph.ids:
        record = graph.record(node_id)
        assert record is not None
        assert "unresolved_column_inputs" not in record.props, node_id
    closure = graph.walk(
        f"dataset:{NAMESPACE}:shop.public.orders", "downstream", WalkOptions(columns=False)
    )
    reached = {n.id for n in closure.nodes}
    assert f"dataset:{NAMESPACE}:analytics.daily_revenue" in reached
    assert f"dataset:{NAMESPACE}:analytics.customer_ltv" in reached
