//! The trace search form: service, operation, tags, duration bounds, lookback and limit.
//! A plain GET form whose fields are the page's URL parameters, so a search is a link
//! (shareable, back-button friendly) and works before the wasm bundle has loaded.

use leptos::prelude::*;
use leptos_router::components::Form;

use crate::api::traces::{list_trace_operations, list_trace_services};
use crate::domain::links::PROJECT_PARAM;
use crate::domain::traces::TraceQuery;
use crate::domain::traces::search::{LOOKBACK_CHOICES, MAX_LIMIT, param};

/// A lookback in minutes as a choice's label.
fn lookback_label(minutes: u32) -> String {
    match minutes {
        m if m % 1440 == 0 => format!("Last {} day{}", m / 1440, if m == 1440 { "" } else { "s" }),
        m if m % 60 == 0 => format!("Last {} hour{}", m / 60, if m == 60 { "" } else { "s" }),
        m => format!("Last {m} minutes"),
    }
}

/// `current` is the search in the URL (if any): the form starts from it.
#[component]
pub fn TraceSearchForm(project: String, current: TraceQuery) -> impl IntoView {
    let services = {
        let project = project.clone();
        Resource::new(move || project.clone(), |p| list_trace_services(Some(p)))
    };
    let service = RwSignal::new(current.service.clone());
    let operations = Resource::new(
        move || service.get(),
        |s| async move {
            if s.trim().is_empty() {
                Ok(Vec::new())
            } else {
                list_trace_operations(s).await
            }
        },
    );
    let chosen_operation = current.operation.clone().unwrap_or_default();
    let lookback = current.lookback_minutes;
    let lookbacks: Vec<u32> = {
        let mut l = LOOKBACK_CHOICES.to_vec();
        if !l.contains(&lookback) {
            l.push(lookback);
            l.sort_unstable();
        }
        l
    };
    let number = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    view! {
        <Form method="get" action="/tracing">
            <input type="hidden" name=PROJECT_PARAM value=project.clone() />
            <div class="trace-search">
                <label>
                    "Service"
                    <Transition fallback=|| view! { <select disabled=true><option>"Loading…"</option></select> }>
                        {move || {
                            services
                                .get()
                                .map(|r| match r {
                                    Ok(list) => {
                                        let selected = service.get_untracked();
                                        let mut list = list;
                                        if !selected.is_empty() && !list.contains(&selected) {
                                            list.insert(0, selected.clone());
                                        }
                                        let empty = list.is_empty();
                                        view! {
                                            <select
                                                name=param::SERVICE
                                                required=true
                                                on:change=move |ev| service.set(event_target_value(&ev))
                                            >
                                                <option value="" selected=selected.is_empty()>
                                                    {if empty { "No services have reported traces" } else { "Choose a service" }}
                                                </option>
                                                {list
                                                    .into_iter()
                                                    .map(|s| {
                                                        let sel = s == selected;
                                                        let label = s.clone();
                                                        view! { <option value=s selected=sel>{label}</option> }
                                                    })
                                                    .collect_view()}
                                            </select>
                                        }
                                            .into_any()
                                    }
                                    Err(e) => {
                                        view! {
                                            <input
                                                name=param::SERVICE
                                                value=service.get_untracked()
                                                placeholder="productpage.<project>"
                                            />
                                            <span class="field-error" role="alert">{e.to_string()}</span>
                                        }
                                            .into_any()
                                    }
                                })
                        }}
                    </Transition>
                </label>
                <label>
                    "Operation"
                    <Transition fallback=|| view! { <select disabled=true><option>"All"</option></select> }>
                        {
                            let chosen_operation = chosen_operation.clone();
                            move || {
                                let chosen = chosen_operation.clone();
                                operations
                                    .get()
                                    .map(move |r| {
                                        let list = r.unwrap_or_default();
                                        view! {
                                            <select name=param::OPERATION>
                                                <option value="" selected=chosen.is_empty()>"All"</option>
                                                {list
                                                    .into_iter()
                                                    .map(|o| {
                                                        let sel = o == chosen;
                                                        let label = o.clone();
                                                        view! { <option value=o selected=sel>{label}</option> }
                                                    })
                                                    .collect_view()}
                                            </select>
                                        }
                                    })
                            }
                        }
                    </Transition>
                </label>
                <label class="wide">
                    "Tags"
                    <input
                        name=param::TAGS
                        value=current.tags_text()
                        placeholder="http.status_code=503 error=true"
                        title="key=value pairs separated by spaces; every pair must be on one span"
                    />
                </label>
                <label>
                    "Min duration (ms)"
                    <input
                        name=param::MIN_DURATION
                        type="number"
                        min="0"
                        value=number(current.min_duration_ms)
                    />
                </label>
                <label>
                    "Max duration (ms)"
                    <input
                        name=param::MAX_DURATION
                        type="number"
                        min="0"
                        value=number(current.max_duration_ms)
                    />
                </label>
                <label>
                    "Lookback"
                    <select name=param::LOOKBACK>
                        {lookbacks
                            .into_iter()
                            .map(|m| {
                                view! {
                                    <option value=m.to_string() selected=m == lookback>
                                        {lookback_label(m)}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Limit"
                    <input
                        name=param::LIMIT
                        type="number"
                        min="1"
                        max=MAX_LIMIT.to_string()
                        value=current.limit.to_string()
                    />
                </label>
                <button type="submit" class="button">"Find Traces"</button>
            </div>
        </Form>
    }
}

#[cfg(test)]
mod tests {
    use super::lookback_label;

    #[test]
    fn lookbacks_read_as_people_say_them() {
        assert_eq!(lookback_label(5), "Last 5 minutes");
        assert_eq!(lookback_label(60), "Last 1 hour");
        assert_eq!(lookback_label(360), "Last 6 hours");
        assert_eq!(lookback_label(1440), "Last 1 day");
        assert_eq!(lookback_label(10080), "Last 7 days");
    }
}
