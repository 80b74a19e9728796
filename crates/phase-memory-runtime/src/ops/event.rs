//! Event operations: `event.append`, `event.query`.

use std::collections::BTreeMap;

use phase_memory_model::interchange::EventRecord;
use phase_memory_model::{Diagnostic, Event, Time};
use phase_memory_store::{ChangeSet, EventQuery};
use serde_json::{Value, json};

use super::support::{self, check_subjects, hold_for_review, parse};
use crate::context::CallContext;
use crate::outcome::{OpResult, Outcome};
use crate::request::*;
use crate::response;
use crate::state::Runtime;

/// `event.append`.
pub(crate) fn event_append(
    rt: &mut Runtime,
    req: &Value,
    ctx: &CallContext,
    now: Time,
) -> OpResult {
    let r: EventAppendRequest = parse(req)?;
    let mut raw = r.event.clone();
    if let Value::Object(m) = &mut raw {
        m.remove("record");
        if !m.contains_key("event")
            && let Some(t) = m.remove("type")
        {
            m.insert("event".into(), t);
        }
        if !m.contains_key("at") {
            m.insert("at".into(), json!(now));
        }
    }
    let rec: EventRecord = serde_json::from_value(raw)
        .map_err(|e| Outcome::invalid("import.invalid_record", format!("event: {e}")))?;
    if rec.event.trim().is_empty() {
        return Err(Outcome::invalid(
            "import.invalid_record",
            "event type is empty",
        ));
    }
    let subjects = rec.subjects.unwrap_or_default();
    if let Some(d) = check_subjects(rt, "event.append", ctx, &subjects, "event")? {
        return Ok(hold_for_review(
            rt,
            "event.append",
            req.clone(),
            ctx,
            &d,
            subjects,
            now,
        ));
    }
    let seq = rt.store.event_head()? + 1;
    let actor = match rec.actor {
        Some(a) if ctx.trust_request_actor => a,
        _ => ctx.actor.id.clone(),
    };
    // A network client reports when something happened; the record is dated by
    // the service's clock (the reported time stays in the payload).
    let mut payload = rec.payload.unwrap_or(Value::Object(Default::default()));
    let at = if ctx.origin.is_remote() && rec.at != now {
        if let Value::Object(m) = &mut payload {
            m.entry("reported_at").or_insert(json!(rec.at));
        }
        now
    } else {
        rec.at
    };
    let event = Event {
        seq,
        id: rec.id.unwrap_or_else(|| format!("ev-{seq}")),
        at,
        actor,
        event_type: rec.event,
        subjects: subjects.clone(),
        payload,
    };
    let mut o = Outcome::ok_with(&response::EventAppend {
        event: event.clone(),
    });
    o.subjects = subjects;
    o.change = ChangeSet {
        events: vec![event],
        ..Default::default()
    };
    Ok(o)
}

/// `event.query`: events naming a node the actor may not see are withheld.
pub(crate) fn event_query(
    rt: &mut Runtime,
    req: &Value,
    ctx: &CallContext,
    _now: Time,
) -> OpResult {
    let r: EventQueryRequest = parse(req)?;
    let q = EventQuery {
        after_seq: r.after_seq.unwrap_or(0),
        since: r.since,
        until: r.until,
        types: r.event_type.into_iter().collect(),
        subject: r.subject,
        limit: None,
    };
    // Filtering by a node the actor may not see finds what a missing id finds.
    if let Some(subject) = &q.subject
        && let Some(n) = rt.store.node(subject)?
        && !support::sees(rt, "event.query", ctx, &n)
    {
        return Ok(Outcome::ok_with(&response::EventQuery {
            events: Vec::new(),
            withheld: response::WithheldCount { count: 0 },
        }));
    }
    let limit = r.limit.unwrap_or(1000);
    let mut withheld = 0u64;
    let mut out = Vec::new();
    let mut visible_cache: BTreeMap<String, bool> = BTreeMap::new();
    for e in rt.store.events(&q)? {
        let mut ok = true;
        for s in &e.subjects {
            let v = match visible_cache.get(s) {
                Some(v) => *v,
                None => {
                    let v = match rt.store.node(s)? {
                        Some(n) => support::sees(rt, "event.query", ctx, &n),
                        None => true,
                    };
                    visible_cache.insert(s.clone(), v);
                    v
                }
            };
            ok &= v;
        }
        if ok {
            if out.len() < limit {
                out.push(e);
            }
        } else {
            withheld += 1;
        }
    }
    let mut o = Outcome::ok_with(&response::EventQuery {
        events: out,
        withheld: response::WithheldCount { count: withheld },
    });
    if withheld > 0 {
        o.diagnostics.push(Diagnostic::info(
            "policy.withheld",
            format!("{withheld} event(s) withheld by policy"),
        ));
    }
    Ok(o)
}
