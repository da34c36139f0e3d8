//! A job's audit history on its page: every change, who made it (as the API server knows
//! them) and through what, the weights before and after; filterable by what happened,
//! who and through what, and exportable as JSON or CSV. It loads on its own, so it still
//! shows after the job went offline.

use leptos::prelude::*;

use crate::api::history::get_release_history;
use crate::components::error_panel::error_panel;
use crate::domain::audit::{Action, Entry, Filter, Via, to_csv};
use crate::domain::links::encode_query_value;
use crate::domain::timefmt;

#[component]
pub fn JobHistoryPanel(
    project: String,
    name: String,
    /// Goes up when the page learns the job changed (pushed, or refreshed).
    changed: Signal<u32>,
) -> impl IntoView {
    let history = {
        let (project, name) = (project.clone(), name.clone());
        Resource::new(
            move || (project.clone(), name.clone(), changed.get()),
            |(p, n, _)| get_release_history(p, n),
        )
    };
    let action = RwSignal::new(String::new());
    let who = RwSignal::new(String::new());
    let via = RwSignal::new(String::new());
    let filter = Memo::new(move |_| Filter {
        action: Action::parse(&action.get()),
        who: who.get(),
        via: match via.get().as_str() {
            "console" => Some(Via::Console),
            "kubectl" => Some(Via::Kubectl),
            "controller" => Some(Via::Controller),
            _ => None,
        },
    });
    view! {
        <section class="panel history" data-testid="history">
            <h2>"History"</h2>
            <div class="history-filters">
                <label>
                    "What "
                    <select name="history-action" on:change=move |ev| action.set(event_target_value(&ev))>
                        <option value="">"everything"</option>
                        {Action::ALL
                            .into_iter()
                            .map(|a| view! { <option value=a.label()>{a.label()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Who "
                    <input type="search" name="history-who" placeholder="user"
                        on:input=move |ev| who.set(event_target_value(&ev)) />
                </label>
                <label>
                    "Through "
                    <select name="history-via" on:change=move |ev| via.set(event_target_value(&ev))>
                        <option value="">"anything"</option>
                        <option value="console">"console"</option>
                        <option value="kubectl">"kubectl/GitOps"</option>
                        <option value="controller">"controller"</option>
                    </select>
                </label>
            </div>
            <Transition fallback=|| view! { <p class="loading">"Loading the history…"</p> }>
                <ErrorBoundary fallback=error_panel>
                    {move || {
                        history.get().map(|r| r.map(|h| {
                            let shown: Vec<Entry> = h
                                .entries
                                .iter()
                                .rev()
                                .filter(|e| filter.get().keeps(e))
                                .cloned()
                                .collect();
                            let json = serde_json::to_string_pretty(&h.entries).unwrap_or_default();
                            let csv = to_csv(&h.entries);
                            let ended = h.job_gone_at.clone().map(|at| view! {
                                <p class="notice" data-testid="history-ended">
                                    {format!("The job ended {}; its history is kept.", timefmt::short(&at))}
                                </p>
                            });
                            view! {
                                {ended}
                                <div class="history-export">
                                    <a class="button secondary small" download=format!("{}-history.json", h.name)
                                        href=format!("data:application/json;charset=utf-8,{}", encode_query_value(&json))>
                                        "Export JSON"
                                    </a>
                                    <a class="button secondary small" download=format!("{}-history.csv", h.name)
                                        href=format!("data:text/csv;charset=utf-8,{}", encode_query_value(&csv))>
                                        "Export CSV"
                                    </a>
                                </div>
                                {if shown.is_empty() {
                                    view! { <p class="empty">"Nothing recorded matches."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="history-table">
                                            <thead>
                                                <tr><th>"When"</th><th>"Who"</th><th>"Through"</th><th>"What"</th><th>"Detail"</th></tr>
                                            </thead>
                                            <tbody>
                                                {shown.into_iter().map(|e| view! {
                                                    <tr data-action=e.action.label() data-via=e.via.label()>
                                                        <td title=e.at.clone()>{timefmt::short(&e.at)}</td>
                                                        <td data-testid="history-who">{e.who.clone()}</td>
                                                        <td>{e.via.label()}</td>
                                                        <td>{e.action.label()}</td>
                                                        <td>{e.detail.clone()}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            }
                        }))
                    }}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
