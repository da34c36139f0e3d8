//! The wizard's "Automatic steps" (traffic ratio) or "Automatic checks" (request content,
//! mirroring): the step plan, the interval, the gates and what happens after the last
//! step. It only edits the form's text; [`PlanForm::to_plan`] and the shared validation
//! read it.

use leptos::prelude::*;

use crate::domain::release::analysis::form::PlanForm;

/// A text field bound to one of the form's strings.
fn text_field(
    form: RwSignal<PlanForm>,
    name: &'static str,
    label: String,
    get: fn(&PlanForm) -> &String,
    set: fn(&mut PlanForm, String),
    disabled: Option<fn(&PlanForm) -> bool>,
) -> impl IntoView {
    view! {
        <label class="field inline">
            {label}
            <input
                type="text"
                class="small-input"
                name=name
                prop:value=move || get(&form.read()).clone()
                disabled=move || disabled.is_some_and(|d| d(&form.read()))
                on:input=move |ev| form.update(|f| set(f, event_target_value(&ev)))
            />
        </label>
    }
}

/// A checkbox bound to one of the form's switches.
fn switch(
    form: RwSignal<PlanForm>,
    name: &'static str,
    get: fn(&PlanForm) -> bool,
    set: fn(&mut PlanForm, bool),
) -> impl IntoView {
    view! {
        <input
            type="checkbox"
            name=name
            prop:checked=move || get(&form.read())
            on:change=move |ev| form.update(|f| set(f, event_target_checked(&ev)))
        />
    }
}

#[component]
pub fn AutoStepsEditor(
    form: RwSignal<PlanForm>,
    /// The strategy moves traffic by ratio, so the plan has steps.
    ratio: bool,
    base_version: String,
    new_version: String,
) -> impl IntoView {
    let title = if ratio {
        "Automatic steps"
    } else {
        "Automatic checks"
    };
    let lead = if ratio {
        format!(
            "Traffic to {new_version} moves up step by step by itself; each step goes on only when \
             {new_version}'s live metrics pass the checks below. Pause, skip or promote at any \
             time on the job page; moving the slider there pauses the steps."
        )
    } else {
        format!(
            "{new_version}'s live metrics are checked over the interval before it may take over; \
             a failed check stops its traffic and keeps {base_version} serving."
        )
    };
    let on = move || form.read().enabled;
    view! {
        <fieldset class="field auto-steps" data-testid="auto-steps">
            <legend>
                <label>
                    {switch(form, "auto-steps", |f| f.enabled, |f, v| f.enabled = v)}
                    {title}
                </label>
            </legend>
            <p class="hint">{lead}</p>
            <Show when=on>
                {ratio.then(|| view! {
                    <div class="auto-row">
                        <label>
                            <input type="radio" name="steps-mode" value="list" prop:checked=move || !form.read().by_size
                                on:change=move |_| form.update(|f| f.by_size = false) />
                            "Steps (% to the new version)"
                        </label>
                        {text_field(form, "steps", String::new(), |f| &f.steps, |f, v| f.steps = v, Some(|f| f.by_size))}
                        <label>
                            <input type="radio" name="steps-mode" value="size" prop:checked=move || form.read().by_size
                                on:change=move |_| form.update(|f| f.by_size = true) />
                            "or a step size"
                        </label>
                        {text_field(form, "step-size", String::new(), |f| &f.step_size, |f, v| f.step_size = v, Some(|f| !f.by_size))}
                        {text_field(form, "max-percent", "% up to".into(), |f| &f.max_percent, |f, v| f.max_percent = v, Some(|f| !f.by_size))}
                        "%"
                    </div>
                })}
                <div class="auto-row">
                    {text_field(form, "interval-seconds", if ratio { "Interval per step (seconds)".into() } else { "Checked over (seconds)".into() }, |f| &f.interval_seconds, |f, v| f.interval_seconds = v, None)}
                </div>
                <div class="auto-row">
                    <label>{switch(form, "gate-success", |f| f.success_on, |f, v| f.success_on = v)} {format!("Success rate of {new_version} at least")}</label>
                    {text_field(form, "min-success", String::new(), |f| &f.min_success, |f, v| f.min_success = v, Some(|f| !f.success_on))}
                    "%"
                </div>
                <div class="auto-row">
                    <label>{switch(form, "gate-p99", |f| f.p99_on, |f, v| f.p99_on = v)} {format!("p99 latency of {new_version} at most")}</label>
                    {text_field(form, "max-p99", String::new(), |f| &f.max_p99, |f, v| f.max_p99 = v, Some(|f| !f.p99_on))}
                    "ms"
                </div>
                <div class="auto-row">
                    <label>{switch(form, "gate-compare", |f| f.compare_on, |f, v| f.compare_on = v)} {format!("Error rate of {new_version} at most {base_version}'s +")}</label>
                    {text_field(form, "error-margin", String::new(), |f| &f.margin, |f, v| f.margin = v, Some(|f| !f.compare_on))}
                    "points, over the same window"
                </div>
                <div class="auto-row">
                    {text_field(form, "min-requests", "Judge only with at least".into(), |f| &f.min_requests, |f, v| f.min_requests = v, None)}
                    {format!("requests to {new_version} in the window (fewer: the step waits, \"not enough traffic\")")}
                </div>
                <div class="auto-row">
                    {text_field(form, "failure-limit", "Roll back after".into(), |f| &f.failure_limit, |f, v| f.failure_limit = v, None)}
                    {format!("failed checks in a row (all traffic back to {base_version}; {new_version}'s pods stay for inspection)")}
                </div>
                <fieldset class="auto-row">
                    <legend>{if ratio { "After the last step" } else { "When the checks pass" }}</legend>
                    <label>
                        <input type="radio" name="promotion" value="automatic" prop:checked=move || form.read().automatic
                            on:change=move |_| form.update(|f| f.automatic = true) />
                        {format!("{new_version} takes over automatically")}
                    </label>
                    <label>
                        <input type="radio" name="promotion" value="manual" prop:checked=move || !form.read().automatic
                            on:change=move |_| form.update(|f| f.automatic = false) />
                        "wait for a person to press Promote"
                    </label>
                </fieldset>
            </Show>
        </fieldset>
    }
}
