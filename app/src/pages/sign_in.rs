//! The sign-in page, for the strategy the console was started with: a token form
//! (`--auth token`), a "Sign in with" link to the OpenID issuer (`--auth openid`), or an
//! explanation that the proxy signs people in (`--auth header`). Plain forms and links,
//! so it works without JavaScript; errors come back in the URL (`?error=`).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::access::get_sign_in_options;
use crate::components::error_panel::error_panel;
use crate::domain::access::{AuthStrategy, safe_next};
use crate::domain::links::encode_query_value;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = Memo::new(move |_| safe_next(query.read().get("next").as_deref()));
    let error = Memo::new(move |_| query.read().get("error").filter(|e| !e.is_empty()));
    let signed_out = Memo::new(move |_| query.read().get("signed_out").is_some());
    let options = Resource::new(|| (), |_| get_sign_in_options());
    view! {
        <Title text="Sign in" />
        <section class="panel sign-in">
            <h1>"Sign in to Sluice"</h1>
            {move || signed_out.get().then(|| view! { <p class="notice" role="status">"You have signed out."</p> })}
            {move || error.get().map(|e| view! { <p class="panel-error" role="alert" data-testid="sign-in-error">{e}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                <ErrorBoundary fallback=error_panel>
                    {move || options.get().map(|r| r.map(|o| {
                        let next = next.get();
                        let body = match o.strategy {
                            AuthStrategy::Token => view! {
                                <form method="post" action="/auth/signin" class="sign-in-form">
                                    <input type="hidden" name="next" value=next.clone() />
                                    <label class="field">
                                        "Kubernetes token"
                                        <textarea name="token" rows="4" required autocomplete="off" spellcheck="false"
                                            placeholder="eyJhbGciOi…"></textarea>
                                        <span class="hint">
                                            "A bearer token Kubernetes accepts: a service account's ("
                                            <code>"kubectl create token NAME -n NAMESPACE"</code>
                                            ") or your own. The console acts as its owner, so Kubernetes RBAC decides what you may do."
                                        </span>
                                    </label>
                                    <button type="submit" class="button">"Sign in"</button>
                                </form>
                            }.into_any(),
                            AuthStrategy::OpenId => {
                                let href = format!("/auth/login?next={}", encode_query_value(&next));
                                let issuer = o.issuer.clone().unwrap_or_default();
                                view! {
                                    <p>"Sign in with your organisation's account; the console then acts as you in Kubernetes."</p>
                                    <a class="button" href=href rel="external" data-testid="openid-sign-in">
                                        {format!("Sign in with {issuer}")}
                                    </a>
                                }.into_any()
                            }
                            AuthStrategy::Header => view! {
                                <p>"This console signs you in through your organisation's proxy. Open it at the proxy's address; requests that do not come through the proxy are refused."</p>
                            }.into_any(),
                            AuthStrategy::None => view! {
                                <p>"This console has no sign-in: it acts with its own credentials, on this machine only."</p>
                                <a class="button" href="/">"Open the console"</a>
                            }.into_any(),
                        };
                        view! {
                            {body}
                            {o.sandbox_hint.map(|h| view! { <p class="hint sandbox-hint">{h}</p> })}
                        }
                    }))}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
