//! The sandbox's synthetic users (like the tutorial's `watch -n 0.5 curl`): how many
//! requests per second go through the ingress, with start/stop. Shown only in sandbox mode.

use leptos::prelude::*;

use crate::api::system::{SetSandboxTraffic, get_sandbox_traffic};

#[component]
pub fn SandboxTraffic(tick: RwSignal<u32>) -> impl IntoView {
    let action = ServerAction::<SetSandboxTraffic>::new();
    let status = Resource::new(
        move || (tick.get(), action.version().get()),
        |_| get_sandbox_traffic(),
    );
    view! {
        <Transition fallback=|| ()>
            {move || {
                status
                    .get()
                    .and_then(Result::ok)
                    .flatten()
                    .map(|s| {
                        let running = s.running;
                        view! {
                            <section class="governance sandbox-traffic" aria-label="Sandbox traffic">
                                <span data-testid="sandbox-traffic">
                                    {if running {
                                        format!(
                                            "Synthetic users: {} req/s through the ingress ({} sent, {} failed)",
                                            s.rps,
                                            s.sent,
                                            s.failed,
                                        )
                                    } else {
                                        "Synthetic users: stopped".to_string()
                                    }}
                                </span>
                                <ActionForm action>
                                    <input type="hidden" name="running" value=(!running).to_string() />
                                    {(!running)
                                        .then(|| {
                                            view! {
                                                <label>
                                                    "Rate "
                                                    <input
                                                        type="number"
                                                        name="rps"
                                                        value="2"
                                                        min="0.5"
                                                        max="50"
                                                        step="0.5"
                                                        class="small-input"
                                                    />
                                                    " req/s "
                                                </label>
                                            }
                                        })}
                                    {running
                                        .then(|| view! { <input type="hidden" name="rps" value="0" /> })}
                                    <button type="submit" class="button secondary">
                                        {if running { "Stop traffic" } else { "Start traffic" }}
                                    </button>
                                </ActionForm>
                                {move || {
                                    action
                                        .value()
                                        .get()
                                        .and_then(Result::err)
                                        .map(|e| view! { <p class="panel-error" role="alert">{e.to_string()}</p> })
                                }}
                            </section>
                        }
                    })
            }}
        </Transition>
    }
}
