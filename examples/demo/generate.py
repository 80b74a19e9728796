#!/usr/bin/env python3
"""Generates examples/demo/graph.jsonl: a product team's memory of a search service
over six months (people, decisions, meetings, tasks, documents, facts, notes, and
access/observation events). Deterministic: the same seed gives the same file."""
import json
import random

r = random.Random(42)
out = []
def node(id, kind, title, body, day, labels=(), sensitivity=None, scope=None):
    rec = {"record": "node", "id": id, "kind": kind, "title": title, "body": body,
           "labels": sorted(labels), "created_at": f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T09:00:00Z"}
    if sensitivity: rec["sensitivity"] = sensitivity
    if scope: rec["scope"] = scope
    out.append(rec)
    return id
def edge(a, b, t): out.append({"record": "edge", "from": a, "to": b, "type": t})
def event(t, day, subjects, actor, payload=None):
    out.append({"record": "event", "event": t, "at": f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T{10 + r.randrange(8):02d}:00:00Z",
                "actor": actor, "subjects": subjects, "payload": payload or {}})

people = ["ana", "ben", "chen", "dara", "eli", "farah"]
roles = {"ana": "engineering lead", "ben": "product manager", "chen": "search engineer", "dara": "SRE", "eli": "designer", "farah": "data scientist"}
for p in people:
    node(f"person/{p}", "entity", p.capitalize(), f"{p.capitalize()} is the team's {roles[p]}.", 0, labels=["person"])
topics = {
    "ranking": ["BM25 tuning", "learning to rank", "click models", "relevance judgments", "query expansion"],
    "indexing": ["segment merges", "incremental indexing", "shard layout", "reindex pipeline", "schema changes"],
    "latency": ["p99 latency", "cache warming", "query timeouts", "connection pooling", "load shedding"],
    "release": ["release planning", "feature flags", "canary rollout", "rollback plan", "release notes"],
    "privacy": ["data retention", "PII scrubbing", "access logs", "consent flags", "deletion requests"],
}
docs, decisions, meetings, tasks, facts = [], [], [], [], []
day = 0
for topic, subs in topics.items():
    d = node(f"doc/{topic}", "document", f"{topic.capitalize()} design doc",
             f"The design document for {topic} in the search service covers " + ", ".join(subs) + ".", day, labels=[topic])
    docs.append(d)
    for i, sub in enumerate(subs):
        day = (day + r.randrange(1, 4)) % 160
        owner = r.choice(people)
        f = node(f"fact/{topic}/{i}", "fact", sub.capitalize(),
                 f"{sub.capitalize()} matters for {topic}: {owner.capitalize()} measured it during the {r.choice(['spring', 'winter', 'Q1', 'Q2'])} review.", day, labels=[topic])
        facts.append(f); edge(f, d, "part_of"); edge(f, f"person/{owner}", "mentions")
        m = node(f"meeting/{topic}/{i}", "episode", f"Meeting on {sub}",
                 f"{owner.capitalize()} and {r.choice(people).capitalize()} discussed {sub} for the search service and agreed next steps.", day + 1, labels=[topic, "meeting"])
        meetings.append(m); edge(m, f, "mentions"); edge(m, f"person/{owner}", "mentions")
        if i % 2 == 0:
            dec = node(f"decision/{topic}/{i}", "decision", f"Decision: {sub}",
                       f"We decided how to handle {sub} in the {topic} work of the search service; {owner.capitalize()} owns it.", day + 2, labels=[topic, "decision"])
            decisions.append(dec); edge(dec, m, "derived_from"); edge(dec, d, "relates_to")
        for j in range(6):
            done = r.random() < 0.4
            t = node(f"task/{topic}/{i}/{j}", "task", f"{['Prototype', 'Measure', 'Document', 'Review', 'Benchmark', 'Present'][j]} {sub}",
                     f"{['Prototype', 'Measure', 'Document', 'Review', 'Benchmark', 'Present'][j]} {sub} for {topic}; assigned to {r.choice(people).capitalize()}.", day + 3 + j, labels=[topic] + (["done"] if done else []))
            tasks.append(t); edge(t, m, "follows"); edge(t, d, "part_of")
# A superseded decision, a secret note, a scratch note, a legal hold.
node("decision/release/old-freeze", "decision", "Decision: code freeze two weeks before release",
     "We used to freeze code two weeks before each release of the search service.", 5, labels=["release", "decision"])
edge("decision/release/0", "decision/release/old-freeze", "supersedes")
node("note/salaries", "note", "Compensation notes", "Compensation bands for the search team are under review.", 40, sensitivity="secret")
edge("note/salaries", "person/ana", "mentions")
for k in range(12):
    node(f"note/scratch/{k}", "note", f"Scratch idea {k}", f"Half-formed idea {k} about the search service {r.choice(list(topics))} work.", 10 + k, labels=["scratch"])
node("doc/privacy/dpa", "document", "Data processing agreement", "The signed data processing agreement for search logs.", 20, labels=["privacy", "legal-hold"])
edge("doc/privacy/dpa", "doc/privacy", "relates_to")
# Events: accesses cluster on release and latency work late in the period.
for _ in range(400):
    topic = r.choices(list(topics), weights=[1, 1, 2, 3, 1])[0]
    pool = [x for x in facts + decisions + meetings + docs if f"/{topic}" in x]
    event("node.accessed", r.randrange(60, 150), [r.choice(pool)], r.choice(people))
for _ in range(40):
    event("observation", r.randrange(120, 150), [r.choice([x for x in meetings if "/release/" in x or "/latency/" in x])], r.choice(people), {"text": "raised again in standup"})
nodes = [x for x in out if x["record"] == "node"]
edges = [x for x in out if x["record"] == "edge"]
events = [x for x in out if x["record"] == "event"]
with open("graph.jsonl", "w") as f:
    for rec in nodes + edges + events:
        f.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
print(len(nodes), "nodes", len(edges), "edges", len(events), "events")
