//! Editing the rules of "Forward by request content": header, cookie, URI, query
//! parameter (exact / prefix / regex), operating system and browser (multi-select).

use leptos::prelude::*;

use crate::domain::release::rules::{Browser, ContentRule, MatchOp, Os, RuleKind};

fn kind_key(k: &RuleKind) -> &'static str {
    match k {
        RuleKind::Header { .. } => "header",
        RuleKind::Cookie { .. } => "cookie",
        RuleKind::Uri => "uri",
        RuleKind::Query { .. } => "query",
        RuleKind::Os { .. } => "os",
        RuleKind::Browser { .. } => "browser",
    }
}

fn kind_from(key: &str, name: String) -> RuleKind {
    match key {
        "cookie" => RuleKind::Cookie { name },
        "uri" => RuleKind::Uri,
        "query" => RuleKind::Query { name },
        "os" => RuleKind::Os { values: vec![] },
        "browser" => RuleKind::Browser { values: vec![] },
        _ => RuleKind::Header { name },
    }
}

fn name_of(k: &RuleKind) -> String {
    match k {
        RuleKind::Header { name } | RuleKind::Cookie { name } | RuleKind::Query { name } => {
            name.clone()
        }
        _ => String::new(),
    }
}

fn op_key(op: MatchOp) -> &'static str {
    match op {
        MatchOp::Exact => "exact",
        MatchOp::Prefix => "prefix",
        MatchOp::Regex => "regex",
    }
}

#[component]
pub fn RulesEditor(rules: RwSignal<Vec<ContentRule>>) -> impl IntoView {
    let update = move |i: usize, f: Box<dyn FnOnce(&mut ContentRule)>| {
        rules.update(|rs| {
            if let Some(r) = rs.get_mut(i) {
                f(r);
            }
        })
    };
    view! {
        <div class="rules-editor">
            {move || {
                rules
                    .get()
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let key = kind_key(&r.kind);
                        let is_choice = matches!(r.kind, RuleKind::Os { .. } | RuleKind::Browser { .. });
                        let needs_name = matches!(
                            r.kind,
                            RuleKind::Header { .. } | RuleKind::Cookie { .. } | RuleKind::Query { .. }
                        );
                        let name = name_of(&r.kind);
                        let kind_for_choice = r.kind.clone();
                        view! {
                            <div class="rule-row" data-rule=i>
                                <select
                                    aria-label="Match on"
                                    prop:value=key
                                    on:change=move |ev| {
                                        let k = event_target_value(&ev);
                                        update(i, Box::new(move |r| r.kind = kind_from(&k, name_of(&r.kind))));
                                    }
                                >
                                    {[("header", "Header"), ("cookie", "Cookie"), ("uri", "URI"), ("query", "Query parameter"), ("os", "Operating system"), ("browser", "Browser")]
                                        .into_iter()
                                        .map(|(v, l)| view! { <option value=v selected=v == key>{l}</option> })
                                        .collect_view()}
                                </select>
                                {needs_name
                                    .then(|| {
                                        view! {
                                            <input
                                                type="text"
                                                placeholder="name, e.g. end-user"
                                                aria-label="Name"
                                                prop:value=name
                                                on:change=move |ev| {
                                                    let n = event_target_value(&ev);
                                                    update(i, Box::new(move |r| r.kind = kind_from(kind_key(&r.kind), n)));
                                                }
                                            />
                                        }
                                    })}
                                {(!is_choice)
                                    .then(|| {
                                        let op = op_key(r.op);
                                        view! {
                                            <select
                                                aria-label="Match type"
                                                prop:value=op
                                                on:change=move |ev| {
                                                    let o = match event_target_value(&ev).as_str() {
                                                        "prefix" => MatchOp::Prefix,
                                                        "regex" => MatchOp::Regex,
                                                        _ => MatchOp::Exact,
                                                    };
                                                    update(i, Box::new(move |r| r.op = o));
                                                }
                                            >
                                                <option value="exact" selected=op == "exact">"exact"</option>
                                                <option value="prefix" selected=op == "prefix">"prefix"</option>
                                                <option value="regex" selected=op == "regex">"regex"</option>
                                            </select>
                                            <input
                                                type="text"
                                                placeholder="value, e.g. jason"
                                                aria-label="Value"
                                                prop:value=r.value.clone()
                                                on:change=move |ev| {
                                                    let v = event_target_value(&ev);
                                                    update(i, Box::new(move |r| r.value = v));
                                                }
                                            />
                                        }
                                    })}
                                {is_choice.then(|| choices(i, kind_for_choice, rules))}
                                <button
                                    type="button"
                                    class="button secondary"
                                    on:click=move |_| rules.update(|rs| { rs.remove(i); })
                                >
                                    "Remove"
                                </button>
                            </div>
                        }
                    })
                    .collect_view()
            }}
            <button
                type="button"
                class="button secondary"
                on:click=move |_| {
                    rules
                        .update(|rs| {
                            rs.push(ContentRule {
                                kind: RuleKind::Header { name: String::new() },
                                op: MatchOp::Exact,
                                value: String::new(),
                            })
                        })
                }
            >
                "Add rule"
            </button>
        </div>
    }
}

/// Checkboxes for the OS or browser choices of rule `i`.
fn choices(i: usize, kind: RuleKind, rules: RwSignal<Vec<ContentRule>>) -> impl IntoView {
    let boxes: Vec<(String, &'static str, bool)> = match &kind {
        RuleKind::Os { values } => Os::ALL
            .iter()
            .map(|o| (format!("{o:?}"), o.label(), values.contains(o)))
            .collect(),
        RuleKind::Browser { values } => Browser::ALL
            .iter()
            .map(|b| (format!("{b:?}"), b.label(), values.contains(b)))
            .collect(),
        _ => Vec::new(),
    };
    view! {
        <span class="choices">
            {boxes
                .into_iter()
                .map(|(key, label, checked)| {
                    view! {
                        <label>
                            <input
                                type="checkbox"
                                prop:checked=checked
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    let key = key.clone();
                                    rules.update(|rs| {
                                        if let Some(r) = rs.get_mut(i) {
                                            match &mut r.kind {
                                                RuleKind::Os { values } => {
                                                    if let Some(o) = Os::ALL.iter().find(|o| format!("{o:?}") == key) {
                                                        values.retain(|v| v != o);
                                                        if on { values.push(*o); }
                                                    }
                                                }
                                                RuleKind::Browser { values } => {
                                                    if let Some(b) = Browser::ALL.iter().find(|b| format!("{b:?}") == key) {
                                                        values.retain(|v| v != b);
                                                        if on { values.push(*b); }
                                                    }
                                                }
                                                _ => {}
                                            }
                                        }
                                    });
                                }
                            />
                            {label}
                        </label>
                    }
                })
                .collect_view()}
        </span>
    }
}
