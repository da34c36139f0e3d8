//! The traffic-ratio slider: drag it, use the arrow keys, or type a number; both labels
//! show their version's share and the two always sum to 100. `on_release` fires when the
//! person lets go (or leaves the number field), not on every pixel of a drag.

use leptos::prelude::*;

#[component]
pub fn TrafficSlider(
    base_version: String,
    new_version: String,
    /// The new version's share, 0..=100.
    value: RwSignal<u8>,
    #[prop(optional)] on_release: Option<Callback<u8>>,
    #[prop(optional)] disabled: Option<Signal<bool>>,
) -> impl IntoView {
    let disabled = disabled.unwrap_or_else(|| Signal::derive(|| false));
    let set_from = move |raw: String| {
        let v = raw
            .trim()
            .parse::<f64>()
            .ok()
            .map(|v| v.clamp(0.0, 100.0).round() as u8);
        if let Some(v) = v {
            value.set(v);
        }
        v
    };
    let release = move |raw: String| {
        if let (Some(v), Some(cb)) = (set_from(raw), on_release) {
            cb.run(v);
        }
    };
    let base_label = base_version.clone();
    let new_label = new_version.clone();
    view! {
        <div class="traffic-slider" data-testid="traffic-slider">
            <span class="side base" data-testid="base-share">
                {move || format!("{base_label} {}%", 100 - value.get())}
            </span>
            <input
                type="range"
                min="0"
                max="100"
                step="1"
                aria-label=format!("Traffic to {new_version} (%)")
                value=move || value.get().to_string()
                prop:value=move || value.get().to_string()
                disabled=move || disabled.get()
                on:input=move |ev| {
                    set_from(event_target_value(&ev));
                }
                on:change=move |ev| release(event_target_value(&ev))
            />
            <span class="side new" data-testid="new-share">
                {move || format!("{new_label} {}%", value.get())}
            </span>
            <input
                type="number"
                class="small-input"
                min="0"
                max="100"
                aria-label="New version share (%)"
                prop:value=move || value.get().to_string()
                disabled=move || disabled.get()
                on:change=move |ev| release(event_target_value(&ev))
            />
        </div>
    }
}
