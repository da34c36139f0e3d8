//! Live views refresh on an interval chosen in the URL (`?refresh=`), with a button to
//! refresh now. The interval runs in the browser only.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};

use super::use_query_pairs;
use crate::domain::links::with_param;
use crate::domain::refresh::{CHOICES, DEFAULT, REFRESH_PARAM, interval_ms};

/// A counter that goes up on every refresh; use it as a resource's source.
pub fn use_refresh_tick() -> RwSignal<u32> {
    let query = use_query_map();
    let tick = RwSignal::new(0u32);
    Effect::new(move || {
        let ms = interval_ms(query.read().get(REFRESH_PARAM).as_deref());
        if let Some(ms) = ms {
            let bump = move || tick.update(|t| *t = t.wrapping_add(1));
            if let Ok(handle) = set_interval_with_handle(bump, Duration::from_millis(u64::from(ms)))
            {
                on_cleanup(move || handle.clear());
            }
        }
    });
    tick
}

#[component]
pub fn RefreshControl(tick: RwSignal<u32>) -> impl IntoView {
    let query = use_query_map();
    let pairs = use_query_pairs();
    let location = use_location();
    let current = move || {
        query
            .read()
            .get(REFRESH_PARAM)
            .unwrap_or_else(|| DEFAULT.into())
    };
    let chosen = RwSignal::new(None::<String>);
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(v) = chosen.get() {
            let href = with_param(
                &location.pathname.get_untracked(),
                &pairs.get_untracked(),
                REFRESH_PARAM,
                Some(&v),
            );
            navigate(&href, Default::default());
        }
    });
    view! {
        <div class="refresh-control">
            <label>
                "Auto-refresh "
                <select
                    name="refresh"
                    aria-label="Auto-refresh"
                    prop:value=current
                    on:change=move |ev| chosen.set(Some(event_target_value(&ev)))
                >
                    {CHOICES
                        .into_iter()
                        .map(|c| {
                            view! {
                                <option value=c selected=move || current() == c>
                                    {c}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button
                type="button"
                class="button secondary"
                on:click=move |_| tick.update(|t| *t = t.wrapping_add(1))
            >
                "Refresh"
            </button>
        </div>
    }
}
