//! The N-way traffic control (Kiali's traffic shifting): one slider and number per
//! version, each with a lock. Moving one version's share takes from (or gives to) the
//! unlocked others ([`rebalance`]), so the shares always sum to 100; a locked share stays.
//! Every control is a native range, number or checkbox input, so the keyboard works as
//! everywhere (arrow keys, Page Up/Down, typing). `on_release` fires when the person lets
//! go or leaves a number field.

use leptos::prelude::*;

use crate::domain::release::weights::rebalance;

#[component]
pub fn WeightsEditor(
    /// The versions in card order (base, new, then the others).
    versions: Vec<String>,
    /// Their shares, summing to 100.
    shares: RwSignal<Vec<u8>>,
    #[prop(optional)] on_release: Option<Callback<Vec<u8>>>,
    #[prop(optional)] disabled: Option<Signal<bool>>,
    /// Which versions are locked; give one that outlives the control (a page that redraws
    /// it on every refresh) so the locks stay.
    #[prop(optional)]
    locks: Option<RwSignal<Vec<bool>>>,
) -> impl IntoView {
    let disabled = disabled.unwrap_or_else(|| Signal::derive(|| false));
    let locks = locks.unwrap_or_else(|| RwSignal::new(vec![false; versions.len()]));
    let set = move |i: usize, raw: String| {
        let Some(v) = raw
            .trim()
            .parse::<f64>()
            .ok()
            .map(|v| v.clamp(0.0, 100.0).round() as u8)
        else {
            return;
        };
        let next = rebalance(&shares.get_untracked(), &locks.get_untracked(), i, v);
        shares.set(next);
    };
    let release = move || {
        if let Some(cb) = on_release {
            cb.run(shares.get_untracked());
        }
    };
    let rows = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let v = v.clone();
            let share = move || shares.with(|s| s.get(i).copied().unwrap_or(0));
            let locked = move || locks.with(|l| l.get(i).copied().unwrap_or(false));
            view! {
                <div class="weight-row" data-version=v.clone()>
                    <span class="weight-version">{v.clone()}</span>
                    <input
                        type="range"
                        min="0"
                        max="100"
                        step="1"
                        aria-label=format!("Traffic to {v} (%)")
                        prop:value=move || share().to_string()
                        disabled=move || disabled.get() || locked()
                        on:input=move |ev| set(i, event_target_value(&ev))
                        on:change=move |_| release()
                    />
                    <input
                        type="number"
                        class="small-input"
                        min="0"
                        max="100"
                        aria-label=format!("{v} share (%)")
                        prop:value=move || share().to_string()
                        disabled=move || disabled.get() || locked()
                        on:change=move |ev| {
                            set(i, event_target_value(&ev));
                            release();
                        }
                    />
                    <span class="weight-share" data-testid=format!("share-{v}")>{move || format!("{}%", share())}</span>
                    <label class="weight-lock">
                        <input
                            type="checkbox"
                            aria-label=format!("Lock {v}")
                            prop:checked=locked
                            disabled=move || disabled.get()
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                locks.update(|l| {
                                    if l.len() <= i {
                                        l.resize(i + 1, false);
                                    }
                                    l[i] = on;
                                });
                            }
                        />
                        "Lock"
                    </label>
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="weights-editor" data-testid="weights-editor" role="group" aria-label="Traffic split">
            {rows}
            <p class="hint" data-testid="weights-total">
                {move || format!("Total {}%", shares.with(|s| s.iter().map(|&x| u32::from(x)).sum::<u32>()))}
            </p>
        </div>
    }
}
